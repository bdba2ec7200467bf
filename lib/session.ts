// One realtime session: the coupled sockets (or, for a WebRTC call's sideband, the provider leg alone), its
// heartbeat, its meter, its logger, and the summary it ends with.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type WebSocket from 'ws'
import { heartbeat } from './heartbeat.js'
import { errorEvent, parseEvent, type EventPolicyOptions, type PolicySession, type RealtimeEvent } from './policy.js'
import { TokenBucket, type FrameRate } from './rate-limit.js'
import { callHook, type SessionHub } from './hub.js'
import { Meter } from './meter.js'
import type { Pricing } from './pricing.js'
import { Relay, type CloseRecord, type LegStats, type Legs } from './relay.js'
import { Tap } from './tap.js'
import type { Resolution } from './registry.js'
import { emptyTotals, type UsageTotals } from './usage.js'

export interface SessionOptions {
  highWaterMark: number
  heartbeatInterval: number
  pongTimeout: number
  pricing?: Pricing
  /** Milliseconds; 0 for no limit. */
  maxSessionDuration: number
  /** Milliseconds without a frame either way; 0 for no limit. */
  idleTimeout: number
  frameRate?: FrameRate
  policy: EventPolicyOptions
  /** Cheap pre-checks built once from `clientEvents` / `serverEvents`. */
  wantsClient: (data: Buffer) => boolean
  wantsServer: (data: Buffer) => boolean
  clientTypes: ReadonlySet<string> | '*'
  serverTypes: ReadonlySet<string> | '*'
}

export interface SessionInit {
  resolution: Resolution
  requestId: string
  log: FastifyBaseLogger
  hub: SessionHub
  /** When the provider's websocket opened: duration billing counts from here. */
  upstreamOpenedAt: number
  credential?: string
  /** Runs when the session has ended (gives back its limit slots). */
  release?: () => void
  /** False with `metering: false`, and for a client's attach to a call the plugin meters on its own sideband. */
  metered: boolean
}

/** What a session was and how it ended; logged once at info level when it ends. */
export interface SessionSummary extends CloseRecord {
  sessionId: string
  requestId: string
  provider: string
  model?: string
  /** The WebRTC call this session is the sideband of. */
  callId?: string
  /** The plugin's own sideband attach to a call it created: no client leg, metered. */
  sideband: boolean
  durationMs: number
  /** Frames and bytes received from the client and from the provider. */
  client: LegStats
  upstream: LegStats
  usage: UsageTotals
}

const UNMETERED: Readonly<UsageTotals> = Object.freeze(emptyTotals())

const wanted = (types: ReadonlySet<string> | '*', type: string): boolean => types === '*' || types.has(type)

export class RealtimeSession implements PolicySession {
  // randomUUID() returns a rope of 14 concatenated pieces, about 490 bytes of heap for the session's life;
  // a flat copy of it is 66.
  readonly id = Buffer.from(randomUUID(), 'latin1').toString('latin1')
  readonly requestId: string
  readonly provider: string
  readonly model: string | undefined
  /** The model as the client named it, before routing. */
  readonly requestedModel: string | undefined
  readonly intent: string | undefined
  readonly credential: string | undefined
  /** The WebRTC call this session is attached to (`?call_id=`). */
  readonly callId: string | undefined
  /** True for the plugin's own sideband attach to a call: no client leg. */
  readonly sideband: boolean
  /** Whether this session's usage is metered here (a client's attach to a call the plugin meters is not). */
  readonly metered: boolean
  readonly startedAt = Date.now()
  readonly #parentLog: FastifyBaseLogger
  #log: FastifyBaseLogger | undefined
  readonly ended: Promise<SessionSummary>
  readonly #relay: Legs
  readonly #meter: Meter | undefined

