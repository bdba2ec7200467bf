// Forwarding a signaling request to the provider and relaying its answer: the client's allowed headers plus the
// provider's auth, and the provider's status, type, Retry-After and body back with its key redacted.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FormData } from 'undici'
import { ShuttingDownError } from '../errors.js'
import type { Provider, Resolution } from '../providers/registry.js'
import { outcomeOf, statusOutcome, tryInTurn, type Attempt, type FailoverSettings, type Tried } from '../upstream/failover.js'
import type { HttpTarget } from '../providers/types.js'
import type { PluginState } from '../state.js'
import { upstreamHeaders } from '../upstream/headers.js'
import type { HttpAnswer, UpstreamHttp } from '../upstream/http-client.js'
import { redact, redactSecrets } from '../upstream/redact.js'

/** A request built for one target: where, with which key, and what. */
export interface Built {
  target: HttpTarget
  apiKey: string | undefined
  body: string | FormData | undefined
  contentType?: string
}

/** The answer that is relayed, from the target that gave it, and the attempts made. */
export interface Sent {
  answer: HttpAnswer
  resolution: Resolution
  apiKey: string | undefined
  attempts: Attempt[]
}

export interface Forwarder {
  /**
   * Sends the request built for each of `order`'s targets in turn while the answer is a retryable failure
   * (429, 5xx, no answer, a network error): nothing has reached the client yet, so another deployment may
   * serve it. Resolves with the answer to relay (the last one when every target failed); a thrown failure that
   * is not retryable, or the last, is thrown with its attempts.
   */
  postAny (request: FastifyRequest, order: readonly Resolution[], build: (resolution: Resolution) => Promise<Built>): Promise<Sent>
  /** POSTs `body` to the provider's `target`; `contentType` undefined lets a FormData set its own, with the boundary. */
  post (request: FastifyRequest, provider: Provider, target: HttpTarget, apiKey: string | undefined, body: string | FormData | undefined, contentType?: string): Promise<HttpAnswer>
  /** The provider's answer as it came (status, type, Retry-After, body), its key redacted; error bodies fully. */
  relay (reply: FastifyReply, answer: HttpAnswer, apiKey: string | undefined): FastifyReply
}

export function forwarder (state: PluginState, forwardHeaders: readonly string[], http: UpstreamHttp, failover: FailoverSettings): Forwarder {
  async function post (request: FastifyRequest, provider: Provider, target: HttpTarget, apiKey: string | undefined, body: string | FormData | undefined, contentType?: string): Promise<HttpAnswer> {
    if (state.closing) throw new ShuttingDownError()
    const headers = upstreamHeaders(request.headers, forwardHeaders, target.headers, request.id)
    if (contentType !== undefined) headers['content-type'] = contentType
    else delete headers['content-type']
    return await http.post({ provider: provider.name, target: { url: target.url, headers }, body, secrets: [apiKey] })
  }

  return {
    post,
    async postAny (request, order, build) {
      const served = await tryInTurn(order, failover, state.health, request.log, (provider, outcome) => state.hub.attempted(provider, outcome),
        async (target): Promise<Tried<Pick<Sent, 'answer' | 'apiKey'>>> => {
          try {
            const { target: endpoint, apiKey, body, contentType } = await build(target)
            const answer = await post(request, target.provider, endpoint, apiKey, body, contentType)
            const retryAfter = answer.headers['retry-after']
            return { outcome: statusOutcome(answer.statusCode), value: { answer, apiKey }, retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined }
          } catch (err) {
            return { outcome: outcomeOf(err), error: err }
          }
        })
      if (!('value' in served)) throw served.error
      return { ...served.value, resolution: served.resolution, attempts: served.attempts }
    },
    relay (reply, answer, apiKey) {
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
  }
}
