// Where sessions report: live sessions, totals for stats(), the user's lifecycle hooks and the metrics.
// A hook that throws or rejects is logged and never reaches the relay.
import type { FastifyBaseLogger } from 'fastify'
import type { Metrics } from './metrics.js'
import type { RealtimeSession, SessionSummary } from './session.js'
import { addTotals, emptyTotals, type UsageRecord, type UsageTotals } from './usage.js'

type MaybePromise = void | Promise<void>

export interface SessionHooks {
  /** A session opened (the client is upgraded, the provider connected). */
  onSessionStart?: (session: RealtimeSession) => MaybePromise
  /** A usage record: a response, a transcription, or (per-minute billing) the session's duration. */
  onUsage?: (record: UsageRecord, session: RealtimeSession) => MaybePromise
  /** A session ended; the summary is also logged at info level. */
  onSessionEnd?: (summary: SessionSummary, session: RealtimeSession) => MaybePromise
}

export interface Traffic {
  frames: { client: number, upstream: number }
  bytes: { client: number, upstream: number }
}

/** `fastify.realtime.stats()`: live and cumulative counts since registration. */
export interface RealtimeStats extends Traffic {
  activeSessions: number
  /** Live sessions by provider name. */
  sessionsByProvider: Record<string, number>
  /** Sessions opened since registration. */
  totalSessions: number
  usage: UsageTotals
}

const emptyTraffic = (): Traffic => ({ frames: { client: 0, upstream: 0 }, bytes: { client: 0, upstream: 0 } })

function addTraffic (into: Traffic, session: Pick<SessionSummary, 'client' | 'upstream'>): void {
  into.frames.client += session.client.frames
  into.frames.upstream += session.upstream.frames
  into.bytes.client += session.client.bytes
  into.bytes.upstream += session.upstream.bytes
}

export class SessionHub {
  readonly live = new Map<string, RealtimeSession>()
  readonly #hooks: SessionHooks
  readonly #metrics: Metrics | undefined
  #started = 0
  readonly #endedUsage = emptyTotals()
  /** Traffic of ended sessions, by provider (metrics need the split; stats() sums it). */
  readonly endedTraffic = new Map<string, Traffic>()

  constructor (hooks: SessionHooks, metrics?: (hub: SessionHub) => Metrics) {
    this.#hooks = hooks
    this.#metrics = metrics?.(this)
  }

  get metrics (): Metrics | undefined {
    return this.#metrics
  }

  started (session: RealtimeSession): void {
    this.live.set(session.id, session)
    this.#started++
    this.#call(session.log, 'onSessionStart', this.#hooks.onSessionStart, session)
  }

  usage (record: UsageRecord, session: RealtimeSession): void {
    this.#metrics?.usage(record)
    this.#call(session.log, 'onUsage', this.#hooks.onUsage, record, session)
  }

  ended (summary: SessionSummary, session: RealtimeSession): void {
    this.live.delete(session.id)
    let traffic = this.endedTraffic.get(summary.provider)
    if (traffic === undefined) this.endedTraffic.set(summary.provider, traffic = emptyTraffic())
    addTraffic(traffic, summary)
    addTotals(this.#endedUsage, summary.usage)
    this.#metrics?.ended(summary)
    this.#call(session.log, 'onSessionEnd', this.#hooks.onSessionEnd, summary, session)
  }

  /** A dial finished: `ok`, or the error code of why not. */
  dialed (provider: string, seconds: number, outcome: string): void {
    this.#metrics?.dialed(provider, seconds, outcome)
  }

  stats (): RealtimeStats {
    const stats: RealtimeStats = { activeSessions: this.live.size, sessionsByProvider: {}, totalSessions: this.#started, usage: emptyTotals(), ...emptyTraffic() }
    for (const traffic of this.endedTraffic.values()) addTraffic(stats, { client: { frames: traffic.frames.client, bytes: traffic.bytes.client }, upstream: { frames: traffic.frames.upstream, bytes: traffic.bytes.upstream } })
    addTotals(stats.usage, this.#endedUsage)
    for (const session of this.live.values()) {
      stats.sessionsByProvider[session.provider] = (stats.sessionsByProvider[session.provider] ?? 0) + 1
      addTraffic(stats, session.stats)
      addTotals(stats.usage, session.usage)
    }
    return stats
  }

  #call<A extends unknown[]> (log: FastifyBaseLogger, name: string, hook: ((...args: A) => MaybePromise) | undefined, ...args: A): void {
    if (hook === undefined) return
    const failed = (err: unknown): void => log.error({ err }, `${name} hook failed`)
    try {
      Promise.resolve(hook(...args)).catch(failed)
    } catch (err) {
      failed(err)
    }
  }
}
