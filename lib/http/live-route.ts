// The GPT-Live route (`live.path`, default /v1/live/sessions). A GPT-Live client names its model in its first
// frame, `session.start`, not in the URL. When the request already names the provider (`?provider=`,
// `?model=`, or there is only one), the provider is dialled before the upgrade, as on the realtime route;
// otherwise the client is upgraded first. Either way the first frame is awaited (startTimeout), routed with the
// same rules, shown to the app's onClientEvent (which may pin instructions, voice, delegation, tools), its model
// rewritten to the upstream one, and sent as the provider's first frame; then frames are relayed verbatim.
// A refusal after the upgrade is an `error` event in GPT-Live's envelope, then a close with a documented code.
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest, preHandlerHookHandler, RouteOptions } from 'fastify'
import type { WebsocketHandler } from '@fastify/websocket'
import type WebSocket from 'ws'
import { callerHooks } from './caller-hooks.js'
import type { ClientWatch } from './client-watch.js'
import type { RealtimeRouteOptions } from './realtime-route.js'
import { acceptUpgrade, attempts, detach, dialBeforeUpgrade } from './upgrade.js'
import { isObject } from '../json.js'
import { sentModel } from '../signaling/offer.js'
import { acquireSlots, type Slots } from '../limits/slots.js'
import { TokenBucket } from '../limits/rate-limit.js'
import { live } from '../protocols/live.js'
import type { Resolution, RouteQuery } from '../providers/registry.js'
import { CLOSE } from '../close-codes.js'
import { ownError, ProviderRejectedError } from '../errors.js'
import { NAME } from '../validate.js'
import { parseEvent, type PolicySession, type RealtimeEvent } from '../session/policy.js'
import { RealtimeSession } from '../session/session.js'
import { refuseUnpriced } from '../session/unpriced.js'
import type { PluginState } from '../state.js'
import type { Attempt } from '../upstream/failover.js'
import type { PreparedDial } from '../upstream/provider-dial.js'
import { TEXT } from '../upstream/leg.js'
import { WsLeg } from '../upstream/ws-leg.js'

/** The options the GPT-Live route reads. */
export interface LiveRouteOptions extends RealtimeRouteOptions {
  live?: { path: string, startTimeout: number }
}

interface Dialed {
  resolution: Resolution
  prepared: PreparedDial
  slots: Slots
  upstream: WebSocket
  attempts: Attempt[]
  watch: ClientWatch
  openedAt: number
}

interface Pending {
  response: ServerResponse
  credential: string | undefined
  query: RouteQuery
  dialed?: Dialed
}

const noop = (): void => {}

/** A refusal after the upgrade: its GPT-Live error code and the close code that follows it. */
class Refusal extends Error {
  constructor (readonly code: string, message: string, readonly close: number) {
    super(message)
  }
}

const SHUTTING_DOWN = new Refusal('server_shutting_down', 'The server is shutting down; reconnect', CLOSE.goingAway)

const FAILED = new Refusal('internal_error', 'The session could not be started', CLOSE.internalError)

/**
 * Provider refusals keep their meaning for the client: its 4xx is the client's to fix (1008), the rest 1011.
 * Anything not the plugin's own (an app hook, a key function that threw) is generic text: its message may hold
 * a connection string or a host, and goes to the log only.
 */
function refusalOf (err: unknown): Refusal {
  if (err instanceof Refusal) return err
  if (!ownError(err)) return FAILED
  const { code = 'internal_error', statusCode = 500, message } = err as Error & { code?: string, statusCode?: number }
  const body = err instanceof ProviderRejectedError ? err.body : undefined
  return new Refusal(code, body === undefined ? message : `${message}: ${body}`, statusCode < 500 ? CLOSE.policyViolation : CLOSE.internalError)
}

