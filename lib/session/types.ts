// What a session is configured with, and the summary it ends with.
import type { Pricing } from '../usage/pricing.js'
import type { UsageTotals } from '../usage/records.js'
import type { Attempt } from '../upstream/failover.js'
import type { ClientFilterOptions } from './client-filter.js'
import type { CloseRecord, LegStats } from './relay.js'
import type { TimerOptions } from './timers.js'

/** The options a session reads. */
export interface SessionOptions extends ClientFilterOptions, TimerOptions {
  highWaterMark: number
  pricing?: Pricing
  /** Write the routed model into a transcription session's session.update events. */
  pinTranscriptionModel: boolean
  /** Cheap pre-check built once from `serverEvents`. */
  wantsServer: (data: Buffer) => boolean
  serverTypes: ReadonlySet<string> | '*'
}

/** What a session was and how it ended; logged once at info level when it ends. */
export interface SessionSummary extends CloseRecord {
  sessionId: string
  requestId: string
  provider: string
  model?: string
  /** The WebRTC call this session is the sideband of. */
  callId?: string
  /** The plugin's own sideband attach to a call it created: no client leg, metered. */
  sideband: boolean
  durationMs: number
  /** Frames and bytes received from the client and from the provider. */
  client: LegStats
  upstream: LegStats
  usage: UsageTotals
  /**
   * For providers that report a cumulative usage total (GPT-Live): false when the session ended before the
   * provider's closing report, so the last total billed is not final. Absent for other providers.
   */
  usageFinal?: boolean
  /** New provider connections the session was resumed on (Gemini Live's goAway, a changed setup, a dropped connection). */
  reconnects?: number
  /** The targets tried before one served (failover), when there was more than one attempt: provider, model, outcome, ms. */
  attempts?: Attempt[]
}
