// The realtime route, top to bottom: (app hooks have authenticated) -> resolve -> dial -> upgrade -> relay.
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, preHandlerHookHandler, RouteOptions } from 'fastify'
import type { WebsocketHandler } from '@fastify/websocket'
import type WebSocket from 'ws'
import type { ClientWatch } from './client-watch.js'
import { callerHooks, type CallerOptions } from './caller-hooks.js'
import { lookupCall, type CallLookupOptions, type CallResolution } from '../signaling/calls.js'
import { UnknownCallError } from '../errors.js'
import { CALL_ID } from '../signaling/offer.js'
import { acquireSlots, type SlotOptions, type Slots } from '../limits/slots.js'
import type { Resolution, RouteProtocol } from '../providers/registry.js'
import { RealtimeSession, type SessionInit, type SessionOptions } from '../session/session.js'
import { refuseUnpriced } from '../session/unpriced.js'
import type { PluginState } from '../state.js'
import type { PreparedDial } from '../upstream/provider-dial.js'
import type { Attempt, FailoverSettings } from '../upstream/failover.js'
import { realtime } from '../protocols/realtime.js'
import type { Protocol } from '../protocols/types.js'
import { codecOf, prepareCodecs } from '../codecs/index.js'
import { WsLeg } from '../upstream/ws-leg.js'
import { acceptUpgrade, attempts, detach, dialBeforeUpgrade } from './upgrade.js'

/** The options the websocket route reads. */
export interface RealtimeRouteOptions extends CallerOptions, SlotOptions, CallLookupOptions, SessionOptions {
  metering: boolean
  dialTimeout: number
  failover: FailoverSettings
  signaling?: CallLookupOptions['signaling'] & { sideband: boolean }
}

interface Dialed {
  carried: SessionInit['carried']
  response: ServerResponse
  resolution: Resolution
  prepared: PreparedDial
  upstream: WebSocket
  attempts: Attempt[]
  openedAt: number
  watch: ClientWatch
  slots: Slots
  credential: string | undefined
  metered: boolean
}

/**
 * The attach route is `{live.path}/*`: a `:sessionId` parameter would be cut at Fastify's maxParamLength (100), below
 * the 128 characters an id may have. Anything but `ID/attach` names no session.
 */
export const ATTACH_ROUTE = '/*'
function attachedId (params: unknown): string {
  const rest = (params as { '*': string })['*']
  return rest.endsWith('/attach') ? rest.slice(0, -'/attach'.length) : ''
}

/**
 * A client's attach to a GPT-Live session it meters (the plugin's own sideband is off): what earlier attaches billed
 * of the session's cumulative usage, and how to keep the new total with the call (any replica's next attach reads it).
 */
function carriedUsage (settings: RealtimeRouteOptions, call: CallResolution | undefined, log: FastifyBaseLogger): SessionInit['carried'] {
  if (call?.protocol !== 'live') return undefined
  const { calls } = settings.signaling as NonNullable<RealtimeRouteOptions['signaling']>
  const { record } = call
  return {
    seconds: record.billedSeconds ?? 0,
    keep: (total) => {
      const { expiresAt = Date.now() + 1, ...kept } = record
      record.billedSeconds = total
      // Not awaited: a store that fails costs a later attach its carry-over, never this session its relay.
      new Promise((resolve) => { resolve(calls.setCall(call.callId as string, { ...kept, billedSeconds: total }, Math.max(1, expiresAt - Date.now()))) })
        .catch((err: unknown) => log.warn({ err, callId: call.callId }, 'could not keep the GPT-Live session\'s billed total with the call; a later attach may bill it again'))
    }
  }
}

/**
 * The realtime route, or with `protocol` another that is routed by its upgrade request the same way
 * (`{path}/translations`): resolved among the providers that serve it. `attach`: a client's attach to a GPT-Live
 * WebRTC session created here (`{live.path}/:sessionId/attach`), routed by the call registry alone.
 */
export function realtimeRoute (state: PluginState, settings: RealtimeRouteOptions, protocol: Protocol = realtime, attach = false): Pick<RouteOptions, 'onRequest' | 'preHandler' | 'logSerializers'> & { handler: WebsocketHandler } {
  const { registry, hub, dialer } = state
  const dialed = new WeakMap<FastifyRequest, Dialed>()

  async function dialUpstream (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const { credential, query } = acceptUpgrade(state, request)
    // A client's attach to a call created here: routed by the registry, and not metered when the plugin's own
    // sideband is. It is a provider websocket on the app's key all the same: it holds a slot like any session,
    // and one of the call's maxAttachesPerCall.
    let call: CallResolution | undefined
    if (attach) {
      const sessionId = attachedId(request.params)
      call = CALL_ID.test(sessionId) ? await lookupCall(settings, registry, request, sessionId, credential, 'live') : undefined
      if (call === undefined) throw new UnknownCallError(sessionId)
    } else if (query.callId !== undefined && protocol === realtime) {
      call = await lookupCall(settings, registry, request, query.callId, credential)
    }
    const order = call !== undefined ? [call] : attempts(state, settings.failover, protocol === realtime ? query : { ...query, callId: undefined, protocol: protocol.name as RouteProtocol })
    const codecsReady = prepareCodecs(order)
    if (codecsReady !== undefined) await codecsReady
    const slots = await acquireSlots(settings, request, reply, credential, call?.callId)
    refuseUnpriced(settings, order, slots)
    const opened = await dialBeforeUpgrade(state, request, reply, order, slots, settings.failover)
    if (opened === undefined) return reply
    const metered = settings.metering && (call === undefined || settings.signaling?.sideband !== true)
    dialed.set(request, { ...opened, response: reply.raw, openedAt: Date.now(), slots, credential, metered, carried: metered ? carriedUsage(settings, call, request.log) : undefined })
    return undefined
  }

  function handler (client: WebSocket, request: FastifyRequest): void {
    const { response, resolution, prepared, upstream, attempts, openedAt, watch, slots, credential, metered, carried } = dialed.get(request) as Dialed
    dialed.delete(request)
    watch.stop()
    detach(client, request, response)
    const codec = codecOf(resolution)
    const leg = codec === undefined
      ? new WsLeg(upstream)
      : codec.leg({ upstream, apiKey: prepared.apiKey, resolution, redial: dialer.redialer(resolution, prepared), setupTimeout: settings.dialTimeout, log: request.log })
    const init = { protocol, resolution, requestId: request.id, log: request.log, hub, upstreamOpenedAt: openedAt, credential, slots, metered, attempts, apiKey: prepared.apiKey, carried }
    // eslint-disable-next-line no-new -- the session registers itself with the hub and lives as long as its sockets
    new RealtimeSession(new WsLeg(client), leg, init, settings)
    leg.resume()
  }

  const { onRequest, preHandler, logSerializers } = callerHooks(settings)
  return { onRequest, preHandler: [...preHandler, dialUpstream as preHandlerHookHandler], logSerializers, handler }
}
