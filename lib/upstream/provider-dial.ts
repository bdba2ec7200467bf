// Dialing a resolved provider, for a relayed session and for a call's sideband alike: the key, the target with
// the forwarded headers, the dial registered for shutdown to abort, and its outcome reported for the metrics.
import type { FastifyRequest } from 'fastify'
import type WebSocket from 'ws'
import { dial } from './dial.js'
import { ProviderKeyError, UpstreamTimeoutError } from '../errors.js'
import { upstreamHeaders } from './headers.js'
import type { Provider, Resolution } from '../providers/registry.js'
import { DIAL_LABELS, outcomeOf, retryAfterOf, tryInTurn, type Attempt, type AttemptOutcome, type FailoverSettings, type Served, type DeploymentHealth, type Tried, type Unserved } from './failover.js'
import type { UpstreamTarget } from '../providers/types.js'

export interface PreparedDial {
  /** Where and how to dial. */
  target: UpstreamTarget
  /** The key it carries, to redact from any error. */
  apiKey: string | undefined
}

/** The options a provider dial reads. */
export interface ProviderDialOptions {
  forwardHeaders: readonly string[]
  dialTimeout: number
  maxPayload: number
  closeTimeout: number
}

/** A finished dial: `ok`, or why not (`timeout`, `rejected`, `unavailable`, `aborted`), and how long it took. */
export type DialReport = (provider: string, seconds: number, outcome: string) => void

/** One attempt of a failover (every dial of a session is one): its provider and outcome. */
export type AttemptReport = (provider: string, outcome: AttemptOutcome) => void

/** A dial that opened: the socket, the deployment that served, what it was dialled with, and the attempts made. */
export interface Opened {
  upstream: WebSocket
  resolution: Resolution
  prepared: PreparedDial
  attempts: Attempt[]
}

/** The metrics label for a failed dial (or a session that never opened): `aborted`, `timeout`, `rejected`, `unavailable`. */
export function dialOutcome (err: unknown, aborted: boolean): string {
  return aborted ? 'aborted' : DIAL_LABELS[outcomeOf(err)]
}

export class ProviderDialer {
  /** Dials in flight, aborted on shutdown. */
  readonly #inflight = new Set<AbortController>()
  readonly #options: ProviderDialOptions
  readonly #report: DialReport
  readonly #attempted: AttemptReport
  readonly #unopened: (provider: string, outcome: string) => void

  /** `attempted`: each attempt of a failover; `unopened`: a session that never opened, once. */
  constructor (options: ProviderDialOptions, report: DialReport, attempted: AttemptReport, unopened: (provider: string, outcome: string) => void) {
    this.#options = options
    this.#report = report
    this.#attempted = attempted
    this.#unopened = unopened
  }

  /** Counts a session that never opened, once: the last deployment tried, and why. */
  unopened (provider: string, err: unknown, aborted: boolean): void {
    this.#unopened(provider, dialOutcome(err, aborted))
  }

