// A session's spending against its caller's budget: tokens as they are reported; time (per-minute providers,
// GPT-Live) estimated each heartbeat ahead of the provider's report, then trued up by the records that bill it.
import type { Account } from '../limits/budget.js'
import type { UsageRecord } from '../usage/records.js'

export class Spend {
  readonly #account: Account
  /** Billed by the time that passes: the heartbeat's estimates are debited ahead of the provider's report. */
  readonly #byTime: boolean
  /** USD debited for time so far (heartbeat estimates or duration records), and billed by records. */
  #covered = 0
  #billed = 0

  constructor (account: Account, byTime: boolean) {
    this.#account = account
    this.#byTime = byTime
  }

  /** A usage record: tokens at once; time as far as the heartbeat estimates have not covered it. */
  record (record: UsageRecord): void {
    const cost = record.costUSD
    if (cost === undefined) return
    if (record.kind !== 'duration' || record.measuredFrom !== undefined || !this.#byTime) return this.#account.charge(cost)
    this.#billed += cost
    if (this.#billed > this.#covered) {
      this.#account.charge(this.#billed - this.#covered)
      this.#covered = this.#billed
    }
  }

  /** Each heartbeat: `estimate`, the session's time so far at its per-minute price, debited ahead of the report. */
  estimate (estimate: number): void {
    if (!this.#byTime || estimate <= this.#covered) return
    this.#account.charge(estimate - this.#covered)
    this.#covered = estimate
  }

  /** At the end: estimates beyond what was finally billed go back, when the session was billed in full. */
  settle (billedInFull: boolean): void {
    if (billedInFull && this.#covered > this.#billed) this.#account.charge(this.#billed - this.#covered)
  }

  get byTime (): boolean {
    return this.#byTime
  }
}
