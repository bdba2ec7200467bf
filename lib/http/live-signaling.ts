// GPT-Live over WebRTC, beside the GPT-Live websocket route (`live` and `signaling` both on):
//   POST {live.path}                  GPT-Live's JSON create ({ session, transport: { type: 'webrtc', sdp } }),
//                                     routed by session.model, passed through signaling.onSession, forwarded;
//                                     the 201 relayed, the session registered and its sideband metered
//   POST {live.path}/:sessionId/hangup  end a session created here (its creator only)
// The client's own sideband attach (`GET {live.path}/:sessionId/attach`) is a websocket route (http/route.ts).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { BadBodyError, UnknownCallError } from '../errors.js'
import { isObject, parseObject, type Json } from '../json.js'
import { live } from '../protocols/live.js'
import type { Provider, Resolution } from '../providers/registry.js'
import type { HttpTarget } from '../providers/types.js'
import { lookupCall } from '../signaling/calls.js'
import { CALL_ID, modelOf, sentModel } from '../signaling/offer.js'
import { createSession, type CreateAnswer } from '../signaling/create.js'
import type { PluginState } from '../state.js'
import type { HttpAnswer } from '../upstream/http-client.js'
import { callerHooks } from './caller-hooks.js'
import type { Forwarder } from './forward.js'
import { readQuery } from './query.js'
import { attempts } from './upgrade.js'
import type { SignalingRouteOptions, SignalingSettings } from './signaling-routes.js'

/** The options the GPT-Live signaling routes read. */
export interface LiveSignalingOptions extends SignalingRouteOptions {
  live?: { path: string }
}

const EXAMPLE = '{"session":{"model":"gpt-live-1"},"transport":{"type":"webrtc","sdp":"v=0..."}}'

/** The created session's id, from the provider's 201 body (`session.id`). */
function sessionIdFrom (answer: HttpAnswer): string | undefined {
  const session = parseObject(answer.body)?.session
  const id = isObject(session) ? session.id : undefined
  return typeof id === 'string' && CALL_ID.test(id) ? id : undefined
}

export function liveSignalingRoutes (state: PluginState, settings: LiveSignalingOptions, { post, postAny, relay }: Forwarder) {
  const { registry } = state
  const signaling = settings.signaling as SignalingSettings
  const base = (settings.live as { path: string }).path.replace(/\/+$/, '')

  async function endpointOf (provider: Provider, suffix: string): Promise<{ target: HttpTarget, apiKey: string | undefined }> {
    const apiKey = await state.dialer.apiKey(provider)
    // Resolution already refused providers without GPT-Live, so the endpoint exists.
    return { target: provider.liveEndpoint(suffix, apiKey) as HttpTarget, apiKey }
  }

  async function create (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = request.body
    if (!isObject(body) || !isObject(body.session) || !isObject(body.transport)) throw new BadBodyError(`send GPT-Live's JSON body, such as ${EXAMPLE}`)
    const { transport } = body
    if (transport.type !== 'webrtc' || typeof transport.sdp !== 'string' || !transport.sdp.startsWith('v=')) {
      throw new BadBodyError('"transport" must be { "type": "webrtc", "sdp": "<the SDP offer, starting with v=>" }')
    }
    const order = attempts(state, settings.failover, { provider: readQuery(request.query).provider, model: modelOf(body.session, 'session.model'), protocol: 'live' })
    // The app's onSession sees the first target's model; another target gets its own model name in its place.
    let session: Json = { ...body.session, model: (order[0] as Resolution).model }
    if (signaling.onSession !== undefined) session = await signaling.onSession(session, request)
    const decided = session
    const send = async (): Promise<CreateAnswer> => await postAny(request, order, async (target) => {
      const { target: endpoint, apiKey } = await endpointOf(target.provider, '')
      return { target: endpoint, apiKey, body: JSON.stringify({ ...body, session: { ...decided, model: sentModel(decided.model, (order[0] as Resolution).model, target.model) } }), contentType: 'application/json' }
    })
    const { answer, apiKey } = await createSession(state, settings, request, reply, live, { name: 'GPT-Live WebRTC session', idIn: 'session.id' }, order, send, sessionIdFrom,
      async (served, sessionId) => await hangUp(request, served.provider, sessionId))
    return relay(reply, answer, apiKey)
  }

  /** Ends a GPT-Live session at the provider; a session that ended leaves the registry. */
  async function hangUp (request: FastifyRequest, provider: Provider, sessionId: string): Promise<{ answer: HttpAnswer, apiKey: string | undefined }> {
    const { target, apiKey } = await endpointOf(provider, `/${sessionId}/hangup`)
    const answer = await post(request, provider, target, apiKey, undefined)
    if (answer.statusCode < 300) await signaling.calls.deleteCall(sessionId)
    return { answer, apiKey }
  }

  async function hangup (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const { sessionId } = request.params as { sessionId: string }
    const resolution = CALL_ID.test(sessionId) ? await lookupCall(settings, registry, request, sessionId, request.realtime.credential, 'live') : undefined
    if (resolution === undefined) throw new UnknownCallError(sessionId)
    const { answer, apiKey } = await hangUp(request, resolution.provider, sessionId)
    return relay(reply, answer, apiKey)
  }

  return async function routes (child: FastifyInstance): Promise<void> {
    const hooks = { ...callerHooks(settings), bodyLimit: signaling.bodyLimit }
    child.post(base, hooks, create)
    child.post(`${base}/:sessionId/hangup`, hooks, hangup)
  }
}
