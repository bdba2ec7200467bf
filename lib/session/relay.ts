// Couples the client and provider sockets: every frame verbatim both ways, backpressure, and one close
// for both legs, mirrored with the code and reason of whichever side closed first.
//
// Thousands of sessions sit idle for minutes, so a session's state lives in two Pipe objects (one per
// direction) and the legs' listeners are shared functions that find their pipe on the leg: no closures or
// contexts per session, and nothing allocated per frame.
import { CLOSE, closeReason, errorCloseCode, sendableCode } from '../close-codes.js'
import { BINARY, LEG_CLOSED, LEG_CLOSING, LEG_OPEN, TEXT, type Leg } from '../upstream/leg.js'
import { redact } from '../upstream/redact.js'

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

/** What the legs report to: their session. */
export interface LegsOwner {
  /** Whether `observeUpstream` wants provider frames (usage metering, onServerEvent). */
  readonly observes: boolean
  /** Sees every text frame from the provider, after it was forwarded or, when the client is closing, instead. */
  observeUpstream (data: Buffer): void
  /** Whether `filterClient` decides client frames (rate limit, onClientEvent). */
  readonly filters: boolean
  /**
   * Decides each client frame before it goes upstream: the bytes to send (the same buffer to relay it as
   * it was), or null to drop it. A promise holds later frames until it settles, so order is kept.
   */
  filterClient (data: Buffer, isBinary: boolean): Buffer | null | Promise<Buffer | null>
  /** Both legs have closed (once). */
  legsClosed (record: CloseRecord): void
}

/** Both legs of a session (Relay) or the provider leg alone (Tap, a call's sideband). */
export interface Legs {
  /** Frames and bytes so far, a fresh copy. */
  readonly stats: Record<Side, LegStats>
  close (code: number, reason: string): void
  kill (side: Side, reason: string): void
  terminate (): void
  sendToClient (text: string): void
}

const pipeOf = (source: Leg): Pipe => source.reader as Pipe

/** One direction: frames read from `source` are sent to `target`. */
class Pipe implements LegStats {
  frames = 0
  bytes = 0
  /** A frame took the target's send buffer past the high-water mark: `source` is not read until it is written. */
  paused = false
  /**
   * Client frames not yet decided, in order: behind an async filter decision, or behind an answer of the
   * proxy's own that is over the high-water mark. `source` is paused while there are any.
   */
  held: Array<[Buffer, boolean]> | undefined = undefined
  /** An async filter decision is pending. */
  deciding = false
  corked = false
  /** The frame being decided has more behind it in this turn (held frames being released). */
  more = false
  /** Frames of the proxy's own (error events) over the source's high-water mark, not yet written to it. */
  ownPending = 0
  #drained: (() => void) | undefined = undefined

  constructor (
    readonly relay: Relay,
    readonly side: Side,
    readonly source: Leg,
    readonly target: Leg,
    readonly highWaterMark: number,
    readonly observe: boolean,
    readonly filter: boolean
  ) {
    source.reader = this
    source.on('message', onMessage)
    source.on('error', onError)
    source.on('close', onClose)
    // A translated provider leg's own answers to client frames (codecs/): the client produced them, so they go
    // out under the client's mark, as the proxy's own error events do. A websocket's leg never emits it.
    if (side === 'upstream') source.on('answer', onAnswer)
  }

  receive (data: Buffer, isBinary: boolean): void {
    this.frames++
    this.bytes += data.length
    // A client being closed (a limit, a policy, the provider gone) is no longer heard: its frames could not
    // be delivered, and each would be checked and refused again. Provider frames are still read for usage.
    if (this.side === 'client' && this.relay.closed !== undefined) return
    if (this.held !== undefined) this.held.push([data, isBinary])
    else this.decide(data, isBinary)
  }

  /** A frame's way on: through the owner's filter when it decides client frames, else sent as it is. */
  decide (data: Buffer, isBinary: boolean): void {
    if (this.filter) this.filtered(data, isBinary)
    else this.send(data, isBinary)
  }

  send (data: Buffer | null, isBinary: boolean): void {
    if (data === null) return
    if (this.target.readyState === LEG_OPEN) this.write(data, isBinary)
    // Observed whether or not it could be delivered: usage the provider reports while the client is
    // closing (a response.done during the close handshake) is owed all the same.
    if (this.observe && !isBinary) this.relay.owner.observeUpstream(data)
  }

