// One side of a session as the relay, the heartbeat and the session drive it: the seam every provider leg plugs
// into, and the client's leg too. A ws WebSocket is adapted to it (ws-leg.ts); a codec's leg, which speaks the
// provider's own schema over whatever transport it has (Gemini Live: websockets that come and go), implements it.
// Each event has one listener (the relay's or a sideband's, the heartbeat's pong), kept in a field: no emitter
// and no array per leg, and nothing allocated per frame.

/** A leg's readyState, as ws numbers it. */
export const LEG_OPEN = 1
export const LEG_CLOSING = 2
export const LEG_CLOSED = 3

/** What a leg reports, with its arguments. */
export interface LegEvents {
  /** A frame from the peer. */
  message: [data: Buffer, isBinary: boolean]
  /** The leg has closed (once), with the code and reason as received. */
  close: [code: number, reason: Buffer]
  /** A receive error; its close follows. */
  error: [err: Error]
  pong: []
  /** A translated leg's own answer to a client frame (an error, session.updated): written under the client's mark. */
  answer: [data: Buffer]
}

export type LegEvent = keyof LegEvents
export type LegListener<E extends LegEvent> = (this: Leg, ...args: LegEvents[E]) => void

/** How a frame is sent: as text or binary. */
export interface SendOptions {
  binary: boolean
}

// Implementations may keep the options they are given (ws copies them): two frozen objects spare an allocation per frame.
export const TEXT: SendOptions = Object.freeze({ binary: false })
export const BINARY: SendOptions = Object.freeze({ binary: true })

export abstract class Leg {
  #message: LegListener<'message'> | undefined = undefined
  #close: LegListener<'close'> | undefined = undefined
  #error: LegListener<'error'> | undefined = undefined
  #pong: LegListener<'pong'> | undefined = undefined
  #answer: LegListener<'answer'> | undefined = undefined
  /**
   * The state of whoever reads this leg (the relay's pipe for its direction), found from the leg by shared
   * listeners. A declared field: a property added later would cost V8 a property store of ~66 bytes per leg.
   */
  reader: unknown = undefined
  /** A leg that outlives its connections (a codec's): the new connections it was resumed on, for the summary. */
  reconnects: number | undefined = undefined

  /** 1 open, 2 closing, 3 closed (LEG_OPEN, LEG_CLOSING, LEG_CLOSED). */
  abstract get readyState (): number
  /** Bytes queued to the peer and not yet written. */
  abstract get bufferedAmount (): number
  /** Whether the leg is not being read (backpressure): a pong it cannot read is not judged. */
  abstract get isPaused (): boolean
  abstract send (data: Buffer | string, options: SendOptions, cb?: (err?: Error) => void): void
  abstract pause (): void
  abstract resume (): void
  abstract close (code: number, reason: string | Buffer): void
  /** Drops the connection at once (a dead peer, a close handshake that never finished). */
  abstract terminate (): void
  abstract ping (): void
  /** Frames sent until `uncork` go out in one write. */
  abstract cork (): void
  abstract uncork (): void

  /**
   * Whether, as a frame is delivered, more input from the same read is still to be parsed: the relay corks the
   * other leg only then. A leg that cannot tell says true.
   */
  get moreInRead (): boolean {
    return true
  }

  /** Sets the one listener of `event`; a second would silently replace the first, so it is refused. */
  on<E extends LegEvent> (event: E, listener: LegListener<E>): this {
    const taken = { message: this.#message, close: this.#close, error: this.#error, pong: this.#pong, answer: this.#answer }[event]
    if (taken !== undefined) throw new Error(`a leg takes one "${event}" listener`)
    if (event === 'message') this.#message = listener as LegListener<'message'>
    else if (event === 'close') this.#close = listener as LegListener<'close'>
    else if (event === 'error') this.#error = listener as LegListener<'error'>
    else if (event === 'pong') this.#pong = listener as LegListener<'pong'>
    else this.#answer = listener as LegListener<'answer'>
    return this
  }

  // What an implementation reports through; an event nobody listens to is dropped (an error included: its close follows).
  protected emitMessage (data: Buffer, isBinary: boolean): void {
    this.#message?.(data, isBinary)
  }

  protected emitClose (code: number, reason: Buffer): void {
    this.#close?.(code, reason)
  }

  protected emitError (err: Error): void {
    this.#error?.(err)
  }

  protected emitPong (): void {
    this.#pong?.()
  }

  protected emitAnswer (data: Buffer): void {
    this.#answer?.(data)
  }
}
