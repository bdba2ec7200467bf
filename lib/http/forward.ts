// Forwarding a signaling request to the provider and relaying its answer: the client's allowed headers plus the
// provider's auth, and the provider's status, type, Retry-After and body back with its key redacted.
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { FormData } from 'undici'
import { ShuttingDownError } from '../errors.js'
import type { Provider } from '../providers/registry.js'
import type { HttpTarget } from '../providers/types.js'
import type { PluginState } from '../state.js'
import { upstreamHeaders } from '../upstream/headers.js'
import type { HttpAnswer, UpstreamHttp } from '../upstream/http-client.js'
import { redact, redactSecrets } from '../upstream/redact.js'

export interface Forwarder {
  /** POSTs `body` to the provider's `target`; `contentType` undefined lets a FormData set its own, with the boundary. */
  post (request: FastifyRequest, provider: Provider, target: HttpTarget, apiKey: string | undefined, body: string | FormData | undefined, contentType?: string): Promise<HttpAnswer>
  /** The provider's answer as it came (status, type, Retry-After, body), its key redacted; error bodies fully. */
  relay (reply: FastifyReply, answer: HttpAnswer, apiKey: string | undefined): FastifyReply
}

export function forwarder (state: PluginState, forwardHeaders: readonly string[], http: UpstreamHttp): Forwarder {
  return {
    async post (request, provider, target, apiKey, body, contentType) {
      if (state.closing) throw new ShuttingDownError()
      const headers = upstreamHeaders(request.headers, forwardHeaders, target.headers, request.id)
      if (contentType !== undefined) headers['content-type'] = contentType
      else delete headers['content-type']
      return await http.post({ provider: provider.name, target: { url: target.url, headers }, body, secrets: [apiKey] })
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