  /** `client` undefined: the sideband of a call, read for usage with nobody to relay to. */
  constructor (client: WebSocket | undefined, upstream: WebSocket, init: SessionInit, options: SessionOptions) {
    const { resolution, hub } = init
    this.requestId = init.requestId
    this.provider = resolution.provider.name
    this.model = resolution.model
    this.requestedModel = resolution.requestedModel
    this.intent = resolution.intent
    this.credential = init.credential
    this.callId = resolution.callId
    this.sideband = client === undefined
    this.metered = init.metered
    this.#parentLog = init.log
    this.#meter = !this.metered
      ? undefined
      : new Meter({
        sessionId: this.id,
        provider: this.provider,
        model: this.model,
        requestedModel: this.requestedModel,
        billing: resolution.provider.billing,
        pricing: options.pricing,
        emit: (record) => hub.usage(record, this)
      })
    const { onServerEvent } = options.policy
    const meter = this.#meter
    const watch = onServerEvent === undefined ? undefined : (data: Buffer) => this.#observe(data, onServerEvent, options)
    const observe = meter === undefined
      ? watch
      : watch === undefined
        ? (data: Buffer) => meter.observe(data)
        : (data: Buffer) => {
            meter.observe(data)
            watch(data)
          }
    const legs = client === undefined ? [upstream] : [client, upstream]
    this.#relay = client === undefined
      ? new Tap(upstream, observe)
      : new Relay(client, upstream, { highWaterMark: options.highWaterMark, observeUpstream: observe, filterClient: this.#clientFilter(options) })
    // Duration and idle limits watch a client; a call's sideband lasts as long as the call.
    const stopLimits = client === undefined ? () => {} : this.#limits(options)
    const stopHeartbeat = options.heartbeatInterval > 0
      ? heartbeat(legs, options.heartbeatInterval, options.pongTimeout, (leg) => {
        const side = leg === client ? 'client' : 'upstream'
        this.log.warn({ side }, 'realtime peer missed its pong; terminating it')
        this.#relay.kill(side, `${side} missed heartbeat`)
      })
      : () => {}
    this.ended = this.#relay.done.then((closed) => {
      stopHeartbeat()
      stopLimits()
      init.release?.()
      const now = Date.now()
      this.#meter?.close((now - init.upstreamOpenedAt) / 1000)
      const summary: SessionSummary = {
        sessionId: this.id,
        requestId: this.requestId,
        provider: this.provider,
        model: this.model,
        callId: this.callId,
        sideband: this.sideband,
        durationMs: now - this.startedAt,
        ...closed,
        client: this.#relay.stats.client,
        upstream: this.#relay.stats.upstream,
        usage: this.usage
      }
      this.#parentLog.info({ ...this.#bindings(), summary }, 'realtime session ended')
      hub.ended(summary, this)
      return summary
    })
    this.#parentLog.info(this.#bindings(), 'realtime session started')
    hub.started(this)
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

  /** Frames and bytes received so far from each side. */
  get stats (): Readonly<Legs['stats']> {
    return this.#relay.stats
  }

  /** Usage so far. */
  get usage (): Readonly<UsageTotals> {
    return this.#meter?.totals ?? UNMETERED
  }

  sendError (code: string, message: string, eventId?: string): void {
    this.#relay.sendToClient(JSON.stringify(errorEvent(code, message, eventId)))
  }

  /** Rate limit and event policy for client frames; undefined when neither is on, so the relay does no work. */
  #clientFilter (options: SessionOptions): ((data: Buffer, isBinary: boolean) => Buffer | null | Promise<Buffer | null>) | undefined {
    const { onClientEvent } = options.policy
    const bucket = options.frameRate === undefined ? undefined : new TokenBucket(options.frameRate)
    if (bucket === undefined && onClientEvent === undefined) return undefined
    return (data) => {
      if (bucket !== undefined && !bucket.take()) {
        this.log.warn('client exceeded its frame rate; closing with 1008')
        this.#relay.close(1008, 'frame rate limit exceeded')
        return null
      }
      if (onClientEvent === undefined || !options.wantsClient(data)) return data
      const event = parseEvent(data)
      if (event === undefined) {
        this.sendError('invalid_event', 'The event must be a JSON object with a string "type"')
        return null
      }
      if (!wanted(options.clientTypes, event.type)) return data
      const decide = (out: RealtimeEvent | null | undefined | void): Buffer | null =>
        out === undefined ? data : out === null ? null : Buffer.from(JSON.stringify(out))
      const refuse = (err: unknown): null => {
        this.log.error({ err }, 'onClientEvent hook failed; event dropped')
        this.sendError('policy_error', 'The event could not be checked and was not sent', event.event_id)
        return null
      }
      try {
        const out = onClientEvent(event, this)
        return out instanceof Promise ? out.then(decide, refuse) : decide(out)
      } catch (err) {
        return refuse(err)
      }
    }
  }

  #observe (data: Buffer, hook: NonNullable<EventPolicyOptions['onServerEvent']>, options: SessionOptions): void {
    if (!options.wantsServer(data)) return
    const event = parseEvent(data)
    if (event === undefined || !wanted(options.serverTypes, event.type)) return
    callHook(this.log, 'onServerEvent', hook, event, this)
  }

  /** maxSessionDuration and idleTimeout; returns what stops their timers. */
  #limits (options: SessionOptions): () => void {
    const { maxSessionDuration, idleTimeout } = options
    const expire = maxSessionDuration > 0
      ? setTimeout(() => {
        this.log.info('realtime session reached maxSessionDuration')
        this.sendError('session_expired', `The session reached its maximum duration of ${maxSessionDuration / 1000} seconds`)
        this.#relay.close(1001, 'maximum session duration reached')
      }, maxSessionDuration)
      : undefined
    let seen = -1
    let quietSince = 0
    // Counters, not a timestamp per frame: the check costs nothing on the hot path.
    const idle = idleTimeout > 0
      ? setInterval(() => {
        const frames = this.#relay.stats.client.frames + this.#relay.stats.upstream.frames
        const now = Date.now()
        if (frames !== seen) {
          seen = frames
          quietSince = now
        } else if (now - quietSince >= idleTimeout) {
          this.log.info('realtime session idle; closing')
          this.#relay.close(1000, 'idle timeout')
        }
      }, Math.max(10, idleTimeout / 4))
      : undefined
    return () => {
      clearTimeout(expire)
      clearInterval(idle)
    }
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
