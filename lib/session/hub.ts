// Where sessions report: live sessions, totals for stats(), the user's lifecycle hooks and the metrics.
// A hook that throws or rejects is logged and never reaches the relay.
import type { Heartbeat } from './heartbeat.js'
import type { Metrics, Traffic } from '../usage/metrics.js'
import { callHook } from './hooks.js'
import type { RealtimeSession, SessionReporter, SessionSummary } from './session.js'
import { addTotals, emptyTotals, type UsageRecord, type UsageTotals } from '../usage/records.js'
import { deploymentKey } from '../upstream/failover.js'
import type { FleetMessage } from '../store/types.js'

/** How far replicas' clocks may disagree when a late fleet message is matched to session start times (ms). */
const CLOCK_SKEW = 1000

type MaybePromise = void | Promise<void>

export interface SessionHooks {
  /** A session opened (the client is upgraded, the provider connected). */
  onSessionStart?: (session: RealtimeSession) => MaybePromise
  /** A usage record: a response, a transcription, or (per-minute billing) the session's duration. */
  onUsage?: (record: UsageRecord, session: RealtimeSession) => MaybePromise
  /** A session ended; the summary is also logged at info level. */
  onSessionEnd?: (summary: SessionSummary, session: RealtimeSession) => MaybePromise
}

/** `fastify.realtime.stats()`: live and cumulative counts since registration. */
export interface RealtimeStats extends Traffic {
  activeSessions: number
  /** Live sessions by provider name. */
  sessionsByProvider: Record<string, number>
  /** Sessions opened since registration. */
  totalSessions: number
  usage: UsageTotals
  /**
   * Deployments (`provider/model`) that failed recently and are tried last, with the milliseconds left before
   * they are tried in their turn again (failover; this replica's view).
   */
  cooling?: Record<string, number>
}

const emptyTraffic = (): Traffic => ({ frames: { client: 0, upstream: 0 }, bytes: { client: 0, upstream: 0 } })

function trafficOf ({ client, upstream }: Pick<SessionSummary, 'client' | 'upstream'>): Traffic {
  return { frames: { client: client.frames, upstream: upstream.frames }, bytes: { client: client.bytes, upstream: upstream.bytes } }
}

function addTraffic (into: Traffic, from: Traffic): void {
  into.frames.client += from.frames.client
  into.frames.upstream += from.frames.upstream
  into.bytes.client += from.bytes.client
  into.bytes.upstream += from.bytes.upstream
}

function addTo (totals: Map<string, Traffic>, provider: string, traffic: Traffic): void {
  let into = totals.get(provider)
  if (into === undefined) totals.set(provider, into = emptyTraffic())
  addTraffic(into, traffic)
}

export class SessionHub implements SessionReporter {
  readonly live = new Map<string, RealtimeSession>()
  /** Live sessions by `provider/model`. */
  readonly #busy = new Map<string, number>()
  readonly #hooks: SessionHooks
  readonly #metrics: Metrics | undefined
  readonly #heartbeat: Heartbeat | undefined
  #started = 0
  readonly #endedUsage = emptyTotals()
  readonly #endedTraffic = new Map<string, Traffic>()
  /** Models (`provider/model`) already named as having no price. */
  readonly #unpriced = new Set<string>()

  constructor (hooks: SessionHooks, metrics?: (hub: SessionHub) => Metrics, heartbeat?: Heartbeat) {
    this.#hooks = hooks
    this.#metrics = metrics?.(this)
    this.#heartbeat = heartbeat
  }

  get metrics (): Metrics | undefined {
    return this.#metrics
  }

