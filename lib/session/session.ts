// One realtime session: the coupled sockets (or, for a WebRTC call's sideband, the provider leg alone), its
// heartbeat, its meter, its logger, and the summary it ends with.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { parseEvent, type PolicySession } from './policy.js'
import { TokenBucket } from '../limits/rate-limit.js'
import type { Slots } from '../limits/slots.js'
import type { Account } from '../limits/budget.js'
import { priceFor } from '../usage/pricing.js'
import { callHook } from './hooks.js'
import { Meter } from '../usage/meter.js'
import { InputAudio } from '../usage/input-audio.js'
import type { Protocol } from '../protocols/types.js'
import { Relay, type CloseRecord, type Legs } from './relay.js'
import { Tap } from './tap.js'
import { CLOSE } from '../close-codes.js'
import { ClientFilter, wanted } from './client-filter.js'
import { Spend } from './spend.js'
import { SessionTimers } from './timers.js'
import type { Resolution } from '../providers/registry.js'
import type { Attempt } from '../upstream/failover.js'
import type { Leg } from '../upstream/leg.js'
import { emptyTotals, type UsageRecord, type UsageTotals } from '../usage/records.js'
import type { SessionOptions, SessionSummary } from './types.js'

export type { SessionOptions, SessionSummary } from './types.js'

/** Where a session reports its life: the session hub (live sessions, stats, the app's hooks, metrics). */
export interface SessionReporter {
  started (session: RealtimeSession): void
  usage (record: UsageRecord, session: RealtimeSession): void
  ended (summary: SessionSummary, session: RealtimeSession): void
  /** The session's model has no `pricing` entry: its usage is metered without a cost. */
  unpriced (session: RealtimeSession): void
}

export interface SessionInit {
  /** The session's protocol: where its usage is read, how its errors look. */
  protocol: Protocol
  resolution: Resolution
  requestId: string
  log: FastifyBaseLogger
  hub: SessionReporter
  /** When the provider's websocket opened: duration billing counts from here. */
  upstreamOpenedAt: number
  credential?: string
  /** Its limit slots: renewed on the heartbeat, given back when the session has ended. */
  slots?: Slots
  /** False with `metering: false`, and for a client's attach to a call the plugin meters on its own sideband. */
  metered: boolean
  /** A call's sideband: ends the call at the provider when the session is cut (a spent budget, `terminate()`). */
  hangup?: () => Promise<unknown>
  /** The dials made to open it (failover): in the summary when there was more than one. */
  attempts?: Attempt[]
  /**
   * The frame-rate bucket the route already charged the session's first `frames` client frames to, as they arrived
   * (GPT-Live holds the frames sent while the provider is dialled): replayed, they are not charged again as a burst.
   */
  charged?: { bucket: TokenBucket, frames: number }
  /** The key the provider leg was dialled with: redacted from its close reason. */
  apiKey?: string
  /** A re-attach to a GPT-Live session: the total billed by earlier attaches, and where the new total is kept. */
  carried?: { seconds: number, keep (total: number): void }
}

const UNMETERED: Readonly<UsageTotals> = Object.freeze(emptyTotals())

