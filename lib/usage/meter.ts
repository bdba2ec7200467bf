// Prices and sums the usage a session's protocol reads from server events (protocols/), and bills per-minute
// sessions by their duration; each becomes a typed record for onUsage, the summary and the metrics.
import type { Json } from '../json.js'
import type { Billing } from '../providers/types.js'
import type { UsageReport } from '../protocols/types.js'
import { bounded, isCount, MAX_SECONDS } from './numbers.js'
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
  /** The provider reported a count that is not sane (NaN, negative, past the bounds of numbers.ts): it was bounded. */
  invalid? (): void
  /** A cumulative total (GPT-Live seconds) already billed for this provider session by an earlier attach. */
  carried?: number
  /** The cumulative total billed so far rose to `total` (kept with the call, for a later attach). */
  billedTotal? (total: number): void
}

export class Meter {
  readonly totals: UsageTotals = emptyTotals()
  readonly #ctx: MeterContext
  readonly #price: ModelPricing | undefined
  /** The last cumulative total a provider reported (GPT-Live), and whether it was the session's final one. */
  #totalSeconds: number | undefined = undefined
  #final = false

  constructor (ctx: MeterContext) {
    this.#ctx = ctx
    this.#totalSeconds = ctx.carried
    this.#price = priceFor(ctx.pricing, ctx.provider, [ctx.model, ctx.requestedModel])
  }

  /** Usage the session's protocol read from a server event: priced, summed and emitted as a record. */
  record (report: UsageReport): void {
    if (report.kind === 'response') this.#response(report.responseId, report.usage, report.model)
    else if (report.kind === 'seconds') this.#seconds(report.totalSeconds, report.final)
    else this.#transcription(report.itemId, report.usage)
  }

  /**
   * Whether the provider's cumulative usage is final: undefined when it reports none, false when the session
   * ended on a snapshot (its last total is kept), true after its closing report.
   */
  get final (): boolean | undefined {
    return this.#totalSeconds === undefined ? undefined : this.#final
  }

  /** A cumulative total: the record bills the increase since the last one, so records add up to the last total. */
  #seconds (total: number, final: boolean): void {
    // A total that is no sane count is skipped, not bounded: the next report's total still bills what it adds.
    if (!isCount(total, MAX_SECONDS)) return this.#ctx.invalid?.()
    const increase = total - (this.#totalSeconds ?? 0)
    this.#totalSeconds = Math.max(total, this.#totalSeconds ?? 0)
    this.#final ||= final
    if (increase <= 0) return // a repeated (or late, smaller) snapshot bills nothing
    this.#ctx.billedTotal?.(total)
    const record: DurationUsage = { kind: 'duration', ...this.#who(), seconds: increase, totalSeconds: total }
    if (this.#price !== undefined) record.costUSD = durationCost(this.#price, increase)
    this.totals.durationSeconds += increase
    this.#add(record)
  }

  /** The duration record of a per-minute-billed session; once, at close. */
  close (seconds: number): void {
    const record: DurationUsage = { kind: 'duration', ...this.#who(), seconds }
    if (this.#price !== undefined) record.costUSD = durationCost(this.#price, seconds)
    this.totals.durationSeconds += seconds
    this.#add(record)
  }

  /** Whether `pricing` has an entry for the session's model. */
  get priced (): boolean {
    return this.#price !== undefined
  }

  /**
   * Whether the provider reported usage that bills something: a report of zero tokens or `seconds: 0` is no
   * reason to leave the input audio a session sent unbilled.
   */
  get reported (): boolean {
    const { totalTokens, transcription, durationSeconds } = this.totals
    return totalTokens + transcription.tokens + transcription.seconds + durationSeconds > 0
  }

  /**
   * Seconds of input audio the client sent, for a session whose provider reported no usage: priced per minute,
   * else at the transcription rate per second.
   */
  measured (seconds: number): void {
    const record: DurationUsage = { kind: 'duration', ...this.#who(), seconds, measuredFrom: 'input-audio' }
    const price = this.#price
    if (price !== undefined) record.costUSD = price.perMinute === undefined ? transcriptionCost(price, { seconds }) : durationCost(price, seconds)
    this.totals.durationSeconds += seconds
    this.#add(record)
  }

  #who (): { sessionId: string, provider: string, model?: string } {
    const { sessionId, provider, model } = this.#ctx
    return { sessionId, provider, model }
  }

  #response (responseId: string | undefined, usage: Json, backend: string | undefined): void {
    const record: ResponseUsage = { kind: 'response', ...this.#who(), responseId, ...tokenUsage(usage, this.#ctx.invalid) }
    // A delegated backend model is priced by its own entry, not the session's.
    const price = backend === undefined ? this.#price : priceFor(this.#ctx.pricing, this.#ctx.provider, [backend])
    if (backend !== undefined) record.model = backend
    if (price !== undefined) record.costUSD = tokenCost(price, record, cachedAudioTokens(usage))
    this.totals.responses++
    addTokens(this.totals, record)
    this.#add(record)
  }

  #transcription (itemId: string | undefined, usage: Json): void {
    const record: TranscriptionUsage = { kind: 'transcription', ...this.#who(), itemId }
    if (usage.type === 'duration') {
      record.seconds = bounded(usage.seconds, MAX_SECONDS, this.#ctx.invalid)
      this.totals.transcription.seconds += record.seconds
    } else {
      const tokens = tokenUsage(usage, this.#ctx.invalid)
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
