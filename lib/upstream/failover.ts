// Failover across the deployments of a model, before anything reaches the client: the route's targets in the
// order its strategy gives (targets cooling down after a failure last), an attempt each until one answers, at
// most `maxAttempts`. A retryable failure (429, 5xx, a network error, no answer in time) moves to the next deployment
// and cools the failed one down; any other refusal (400, 401, 403, 404, ...) is the client's answer at once,
// so a broken key is never hidden behind a fallback. Health is per replica: no coordination is needed.
import type { FastifyBaseLogger } from 'fastify'
import { InvalidOptionError, ProviderFailedError, ProviderRejectedError, UpstreamTimeoutError, UpstreamUnavailableError } from '../errors.js'
import type { Plan, Resolution } from '../providers/registry.js'
import { refuseUnknownKeys } from '../validate.js'

/** The failures that move on to the next deployment. */
export type RetryOn = '429' | '5xx' | 'network' | 'timeout'

export interface FailoverOptions {
  /** Attempts per session, the first included. Default 3. */
  maxAttempts?: number
  /** Milliseconds a deployment that failed is tried last (longer when the provider's Retry-After says so). Default 30 000. */
  cooldown?: number
  /** Which failures move on. Default all four: `['429', '5xx', 'network', 'timeout']`. */
  retryOn?: RetryOn[]
}

export interface FailoverSettings {
  maxAttempts: number
  cooldown: number
  retryOn: ReadonlySet<RetryOn>
}

export const DEFAULT_MAX_ATTEMPTS = 3
export const DEFAULT_COOLDOWN = 30_000
const RETRY_ON: readonly RetryOn[] = ['429', '5xx', 'network', 'timeout']

/** How one attempt ended: `ok`, a retryable failure (`rate_limited`, `server_error`, `network`, `timeout`), or not. */
export type AttemptOutcome = 'ok' | 'rate_limited' | 'server_error' | 'network' | 'timeout' | 'rejected' | 'error'

/** One attempt, as the summary lists it. */
export interface Attempt {
  provider: string
  model?: string
  outcome: AttemptOutcome
  ms: number
}

const RETRYABLE: Readonly<Record<AttemptOutcome, RetryOn | undefined>> = {
  ok: undefined, rejected: undefined, error: undefined, rate_limited: '429', server_error: '5xx', network: 'network', timeout: 'timeout'
}

export function failoverSettings (given: FailoverOptions | undefined): FailoverSettings {
  if (given !== undefined && (given === null || typeof given !== 'object')) throw new InvalidOptionError('"failover" must be an object such as { maxAttempts: 3, cooldown: 30000 }')
  const { maxAttempts = DEFAULT_MAX_ATTEMPTS, cooldown = DEFAULT_COOLDOWN, retryOn = RETRY_ON } = given ?? {}
  if (given !== undefined) refuseUnknownKeys(given, ['maxAttempts', 'cooldown', 'retryOn'], 'failover.')
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) throw new InvalidOptionError('failover.maxAttempts must be a positive integer (the first attempt included)')
  if (!Number.isInteger(cooldown) || cooldown < 0) throw new InvalidOptionError('failover.cooldown must be a non-negative integer (milliseconds)')
  if (!Array.isArray(retryOn) || retryOn.some((r) => !RETRY_ON.includes(r))) {
    throw new InvalidOptionError(`failover.retryOn must list some of ${RETRY_ON.map((r) => `"${r}"`).join(', ')}`)
  }
  return { maxAttempts, cooldown, retryOn: new Set(retryOn) }
}

/** A deployment's name in health, stats and the live-session counts: `provider/model`. */
export const deploymentKey = (provider: string, model: string | undefined): string => `${provider}/${model ?? ''}`
const keyOf = (resolution: Resolution): string => deploymentKey(resolution.provider.name, resolution.model)

/** Deployments that failed, and until when they are tried last. */
export class DeploymentHealth {
  readonly #until = new Map<string, number>()
  readonly #now: () => number

  constructor (now: () => number = Date.now) {
    this.#now = now
  }

