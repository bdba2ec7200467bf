// Sideband metering: once a WebRTC call is created, the plugin attaches to the call's websocket with the
// provider's key and meters its events like a relayed session's (same onUsage, summary and metrics).
import type { FastifyRequest } from 'fastify'
import { ShuttingDownError } from './errors.js'
import { dialProvider, providerTarget } from './provider-dial.js'
import type { Resolution } from './registry.js'
import type { RouteState } from './route.js'
import { RealtimeSession } from './session.js'

/**
 * Attaches to the call's sideband in the background. `release` gives back the call's slots when the sideband
 * ends or cannot be attached. The call stays in the registry either way (until `callTTL` or a hangup through
 * the plugin): ownership fails closed, so nobody else can attach to a live call whose sideband dropped.
 */
export function attachSideband (state: RouteState, request: FastifyRequest, resolution: Resolution, credential: string | undefined, release: () => void): void {
  attach(state, request, resolution, credential, release).catch((err: unknown) => {
    request.log.warn({ err, callId: resolution.callId }, 'could not attach to the call\'s sideband; its usage is not metered')
    release()
  })
}

async function attach (state: RouteState, request: FastifyRequest, resolution: Resolution, credential: string | undefined, release: () => void): Promise<void> {
  if (state.closing) throw new ShuttingDownError()
  const { settings, hub } = state
  const upstream = await dialProvider(state, resolution.provider.name, await providerTarget(state, request, resolution), new AbortController())
  const init = { resolution, requestId: request.id, log: request.log, hub, upstreamOpenedAt: Date.now(), credential, release, metered: settings.metering }
  // eslint-disable-next-line no-new -- the session registers itself with the hub and lives as long as the call
  new RealtimeSession(undefined, upstream, init, settings)
  upstream.resume()
}