  started (session: RealtimeSession): void {
    this.live.set(session.id, session)
    const deployment = deploymentKey(session.provider, session.model)
    this.#busy.set(deployment, (this.#busy.get(deployment) ?? 0) + 1)
    this.#heartbeat?.add(session)
    this.#started++
    callHook(session, 'onSessionStart', this.#hooks.onSessionStart, session)
  }

  usage (record: UsageRecord, session: RealtimeSession): void {
    this.#measure(session, () => this.#metrics?.usage(record))
    callHook(session, 'onUsage', this.#hooks.onUsage, record, session)
  }

  ended (summary: SessionSummary, session: RealtimeSession): void {
    this.live.delete(session.id)
    const deployment = deploymentKey(session.provider, session.model)
    const busy = (this.#busy.get(deployment) as number) - 1
    if (busy === 0) this.#busy.delete(deployment)
    else this.#busy.set(deployment, busy)
    this.#heartbeat?.delete(session)
    addTo(this.#endedTraffic, summary.provider, trafficOf(summary))
    addTotals(this.#endedUsage, summary.usage)
    this.#measure(session, () => this.#metrics?.ended(summary))
    callHook(session, 'onSessionEnd', this.#hooks.onSessionEnd, summary, session)
  }

  /**
   * A message to the fleet, this replica's share: a spent budget cuts the key's sessions; a terminate closes the
   * key's sessions or the one session. Returns how many sessions here it cut.
   */
  fleet (message: FleetMessage): number {
    let cut = 0
    // Heard late: the sessions that started after it was sent (replicas' clocks agreeing within a second) stay.
    const before = message.at === undefined ? Infinity : message.at + CLOCK_SKEW
    for (const session of this.live.values()) {
      if (session.startedAt > before) continue
      if (message.type === 'budget' && session.account?.key === message.key) {
        if (session.cut('budget_exceeded', 'The budget for this caller is spent; the session is closed')) cut++
      } else if (message.type === 'terminate' && (session.id === message.sessionId || (message.key !== undefined && session.key === message.key))) {
        if (session.cut('session_terminated', 'The session was terminated by the server')) cut++
      }
    }
    return cut
  }

  /**
   * A metric update, from a socket callback: a metrics library that throws (prom-client on a value it refuses,
   * a registry the app replaced) is logged once per session and never reaches the relay.
   */
  #measure (session: RealtimeSession, update: () => void): void {
    try {
      update()
    } catch (err) {
      session.logOnce('metrics', 'error', { err }, 'a metric could not be updated')
    }
  }

  /** A dial finished: `ok`, or the error code of why not. */
  dialed (provider: string, seconds: number, outcome: string): void {
    this.#metrics?.dialed(provider, seconds, outcome)
  }

  /** One attempt of a session's failover (every dial is one), for the attempts counter. */
  attempted (provider: string, outcome: string): void {
    this.#metrics?.attempted(provider, outcome)
  }

  unpriced (session: RealtimeSession): void {
    const deployment = deploymentKey(session.provider, session.model)
    if (this.#unpriced.has(deployment)) return
    this.#unpriced.add(deployment)
    session.log.warn({ model: session.model }, 'this model has no pricing entry: its usage is metered without a cost (costUSD absent); add it to "pricing"')
  }

  /** A session that never opened: once, however many attempts its failover made. */
  unopened (provider: string, outcome: string): void {
    this.#metrics?.unopened(provider, outcome)
  }

  /** Live sessions on this replica served by `provider` with `model` (the least-busy strategy). */
  busy (provider: string, model: string | undefined): number {
    return this.#busy.get(deploymentKey(provider, model)) ?? 0
  }

  /** Frames and bytes since registration, ended and live sessions together, by provider. */
  trafficByProvider (): Map<string, Traffic> {
    const totals = new Map<string, Traffic>()
    for (const [provider, traffic] of this.#endedTraffic) addTo(totals, provider, traffic)
    for (const session of this.live.values()) addTo(totals, session.provider, trafficOf(session.stats))
    return totals
  }

  stats (): RealtimeStats {
    const byProvider = new Map<string, number>()
    const stats: RealtimeStats = { activeSessions: this.live.size, sessionsByProvider: {}, totalSessions: this.#started, usage: emptyTotals(), ...emptyTraffic() }
    for (const traffic of this.trafficByProvider().values()) addTraffic(stats, traffic)
    addTotals(stats.usage, this.#endedUsage)
    for (const session of this.live.values()) {
      byProvider.set(session.provider, (byProvider.get(session.provider) ?? 0) + 1)
      addTotals(stats.usage, session.usage)
    }
    // fromEntries defines own properties: a provider named "__proto__" is counted, not made the prototype.
    stats.sessionsByProvider = Object.fromEntries(byProvider)
    return stats
  }
}
