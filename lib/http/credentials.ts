// The caller's own credential (for the app's auth hooks), from wherever a client can put it. Browsers cannot
// set headers on a websocket, so they send it as a subprotocol; the query is only read when allowed.
import type { FastifyRequest } from 'fastify'
import { CREDENTIAL_PROTOCOLS } from '../providers/index.js'
import { parseProtocols } from './subprotocols.js'

export type CredentialSource = 'authorization' | 'subprotocol' | 'query'

/** `request.realtime`, available to every hook of the realtime route. */
export interface RealtimeRequest {
  /** The caller's token: `Authorization: Bearer`, then `openai-insecure-api-key.`, then `xai-client-secret.`, then the query (if allowed). */
  credential?: string
  credentialSource?: CredentialSource
}

export function readCredential (request: FastifyRequest, queryParam: string | undefined): RealtimeRequest {
  const auth = request.headers.authorization
  if (auth !== undefined && /^bearer\s+\S/i.test(auth)) return { credential: auth.slice(7).trim(), credentialSource: 'authorization' }
  const protocols = parseProtocols(request.headers['sec-websocket-protocol'])
  for (const prefix of CREDENTIAL_PROTOCOLS) {
    const found = protocols.find((p) => p.startsWith(prefix) && p.length > prefix.length)
    if (found !== undefined) return { credential: found.slice(prefix.length), credentialSource: 'subprotocol' }
  }
  if (queryParam !== undefined) {
    const value = (request.query as Record<string, unknown>)[queryParam]
    if (typeof value === 'string' && value !== '') return { credential: value, credentialSource: 'query' }
  }
  return {}
}

/** The request log line must not carry a query credential: strip it from the URL that Fastify logs. */
export function redactQueryParam (url: string, param: string): string {
  const q = url.indexOf('?')
  if (q === -1) return url
  const params = new URLSearchParams(url.slice(q + 1))
  if (!params.has(param)) return url
  params.set(param, '[REDACTED]')
  return `${url.slice(0, q)}?${params.toString()}`
}
