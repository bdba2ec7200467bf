// The provider's REST endpoints (client secrets, calls) through undici: one pooled keep-alive dispatcher per
// origin, created on first use (providers may be added at runtime) and closed with the app.
import type { IncomingHttpHeaders } from 'node:http'
import { Pool, type FormData } from 'undici'
import { unreachableError, UpstreamTimeoutError, UpstreamUnavailableError } from './errors.js'
import type { HttpTarget } from './providers/types.js'

/** Signaling answers are small (a JSON secret, an SDP answer); anything larger is not a provider's. */
const MAX_RESPONSE = 1024 * 1024
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

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
  readonly #pools = new Map<string, Pool>()
  readonly #timeout: number

  /** `timeout`: milliseconds to connect, and then for the answer's headers and each body chunk. */
  constructor (timeout: number) {
    this.#timeout = timeout
  }

  async post ({ provider, target, body, secrets }: HttpRequest): Promise<HttpAnswer> {
    const url = new URL(target.url)
    try {
      const answer = await this.#pool(url.origin).request({
        method: 'POST',
        path: url.pathname + url.search,
        headers: target.headers,
        body,
        headersTimeout: this.#timeout,
        bodyTimeout: this.#timeout
      })
      const chunks: Buffer[] = []
      for await (const chunk of answer.body) chunks.push(chunk as Buffer)
      return { statusCode: answer.statusCode, headers: answer.headers as IncomingHttpHeaders, body: Buffer.concat(chunks) }
    } catch (err) {
      const code = String((err as { code?: string }).code)
      if (TIMEOUTS.has(code)) throw new UpstreamTimeoutError(provider, this.#timeout)
      if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') throw new UpstreamUnavailableError(provider, `the answer was larger than ${MAX_RESPONSE} bytes`)
      throw unreachableError(provider, err as Error, secrets)
    }
  }

  #pool (origin: string): Pool {
    let pool = this.#pools.get(origin)
    if (pool === undefined) {
      pool = new Pool(origin, { connect: { timeout: this.#timeout }, maxResponseSize: MAX_RESPONSE, connections: 64 })
      this.#pools.set(origin, pool)
    }
    return pool
  }

  async close (): Promise<void> {
    const pools = [...this.#pools.values()]
    this.#pools.clear()
    await Promise.all(pools.map((pool) => pool.close()))
  }
}
