// The provider's REST endpoints (client secrets, calls) through one undici Agent: a keep-alive pool per origin,
// made on first use (providers may be added at runtime), idle pools closed by the Agent, all closed with the app.
import type { IncomingHttpHeaders } from 'node:http'
import { brotliDecompressSync, gunzipSync, inflateSync, type ZlibOptions } from 'node:zlib'
import { Agent, type FormData } from 'undici'
import { ProviderUnreachableError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js'
import type { HttpTarget } from '../providers/types.js'
import { redact } from './redact.js'

/** Signaling answers are small (a JSON secret, an SDP answer); anything larger is not a provider's. */
const MAX_RESPONSE = 1024 * 1024
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

/**
 * A provider may compress its JSON or SDP answer, which a client would get as garbage labelled JSON: decoded here,
 * held at MAX_RESPONSE after decoding (so a small body cannot inflate past it). undici's decompress interceptor
 * does the same, but warns at every start that it is experimental.
 */
const DECODERS: Readonly<Record<string, (body: Buffer, options: ZlibOptions) => Buffer>> = { gzip: gunzipSync, 'x-gzip': gunzipSync, deflate: inflateSync, br: brotliDecompressSync }

function decoded (provider: string, headers: IncomingHttpHeaders, body: Buffer): Buffer {
  const encoding = String(headers['content-encoding'] ?? 'identity').trim().toLowerCase()
  if (encoding === 'identity') return body
  delete headers['content-encoding']
  const decode = Object.hasOwn(DECODERS, encoding) ? DECODERS[encoding] as (typeof DECODERS)[string] : undefined
  if (decode === undefined) throw new UpstreamUnavailableError(provider, `the answer came in an encoding that cannot be decoded (${encoding.slice(0, 32)})`)
  try {
    return decode(body, { maxOutputLength: MAX_RESPONSE })
  } catch {
    throw new UpstreamUnavailableError(provider, `the ${encoding} answer could not be decoded within ${MAX_RESPONSE} bytes`)
  }
}

export interface HttpAnswer {
  statusCode: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface HttpRequest {
  /** Provider name, for messages. */
  provider: string
  target: HttpTarget
  body?: string | FormData
  /** Strings that must never leave in an error (the provider key). */
  secrets: ReadonlyArray<string | undefined>
}

export class UpstreamHttp {
  readonly #agent: Agent
  readonly #timeout: number

  /** `timeout`: milliseconds to connect, and then for the answer's headers and each body chunk. */
  constructor (timeout: number) {
    this.#timeout = timeout
    this.#agent = new Agent({ connect: { timeout }, maxResponseSize: MAX_RESPONSE, connections: 64, headersTimeout: timeout, bodyTimeout: timeout })
  }

  async post ({ provider, target, body, secrets }: HttpRequest): Promise<HttpAnswer> {
    const url = new URL(target.url)
    let answer: HttpAnswer
    try {
      const res = await this.#agent.request({ origin: url.origin, method: 'POST', path: url.pathname + url.search, headers: target.headers, body })
      answer = { statusCode: res.statusCode, headers: res.headers as IncomingHttpHeaders, body: Buffer.from(await res.body.arrayBuffer()) }
    } catch (err) {
      const code = String((err as { code?: string }).code)
      if (TIMEOUTS.has(code)) throw new UpstreamTimeoutError(provider, this.#timeout)
      if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') throw new UpstreamUnavailableError(provider, `the answer was larger than ${MAX_RESPONSE} bytes`)
      throw new ProviderUnreachableError(provider, redact((err as Error).message, secrets))
    }
    answer.body = decoded(provider, answer.headers, answer.body)
    return answer
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }
}
