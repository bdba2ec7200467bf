// Usage records: what providers report in response.done and transcription events, normalised to one shape.
import { bounded, MAX_TOKENS } from './numbers.js'

export interface TokenUsage {
  inputTokens: number
  outputTokens: number
  totalTokens: number
  input: { text: number, audio: number, image: number, cached: number }
  output: { text: number, audio: number }
}

/** Tokens of one response (`response.done`). */
export interface ResponseUsage extends TokenUsage {
  kind: 'response'
  sessionId: string
  provider: string
  model?: string
  responseId?: string
  costUSD?: number
}

/** One input-audio transcription, billed by tokens or by seconds of audio. */
export interface TranscriptionUsage {
  kind: 'transcription'
  sessionId: string
  provider: string
  model?: string
  itemId?: string
  tokens?: number
  inputTokens?: number
  outputTokens?: number
  seconds?: number
  costUSD?: number
}

/** Session time, for providers billed by the minute; reported once, at close. */
export interface DurationUsage {
  kind: 'duration'
  sessionId: string
  provider: string
  model?: string
  /** Seconds this record bills: for a provider reporting a cumulative total, the increase since the last record. */
  seconds: number
  /** The provider's cumulative total this record brings the session to (GPT-Live). */
  totalSeconds?: number
  /**
   * `input-audio`: the provider reported no usage, so the seconds are those of the input audio the client sent
   * (translation and transcription sessions), measured by the plugin.
   */
  measuredFrom?: 'input-audio'
  costUSD?: number
}

export type UsageRecord = ResponseUsage | TranscriptionUsage | DurationUsage

/** Totals over a session (and over the process in `stats()`). */
export interface UsageTotals extends TokenUsage {
  responses: number
  transcription: { count: number, tokens: number, seconds: number }
  durationSeconds: number
  costUSD: number
}

export function emptyTotals (): UsageTotals {
  return {
    responses: 0,
    inputTokens: 0,
    outputTokens: 0,
    totalTokens: 0,
    input: { text: 0, audio: 0, image: 0, cached: 0 },
    output: { text: 0, audio: 0 },
    transcription: { count: 0, tokens: 0, seconds: 0 },
    durationSeconds: 0,
    costUSD: 0
  }
}

type Json = Record<string, unknown>

const obj = (value: unknown): Json => value !== null && typeof value === 'object' ? value as Json : {}

/**
 * OpenAI spells `input_token_details`; Bailian `input_tokens_details`. Every field is optional; each count is
 * bounded (numbers.ts), and `invalid` hears of one that was not a sane count.
 */
export function tokenUsage (raw: unknown, invalid?: () => void): TokenUsage {
  const num = (value: unknown): number => bounded(value, MAX_TOKENS, invalid)
  const usage = obj(raw)
  const inDetails = obj(usage.input_token_details ?? usage.input_tokens_details)
  const outDetails = obj(usage.output_token_details ?? usage.output_tokens_details)
  const input = {
    text: num(inDetails.text_tokens),
    audio: num(inDetails.audio_tokens),
    image: num(inDetails.image_tokens),
    cached: num(inDetails.cached_tokens)
  }
  const output = { text: num(outDetails.text_tokens), audio: num(outDetails.audio_tokens) }
  const inputTokens = num(usage.input_tokens) || input.text + input.audio + input.image
  const outputTokens = num(usage.output_tokens) || output.text + output.audio
  return { inputTokens, outputTokens, totalTokens: num(usage.total_tokens) || inputTokens + outputTokens, input, output }
}

/** How many cached input tokens were audio (`cached_tokens_details`); without details, cached tokens count as text first. */
export function cachedAudioTokens (raw: unknown): number | undefined {
  const usage = obj(raw)
  const details = obj(obj(usage.input_token_details ?? usage.input_tokens_details).cached_tokens_details)
  return details.audio_tokens === undefined ? undefined : bounded(details.audio_tokens, MAX_TOKENS)
}

export function addTokens (totals: TokenUsage, usage: TokenUsage): void {
  totals.inputTokens += usage.inputTokens
  totals.outputTokens += usage.outputTokens
  totals.totalTokens += usage.totalTokens
  totals.input.text += usage.input.text
  totals.input.audio += usage.input.audio
  totals.input.image += usage.input.image
  totals.input.cached += usage.input.cached
  totals.output.text += usage.output.text
  totals.output.audio += usage.output.audio
}

export function addTotals (into: UsageTotals, from: UsageTotals): void {
  addTokens(into, from)
  into.responses += from.responses
  into.transcription.count += from.transcription.count
  into.transcription.tokens += from.transcription.tokens
  into.transcription.seconds += from.transcription.seconds
  into.durationSeconds += from.durationSeconds
  into.costUSD = roundUSD(into.costUSD + from.costUSD)
}

/** Sums of float prices drift; nano-dollars are precise enough to bill and stable to compare. */
export function roundUSD (usd: number): number {
  return Math.round(usd * 1e9) / 1e9
}
