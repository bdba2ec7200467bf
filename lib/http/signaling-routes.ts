// WebRTC signaling beside the websocket route, for apps whose audio goes straight to the provider:
//   POST {path}/client_secrets        mint an ephemeral key (routed by session.model, model rewritten, TTL capped)
//   POST {path}/calls                 SDP offer -> SDP answer; the call is registered and its sideband metered
//   POST {path}/calls/:callId/hangup  end a call created here
//   POST {path}/translations/client_secrets, POST {path}/translations/calls   the same for translation sessions
// Same auth hooks, registry and limits as the websocket route; the provider's key never leaves the server.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FormData } from 'undici'
import { lookupCall } from '../signaling/calls.js'
import { CALL_ID, callIdFrom, modelHolder, modelOf, readOffer, sentModel } from '../signaling/offer.js'
import { callerHooks, type CallerOptions } from './caller-hooks.js'
import { BadBodyError, NotSupportedError, UnknownCallError } from '../errors.js'
import type { Built, Forwarder } from './forward.js'
import { isObject, type Json } from '../json.js'
import type { Endpoint, HttpTarget } from '../providers/types.js'
import { readQuery } from './query.js'
import type { Provider, Resolution } from '../providers/registry.js'
import type { PluginState } from '../state.js'
import type { SidebandOptions } from '../signaling/sideband.js'
import type { HttpAnswer } from '../upstream/http-client.js'
import { createSession } from '../signaling/create.js'
import { realtime } from '../protocols/realtime.js'
import { acquireSlots, type SlotOptions } from '../limits/slots.js'
import type { FailoverSettings } from '../upstream/failover.js'
import { attempts } from './upgrade.js'
import type { CallStore } from '../store/types.js'

/** The WebRTC signaling routes beside the websocket: `POST {path}/client_secrets`, `POST {path}/calls`. */
export interface SignalingOptions {
  /** Largest `expires_after.seconds` a minted client secret gets; also what it gets when the client names none. Default 600. */
  maxExpiresAfter?: number
  /** Largest request body (JSON, SDP offer, multipart) in bytes; larger is answered 413. Default 64 KiB. */
  bodyLimit?: number
  /** Attach to each call's sideband websocket to meter its usage. Default true. */
  sideband?: boolean
  /** Calls the default memory store remembers at once (oldest forgotten first). Default 10 000. */
  maxCalls?: number
  /** Milliseconds a call stays in the registry unless hung up through the plugin first. Default 3 600 000 (OpenAI's session limit). */
  callTTL?: number
  /**
   * Sees the session config of every client secret and call before it is forwarded (model already
   * rewritten) and returns the one to send: pin instructions, tools or voice server-side, since these
   * sessions bypass `onClientEvent`. Throw an @fastify/error to refuse the request.
   */
  onSession?: (session: Record<string, unknown>, request: FastifyRequest) => Record<string, unknown> | Promise<Record<string, unknown>>
}

/** `signaling` after validation. */
export type SignalingSettings = Required<Omit<SignalingOptions, 'onSession'>> & Pick<SignalingOptions, 'onSession'> & { calls: CallStore }

/** The options the signaling routes read. */
export interface SignalingRouteOptions extends CallerOptions, SlotOptions, SidebandOptions {
  path: string
  failover: FailoverSettings
  forwardHeaders: readonly string[]
  signaling?: SignalingSettings
}

