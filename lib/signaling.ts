// WebRTC signaling beside the websocket route, for apps whose audio goes straight to the provider:
//   POST {path}/client_secrets        mint an ephemeral key (routed by session.model, model rewritten, TTL capped)
//   POST {path}/calls                 SDP offer -> SDP answer; the call is registered and its sideband metered
//   POST {path}/calls/:callId/hangup  end a call created here
// Same auth hooks, registry and limits as the websocket route; the provider's key never leaves the server.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { FormData, Response } from 'undici'
import { lookupCall } from './call-lookup.js'
import { callerHooks } from './caller-hooks.js'
import { BadBodyError, NotSupportedError, ShuttingDownError, UnknownCallError, UnsupportedMediaTypeError } from './errors.js'
import { upstreamHeaders } from './headers.js'
import { isObject, type Json } from './json.js'
import type { Settings } from './options.js'
import type { Endpoint, HttpTarget } from './providers/types.js'
import { readQuery } from './query.js'
import { redact, redactSecrets } from './redact.js'
import type { Provider } from './registry.js'
import type { RouteState } from './route.js'
import { attachSideband } from './sideband.js'
import { acquireSlots, callerKey } from './slots.js'
import type { HttpAnswer, UpstreamHttp } from './upstream-http.js'

const CALL_ID = /^[\w-]{1,128}$/

/** The object that holds the session's model: the session, or for transcription its nested input model. */
function modelHolder (session: Json | undefined): Json | undefined {
  if (session?.type !== 'transcription') return session
  const audio = session.audio as Json | undefined
  const input = isObject(audio) ? audio.input : undefined
  const transcription = isObject(input) ? input.transcription : undefined
  return isObject(transcription) ? transcription : undefined
}

function modelOf (holder: Json | undefined, where: string): string | undefined {
  const model = holder?.model
  if (model !== undefined && typeof model !== 'string') throw new BadBodyError(`"${where}" must be a string`)
  return model
}

/** The call id at the end of the provider's Location (`/v1/realtime/calls/rtc_...`). */
function callIdFrom (location: string | string[] | undefined): string | undefined {
  if (typeof location !== 'string') return undefined
  const id = new URL(location, 'http://provider').pathname.split('/').pop()
  return id !== undefined && CALL_ID.test(id) ? id : undefined
}

async function partText (form: globalThis.FormData | FormData, name: string): Promise<string | undefined> {
  const part = form.get(name)
  return part === null ? undefined : typeof part === 'string' ? part : await part.text()
}

/** The SDP offer and optional session from `application/sdp` or `multipart/form-data` (`sdp`, `session` parts). */
async function readOffer (request: FastifyRequest): Promise<{ sdp: string, session?: Json }> {
  const header = String(request.headers['content-type'])
  const type = header.toLowerCase() // for matching only: the multipart boundary is case-sensitive
  let sdp: string | undefined
  let session: Json | undefined
  if (type.startsWith('application/sdp')) {
    sdp = request.body as string
  } else if (type.startsWith('multipart/form-data')) {
    let form
    try {
      form = await new Response(request.body as Buffer, { headers: { 'content-type': header } }).formData()
    } catch {
      throw new BadBodyError('the multipart body could not be parsed')
    }
    sdp = await partText(form, 'sdp')
    const text = await partText(form, 'session')
    if (text !== undefined) {
      try {
        session = JSON.parse(text) as Json
      } catch {}
      if (!isObject(session)) throw new BadBodyError('the "session" part must be a JSON object')
    }
  } else {
    throw new UnsupportedMediaTypeError()
  }
  if (sdp === undefined || !sdp.startsWith('v=')) throw new BadBodyError('the SDP offer is missing or does not start with "v="')
  return { sdp, session }
}

export function signalingRoutes (state: RouteState, http: UpstreamHttp) {
  const { registry, settings } = state
  const signaling = settings.signaling as NonNullable<Settings['signaling']>
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
    const release = await acquireSlots(settings, request, reply, credential)
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
      release()
      throw err
    }
    if (callId === undefined) {
      release()
      if (answer.statusCode < 300) request.log.warn('the provider answered the call without a usable Location; it is not metered')
      return relay(reply, answer, apiKey)
    }
    request.log.info({ callId, provider: provider.name, model: resolution.model }, 'realtime call created')
    reply.header('location', `${base}/calls/${callId}`)
    relay(reply, answer, apiKey)
    if (signaling.sideband) attachSideband(state, request, { ...resolution, callId }, credential, release)
    else release()
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
