// Couples the client and provider sockets: every frame verbatim both ways, backpressure, and one close
// for both legs, mirrored with the code and reason of whichever side closed first.
import type { Socket } from 'node:net'
import WebSocket from 'ws'
import { closeReason, errorCloseCode, sendableCode } from './close-codes.js'

export type Side = 'client' | 'upstream'

/** Frames and bytes received from one side (and sent on to the other). */
export interface LegStats {
  frames: number
  bytes: number
}

/** How a session ended: who closed first (`server` for shutdown, limits and heartbeat), code and reason. */
export interface CloseRecord {
  by: Side | 'server'
  code: number
  reason: string
}

export interface RelayOptions {
  /** Stop reading a side while the other side's send buffer holds more than this many bytes. */
  highWaterMark: number
  /** Sees every text frame from the provider after it was forwarded (usage metering). */
  observeUpstream?: (data: Buffer) => void
  /**
   * Decides each client frame before it goes upstream: the bytes to send (the same buffer to relay it as
   * it was), or null to drop it. A promise holds later frames until it settles, so order is kept.
   */
  filterClient?: (data: Buffer, isBinary: boolean) => Buffer | null | Promise<Buffer | null>
}

/** Both legs of a session (Relay) or the provider leg alone (Tap, a call's sideband). */
export interface Legs {
  readonly stats: Record<Side, LegStats>
  readonly done: Promise<CloseRecord>
  close (code: number, reason: string): void
  kill (side: Side, reason: string): void
  terminate (): void
  sendToClient (text: string): void
}

// ws copies send options; two frozen objects spare an allocation per frame.
const TEXT = Object.freeze({ binary: false })
const BINARY = Object.freeze({ binary: true })

export class Relay implements Legs {
  readonly stats: Record<Side, LegStats> = { client: { frames: 0, bytes: 0 }, upstream: { frames: 0, bytes: 0 } }
  readonly done: Promise<CloseRecord>
  closed: CloseRecord | undefined
  readonly #client: WebSocket
  readonly #upstream: WebSocket
  #open = 2
  #resolve!: (record: CloseRecord) => void

  constructor (client: WebSocket, upstream: WebSocket, options: RelayOptions) {
    this.#client = client
    this.#upstream = upstream
    this.done = new Promise((resolve) => { this.#resolve = resolve })
    this.#forward('client', client, upstream, options.highWaterMark, undefined, options.filterClient)
    this.#forward('upstream', upstream, client, options.highWaterMark, options.observeUpstream, undefined)
  }

  /** Closes both legs with the same code and reason (shutdown, limits). */
  close (code: number, reason: string, by: CloseRecord['by'] = 'server'): void {
    this.#record({ by, code, reason })
    this.#closeLeg(this.#client, code, reason)
    this.#closeLeg(this.#upstream, code, reason)
  }

  /** A peer stopped answering: drop its connection and close the other leg with 1011. */
  kill (side: Side, reason: string): void {
    const [dead, other] = side === 'client' ? [this.#client, this.#upstream] : [this.#upstream, this.#client]
    this.#record({ by: 'server', code: 1011, reason })
    this.#closeLeg(other, 1011, reason)
    dead.terminate()
  }

  /** Drops both TCP connections at once (a dead peer, or a close handshake that never finished). */
  terminate (): void {
    this.#client.terminate()
    this.#upstream.terminate()
  }

  /** Sends the client a text frame of the proxy's own (an error event). */
  sendToClient (text: string): void {
    if (this.#client.readyState === WebSocket.OPEN) this.#client.send(text)
  }

  #forward (
    side: Side, source: WebSocket, target: WebSocket, highWaterMark: number,
    observe: RelayOptions['observeUpstream'], filter: RelayOptions['filterClient']
  ): void {
    const stats = this.stats[side]
    const lowWaterMark = highWaterMark / 4
    let paused = false // for backpressure
    let held: Array<[Buffer, boolean]> | undefined // frames waiting behind an async filter
    const resume = (): void => {
      if (!paused && held === undefined) source.resume()
    }
    // One callback per direction, not per frame: resume once the target has drained enough.
    const onSent = (): void => {
      if (paused && target.bufferedAmount <= lowWaterMark) {
        paused = false
        resume()
      }
    }
    // Frames parsed from one read go out in one write: cork the target's socket on the first and uncork
    // once this tick's frames are queued, instead of one writev syscall per frame.
    const socket = (target as unknown as { _socket: Socket })._socket
    let corked = false
    const uncork = (): void => {
      corked = false
      socket.uncork()
    }
    const send = (data: Buffer | null, isBinary: boolean): void => {
      if (data === null || target.readyState !== WebSocket.OPEN) return
      if (!corked) {
        corked = true
        socket.cork()
        process.nextTick(uncork)
      }
      target.send(data, isBinary ? BINARY : TEXT, onSent)
      if (!paused && target.bufferedAmount > highWaterMark) {
        paused = true
        source.pause()
      }
      if (observe !== undefined && !isBinary) observe(data)
    }
    const filtered = (data: Buffer, isBinary: boolean): void => {
      const out = (filter as NonNullable<typeof filter>)(data, isBinary)
      if (!(out instanceof Promise)) return send(out, isBinary)
      held = []
      source.pause()
      out.then((result) => {
        send(result, isBinary)
        const queue = held as Array<[Buffer, boolean]>
        held = undefined
        for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
          filtered(next[0], next[1])
          if (held !== undefined) { // another async decision: the rest waits behind it
            (held as Array<[Buffer, boolean]>).push(...queue)
            return
          }
        }
        resume()
      }, /* c8 ignore next */ () => {}) // the session's filter settles every promise itself
    }
    source.on('message', (data: Buffer, isBinary: boolean) => {
      stats.frames++
      stats.bytes += data.length
      if (filter === undefined) send(data, isBinary)
      else if (held !== undefined) held.push([data, isBinary])
      else filtered(data, isBinary)
    })
    // ws has already sent its peer the matching close code (1009, 1007, 1002); mirror it to the other leg.
    source.on('error', (err) => {
      const code = errorCloseCode(err)
      this.#record({ by: side, code, reason: err.message })
      this.#closeLeg(target, code, err.message)
    })
    source.on('close', (code: number, reason: Buffer) => {
      this.#record({ by: side, code, reason: reason.toString() })
      this.#closeLeg(target, sendableCode(code), reason)
      if (--this.#open === 0) this.#resolve(this.closed as CloseRecord)
    })
  }

  #record (record: CloseRecord): void {
    this.closed ??= record
  }

  #closeLeg (leg: WebSocket, code: number, reason: string | Buffer): void {
    if (leg.readyState === WebSocket.CLOSING || leg.readyState === WebSocket.CLOSED) return
    // A leg paused for backpressure must be read again, or its close frame would never arrive.
    leg.resume()
    leg.close(code, closeReason(reason))
  }
}