export function signalingRoutes (state: PluginState, settings: SignalingRouteOptions, { post, postAny, relay }: Forwarder) {
  const { registry } = state
  const signaling = settings.signaling as SignalingSettings
  const base = settings.path.replace(/\/+$/, '')

  async function endpointOf (provider: Provider, endpoint: Endpoint): Promise<{ target: HttpTarget, apiKey: string | undefined }> {
    const apiKey = await state.dialer.apiKey(provider)
    const target = provider.endpoint(endpoint, apiKey)
    if (target === undefined) throw new NotSupportedError(provider.name, provider.type, endpoint)
    return { target, apiKey }
  }

  /**
   * The targets that have `endpoint` (a model's deployments may include a provider without WebRTC, such as xAI for
   * calls); when none has it, all of them, so the first answers 501 as a single target would.
   */
  function serving (order: Resolution[], endpoint: Endpoint): Resolution[] {
    const able = order.filter((r) => r.provider.endpoint(endpoint, undefined) !== undefined)
    return able.length > 0 ? able : order
  }

  /** `translation`: the translations route, whose session names its model at `session.model` and has no type. */
  async function clientSecrets (request: FastifyRequest, reply: FastifyReply, translation: boolean): Promise<FastifyReply> {
    if (!isObject(request.body)) throw new BadBodyError('send a JSON object such as {"session":{"type":"realtime","model":"gpt-realtime"}}')
    const body = structuredClone(request.body)
    if (body.session !== undefined && !isObject(body.session)) throw new BadBodyError('"session" must be an object')
    const session = body.session as Json | undefined
    const transcription = !translation && session?.type === 'transcription'
    const holder = translation ? session : modelHolder(session)
    const model = modelOf(holder, transcription ? 'session.audio.input.transcription.model' : 'session.model')
    const query = { provider: readQuery(request.query).provider, model, intent: transcription ? 'transcription' : undefined }
    const endpoint: Endpoint = translation ? 'translations/client_secrets' : 'client_secrets'
    const order = serving(attempts(state, settings.failover, translation ? { ...query, protocol: 'translation' } : query, false), endpoint)
    const asked = body.expires_after
    if (asked !== undefined && (!isObject(asked) || (asked.seconds !== undefined && (typeof asked.seconds !== 'number' || !(asked.seconds > 0))))) {
      throw new BadBodyError('"expires_after" must be { "anchor": "created_at", "seconds": <number> }')
    }
    const cap = signaling.maxExpiresAfter
    body.expires_after = { anchor: 'created_at', ...asked, seconds: Math.min((asked?.seconds as number | undefined) ?? cap, cap) }
    // The app's onSession sees the first target's model; another target gets its own model name in its place.
    if (model !== undefined) (holder as Json).model = (order[0] as Resolution).model
    if (signaling.onSession !== undefined) body.session = await signaling.onSession((body.session ?? {}) as Json, request)
    const placed = translation ? body.session as Json | undefined : modelHolder(body.session as Json | undefined)
    const decided = placed?.model
    const { answer, resolution, apiKey } = await postAny(request, order, async (target) => {
      if (model !== undefined && isObject(placed)) placed.model = sentModel(decided, (order[0] as Resolution).model, target.model)
      const { target: to, apiKey } = await endpointOf(target.provider, endpoint)
      return { target: to, apiKey, body: JSON.stringify(target.provider.clientSecretBody(body)), contentType: 'application/json' }
    })
    if (answer.statusCode < 300) request.log.info({ provider: resolution.provider.name, model: resolution.model }, translation ? 'realtime translation client secret minted' : 'realtime client secret minted')
    return relay(reply, answer, apiKey)
  }

  /**
   * A call's offer, routed (by `session.model`, else `?model=`) to its targets, and how to build it for each: the
   * provider's endpoint and the multipart `sdp` + `session` (the target's model, through onSession once; a
   * realtime session's type defaults to `realtime`).
   */
  async function offer (request: FastifyRequest, protocol: 'realtime' | 'translation') {
    const { sdp, session } = await readOffer(request)
    const query = readQuery(request.query)
    const endpoint: Endpoint = protocol === 'realtime' ? 'calls' : 'translations/calls'
    const order = serving(attempts(state, settings.failover, { provider: query.provider, model: modelOf(session, 'session.model') ?? query.model, protocol }, false), endpoint)
    const first = order[0] as Resolution
    const forwarded = { ...(protocol === 'realtime' ? { type: 'realtime' } : {}), ...session, ...(first.model === undefined ? {} : { model: first.model }) }
    const decided = signaling.onSession === undefined ? forwarded : await signaling.onSession(forwarded, request)
    const build = async (target: Resolution): Promise<Built> => {
      const { target: to, apiKey } = await endpointOf(target.provider, endpoint)
      const form = new FormData()
      form.set('sdp', sdp)
      const model = sentModel(decided.model, first.model, target.model)
      form.set('session', JSON.stringify(model === undefined ? decided : { ...decided, model }))
      return { target: to, apiKey, body: form }
    }
    return { order, build }
  }

  /**
   * A translation call: forwarded the same way, but not registered nor metered. Its audio never passes here and
   * the provider reports no usage on a sideband, so there is nothing to read; its slots are not held.
   */
  async function createTranslationCall (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { order, build } = await offer(request, 'translation')
    const slots = await acquireSlots(settings, request, reply, request.realtime.credential)
    slots.release() // counted against the limits when created, like any session; not held (its end is not seen here)
    const { answer, resolution, apiKey } = await postAny(request, order, build)
    if (answer.statusCode < 300) request.log.info({ provider: resolution.provider.name, model: resolution.model }, 'realtime translation call created')
    // The provider's Location, under this route's path, as for a realtime call.
    const id = callIdFrom(answer.headers.location)
    if (id !== undefined) reply.header('location', `${base}/translations/calls/${id}`)
    return relay(reply, answer, apiKey)
  }

  async function createCall (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { order, build } = await offer(request, 'realtime')
    const { answer, id, apiKey } = await createSession(state, settings, request, reply, realtime, { name: 'realtime call', idIn: 'Location' }, order,
      async () => await postAny(request, order, build), (created) => callIdFrom(created.headers.location),
      async (served, callId) => await hangUp(request, served.provider, callId))
    if (id !== undefined) reply.header('location', `${base}/calls/${id}`)
    return relay(reply, answer, apiKey)
  }

  /** Ends a call at the provider; a call that ended leaves the registry. */
  async function hangUp (request: FastifyRequest, provider: Provider, callId: string): Promise<{ answer: HttpAnswer, apiKey: string | undefined }> {
    const { target, apiKey } = await endpointOf(provider, 'calls')
    const answer = await post(request, provider, { ...target, url: `${target.url}/${callId}/hangup` }, apiKey, '', 'application/json')
    if (answer.statusCode < 300) await signaling.calls.deleteCall(callId) // its sideband may be off, or end later
    return { answer, apiKey }
  }

  async function hangup (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { callId } = request.params as { callId: string }
    const resolution = CALL_ID.test(callId) ? await lookupCall(settings, registry, request, callId, request.realtime.credential) : undefined
    if (resolution === undefined) throw new UnknownCallError(callId)
    const { answer, apiKey } = await hangUp(request, resolution.provider, callId)
    return relay(reply, answer, apiKey)
  }

  // Encapsulated: the SDP and multipart parsers apply to these routes only, never to the app's.
  return async function routes (child: FastifyInstance): Promise<void> {
    for (const type of ['application/sdp', 'multipart/form-data']) {
      if (child.hasContentTypeParser(type)) child.removeContentTypeParser(type)
    }
    child.addContentTypeParser('application/sdp', { parseAs: 'string' }, (_request, body, done) => done(null, body))
    child.addContentTypeParser('multipart/form-data', { parseAs: 'buffer' }, (_request, body, done) => done(null, body))
    const hooks = { ...callerHooks(settings), bodyLimit: signaling.bodyLimit }
    child.post(`${base}/client_secrets`, hooks, async (request, reply) => await clientSecrets(request, reply, false))
    child.post(`${base}/calls`, hooks, createCall)
    child.post(`${base}/calls/:callId/hangup`, hooks, hangup)
    child.post(`${base}/translations/client_secrets`, hooks, async (request, reply) => await clientSecrets(request, reply, true))
    child.post(`${base}/translations/calls`, hooks, createTranslationCall)
  }
}