// Sessions are many and mostly quiet: state lives in fields, not in closures, and what only an active
// session needs (its Meter, its pino child, the `ended` promise) is made when first needed.
export class RealtimeSession implements PolicySession {
  // randomUUID() returns a rope of 14 concatenated pieces, about 490 bytes of heap for the session's life;
  // a flat copy of it is 66.
  readonly id = Buffer.from(randomUUID(), 'latin1').toString('latin1')
  readonly requestId: string
  readonly credential: string | undefined
  /** Whether this session's usage is metered here (a client's attach to a call the plugin meters is not). */
  readonly metered: boolean
  readonly startedAt = Date.now()
  /** @internal Whether provider frames are watched (metering, onServerEvent). */
  readonly observes: boolean
  /** @internal Whether client frames are decided (frame rate, onClientEvent). */
  readonly filters: boolean
  readonly #protocol: Protocol
  readonly #resolution: Resolution
  readonly #options: SessionOptions
  readonly #hub: SessionReporter
  readonly #parentLog: FastifyBaseLogger
  #log: FastifyBaseLogger | undefined
  readonly #upstreamOpenedAt: number
  readonly #slots: Slots | undefined
  readonly #hangup: (() => Promise<unknown>) | undefined
  readonly #attempts: Attempt[] | undefined
  readonly #carried: SessionInit['carried']
  readonly #relay: Legs
  readonly #client: Leg | undefined
  readonly #upstream: Leg
  #meter: Meter | undefined
  /** Decides client frames, for a session that does (frame rate, policy, pinned model, input audio). */
  readonly #filter: ClientFilter | undefined
  /** Spending against the caller's budget, when `budgets` set one. */
  readonly #spend: Spend | undefined
  readonly #timers: SessionTimers | undefined
  /** Causes already logged: a client or a hook failing on every frame is one line, not thousands. */
  #logged: Set<string> | undefined
  #cutBy: string | undefined
  #summary: SessionSummary | undefined
  #ended: Promise<SessionSummary> | undefined
  #resolveEnded: ((summary: SessionSummary) => void) | undefined

  /** `client` undefined: the sideband of a call, read for usage with nobody to relay to. */
  constructor (client: Leg | undefined, upstream: Leg, init: SessionInit, options: SessionOptions) {
    this.#protocol = init.protocol
    this.#resolution = init.resolution
    this.#options = options
    this.#hub = init.hub
    this.#parentLog = init.log
    this.#upstreamOpenedAt = init.upstreamOpenedAt
    this.#client = client
    this.#upstream = upstream
    this.#slots = init.slots
    this.#hangup = init.hangup
    this.#attempts = init.attempts !== undefined && init.attempts.length > 1 ? init.attempts : undefined
    this.#carried = init.carried
    this.requestId = init.requestId
    this.credential = init.credential
    this.metered = init.metered
    this.observes = this.metered || options.policy.onServerEvent !== undefined
    const bucket = init.charged?.bucket ?? (options.frameRate === undefined ? undefined : new TokenBucket(options.frameRate))
    const { model, intent } = init.resolution
    const pin = options.pinTranscriptionModel && intent === 'transcription' ? model : undefined
    const byAudio = client !== undefined && this.metered && init.protocol.meterInputAudio(intent) && init.resolution.provider.billing !== 'duration'
    const audio = byAudio ? new InputAudio() : undefined
    this.filters = bucket !== undefined || pin !== undefined || audio !== undefined || options.policy.onClientEvent !== undefined ||
      init.protocol.refuseClient !== undefined
    this.#filter = this.filters ? new ClientFilter(this, options, init.protocol, bucket, init.charged?.frames ?? 0, pin, audio) : undefined
    const account = init.slots?.account
    this.#spend = account === undefined ? undefined : new Spend(account, init.resolution.provider.billing === 'duration' || init.protocol.name === 'live')
    // `this` is the legs' owner: they call observeUpstream, filterClient and legsClosed.
    this.#relay = client === undefined ? new Tap(upstream, this, [init.apiKey]) : new Relay(client, upstream, options.highWaterMark, this, [init.apiKey])
    const { maxSessionDuration, idleTimeout } = options
    if (client !== undefined && (maxSessionDuration > 0 || idleTimeout > 0)) this.#timers = new SessionTimers(this, this.#relay, options)
    this.#parentLog.info(this.#bindings(), 'realtime session started')
    this.#hub.started(this)
  }

  /** True for the plugin's own sideband attach to a call: no client leg. */
  get sideband (): boolean {
    return this.#client === undefined
  }

  get provider (): string {
    return this.#resolution.provider.name
  }

  get model (): string | undefined {
    return this.#resolution.model
  }

  /** The model as the client named it, before routing. */
  get requestedModel (): string | undefined {
    return this.#resolution.requestedModel
  }

  get intent (): string | undefined {
    return this.#resolution.intent
  }

