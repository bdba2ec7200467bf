// Sideband metering: once a WebRTC call (or GPT-Live WebRTC session) is created, the plugin attaches to the call's websocket with the
// provider's key and meters its events like a relayed session's (same onUsage, summary and metrics).
import type { FastifyRequest } from 'fastify'
import { ShuttingDownError } from '../errors.js'
import type { Slots } from '../limits/slots.js'
import type { Resolution } from '../providers/registry.js'
import { RealtimeSession, type SessionOptions } from '../session/session.js'
import type { PluginState } from '../state.js'
import { realtime } from '../protocols/realtime.js'
import type { Protocol } from '../protocols/types.js'
import type { Attempt } from '../upstream/failover.js'
import { WsLeg } from '../upstream/ws-leg.js'

/** The options a call's sideband session reads. */
export interface SidebandOptions extends SessionOptions {
  metering: boolean
}

/**
 * Attaches to the call's sideband in the background. `slots` are the call's; they are given back when the sideband
 * ends or cannot be attached. The call stays in the registry either way (until `callTTL` or a hangup through
 * the plugin): ownership fails closed, so nobody else can attach to a live call whose sideband dropped.
 */
export function attachSideband (
  state: PluginState, options: SidebandOptions, request: FastifyRequest, resolution: Resolution, credential: string | undefined, slots: Slots,
  protocol: Protocol = realtime, hangup?: () => Promise<unknown>, attempts?: Attempt[]
): void {
  attach(state, options, request, resolution, credential, slots, protocol, hangup, attempts).catch((err: unknown) => {
    state.dialer.unopened(resolution.provider.name, err, false)
    request.log.warn({ err, callId: resolution.callId }, 'could not attach to the call\'s sideband; its usage is not metered')
    slots.release()
  })
}

async function attach (
  state: PluginState, options: SidebandOptions, request: FastifyRequest, resolution: Resolution, credential: string | undefined, slots: Slots,
  protocol: Protocol, hangup: (() => Promise<unknown>) | undefined, attempts: Attempt[] | undefined
): Promise<void> {
  if (state.closing) throw new ShuttingDownError()
  const { dialer, hub } = state
  const prepared = await dialer.prepare(request, resolution)
  const upstream = await dialer.dial(resolution.provider.name, prepared, new AbortController())
  const init = { protocol, resolution, requestId: request.id, log: request.log, hub, upstreamOpenedAt: Date.now(), credential, slots, metered: options.metering, hangup, attempts, apiKey: prepared.apiKey }
  // eslint-disable-next-line no-new -- the session registers itself with the hub and lives as long as the call
  new RealtimeSession(undefined, new WsLeg(upstream), init, options)
  upstream.resume()
}