  /** Cools `resolution` down for `cooldown` ms, or for the provider's Retry-After when longer. */
  failed (resolution: Resolution, cooldown: number, retryAfter: string | undefined): void {
    const seconds = retryAfter === undefined ? Number.NaN : Number(retryAfter)
    const asked = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter ?? '') - this.#now()
    this.#until.set(keyOf(resolution), this.#now() + Math.max(cooldown, Number.isFinite(asked) ? asked : 0))
  }

  succeeded (resolution: Resolution): void {
    this.#until.delete(keyOf(resolution))
  }

  cooling (resolution: Resolution): boolean {
    const until = this.#until.get(keyOf(resolution))
    if (until === undefined) return false
    if (until > this.#now()) return true
    this.#until.delete(keyOf(resolution))
    return false
  }

  /** Milliseconds each cooling deployment (`provider/model`) has left. */
  snapshot (): Record<string, number> {
    const now = this.#now()
    const out: Record<string, number> = {}
    for (const [key, until] of this.#until) if (until > now) out[key] = until - now
    return out
  }
}

/**
 * The order to try `plan`'s targets in: by strategy, then the healthy before the cooling (tried anyway when
 * nothing else is left), at most `maxAttempts`.
 */
export function attemptOrder (plan: Plan, health: DeploymentHealth, maxAttempts: number, busy: (resolution: Resolution) => number, random: () => number = Math.random): Resolution[] {
  let order = plan.resolutions.map((resolution, i) => ({ resolution, weight: plan.weights[i] as number, busy: 0 }))
  if (plan.strategy === 'weighted' && order.length > 1) {
    const total = order.reduce((sum, t) => sum + t.weight, 0)
    let pick = random() * total
    const first = order.findIndex((t) => (pick -= t.weight) < 0)
    const chosen = first === -1 ? order.length - 1 : first
    order = [order[chosen] as typeof order[number], ...order.filter((_, i) => i !== chosen)]
  } else if (plan.strategy === 'least-busy') {
    for (const t of order) t.busy = busy(t.resolution)
    order = order.sort((a, b) => a.busy - b.busy) // stable: ties keep the route's order
  }
  const healthy: Resolution[] = []
  const cooling: Resolution[] = []
  for (const t of order) (health.cooling(t.resolution) ? cooling : healthy).push(t.resolution)
  return [...healthy, ...cooling].slice(0, maxAttempts)
}

/** The outcome of a provider's HTTP status (a signaling answer, a refused handshake). */
export function statusOutcome (status: number): AttemptOutcome {
  return status === 429 ? 'rate_limited' : status >= 500 ? 'server_error' : status >= 400 ? 'rejected' : 'ok'
}

/**
 * The outcome of a failed websocket dial or signaling request: the one classifier of dial failures, for the
 * failover and, through DIAL_LABELS, the metrics.
 */
export function outcomeOf (err: unknown): AttemptOutcome {
  if (err instanceof UpstreamTimeoutError) return 'timeout'
  const status = err instanceof ProviderRejectedError ? err.statusCode : err instanceof ProviderFailedError ? err.providerStatus : undefined
  // A failure is never `ok`: a 3xx answer to a handshake is refused like a 4xx.
  const outcome = status === undefined ? undefined : statusOutcome(status)
  if (outcome !== undefined) return outcome === 'ok' ? 'rejected' : outcome
  return err instanceof UpstreamUnavailableError ? 'network' : 'error'
}

/** The Retry-After a failed attempt's provider answered with, for the cooldown. */
export function retryAfterOf (err: unknown): string | undefined {
  return err instanceof ProviderRejectedError || err instanceof ProviderFailedError ? err.retryAfter : undefined
}

/** The metrics label of a dial's outcome (`realtime_proxy_sessions_total`, the dial histogram): coarser than the failover's. */
export const DIAL_LABELS: Readonly<Record<AttemptOutcome, string>> = {
  ok: 'ok', timeout: 'timeout', rejected: 'rejected', rate_limited: 'rejected', server_error: 'unavailable', network: 'unavailable', error: 'unavailable'
}

/** Whether an attempt that ended with `outcome` moves on to the next deployment. */
export function retryable (settings: FailoverSettings, outcome: AttemptOutcome): boolean {
  const kind = RETRYABLE[outcome]
  return kind !== undefined && settings.retryOn.has(kind)
}

/** What one attempt came to: its outcome, and what to hand on (an open socket, an answer to relay) or to throw. */
export type Tried<T> = { outcome: AttemptOutcome, retryAfter?: string } & ({ value: T } | { error: unknown })

/** What served: its value, the deployment, and every attempt made. */
export interface Served<T> {
  value: T
  resolution: Resolution
  attempts: Attempt[]
}

/** No deployment served: the last failure (the client's answer), and every attempt made. */
export interface Unserved {
  error: unknown
  attempts: Attempt[]
}

/**
 * Tries `order`'s deployments in turn (a websocket dial, a signaling request): a retryable outcome cools the
 * deployment down and moves on; any other, or the last deployment's, ends it. Resolves with the value of the attempt that ended
 * it (an answer may be a refusal to relay), else with its error and the attempts made. An `attempt` that
 * rejects (an aborted dial) ends it at once.
 */
export async function tryInTurn<T> (
  order: readonly Resolution[], settings: FailoverSettings, health: DeploymentHealth, log: FastifyBaseLogger,
  report: (provider: string, outcome: AttemptOutcome) => void, attempt: (resolution: Resolution) => Promise<Tried<T>>
): Promise<Served<T> | Unserved> {
  const attempts: Attempt[] = []
  let last: { tried: Tried<T>, resolution: Resolution } | undefined
  for (const resolution of order) {
    const { name } = resolution.provider
    const started = performance.now()
    const tried = await attempt(resolution)
    last = { tried, resolution }
    attempts.push({ provider: name, model: resolution.model, outcome: tried.outcome, ms: Math.round(performance.now() - started) })
    report(name, tried.outcome)
    if (tried.outcome === 'ok') health.succeeded(resolution)
    if (!retryable(settings, tried.outcome)) break
    health.failed(resolution, settings.cooldown, tried.retryAfter)
    if (resolution !== order.at(-1)) log.warn({ provider: name, model: resolution.model, outcome: tried.outcome }, 'provider failed; trying the next target')
  }
  // attemptOrder gives one deployment at least.
  const { tried, resolution } = last as { tried: Tried<T>, resolution: Resolution }
  return 'value' in tried ? { value: tried.value, resolution, attempts } : { error: tried.error, attempts }
}