  /** The WebRTC call this session is attached to (`?call_id=`). */
  get callId (): string | undefined {
    return this.#resolution.callId
  }

  /** Settles with the summary once both legs have closed. */
  get ended (): Promise<SessionSummary> {
    return (this.#ended ??= this.#summary !== undefined
      ? Promise.resolve(this.#summary)
      : new Promise((resolve) => { this.#resolveEnded = resolve }))
  }

  /**
   * The request's logger with sessionId, provider, model and callId bound. Made on first use: a pino child
   * per session costs memory that thousands of quiet sessions would hold for nothing.
   */
  get log (): FastifyBaseLogger {
    return (this.#log ??= this.#parentLog.child(this.#bindings()))
  }

  #bindings (): Record<string, unknown> {
    return { sessionId: this.id, provider: this.provider, model: this.model, callId: this.callId }
  }

  /** @internal Logs `cause` the first time only. */
  logOnce (cause: string, level: 'warn' | 'error', fields: object, message: string): void {
    if (this.#logged?.has(cause) === true) return
    (this.#logged ??= new Set()).add(cause)
    this.log[level](fields, message)
  }

  /** Frames and bytes received so far from each side. */
  get stats (): Readonly<Legs['stats']> {
    return this.#relay.stats
  }

  /** Usage so far. */
  get usage (): Readonly<UsageTotals> {
    return this.#meter?.totals ?? UNMETERED
  }

  /** The caller's key (hashed), what `terminate({ key })` matches. */
  get key (): string | undefined {
    return this.#slots?.key
  }

  /** The budget this session spends from, when `budgets` sets a limit for its caller. */
  get account (): Account | undefined {
    return this.#slots?.account
  }

  /**
   * Ends the session from the server side (a spent budget, `terminate()`): an error event with `code` for the
   * client, then 1008 on both legs; the summary's reason is `code`. Returns false when it was already cut.
   */
  cut (code: string, message: string): boolean {
    if (this.#cutBy !== undefined) return false
    this.#cutBy = code
    this.log.warn({ code }, message)
    this.sendError(code, message)
    this.#relay.close(CLOSE.policyViolation, code)
    // Closing a call's sideband does not end the call: its audio flows to the provider directly.
    this.#hangup?.().then(
      () => this.log.info({ code }, 'the call was hung up at the provider'),
      (err: unknown) => this.log.error({ err }, 'could not hang up the call at the provider; it goes on unmetered')
    )
    return true
  }

  /** Each heartbeat: the time so far at the model's per-minute price, debited ahead of the provider's report. */
  #spendTime (): void {
    const spend = this.#spend
    if (spend === undefined || !spend.byTime) return
    const perMinute = priceFor(this.#options.pricing, this.provider, [this.model, this.requestedModel])?.perMinute ?? 0
    spend.estimate((Date.now() - this.#upstreamOpenedAt) / 60_000 * perMinute)
  }

  sendError (code: string, message: string, eventId?: string): void {
    this.#relay.sendToClient(JSON.stringify(this.#protocol.errorEvent(code, message, eventId)))
  }

  /** Made on the first usage event (or at the end, for per-minute billing): quiet sessions hold none. */
  #meterNow (): Meter {
    if (this.#meter !== undefined) return this.#meter
    const meter = this.#meter = new Meter({
      sessionId: this.id,
      provider: this.provider,
      model: this.model,
      requestedModel: this.requestedModel,
      billing: this.#resolution.provider.billing,
      pricing: this.#options.pricing,
      emit: (record) => {
        this.#spend?.record(record)
        this.#hub.usage(record, this)
      },
      invalid: () => this.logOnce('usageNumber', 'warn', {}, 'the provider reported a usage count that is not a finite, non-negative, sane number; it was bounded'),
      carried: this.#carried?.seconds,
      billedTotal: this.#carried?.keep
    })
    // Never a silent $0: with prices set, a model without one is named (once per model, for the process).
    if (this.#options.pricing !== undefined && !meter.priced) this.#hub.unpriced(this)
    return meter
  }

  /** @internal Each provider text frame, after it was forwarded: usage, then onServerEvent. */
  observeUpstream (data: Buffer): void {
    if (this.metered) {
      const report = this.#protocol.readUsage(data)
      if (report !== undefined) this.#meterNow().record(report)
    }
    const { onServerEvent } = this.#options.policy
    if (onServerEvent === undefined || !this.#options.wantsServer(data)) return
    const event = parseEvent(data)
    if (event === undefined || !wanted(this.#options.serverTypes, event.type)) return
    callHook(this, 'onServerEvent', onServerEvent, event, this)
  }

  /** @internal Rate limit and event policy for each client frame; then the input audio of what is sent on. */
  filterClient (received: Buffer, isBinary: boolean): Buffer | null | Promise<Buffer | null> {
    return (this.#filter as ClientFilter).decide(received, isBinary) // the relay asks only when `filters`
  }

  /** @internal The client went over its frame rate. */
  overRate (): void {
    this.logOnce('rateLimit', 'warn', {}, 'client exceeded its frame rate; closing with 1008')
    this.#relay.close(CLOSE.policyViolation, 'frame rate limit exceeded')
  }

  /** @internal Both legs closed: stop the timers, give the slots back, bill the duration, report. */
  legsClosed (closed: CloseRecord): void {
    this.#timers?.stop()
    this.#slots?.release()
    const now = Date.now()
    if (this.metered && this.#resolution.provider.billing === 'duration') this.#meterNow().close((now - this.#upstreamOpenedAt) / 1000)
    const audio = this.#filter?.audio
    if (audio !== undefined && audio.seconds > 0 && this.#meter?.reported !== true) this.#meterNow().measured(audio.seconds)
    // Heartbeat estimates beyond what was finally billed go back to the budget; a GPT-Live session that ended
    // before its closing report keeps them (its last total is not final).
    this.#spend?.settle(this.#protocol.name !== 'live' || this.#meter?.final === true)
    const stats = this.#relay.stats
    const summary: SessionSummary = {
      sessionId: this.id,
      requestId: this.requestId,
      provider: this.provider,
      model: this.model,
      callId: this.callId,
      sideband: this.sideband,
      durationMs: now - this.startedAt,
      ...closed,
      client: stats.client,
      upstream: stats.upstream,
      usage: this.usage
    }
    // A cumulative-usage session (GPT-Live) that ended before any report is not final either: its time so far is
    // the plugin's own (durationMs), not the provider's.
    const final = this.#meter?.final ?? (this.#protocol.name === 'live' ? false : undefined)
    if (final !== undefined) summary.usageFinal = final
    const { reconnects } = this.#upstream
    if (reconnects !== undefined) summary.reconnects = reconnects
    if (this.#attempts !== undefined) summary.attempts = this.#attempts
    this.#summary = summary
    this.#parentLog.info({ ...this.#bindings(), summary }, 'realtime session ended')
    this.#hub.ended(summary, this)
    this.#resolveEnded?.(summary)
  }

  /** @internal The legs the heartbeat pings. */
  get legs (): readonly Leg[] {
    return this.#client === undefined ? [this.#upstream] : [this.#client, this.#upstream]
  }

  /** @internal Keeps the session's slot leases, and debits its time to a budget (each heartbeat). */
  renew (): void {
    this.#slots?.renew()
    this.#spendTime()
  }

  /** @internal A leg missed its pong: drop it and close the other with 1011. */
  missedPong (leg: Leg): void {
    const side = leg === this.#client ? 'client' : 'upstream'
    this.log.warn({ side }, 'realtime peer missed its pong; terminating it')
    this.#relay.kill(side, `${side} missed heartbeat`)
  }

  /** Closes both legs with `code` (1001 on shutdown); terminates them if the close handshake takes longer than `timeout`. */
  async close (code: number, reason: string, timeout: number): Promise<SessionSummary> {
    this.#relay.close(code, reason)
    const timer = setTimeout(() => this.#relay.terminate(), timeout)
    try {
      return await this.ended
    } finally {
      clearTimeout(timer)
    }
  }
}