  /**
   * Dials `order`'s deployments in turn until one opens: a retryable failure cools it down and moves on, any
   * other failure, or the last, ends it with its error and the attempts made. `controller` aborts the whole (a
   * client that leaves, shutdown): then it rejects.
   */
  async dialAny (request: FastifyRequest, order: readonly Resolution[], controller: AbortController, failover: FailoverSettings, health: DeploymentHealth): Promise<Opened | Unserved> {
    let last = ''
    let served: Served<Pick<Opened, 'upstream' | 'prepared'>> | Unserved
    try {
      served = await tryInTurn(order, failover, health, request.log, this.#attempted, async (deployment): Promise<Tried<Pick<Opened, 'upstream' | 'prepared'>>> => {
        last = deployment.provider.name
        try {
          const prepared = await this.prepare(request, deployment, controller.signal)
          return { outcome: 'ok', value: { upstream: await this.dial(deployment.provider.name, prepared, controller), prepared } }
        } catch (err) {
          if (controller.signal.aborted) throw err
          return { outcome: outcomeOf(err), error: err, retryAfter: retryAfterOf(err) }
        }
      })
    } catch (err) {
      this.unopened(last, err, true)
      throw err
    }
    if ('value' in served) return { ...served.value, resolution: served.resolution, attempts: served.attempts }
    // The session never opened: counted once, by the last deployment tried.
    this.unopened(last, served.error, controller.signal.aborted)
    return served
  }

  /**
   * The provider's key (a function is called) within dialTimeout: a key function that never settles must not
   * hold a request and its slots. `signal` stops the wait (a client that left, shutdown).
   */
  async apiKey (provider: Provider, signal?: AbortSignal): Promise<string | undefined> {
    // A key given as a string (or none) is there at once: no timer or abort listener for each handshake.
    if (!provider.keyFunction) return await provider.apiKey()
    const { dialTimeout } = this.#options
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    try {
      return await new Promise<string | undefined>((resolve, reject) => {
        timer = setTimeout(() => reject(new UpstreamTimeoutError(provider.name, dialTimeout)), dialTimeout)
        // A client that leaves while the key is read is never dialled: the wait ends with its abort.
        if (signal !== undefined) {
          signal.throwIfAborted()
          onAbort = () => reject(signal.reason)
          signal.addEventListener('abort', onAbort, { once: true })
        }
        provider.apiKey().then(resolve, (err: unknown) => reject(new ProviderKeyError(provider.name, { cause: err })))
      })
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Reads the provider key (calling it when it is a function) and builds where to dial, with the forwarded headers. */
  async prepare (request: FastifyRequest, resolution: Resolution, signal?: AbortSignal): Promise<PreparedDial> {
    const { provider } = resolution
    const apiKey = await this.apiKey(provider, signal)
    const target = provider.target(resolution, apiKey)
    target.headers = upstreamHeaders(request.headers, this.#options.forwardHeaders, target.headers, request.id)
    return { target, apiKey }
  }

  /** Dials `target`; `controller` aborts it (as abortAll does on shutdown). Resolves with the open, paused socket. */
  async dial (provider: string, { target, apiKey }: PreparedDial, controller: AbortController): Promise<WebSocket> {
    const { dialTimeout, maxPayload, closeTimeout } = this.#options
    this.#inflight.add(controller)
    const dialStart = performance.now()
    const settle = (outcome: string): void => {
      this.#inflight.delete(controller)
      this.#report(provider, (performance.now() - dialStart) / 1000, outcome)
    }
    try {
      const upstream = await dial(target, { provider, timeout: dialTimeout, maxPayload, closeTimeout, secrets: [apiKey], signal: controller.signal })
      settle('ok')
      return upstream
    } catch (err) {
      settle(dialOutcome(err, controller.signal.aborted))
      throw err
    }
  }

  /**
   * Dials the same provider again for a session that outlives its connection (Gemini's resumption): the key read
   * anew (an OAuth token may have been renewed), the request's forwarded headers as they were. The whole attempt,
   * the key included, gets dialTimeout: the client's frames wait for this connection.
   */
  redialer (resolution: Resolution, first: PreparedDial): () => Promise<{ upstream: WebSocket, apiKey: string | undefined }> {
    const forwarded = first.target.headers
    const { provider } = resolution
    const { dialTimeout } = this.#options
    return async () => {
      const controller = new AbortController()
      let timer: NodeJS.Timeout | undefined
      const gaveUp = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => {
          const err = new UpstreamTimeoutError(provider.name, dialTimeout)
          controller.abort(err) // a dial under way stops too
          reject(err)
        }, dialTimeout)
      })
      try {
        const apiKey = await Promise.race([provider.apiKey(), gaveUp])
        const target = provider.target(resolution, apiKey)
        target.headers = { ...forwarded, ...target.headers }
        return { upstream: await this.dial(provider.name, { target, apiKey }, controller), apiKey }
      } finally {
        clearTimeout(timer)
      }
    }
  }

  /** Aborts every dial in flight (shutdown). */
  abortAll (reason: Error): void {
    for (const controller of this.#inflight) controller.abort(reason)
  }
}
