// Opens the provider's websocket before the client is upgraded, so every failure can still be a real HTTP
// answer: a provider 4xx with its (redacted) body, 502 for network errors and 5xx, 504 on timeout.
import { STATUS_CODES, type IncomingMessage } from 'node:http'
import WebSocket from 'ws'
import { ProviderFailedError, ProviderRejectedError, ProviderUnreachableError, UpstreamTimeoutError } from '../errors.js'
import type { UpstreamTarget } from '../providers/types.js'
import { redact } from './redact.js'

const MAX_ERROR_BODY = 64 * 1024

export interface DialOptions {
  /** Provider name, for messages. */
  provider: string
  timeout: number
  maxPayload: number
  /** Milliseconds a close handshake may take before the connection is dropped. */
  closeTimeout: number
  /** Strings that must never leave in an error (the provider key). */
  secrets: ReadonlyArray<string | undefined>
  /** Aborted when the client goes away or the server shuts down while dialing. */
  signal: AbortSignal
}

const ignore = (): void => {}

function readBody (res: IncomingMessage): Promise<string> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    res.on('data', (chunk: Buffer) => {
      if (size < MAX_ERROR_BODY) chunks.push(chunk)
      size += chunk.length
    })
    res.on('end', () => resolve(Buffer.concat(chunks).subarray(0, MAX_ERROR_BODY).toString()))
    res.on('error', () => resolve(Buffer.concat(chunks).toString()))
  })
}

function rejection (status: number, text: string, res: IncomingMessage): ProviderRejectedError {
  let body: string | undefined
  try {
    JSON.parse(text)
    body = text
  } catch {}
  const retryAfter = res.headers['retry-after']
  return new ProviderRejectedError(status, text.slice(0, 512) || (STATUS_CODES[status] ?? 'no body'), { body, retryAfter })
}

/** Resolves with an open, paused socket: frames the provider sends first wait until the client is upgraded. */
export function dial (target: UpstreamTarget, options: DialOptions): Promise<WebSocket> {
  const { provider, timeout, maxPayload, closeTimeout, secrets, signal } = options
  // A variable, not a literal: ws 8.23 takes closeTimeout, which @types/ws 8.18 does not list yet.
  const wsOptions = {
    headers: target.headers,
    perMessageDeflate: false, // base64 audio does not compress; deflate costs CPU and memory per session
    maxPayload,
    closeTimeout,
    // The provider is trusted and its frames go to the client unchanged; the client validates UTF-8 itself.
    skipUTF8Validation: true,
    followRedirects: false
  }
  return new Promise((resolve, reject) => {
    signal.throwIfAborted() // aborted before it began: nothing is dialled (a throw here rejects)
    const socket = new WebSocket(target.url, target.protocols, wsOptions)
    let settled = false
    const fail = (err: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      socket.terminate()
      reject(err) // every error here is the plugin's own, its text redacted where it came from the provider
    }
    const onAbort = (): void => fail(signal.reason as Error)
    const timer = setTimeout(() => fail(new UpstreamTimeoutError(provider, timeout)), timeout)
    signal.addEventListener('abort', onAbort, { once: true })

    const onUnexpected = (_req: unknown, res: IncomingMessage): void => {
      const status = res.statusCode as number
      if (status >= 400 && status < 500) {
        readBody(res).then((text) => fail(rejection(status, redact(text, secrets), res)))
      } else {
        res.resume()
        // The status and Retry-After stay on the error: failover tells a 503 from a network error by them.
        fail(new ProviderFailedError(provider, status, res.headers['retry-after']))
      }
    }
    // The client learns that the provider could not be reached, never where it is (an address, a port, a TLS
    // name); the cause travels with the error to the server's log only.
    const onError = (err: Error): void => fail(new ProviderUnreachableError(provider, redact(err.message, secrets)))
    socket.on('unexpected-response', onUnexpected)
    socket.on('error', onError)
    // terminate() while connecting aborts the handshake, so 'open' cannot follow a failure.
    socket.once('open', () => {
      // OpenAI sends session.created in the same TCP read as the 101: stop reading before it is parsed.
      socket.pause()
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      // These closures hold the dial's signal, timer and target for as long as the session lives: drop them.
      // Until the relay listens, an error is ignored as before (the relay sees the close that follows).
      socket.removeListener('unexpected-response', onUnexpected)
      socket.removeListener('error', onError)
      socket.on('error', ignore)
      resolve(socket)
    })
  })
}
