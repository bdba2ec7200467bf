// The Gemini codec's entry: the resampler readied before its first session, and a session's translated provider
// leg from its first, dialled connection.
import type { Codec } from '../types.js'
import { GeminiLeg } from './leg.js'
import { loadResampler } from '../realtime/resample.js'

export const gemini: Codec = {
  prepare: loadResampler,
  leg ({ upstream, apiKey, resolution, redial, setupTimeout, log }) {
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
}
