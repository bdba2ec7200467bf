// A ws WebSocket as a Leg: the client's socket and a provider's. The only module that reads ws's private
// state: `_socket` (to cork a read's frames into one write) and the receiver's unparsed bytes (whether a read
// holds more frames). The socket's listeners are shared functions that find their leg on the socket, added
// when the leg is listened to: thousands of quiet sessions hold no closures for them.
import type { Socket } from 'node:net'
import type WebSocket from 'ws'
import { Leg, type LegEvent, type LegListener, type SendOptions } from './leg.js'

const kLeg = Symbol('fastify-realtime-proxy.leg')
type Adapted = WebSocket & { [kLeg]: WsLeg, _socket: Socket, _receiver: { _bufferedBytes: number } }

export class WsLeg extends Leg {
  readonly #ws: Adapted

  constructor (ws: WebSocket) {
    super()
    this.#ws = ws as Adapted
    this.#ws[kLeg] = this
  }

  // ws parses a read's frames in one go and delivers each as it is parsed: bytes left mean more may follow.
  override get moreInRead (): boolean {
    return this.#ws._receiver._bufferedBytes > 0
  }

  /** The socket is listened to for an event only once the leg is: a pong nobody awaits costs no listener. */
  override on<E extends LegEvent> (event: E, listener: LegListener<E>): this {
    super.on(event, listener)
    if (event !== 'answer') this.#ws.on(event, WsLeg.#trampolines[event as Exclude<LegEvent, 'answer'>])
    return this
  }

  static readonly #onMessage = function (this: WebSocket, data: Buffer, isBinary: boolean): void { (this as Adapted)[kLeg].emitMessage(data, isBinary) }
  static readonly #onClose = function (this: WebSocket, code: number, reason: Buffer): void { (this as Adapted)[kLeg].emitClose(code, reason) }
  static readonly #onError = function (this: WebSocket, err: Error): void { (this as Adapted)[kLeg].emitError(err) }
  static readonly #onPong = function (this: WebSocket): void { (this as Adapted)[kLeg].emitPong() }
  static readonly #trampolines = { message: WsLeg.#onMessage, close: WsLeg.#onClose, error: WsLeg.#onError, pong: WsLeg.#onPong }

  get readyState (): number {
    return this.#ws.readyState
  }

  get bufferedAmount (): number {
    return this.#ws.bufferedAmount
  }

  get isPaused (): boolean {
    return this.#ws.isPaused
  }

  send (data: Buffer | string, options: SendOptions, cb?: (err?: Error) => void): void {
    this.#ws.send(data, options, cb)
  }

  pause (): void {
    this.#ws.pause()
  }

  resume (): void {
    this.#ws.resume()
  }

  close (code: number, reason: string | Buffer): void {
    this.#ws.close(code, reason)
  }

  terminate (): void {
    this.#ws.terminate()
  }

  ping (): void {
    this.#ws.ping()
  }

  cork (): void {
    this.#ws._socket.cork()
  }

  uncork (): void {
    this.#ws._socket.uncork()
  }
}
