// Forwarding a signaling request to the provider and relaying its answer: the client's allowed headers plus the
// provider's auth, and the provider's status, type, Retry-After and body back with its key redacted.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FormData } from 'undici'
import { ShuttingDownError } from '../errors.js'
import type { Provider, Resolution } from '../providers/registry.js'
import { outcomeOf, retryable, type Attempt, type AttemptOutcome, type FailoverSettings } from '../upstream/failover.js'
import type { FailedDial } from '../upstream/provider-dial.js'
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
      const attempts: Attempt[] = []
      const { health, hub } = state
      let sent: Sent | undefined
      let failure: unknown
      for (const resolution of order) {
        const { name } = resolution.provider
        const started = performance.now()
        let outcome: AttemptOutcome
        let retryAfter: string | string[] | undefined
        try {
          const { target, apiKey, body, contentType } = await build(resolution)
          const answer = await post(request, resolution.provider, target, apiKey, body, contentType)
          const status = answer.statusCode
          outcome = status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : status >= 400 ? 'rejected' : 'ok'
          sent = { answer, resolution, apiKey, attempts }
          retryAfter = answer.headers['retry-after']
        } catch (err) {
          outcome = outcomeOf(err as { code?: string })
          sent = undefined
          failure = err
        }
        attempts.push({ provider: name, model: resolution.model, outcome, ms: Math.round(performance.now() - started) })
        hub.attempted(name, outcome)
        if (outcome === 'ok') health.succeeded(resolution)
        if (!retryable(failover, outcome)) break
        health.failed(resolution, failover.cooldown, typeof retryAfter === 'string' ? retryAfter : undefined)
        if (resolution !== order.at(-1)) request.log.warn({ provider: name, model: resolution.model, outcome }, 'provider failed; trying the next target')
      }
      // The answer that ended it (or the last target's), else the last failure.
      if (sent !== undefined) return sent
      ;(failure as FailedDial).attempts = attempts
      throw failure
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
