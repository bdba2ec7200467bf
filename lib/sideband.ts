// Sideband metering: once a WebRTC call is created, the plugin attaches to the call's websocket with the
// provider's key and meters its events like a relayed session's (same onUsage, summary and metrics).
import type { FastifyRequest } from 'fastify'
import { dial } from './dial.js'
import { ShuttingDownError } from './errors.js'
import { upstreamHeaders } from './headers.js'
import type { Resolution } from './registry.js'
import { dialOutcome, type RouteState } from './route.js'
import { RealtimeSession } from './session.js'

/**
 * Attaches to the call's sideband in the background. `release` gives back the call's slots; it runs, and the
 * call leaves the registry, when the sideband (the call) ends or cannot be attached.
 */
export function attachSideband (state: RouteState, request: FastifyRequest, resolution: Resolution, credential: string | undefined, release: () => void): void {
  const callId = resolution.callId as string
  const forget = (): void => {
    release()
    Promise.resolve(state.settings.signaling?.calls.deleteCall(callId)).catch((err: unknown) => request.log.error({ err }, 'call store delete failed'))
  }
  attach(state, request, resolution, credential, forget).catch((err: unknown) => {
    request.log.warn({ err, callId }, 'could not attach to the call\'s sideband; its usage is not metered')
    forget()
  })
}

async function attach (state: RouteState, request: FastifyRequest, resolution: Resolution, credential: string | undefined, forget: () => void): Promise<void> {
  const { settings, hub } = state
  if (state.closing) throw new ShuttingDownError()
  const { provider, callId } = resolution
  const apiKey = await provider.apiKey()
  const target = provider.target({ callId }, apiKey)
  target.headers = upstreamHeaders(request.headers, settings.forwardHeaders, target.headers, request.id)
  const controller = new AbortController()
  state.dials.add(controller)
  const dialStart = performance.now()
  try {
    const upstream = await dial(target, { provider: provider.name, timeout: settings.dialTimeout, maxPayload: settings.maxPayload, secrets: [apiKey], signal: controller.signal })
    hub.dialed(provider.name, (performance.now() - dialStart) / 1000, 'ok')
    const init = { resolution, requestId: request.id, log: request.log, hub, upstreamOpenedAt: Date.now(), credential, release: forget, metered: settings.metering }
    // eslint-disable-next-line no-new -- the session registers itself with the hub and lives as long as the call
    new RealtimeSession(undefined, upstream, init, settings)
    upstream.resume()
  } catch (err) {
    hub.dialed(provider.name, (performance.now() - dialStart) / 1000, dialOutcome(err as { code?: string }, controller.signal.aborted))
    throw err
  } finally {
    state.dials.delete(controller)
  }
}
