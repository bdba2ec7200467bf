// The protocol seam. A session = a protocol (how its route family routes, where usage is read, how the proxy's
// own errors look) + a provider leg, which for a provider with its own schema is a translated leg (codecs/:
// Gemini Live) that the relay drives like a socket. The relay, backpressure, limits, heartbeat and close
// handling know none of them; metering reads what the client sees (after translation).
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
  /**
   * A client frame this protocol refuses once the session runs, as the error event's code and message (GPT-Live's
   * second session.start: the app's policy saw the first only). Ruled out by a byte search on most frames.
   */
  refuseClient? (data: Buffer): { code: string, message: string, eventId?: string } | undefined
}
