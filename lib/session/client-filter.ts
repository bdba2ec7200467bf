// What happens to each client frame before it goes upstream: the frame rate, the protocol's own refusals, the
// pinned transcription model, the app's onClientEvent, then the input audio of what is sent on (billing by it).
// Made only for a session that decides client frames; the others relay them untouched.
import { TokenBucket, type FrameRate } from '../limits/rate-limit.js'
import type { InputAudio } from '../usage/input-audio.js'
import type { Protocol } from '../protocols/types.js'
import type { HookLog } from './hooks.js'
import { parseEvent, pinTranscriptionModel, type EventPolicyOptions, type PolicySession, type RealtimeEvent } from './policy.js'

/** The session a filter decides for: the app's hook sees it, refusals are sent to its client. */
export interface FilteredSession extends PolicySession, HookLog {
  /** The client went over its frame rate: the session is closed. */
  overRate (): void
}

export interface ClientFilterOptions {
  frameRate?: FrameRate
  policy: EventPolicyOptions
  /** Cheap pre-check built once from `clientEvents`. */
  wantsClient: (data: Buffer) => boolean
  clientTypes: ReadonlySet<string> | '*'
}

export const wanted = (types: ReadonlySet<string> | '*', type: string): boolean => types === '*' || types.has(type)

export class ClientFilter {
  readonly #session: FilteredSession
  readonly #options: ClientFilterOptions
  readonly #protocol: Protocol
  readonly #bucket: TokenBucket | undefined
  /** Client frames the route charged to the bucket already (SessionInit.charged). */
  #prepaid: number
  /** The transcription model pinned into the client's session.update events. */
  readonly #pin: string | undefined
  /** Input audio the client sent, for a session billed by it when the provider reports no usage. */
  readonly audio: InputAudio | undefined

  constructor (
    session: FilteredSession, options: ClientFilterOptions, protocol: Protocol, bucket: TokenBucket | undefined, prepaid: number,
    pin: string | undefined, audio: InputAudio | undefined
  ) {
    this.#session = session
    this.#options = options
    this.#protocol = protocol
    this.#bucket = bucket
    this.#prepaid = prepaid
    this.#pin = pin
    this.audio = audio
  }

  /** The bytes to send on (the same buffer to relay the frame as it was), null to drop it, or a promise of either. */
  decide (received: Buffer, isBinary: boolean): Buffer | null | Promise<Buffer | null> {
    const out = this.#filter(received)
    const { audio } = this
    if (audio === undefined || isBinary) return out
    if (out instanceof Promise) {
      return out.then((data) => {
        if (data !== null) audio.observe(data)
        return data
      })
    }
    if (out !== null) audio.observe(out)
    return out
  }

  #filter (received: Buffer): Buffer | null | Promise<Buffer | null> {
    const options = this.#options
    const session = this.#session
    const { onClientEvent } = options.policy
    if (this.#prepaid > 0) this.#prepaid--
    else if (this.#bucket !== undefined && !this.#bucket.take()) {
      session.overRate()
      return null
    }
    const refused = this.#protocol.refuseClient?.(received)
    if (refused !== undefined) {
      session.sendError(refused.code, refused.message, refused.eventId)
      return null
    }
    // Pinned before the app's hook, which may still decide otherwise: the app is trusted, the client is not.
    const data = this.#pin === undefined ? received : pinTranscriptionModel(received, this.#pin)
    if (onClientEvent === undefined || !options.wantsClient(data)) return data
    const event = parseEvent(data)
    if (event === undefined) {
      session.sendError('invalid_event', 'The event must be a JSON object with a string "type"')
      return null
    }
    if (!wanted(options.clientTypes, event.type)) return data
    const decide = (out: RealtimeEvent | null | undefined | void): Buffer | null =>
      out === undefined ? data : out === null ? null : Buffer.from(JSON.stringify(out))
    const refuse = (err: unknown): null => {
      session.logOnce('onClientEvent', 'error', { err }, 'onClientEvent hook failed; event dropped')
      session.sendError('policy_error', 'The event could not be checked and was not sent', event.event_id)
      return null
    }
    try {
      const out = onClientEvent(event, session)
      return out instanceof Promise ? out.then(decide, refuse) : decide(out)
    } catch (err) {
      return refuse(err)
    }
  }
}
