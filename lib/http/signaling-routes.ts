// WebRTC signaling beside the websocket route, for apps whose audio goes straight to the provider:
//   POST {path}/client_secrets        mint an ephemeral key (routed by session.model, model rewritten, TTL capped)
//   POST {path}/calls                 SDP offer -> SDP answer; the call is registered and its sideband metered
//   POST {path}/calls/:callId/hangup  end a call created here
// Same auth hooks, registry and limits as the websocket route; the provider's key never leaves the server.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FormData } from 'undici'
import { lookupCall } from '../signaling/calls.js'
import { CALL_ID, callIdFrom, modelHolder, modelOf, readOffer } from '../signaling/offer.js'
import { callerHooks, type CallerOptions } from './caller-hooks.js'
import { BadBodyError, NotSupportedError, ShuttingDownError, UnknownCallError } from '../errors.js'
import { upstreamHeaders } from '../upstream/headers.js'
import { isObject, type Json } from '../json.js'
import type { Endpoint, HttpTarget } from '../providers/types.js'
import { readQuery } from './query.js'
import { redact, redactSecrets } from '../upstream/redact.js'
import type { Provider } from '../providers/registry.js'
import type { PluginState } from '../state.js'
import { attachSideband, type SidebandOptions } from '../signaling/sideband.js'
import { acquireSlots, callerKey, type SlotOptions } from '../limits/slots.js'
import type { CallStore } from '../store/types.js'
import type { HttpAnswer, UpstreamHttp } from '../upstream/http-client.js'

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
  forwardHeaders: readonly string[]
  signaling?: SignalingSettings
}

