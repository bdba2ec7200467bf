// A ws WebSocket as a Leg: the client's socket and a provider's. The only module that reads ws's private
// `_socket` (to cork a tick's frames into one write). The socket's listeners are shared functions that find
// their leg on the socket: thousands of quiet sessions hold no closures for them.
import type { Socket } from 'node:net'
import type WebSocket from 'ws'
import { Leg, type SendOptions } from './leg.js'

const kLeg = Symbol('fastify-realtime-proxy.leg')
type Adapted = WebSocket & { [kLeg]: WsLeg, _socket: Socket }

export class WsLeg extends Leg {
  readonly #ws: Adapted

  constructor (ws: WebSocket) {
    super()
    this.#ws = ws as Adapted
    this.#ws[kLeg] = this
    ws.on('message', WsLeg.#onMessage)
    ws.on('close', WsLeg.#onClose)
    ws.on('error', WsLeg.#onError)
    ws.on('pong', WsLeg.#onPong)
  }

  static readonly #onMessage = function (this: WebSocket, data: Buffer, isBinary: boolean): void { (this as Adapted)[kLeg].emitMessage(data, isBinary) }
  static readonly #onClose = function (this: WebSocket, code: number, reason: Buffer): void { (this as Adapted)[kLeg].emitClose(code, reason) }
  static readonly #onError = function (this: WebSocket, err: Error): void { (this as Adapted)[kLeg].emitError(err) }
  static readonly #onPong = function (this: WebSocket): void { (this as Adapted)[kLeg].emitPong() }

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
