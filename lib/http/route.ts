// The realtime route, top to bottom: (app hooks have authenticated) -> resolve -> dial -> upgrade -> relay.
import type { ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest, preHandlerHookHandler, RouteOptions } from 'fastify'
import type { WebsocketHandler } from '@fastify/websocket'
import WebSocket from 'ws'
import { watchClient, type ClientWatch } from './client-watch.js'
import { callerHooks, type CallerOptions } from './caller-hooks.js'
import { lookupCall, type CallLookupOptions, type CallResolution } from '../signaling/calls.js'
import { BadUpgradeError, ProviderRejectedError, ShuttingDownError, UnknownCallError, UpgradeRequiredError } from '../errors.js'
import { CALL_ID } from '../signaling/offer.js'
import { acquireSlots, type SlotOptions, type Slots } from '../limits/slots.js'
import { readQuery } from './query.js'
import type { Resolution, RouteProtocol, RouteQuery } from '../providers/registry.js'
import { RealtimeSession, type SessionInit, type SessionOptions } from '../session/session.js'
import { refuseUnpriced } from '../session/unpriced.js'
import type { PluginState } from '../state.js'
import type { Opened, ProviderTarget } from '../upstream/provider-dial.js'
import { attemptOrder, type Attempt, type FailoverSettings, type Unserved } from '../upstream/failover.js'
import { realtime } from '../protocols/realtime.js'
import type { Protocol } from '../protocols/types.js'
import { parseProtocols, selectProtocol } from './subprotocols.js'
import { codecOf, prepareCodecs } from '../codecs/index.js'
import { WsLeg } from '../upstream/ws-leg.js'

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
  prepared: ProviderTarget
  upstream: WebSocket
  attempts: Attempt[]
  openedAt: number
  watch: ClientWatch
  slots: Slots
  credential: string | undefined
  metered: boolean
}

// ws refuses these in handleUpgrade, after we would already have dialed; refuse them first.
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function checkUpgrade (request: FastifyRequest): void {
  if (!request.ws) throw new UpgradeRequiredError()
  if (String(request.headers.upgrade).toLowerCase() !== 'websocket') throw new BadUpgradeError('Upgrade header must be "websocket"')
  const key = request.headers['sec-websocket-key']
  const version = request.headers['sec-websocket-version']
  if (key === undefined || !WS_KEY.test(key)) throw new BadUpgradeError('missing or malformed Sec-WebSocket-Key')
  if (version !== '13' && version !== '8') throw new BadUpgradeError('Sec-WebSocket-Version must be 13')
}

/** Echo only a non-credential subprotocol: ws echoes whatever this header holds when it upgrades. */
function pinProtocol (request: FastifyRequest): void {
  const offered = parseProtocols(request.headers['sec-websocket-protocol'])
  if (!offered.every((p) => TOKEN.test(p))) throw new BadUpgradeError('malformed Sec-WebSocket-Protocol')
  const protocol = selectProtocol(offered)
  if (protocol === undefined) delete request.raw.headers['sec-websocket-protocol']
  else request.raw.headers['sec-websocket-protocol'] = protocol
}

function relayRejection (reply: FastifyReply, err: ProviderRejectedError): void {
  reply.log.warn({ statusCode: err.statusCode }, 'provider refused the realtime session')
  if (err.retryAfter !== undefined) reply.header('retry-after', err.retryAfter)
  reply.code(err.statusCode).type('application/json; charset=utf-8').send(err.body)
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

/** What every websocket route checks first: a valid upgrade, the caller's credential, not shutting down, the query. */
export function acceptUpgrade (state: PluginState, request: FastifyRequest): { credential: string | undefined, query: RouteQuery } {
  checkUpgrade(request)
  const { credential } = request.realtime // before pinProtocol drops credential subprotocols
  pinProtocol(request)
  if (state.closing) throw new ShuttingDownError()
  return { credential, query: readQuery(request.query) }
}

/** The targets to try for `query`, in the order the route's strategy and the targets' health give. */
export function attempts (state: PluginState, failover: FailoverSettings, query: RouteQuery, requireModel = true): Resolution[] {
  return attemptOrder(state.registry.plan(query, requireModel), state.health, failover.maxAttempts, (r) => state.hub.busy(r.provider.name, r.model))
}

/**
 * Dials the provider before the client is upgraded, so every failure is still an HTTP answer: `order`'s targets
 * in turn while they fail in a retryable way (failover). Resolves with the open, paused upstream, the target that
 * served and the watch on the client (stop it once upgraded), or with undefined when the reply is already taken
 * care of: the provider's refusal sent, or a client that left meanwhile. (Not the reply itself: a reply is a
 * thenable, which an async function would wait for.) The slots are released on any failure.
 */
export async function dialBeforeUpgrade (
  state: PluginState, request: FastifyRequest, reply: FastifyReply, order: readonly Resolution[], slots: Slots, failover: FailoverSettings
): Promise<(Opened & { watch: ClientWatch }) | undefined> {
  const controller = new AbortController()
  let upstream: WebSocket | undefined
  // Until the relay owns both sockets, a client that leaves takes the upstream with it.
  const onClientGone = (): void => {
    controller.abort(new Error('client went away'))
    upstream?.terminate()
    slots.release()
  }
  const watch = watchClient(request.raw.socket, onClientGone)
  let opened: Opened | Unserved
  try {
    opened = await state.dialer.dialAny(request, order, controller, failover, state.health)
    if ('upstream' in opened) upstream = opened.upstream
  } catch {
    // Only an abort rejects: the client left, or the server is shutting down.
    watch.stop()
    slots.release()
    if (state.closing) throw new ShuttingDownError()
    request.log.info('client left while the provider was dialed')
    reply.hijack()
    request.raw.socket.destroy()
    return undefined
  }
  if ('error' in opened) {
    watch.stop()
    slots.release()
    if (opened.attempts.length > 1) request.log.warn({ attempts: opened.attempts }, 'no target could serve the session')
    if (!(opened.error instanceof ProviderRejectedError) || opened.error.body === undefined) throw opened.error
    relayRejection(reply, opened.error)
    return undefined
  }
  watch.release()
  return { ...opened, watch }
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

/** Lets the request and reply of an upgraded request go; the session's own error handling replaces ws's. */
export function detach (client: WebSocket, request: FastifyRequest, response: ServerResponse): void {
  // The socket is ws's now, and the session outlives the request: let the request and reply go (3 KB of
  // an idle session's 10). The HTTP response never finishes, yet its 'finish' listener holds the reply,
  // and @fastify/websocket's 'error' listener holds both; the session's own error handling replaces it.
  response.detachSocket(request.raw.socket)
  client.removeAllListeners('error')
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
    await prepareCodecs(order)
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