export function liveRoute (state: PluginState, settings: LiveRouteOptions): Pick<RouteOptions, 'onRequest' | 'preHandler' | 'logSerializers'> & { handler: WebsocketHandler } {
  const { registry, hub, dialer } = state
  const { startTimeout } = settings.live as NonNullable<LiveRouteOptions['live']>
  const pending = new WeakMap<FastifyRequest, Pending>()

  async function prepare (request: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const { credential, query } = acceptUpgrade(state, request)
    const entry: Pending = { response: reply.raw, credential, query }
    if (query.model !== undefined || query.provider !== undefined || registry.names().length === 1) {
      // The provider is known: refusals (unsupported provider, limits, the provider's own) are HTTP answers.
      const order = attempts(state, settings.failover, { ...query, protocol: 'live' }, false)
      const slots = await acquireSlots(settings, request, reply, credential)
      const opened = await dialBeforeUpgrade(state, request, reply, order, slots, settings.failover)
      if (opened === undefined) return reply
      entry.dialed = { ...opened, slots, openedAt: Date.now() }
    }
    pending.set(request, entry)
    return undefined
  }

  function handler (client: WebSocket, request: FastifyRequest): void {
    const entry = pending.get(request) as Pending
    pending.delete(request)
    entry.dialed?.watch.stop()
    detach(client, request, entry.response)
    const held: Array<[Buffer, boolean]> = []
    let heldBytes = 0
    // Held frames are charged to the session's frame rate as they arrive, not in one burst when they are replayed.
    const bucket = settings.frameRate === undefined ? undefined : new TokenBucket(settings.frameRate)
    let started = false
    let upstream: WebSocket | undefined = entry.dialed?.upstream
    let slots: Slots | undefined = entry.dialed?.slots
    let tried: Attempt[] | undefined = entry.dialed?.attempts
    let apiKey: string | undefined = entry.dialed?.prepared.apiKey
    const controller = new AbortController()
    const timer = setTimeout(() => refuse(new Refusal('session_start_timeout', `Send session.start within ${startTimeout} ms`, CLOSE.policyViolation)), startTimeout)
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      if (started) {
        // Frames after session.start wait, in order, for the provider; past highWaterMark the client is not read
        // until they are sent, so a client cannot fill the memory while the provider is dialled.
        if (bucket !== undefined && !bucket.take()) {
          refuse(new Refusal('rate_limit_exceeded', 'The client exceeded its frame rate', CLOSE.policyViolation))
          return
        }
        held.push([data, isBinary])
        heldBytes += data.length
        if (heldBytes > settings.highWaterMark) client.pause()
        return
      }
      started = true
      clearTimeout(timer)
      start(data).catch(refuse)
    }
    const onClose = (): void => {
      state.pending.delete(shutdown)
      clearTimeout(timer)
      controller.abort(new Error('client went away'))
      upstream?.terminate()
      slots?.release()
    }
    const shutdown = (): void => refuse(undefined)
    state.pending.add(shutdown)
    client.on('message', onMessage)
    client.on('close', onClose)
    client.on('error', noop)

    /** Refuses the client with `err`'s error event and close code; on shutdown, whatever failed, with 1001. */
    function refuse (err: unknown): void {
      const refusal = state.closing ? SHUTTING_DOWN : refusalOf(err)
      if (refusal === FAILED) request.log.error({ err }, 'GPT-Live session could not be started')
      else request.log.warn({ code: refusal.code }, `GPT-Live session refused: ${refusal.message}`)
      client.removeListener('message', onMessage)
      if (client.readyState === client.OPEN) {
        client.send(JSON.stringify(live.errorEvent(refusal.code, refusal.message)))
        client.close(refusal.close, refusal.code)
      }
      onClose()
    }

    async function start (data: Buffer): Promise<void> {
      const event = parseEvent(data)
      const session = isObject(event?.session) ? event.session : undefined
      if (event?.type !== 'session.start' || typeof session?.model !== 'string') {
        throw new Refusal('session_start_required', 'The first event must be session.start with session.model', CLOSE.policyViolation)
      }
      if (!NAME.pattern.test(session.model)) throw new Refusal('invalid_value', `session.model must be ${NAME.rule}`, CLOSE.policyViolation)
      const known = entry.dialed?.resolution.provider.name
      // Dialled before the upgrade: that provider, the model as session.start names it; else the model's targets.
      const order = known !== undefined
        ? [registry.resolve({ provider: known, model: session.model, protocol: 'live' })]
        : attempts(state, settings.failover, { provider: entry.query.provider, model: session.model, protocol: 'live' })
      let resolution = order[0] as Resolution
      // Dialled before the upgrade, the model is known only now.
      if (slots !== undefined) refuseUnpriced(settings, order, slots)
      const shown = session.model = resolution.model
      const decided = await decide(event as RealtimeEvent, resolution)
      if (decided === null) throw new Refusal('session_refused', 'The session was refused by the server', CLOSE.policyViolation)
      // A client that left at any await below is let go at once: nothing is dialled, or what was is dropped.
      if (client.readyState !== client.OPEN) return onClose()
      if (upstream === undefined) {
        slots = await acquireSlots(settings, request, undefined, entry.credential)
        if (client.readyState !== client.OPEN) return onClose()
        refuseUnpriced(settings, order, slots)
        const opened = await dialer.dialAny(request, order, controller, settings.failover, state.health) // a client that leaves aborts it
        if ('error' in opened) throw opened.error
        // No departure can come between the dial's open and here (no I/O in between); one whose close
        // handshake is still under way is the relay's to finish, like any close.
        ;({ upstream, resolution, attempts: tried } = opened)
        apiKey = opened.prepared.apiKey
        // The serving target's own model name (another deployment may call it otherwise), unless the app pinned one.
        if (isObject(decided.session)) decided.session.model = sentModel(decided.session.model, shown, resolution.model)
      }
      client.removeListener('message', onMessage)
      client.removeListener('close', onClose)
      state.pending.delete(shutdown)
      const init = {
        protocol: live,
        resolution,
        requestId: request.id,
        log: request.log,
        hub,
        upstreamOpenedAt: entry.dialed?.openedAt ?? Date.now(),
        credential: entry.credential,
        slots,
        metered: settings.metering,
        attempts: tried,
        charged: bucket === undefined ? undefined : { bucket, frames: held.length },
        apiKey
      }
      const leg = new WsLeg(upstream)
      // eslint-disable-next-line no-new -- the session registers itself with the hub and lives as long as its sockets
      new RealtimeSession(new WsLeg(client), leg, init, settings)
      leg.send(JSON.stringify(decided), TEXT) // the provider's first frame, model rewritten
      leg.resume()
      // Read again first: the relay may pause the client once more while the held frames go upstream.
      client.resume()
      for (const [frame, isBinary] of held.splice(0)) client.emit('message', frame, isBinary)
    }

    /** The app's onClientEvent sees session.start before anything is dialled (whatever `clientEvents` lists). */
    async function decide (event: RealtimeEvent, resolution: Resolution): Promise<RealtimeEvent | null> {
      const { onClientEvent } = settings.policy
      if (onClientEvent === undefined) return event
      const session: PolicySession = {
        id: request.id,
        provider: resolution.provider.name,
        model: resolution.model,
        intent: undefined,
        credential: entry.credential,
        sendError: (code, message, eventId) => { client.send(JSON.stringify(live.errorEvent(code, message, eventId))) }
      }
      const out = await onClientEvent(event, session)
      return out === undefined ? event : out
    }
  }

  const { onRequest, preHandler, logSerializers } = callerHooks(settings)
  return { onRequest, preHandler: [...preHandler, prepare as preHandlerHookHandler], logSerializers, handler }
}
