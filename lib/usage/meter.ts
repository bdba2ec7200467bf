// Prices and sums the usage a session's protocol reads from server events (protocols/), and bills per-minute
// sessions by their duration; each becomes a typed record for onUsage, the summary and the metrics.
import type { Json } from '../json.js'
import type { Billing } from '../providers/types.js'
import type { UsageReport } from '../protocols/types.js'
import { durationCost, priceFor, tokenCost, transcriptionCost, type ModelPricing, type Pricing } from './pricing.js'
import {
  addTokens, cachedAudioTokens, emptyTotals, roundUSD, tokenUsage,
  type DurationUsage, type ResponseUsage, type TranscriptionUsage, type UsageRecord, type UsageTotals
} from './records.js'

export interface MeterContext {
  sessionId: string
  provider: string
  model?: string
  requestedModel?: string
  billing: Billing
  pricing?: Pricing
  emit (record: UsageRecord): void
}

export class Meter {
  readonly totals: UsageTotals = emptyTotals()
  readonly #ctx: MeterContext
  readonly #price: ModelPricing | undefined

  constructor (ctx: MeterContext) {
    this.#ctx = ctx
    this.#price = priceFor(ctx.pricing, ctx.provider, [ctx.model, ctx.requestedModel])
  }

  /** Usage the session's protocol read from a server event: priced, summed and emitted as a record. */
  record (report: UsageReport): void {
    if (report.kind === 'response') this.#response(report.responseId, report.usage)
    else this.#transcription(report.itemId, report.usage)
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

  #response (responseId: string | undefined, usage: Json): void {
    const record: ResponseUsage = { kind: 'response', ...this.#who(), responseId, ...tokenUsage(usage) }
    if (this.#price !== undefined) record.costUSD = tokenCost(this.#price, record, cachedAudioTokens(usage))
    this.totals.responses++
    addTokens(this.totals, record)
    this.#add(record)
  }

  #transcription (itemId: string | undefined, usage: Json): void {
    const record: TranscriptionUsage = { kind: 'transcription', ...this.#who(), itemId }
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
