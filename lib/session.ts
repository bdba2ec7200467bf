// One realtime session: the coupled sockets, its heartbeat, its meter, its logger, and the summary it ends with.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type WebSocket from 'ws'
import { heartbeat } from './heartbeat.js'
import type { SessionHub } from './hub.js'
import { Meter } from './meter.js'
import type { Pricing } from './pricing.js'
import { Relay, type CloseRecord, type LegStats } from './relay.js'
import type { Resolution } from './registry.js'
import type { UsageTotals } from './usage.js'

export interface SessionOptions {
  highWaterMark: number
  heartbeatInterval: number
  pongTimeout: number
  pricing?: Pricing
}

export interface SessionInit {
  resolution: Resolution
  requestId: string
  log: FastifyBaseLogger
  hub: SessionHub
  /** When the provider's websocket opened: duration billing counts from here. */
  upstreamOpenedAt: number
}

/** What a session was and how it ended; logged once at info level when it ends. */
export interface SessionSummary extends CloseRecord {
  sessionId: string
  requestId: string
  provider: string
  model?: string
  durationMs: number
  /** Frames and bytes received from the client and from the provider. */
  client: LegStats
  upstream: LegStats
  usage: UsageTotals
}

export class RealtimeSession {
  readonly id = randomUUID()
  readonly requestId: string
  readonly provider: string
  readonly model: string | undefined
  /** The model as the client named it, before routing. */
  readonly requestedModel: string | undefined
  readonly startedAt = Date.now()
  readonly log: FastifyBaseLogger
  readonly ended: Promise<SessionSummary>
  readonly #relay: Relay
  readonly #meter: Meter

  constructor (client: WebSocket, upstream: WebSocket, init: SessionInit, options: SessionOptions) {
    const { resolution, hub } = init
    this.requestId = init.requestId
    this.provider = resolution.provider.name
    this.model = resolution.model
    this.requestedModel = resolution.requestedModel
    this.log = init.log.child({ sessionId: this.id, provider: this.provider, model: this.model })
    this.#meter = new Meter({
      sessionId: this.id,
      provider: this.provider,
      model: this.model,
      requestedModel: this.requestedModel,
      billing: resolution.provider.billing,
      pricing: options.pricing,
      emit: (record) => hub.usage(record, this)
    })
    this.#relay = new Relay(client, upstream, { highWaterMark: options.highWaterMark, observeUpstream: (data) => this.#meter.observe(data) })
    const stopHeartbeat = options.heartbeatInterval > 0
      ? heartbeat([client, upstream], options.heartbeatInterval, options.pongTimeout, (leg) => {
        const side = leg === client ? 'client' : 'upstream'
        this.log.warn({ side }, 'realtime peer missed its pong; terminating it')
        this.#relay.kill(side, `${side} missed heartbeat`)
      })
      : () => {}
    this.ended = this.#relay.done.then((closed) => {
      stopHeartbeat()
      const now = Date.now()
      this.#meter.close((now - init.upstreamOpenedAt) / 1000)
      const summary: SessionSummary = {
        sessionId: this.id,
        requestId: this.requestId,
        provider: this.provider,
        model: this.model,
        durationMs: now - this.startedAt,
        ...closed,
        client: this.#relay.stats.client,
        upstream: this.#relay.stats.upstream,
        usage: this.#meter.totals
      }
      this.log.info({ summary }, 'realtime session ended')
      hub.ended(summary, this)
      return summary
    })
    this.log.info('realtime session started')
    hub.started(this)
  }

  /** Frames and bytes received so far from each side. */
  get stats (): Readonly<Relay['stats']> {
    return this.#relay.stats
  }

  /** Usage so far. */
  get usage (): Readonly<UsageTotals> {
    return this.#meter.totals
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
