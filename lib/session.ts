// One realtime session: the coupled sockets, its heartbeat, its logger, and the summary it ends with.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import type WebSocket from 'ws'
import { heartbeat } from './heartbeat.js'
import { Relay, type CloseRecord, type LegStats } from './relay.js'
import type { Resolution } from './registry.js'

export interface SessionOptions {
  highWaterMark: number
  heartbeatInterval: number
  pongTimeout: number
}

/** What a session was and how it ended; logged once at info level when it ends. */
export interface SessionSummary extends CloseRecord {
  sessionId: string
  provider: string
  model?: string
  durationMs: number
  /** Frames and bytes received from the client and from the provider. */
  client: LegStats
  upstream: LegStats
}

export class RealtimeSession {
  readonly id = randomUUID()
  readonly provider: string
  readonly model: string | undefined
  readonly startedAt = Date.now()
  readonly log: FastifyBaseLogger
  readonly ended: Promise<SessionSummary>
  readonly #relay: Relay

  constructor (client: WebSocket, upstream: WebSocket, resolution: Resolution, log: FastifyBaseLogger, options: SessionOptions) {
    this.provider = resolution.provider.name
    this.model = resolution.model
    this.log = log.child({ sessionId: this.id, provider: this.provider, model: this.model })
    this.#relay = new Relay(client, upstream, options)
    const stopHeartbeat = options.heartbeatInterval > 0
      ? heartbeat([client, upstream], options.heartbeatInterval, options.pongTimeout, (leg) => {
        const side = leg === client ? 'client' : 'upstream'
        this.log.warn({ side }, 'realtime peer missed its pong; terminating it')
        this.#relay.kill(side, `${side} missed heartbeat`)
      })
      : () => {}
    this.ended = this.#relay.done.then((closed) => {
      stopHeartbeat()
      const summary: SessionSummary = {
        sessionId: this.id,
        provider: this.provider,
        model: this.model,
        durationMs: Date.now() - this.startedAt,
        ...closed,
        client: this.#relay.stats.client,
        upstream: this.#relay.stats.upstream
      }
      this.log.info({ summary }, 'realtime session ended')
      return summary
    })
    this.log.info('realtime session started')
  }

  get stats (): Readonly<Relay['stats']> {
    return this.#relay.stats
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