export function signalingRoutes (state: PluginState, settings: SignalingRouteOptions, http: UpstreamHttp) {
  const { registry } = state
  const signaling = settings.signaling as SignalingSettings
  const base = settings.path.replace(/\/+$/, '')

  async function endpointOf (provider: Provider, endpoint: Endpoint): Promise<{ target: HttpTarget, apiKey: string | undefined }> {
    const apiKey = await provider.apiKey()
    const target = provider.endpoint(endpoint, apiKey)
    if (target === undefined) throw new NotSupportedError(provider.name, provider.type, endpoint)
    return { target, apiKey }
  }

  async function post (request: FastifyRequest, provider: Provider, target: HttpTarget, apiKey: string | undefined, body: string | FormData | undefined, contentType?: string): Promise<HttpAnswer> {
    if (state.closing) throw new ShuttingDownError()
    const headers = upstreamHeaders(request.headers, settings.forwardHeaders, target.headers, request.id)
    if (contentType !== undefined) headers['content-type'] = contentType
    else delete headers['content-type'] // FormData sets its own, with the boundary
    return await http.post({ provider: provider.name, target: { url: target.url, headers }, body, secrets: [apiKey] })
  }

  /** The provider's answer as it came (status, type, Retry-After, body), its key redacted; error bodies fully. */
  function relay (reply: FastifyReply, answer: HttpAnswer, apiKey: string | undefined): FastifyReply {
    const ok = answer.statusCode < 300
    const text = answer.body.toString()
    const { 'content-type': type, 'retry-after': retryAfter } = answer.headers
    if (!ok) reply.log.warn({ statusCode: answer.statusCode }, 'provider refused the signaling request')
    if (retryAfter !== undefined) reply.header('retry-after', retryAfter)
    if (type !== undefined) reply.type(type)
    // The body is the provider's (SDP, JSON): a browser must not guess another type from it.
    reply.header('x-content-type-options', 'nosniff')
    return reply.code(answer.statusCode).send(ok ? redactSecrets(text, [apiKey]) : redact(text, [apiKey]))
  }

  async function clientSecrets (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (!isObject(request.body)) throw new BadBodyError('send a JSON object such as {"session":{"type":"realtime","model":"gpt-realtime"}}')
    const body = structuredClone(request.body)
    if (body.session !== undefined && !isObject(body.session)) throw new BadBodyError('"session" must be an object')
    const session = body.session as Json | undefined
    const transcription = session?.type === 'transcription'
    const holder = modelHolder(session)
    const model = modelOf(holder, transcription ? 'session.audio.input.transcription.model' : 'session.model')
    const resolution = registry.resolve({ provider: readQuery(request.query).provider, model, intent: transcription ? 'transcription' : undefined }, false)
    const { provider } = resolution
    if (model !== undefined) (holder as Json).model = resolution.model
    const asked = body.expires_after
    if (asked !== undefined && (!isObject(asked) || (asked.seconds !== undefined && (typeof asked.seconds !== 'number' || !(asked.seconds > 0))))) {
      throw new BadBodyError('"expires_after" must be { "anchor": "created_at", "seconds": <number> }')
    }
    const cap = signaling.maxExpiresAfter
    body.expires_after = { anchor: 'created_at', ...asked, seconds: Math.min((asked?.seconds as number | undefined) ?? cap, cap) }
    const { target, apiKey } = await endpointOf(provider, 'client_secrets')
    if (signaling.onSession !== undefined) body.session = await signaling.onSession((body.session ?? {}) as Json, request)
    const answer = await post(request, provider, target, apiKey, JSON.stringify(provider.clientSecretBody(body)), 'application/json')
    if (answer.statusCode < 300) request.log.info({ provider: provider.name, model: resolution.model }, 'realtime client secret minted')
    return relay(reply, answer, apiKey)
  }

  async function createCall (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { sdp, session } = await readOffer(request)
    const query = readQuery(request.query)
    const resolution = registry.resolve({ provider: query.provider, model: modelOf(session, 'session.model') ?? query.model }, false)
    const { provider } = resolution
    const { target, apiKey } = await endpointOf(provider, 'calls')
    const form = new FormData()
    form.set('sdp', sdp)
    const forwarded = { type: 'realtime', ...session, ...(resolution.model === undefined ? {} : { model: resolution.model }) }
    form.set('session', JSON.stringify(signaling.onSession === undefined ? forwarded : await signaling.onSession(forwarded, request)))
    const { credential } = request.realtime
    // A call is a session the app pays for: it holds its slots until its sideband (the call) ends.
    const slots = await acquireSlots(settings, request, reply, credential)
    let answer: HttpAnswer
    let callId: string | undefined
    try {
      answer = await post(request, provider, target, apiKey, form)
      callId = answer.statusCode < 300 ? callIdFrom(answer.headers.location) : undefined
      if (callId !== undefined) {
        const call = { provider: provider.name, model: resolution.model, requestedModel: resolution.requestedModel, owner: callerKey(settings, request, credential) }
        await signaling.calls.setCall(callId, call, signaling.callTTL)
      }
    } catch (err) {
      slots.release()
      throw err
    }
    if (callId === undefined) {
      slots.release()
      if (answer.statusCode < 300) request.log.warn('the provider answered the call without a usable Location; it is not metered')
      return relay(reply, answer, apiKey)
    }
    request.log.info({ callId, provider: provider.name, model: resolution.model }, 'realtime call created')
    reply.header('location', `${base}/calls/${callId}`)
    relay(reply, answer, apiKey)
    if (signaling.sideband) attachSideband(state, settings, request, { ...resolution, callId }, credential, slots)
    else slots.release()
    return reply
  }

  async function hangup (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { callId } = request.params as { callId: string }
    const resolution = CALL_ID.test(callId) ? await lookupCall(settings, registry, request, callId, request.realtime.credential) : undefined
    if (resolution === undefined) throw new UnknownCallError(callId)
    const { target, apiKey } = await endpointOf(resolution.provider, 'calls')
    const answer = await post(request, resolution.provider, { ...target, url: `${target.url}/${callId}/hangup` }, apiKey, '', 'application/json')
    if (answer.statusCode < 300) await signaling.calls.deleteCall(callId) // its sideband may be off, or end later
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
    child.post(`${base}/client_secrets`, hooks, clientSecrets)
    child.post(`${base}/calls`, hooks, createCall)
    child.post(`${base}/calls/:callId/hangup`, hooks, hangup)
  }
}
