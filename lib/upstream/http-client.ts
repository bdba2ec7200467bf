// The provider's REST endpoints (client secrets, calls) through one undici Agent: a keep-alive pool per origin,
// made on first use (providers may be added at runtime), idle pools closed by the Agent, all closed with the app.
import type { IncomingHttpHeaders } from 'node:http'
import { Agent, interceptors, type Dispatcher, type FormData } from 'undici'
import { unreachableError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js'
import type { HttpTarget } from '../providers/types.js'
import { redact } from './redact.js'

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
  readonly #agent: Agent
  /** The agent with answers decoded: a provider may gzip its JSON or SDP, which the client would get as garbage. */
  readonly #dispatcher: Dispatcher
  readonly #timeout: number

  /** `timeout`: milliseconds to connect, and then for the answer's headers and each body chunk. */
  constructor (timeout: number) {
    this.#timeout = timeout
    this.#agent = new Agent({ connect: { timeout }, maxResponseSize: MAX_RESPONSE, connections: 64, headersTimeout: timeout, bodyTimeout: timeout })
    // The same bound on the decoded answer: a small gzip cannot inflate past it.
    this.#dispatcher = this.#agent.compose(interceptors.decompress({ maxSize: MAX_RESPONSE }))
  }

  async post ({ provider, target, body, secrets }: HttpRequest): Promise<HttpAnswer> {
    const url = new URL(target.url)
    try {
      const answer = await this.#dispatcher.request({ origin: url.origin, method: 'POST', path: url.pathname + url.search, headers: target.headers, body })
      return { statusCode: answer.statusCode, headers: answer.headers as IncomingHttpHeaders, body: Buffer.from(await answer.body.arrayBuffer()) }
    } catch (err) {
      const code = String((err as { code?: string }).code)
      if (TIMEOUTS.has(code)) throw new UpstreamTimeoutError(provider, this.#timeout)
      if (code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE') throw new UpstreamUnavailableError(provider, `the answer was larger than ${MAX_RESPONSE} bytes`)
      throw unreachableError(provider, redact((err as Error).message, secrets))
    }
  }

  async close (): Promise<void> {
    await this.#agent.close()
  }
}