  write (data: Buffer, isBinary: boolean): void {
    const { target } = this
    // Frames parsed from one read, or released together, go out in one write: cork the target's socket on the
    // first and uncork once this tick's frames are queued, instead of one syscall per frame. A read that held
    // one frame (a voice frame every 20 ms) is written at once: corking it would only add a tick.
    if (!this.corked && (this.more || this.source.moreInRead)) {
      this.corked = true
      target.cork()
      process.nextTick(uncork, this)
    }
    if (this.paused || target.bufferedAmount + data.length <= this.highWaterMark) {
      target.send(data, isBinary ? BINARY : TEXT)
    } else {
      // Backpressure: stop reading the source until the frame that crossed the mark has been written.
      this.paused = true
      this.source.pause()
      target.send(data, isBinary ? BINARY : TEXT, this.#drained ??= () => {
        this.paused = false
        this.resume()
      })
    }
  }

  resume (): void {
    if (!this.paused && this.held === undefined) this.source.resume()
  }

  /**
   * Sends the source a text frame of the proxy's own (an error event refusing one of its frames), under the same
   * high-water mark as relayed frames: past it, no more of the source's frames are read or decided until the
   * frame is written, so a client that reads nothing cannot make the proxy queue more than it sent.
   */
  answer (text: string | Buffer): void {
    const { source } = this
    if (source.readyState !== LEG_OPEN) return
    if (source.bufferedAmount + Buffer.byteLength(text) <= this.highWaterMark) return source.send(text, TEXT)
    this.ownPending++
    this.hold()
    // Its own callback, counted once: when the write fails (the client reset its connection), the socket's
    // callbacks can come more than once, and a shared one would release frames another answer still holds.
    let written = false
    source.send(text, TEXT, () => {
      if (written) return
      written = true
      this.ownPending--
      this.release()
    })
  }

  hold (): void {
    this.held ??= []
    this.source.pause()
  }

  filtered (data: Buffer, isBinary: boolean): void {
    const out = this.relay.owner.filterClient(data, isBinary)
    if (!(out instanceof Promise)) return this.send(out, isBinary)
    this.deciding = true
    this.hold()
    out.then((result) => {
      this.deciding = false
      this.send(result, isBinary)
      this.release()
    }, /* c8 ignore next */ () => {}) // the session's filter settles every promise itself
  }

  /** Decides the held frames in order, until one holds the rest again; then reads the source again. */
  release (): void {
    if (this.deciding || this.ownPending > 0) return
    const queue = this.held as Array<[Buffer, boolean]> // hold() made it before anything could release
    this.held = undefined
    for (let next = queue.shift(); next !== undefined; next = queue.shift()) {
      this.more = queue.length > 0
      this.decide(next[0], next[1])
      if (this.held !== undefined) { // held again: the rest waits behind it, in order
        (this.held as Array<[Buffer, boolean]>).push(...queue)
        this.more = false
        return
      }
    }
    this.resume()
  }
}

function uncork (pipe: Pipe): void {
  pipe.corked = false
  pipe.target.uncork()
}

function onMessage (this: Leg, data: Buffer, isBinary: boolean): void {
  pipeOf(this).receive(data, isBinary)
}

function onAnswer (this: Leg, data: Buffer): void {
  const { relay } = pipeOf(this)
  relay.answerClient(data)
}

// ws has already sent its peer the matching close code (1009, 1007, 1002); mirror it to the other leg.
function onError (this: Leg, err: Error): void {
  const { relay, side, target } = pipeOf(this)
  const code = errorCloseCode(err)
  relay.record({ by: side, code, reason: err.message })
  closeLeg(target, code, err.message)
}

function onClose (this: Leg, code: number, reason: Buffer): void {
  const { relay, side, target } = pipeOf(this)
  // A provider's close reason may echo its key (of any shape): the exact key is redacted before the client or
  // the summary sees it.
  const text = side === 'upstream' && reason.length > 0 ? redact(reason.toString(), relay.secrets) : reason.toString()
  relay.record({ by: side, code, reason: text })
  closeLeg(target, sendableCode(code), text)
  relay.legClosed()
}

function closeLeg (leg: Leg, code: number, reason: string | Buffer): void {
  if (leg.readyState === LEG_CLOSING || leg.readyState === LEG_CLOSED) return
  // A leg paused for backpressure must be read again, or its close frame would never arrive.
  leg.resume()
  leg.close(code, closeReason(reason))
}

export class Relay implements Legs {
  closed: CloseRecord | undefined = undefined
  readonly owner: LegsOwner
  /** The keys the provider leg was dialled with. */
  readonly secrets: ReadonlyArray<string | undefined>
  readonly #client: Pipe
  readonly #upstream: Pipe
  #open = 2

  constructor (client: Leg, upstream: Leg, highWaterMark: number, owner: LegsOwner, secrets: ReadonlyArray<string | undefined> = []) {
    this.owner = owner
    this.secrets = secrets
    this.#client = new Pipe(this, 'client', client, upstream, highWaterMark, false, owner.filters)
    this.#upstream = new Pipe(this, 'upstream', upstream, client, highWaterMark, owner.observes, false)
  }

  get stats (): Record<Side, LegStats> {
    const client = this.#client
    const upstream = this.#upstream
    return { client: { frames: client.frames, bytes: client.bytes }, upstream: { frames: upstream.frames, bytes: upstream.bytes } }
  }

  /** Closes both legs with the same code and reason (shutdown, limits). */
  close (code: number, reason: string): void {
    this.record({ by: 'server', code, reason })
    closeLeg(this.#client.source, code, reason)
    closeLeg(this.#upstream.source, code, reason)
  }

  /** A peer stopped answering: drop its connection and close the other leg with 1011. */
  kill (side: Side, reason: string): void {
    const dead = side === 'client' ? this.#client : this.#upstream
    this.record({ by: 'server', code: CLOSE.internalError, reason })
    closeLeg(dead.target, CLOSE.internalError, reason)
    dead.source.terminate()
  }

  /** Drops both TCP connections at once (a dead peer, or a close handshake that never finished). */
  terminate (): void {
    this.#client.source.terminate()
    this.#upstream.source.terminate()
  }

  /** Sends the client a text frame of the proxy's own (an error event), with backpressure on the client's frames. */
  sendToClient (text: string): void {
    this.#client.answer(text)
  }

  /** A translated leg's answer to a client frame: under the client's mark, and seen like any provider frame. */
  answerClient (data: Buffer): void {
    this.#client.answer(data)
    if (this.owner.observes) this.owner.observeUpstream(data)
  }

  record (record: CloseRecord): void {
    this.closed ??= record
  }

  legClosed (): void {
    if (--this.#open === 0) this.owner.legsClosed(this.closed as CloseRecord)
  }
}
