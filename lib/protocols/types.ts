// The protocol seam. A session = a protocol (how its route family routes, where usage is read, how the proxy's
// own errors look) + a provider leg + an optional codec translating frames both ways for a provider whose
// schema differs from the client's. The relay, backpressure, limits, heartbeat and close handling know none
// of them; metering reads what the client sees (after translation).
import type { Json } from '../json.js'

/** Usage one server event reported, in the client's schema, before pricing. */
export type UsageReport =
  /**
   * Tokens of one response (`usage` in OpenAI's token shape, any of its spellings); `model` when a backend model
   * other than the session's produced it (GPT-Live delegation), priced by its own `pricing` entry.
   */
  | { kind: 'response', responseId?: string, usage: Json, model?: string }
  /** The session's billed seconds so far, a cumulative total (GPT-Live); `final` on the session's last report. */
  | { kind: 'seconds', totalSeconds: number, final: boolean }
  /** Input-audio transcription, by tokens or by seconds (`usage` as the event carries it). */
  | { kind: 'transcription', itemId?: string, usage: Json }

export interface Protocol {
  /** The route family: `realtime`, `live`, `translation`. */
  readonly name: string
  /**
   * How a session is routed: by its upgrade request (`?model=`), dialled before the client is upgraded; or by
   * its first client frame (GPT-Live's `session.start` names the model), dialled after the upgrade.
   */
  readonly routing: 'request' | 'first-frame'
  /**
   * The usage a server text frame reports, if any. Called on every frame while metering: frames that cannot
   * carry usage (audio deltas) must be ruled out by a byte search, without a parse.
   */
  readUsage (data: Buffer): UsageReport | undefined
  /** The proxy's own error event for the client (a refused frame, an expired session), in this protocol's envelope. */
  errorEvent (code: string, message: string, clientEventId?: string): Json
  /**
   * Whether a session of this intent is billed by the input audio the client sends when its provider reports
   * no usage (translations; realtime transcription sessions).
   */
  meterInputAudio (intent: string | undefined): boolean
}

/** A frame as a codec hands it on: text (JSON) or binary. */
export interface CodecFrame {
  data: Buffer | string
  isBinary: boolean
}

/**
 * Translates one session's frames between the client's schema and the provider's, keeping per-session state
 * (Gemini Live: the setup built from the first session.update, call id -> function name, resumption handles).
 * Each direction may turn one frame into none or several. Not implemented yet: the seam the Gemini codec plugs
 * into (README, Architecture).
 */
export interface Codec {
  /** A client frame (client schema) -> what to send the provider. */
  toProvider (data: Buffer, isBinary: boolean): readonly CodecFrame[]
  /** A provider frame -> what to send the client (client schema); metering sees these. */
  toClient (data: Buffer, isBinary: boolean): readonly CodecFrame[]
  /**
   * The provider leg is ending (Gemini's goAway, or a close while resumable): frames to resend on a new leg
   * dialled with the returned resumption state, or undefined to end the session as usual.
   */
  resume? (): { frames: readonly CodecFrame[] } | undefined
}
