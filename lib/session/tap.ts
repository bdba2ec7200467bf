// The provider leg alone, for a WebRTC call's sideband: the audio travels over WebRTC, the plugin only reads
// the call's events (usage) with its own credentials. Same surface as the Relay, so a session runs on either.
import { CLOSE, closeReason, errorCloseCode } from '../close-codes.js'
import { LEG_OPEN, type Leg } from '../upstream/leg.js'
import type { CloseRecord, LegStats, Legs, LegsOwner, Side } from './relay.js'
import { redact } from '../upstream/redact.js'

export class Tap implements Legs {
  closed: CloseRecord | undefined = undefined
  readonly #upstream: Leg
  #frames = 0
  #bytes = 0

  /** `secrets`: the keys the sideband was dialled with, redacted from the provider's close reason. */
  constructor (upstream: Leg, owner: LegsOwner, secrets: ReadonlyArray<string | undefined> = []) {
    this.#upstream = upstream
    upstream.on('message', (data, isBinary) => {
      this.#frames++
      this.#bytes += data.length
      if (!isBinary && owner.observes) owner.observeUpstream(data)
    })
    upstream.on('error', (err) => { this.closed ??= { by: 'upstream', code: errorCloseCode(err), reason: err.message } })
    upstream.on('close', (code, reason) => {
      this.closed ??= { by: 'upstream', code, reason: redact(reason.toString(), secrets) }
      owner.legsClosed(this.closed)
    })
  }

  get stats (): Record<Side, LegStats> {
    return { client: { frames: 0, bytes: 0 }, upstream: { frames: this.#frames, bytes: this.#bytes } }
  }

  close (code: number, reason: string): void {
    this.closed ??= { by: 'server', code, reason }
    if (this.#upstream.readyState === LEG_OPEN) this.#upstream.close(code, closeReason(reason))
  }

  kill (_side: Side, reason: string): void {
    this.closed ??= { by: 'server', code: CLOSE.internalError, reason }
    this.#upstream.terminate()
  }

  terminate (): void {
    this.#upstream.terminate()
  }

  /** There is no client leg: the client's events travel over WebRTC. */
  sendToClient (): void {}
}
