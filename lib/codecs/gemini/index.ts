// The Gemini codec's entry: a session's translated provider leg from its first, dialled connection.
import type { FastifyBaseLogger } from 'fastify'
import type WebSocket from 'ws'
import type { Resolution } from '../../providers/registry.js'
import { GeminiLeg, type GeminiLegOptions } from './leg.js'

/** The leg of a session routed to a provider with the Gemini codec. */
export function geminiLeg (
  upstream: WebSocket, apiKey: string | undefined, resolution: Resolution, redial: GeminiLegOptions['redial'], setupTimeout: number, log: FastifyBaseLogger
): GeminiLeg {
  const { provider, model, requestedModel } = resolution
  return new GeminiLeg(upstream, {
    setupModel: provider.setupModel(model as string),
    models: [requestedModel, model],
    functionResponseIds: provider.codec?.functionResponseIds !== false,
    requestedModel,
    startTimeout: provider.startTimeout,
    setupTimeout,
    redial,
    apiKey,
    log
  })
}
