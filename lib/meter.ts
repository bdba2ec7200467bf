// Watches provider frames for usage without parsing audio: a byte search for the two event types that
// carry usage, then JSON.parse of those few frames only.
import { durationCost, priceFor, tokenCost, transcriptionCost, type ModelPricing, type Pricing } from './pricing.js'
import {
  addTokens, cachedAudioTokens, emptyTotals, roundUSD, tokenUsage,
  type DurationUsage, type ResponseUsage, type TranscriptionUsage, type UsageRecord, type UsageTotals
} from './usage.js'

export type Billing = 'tokens' | 'duration'

export interface MeterContext {
  sessionId: string
  provider: string
  model?: string
  requestedModel?: string
  billing: Billing
  pricing?: Pricing
  emit (record: UsageRecord): void
}

// Base64 audio cannot contain '.' or '"', so these needles never match inside an audio payload.
const RESPONSE_DONE = Buffer.from('"response.done"')
const TRANSCRIPTION_DONE = Buffer.from('.input_audio_transcription.completed"')
// The common case, audio and transcript deltas, leads with its type: no response.output_* event carries usage.
const DELTA_PREFIX = Buffer.from('{"type":"response.output_')

type Json = Record<string, unknown>

/** The usage event `data` may be, found by a byte search (no parse); undefined for the rest, audio included. */
export function usageEventType (data: Buffer): UsageEventType | undefined {
  if (data.length > DELTA_PREFIX.length && DELTA_PREFIX.compare(data, 0, DELTA_PREFIX.length) === 0) return undefined
  if (data.indexOf(RESPONSE_DONE) !== -1) return 'response.done'
  if (data.indexOf(TRANSCRIPTION_DONE) !== -1) return 'conversation.item.input_audio_transcription.completed'
  return undefined
}

export type UsageEventType = 'response.done' | 'conversation.item.input_audio_transcription.completed'

export class Meter {
  readonly totals: UsageTotals = emptyTotals()
  readonly #ctx: MeterContext
  readonly #price: ModelPricing | undefined

  constructor (ctx: MeterContext) {
    this.#ctx = ctx
    this.#price = priceFor(ctx.pricing, ctx.provider, [ctx.model, ctx.requestedModel])
  }

  /** A provider text frame `usageEventType` found to be `type`: parsed, and recorded if it carries usage. */
  record (data: Buffer, type: UsageEventType): void {
    let event: Json
    try {
      event = JSON.parse(data.toString()) as Json
    } catch {
      return // not ours to judge; the client gets the frame as it was
    }
    if (event.type !== type) return
    if (type === 'response.done') this.#response(event)
    else this.#transcription(event)
  }

  /** The duration record of a per-minute-billed session; once, at close. */
  close (seconds: number): void {
    const record: DurationUsage = { kind: 'duration', ...this.#who(), seconds }
    if (this.#price !== undefined) record.costUSD = durationCost(this.#price, seconds)
    this.totals.durationSeconds += seconds
    this.#add(record)
  }

  #who (): { sessionId: string, provider: string, model?: string } {
    const { sessionId, provider, model } = this.#ctx
    return { sessionId, provider, model }
  }

  #response (event: Json): void {
    const response = (event.response ?? {}) as Json
    if (response.usage === undefined || response.usage === null) return
    const record: ResponseUsage = { kind: 'response', ...this.#who(), responseId: response.id as string | undefined, ...tokenUsage(response.usage) }
    if (this.#price !== undefined) record.costUSD = tokenCost(this.#price, record, cachedAudioTokens(response.usage))
    this.totals.responses++
    addTokens(this.totals, record)
    this.#add(record)
  }

  #transcription (event: Json): void {
    const usage = event.usage as Json | undefined
    if (usage === undefined || usage === null || typeof usage !== 'object') return
    const record: TranscriptionUsage = { kind: 'transcription', ...this.#who(), itemId: event.item_id as string | undefined }
    if (usage.type === 'duration') {
      record.seconds = typeof usage.seconds === 'number' ? usage.seconds : 0
      this.totals.transcription.seconds += record.seconds
    } else {
      const tokens = tokenUsage(usage)
      record.tokens = tokens.totalTokens
      record.inputTokens = tokens.inputTokens
      record.outputTokens = tokens.outputTokens
      this.totals.transcription.tokens += tokens.totalTokens
    }
    if (this.#price !== undefined) record.costUSD = transcriptionCost(this.#price, record)
    this.totals.transcription.count++
    this.#add(record)
  }

  #add (record: UsageRecord): void {
    if (record.costUSD !== undefined) this.totals.costUSD = roundUSD(this.totals.costUSD + record.costUSD)
    this.#ctx.emit(record)
  }
}
