// The provider leg alone, for a WebRTC call's sideband: the audio travels over WebRTC, the plugin only reads
// the call's events (usage) with its own credentials. Same surface as the Relay, so a session runs on either.
import WebSocket from 'ws'
import { closeReason, errorCloseCode } from './close-codes.js'
import type { CloseRecord, Legs, Side } from './relay.js'

export class Tap implements Legs {
  readonly stats = { client: { frames: 0, bytes: 0 }, upstream: { frames: 0, bytes: 0 } }
  readonly done: Promise<CloseRecord>
  closed: CloseRecord | undefined
  readonly #upstream: WebSocket

  constructor (upstream: WebSocket, observe: ((data: Buffer) => void) | undefined) {
    this.#upstream = upstream
    const { upstream: stats } = this.stats
    upstream.on('message', (data: Buffer, isBinary: boolean) => {
      stats.frames++
      stats.bytes += data.length
      if (!isBinary) observe?.(data)
    })
    upstream.on('error', (err) => { this.closed ??= { by: 'upstream', code: errorCloseCode(err), reason: err.message } })
    this.done = new Promise((resolve) => upstream.on('close', (code: number, reason: Buffer) => {
      this.closed ??= { by: 'upstream', code, reason: reason.toString() }
      resolve(this.closed)
    }))
  }

  close (code: number, reason: string): void {
    this.closed ??= { by: 'server', code, reason }
    if (this.#upstream.readyState === WebSocket.OPEN) this.#upstream.close(code, closeReason(reason))
  }

  kill (_side: Side, reason: string): void {
    this.closed ??= { by: 'server', code: 1011, reason }
    this.#upstream.terminate()
  }

  terminate (): void {
    this.#upstream.terminate()
  }

  /** There is no client leg: the client's events travel over WebRTC. */
  sendToClient (): void {}
}
