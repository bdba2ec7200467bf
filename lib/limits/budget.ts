// Budgets with a live cut-off: USD a caller may spend per window, debited atomically in the store as usage
// arrives (time-billed sessions as the time passes), checked before any dial; a key that crosses its limit has
// every live session, on every replica, cut.
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { BudgetExceededError, InvalidOptionError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import { storeKey, storeUnavailable, type BudgetStore } from '../store/types.js'

export interface BudgetOptions {
  /** USD `key` may spend per window; undefined for no limit on it. Read at every session start. */
  limitUSD: (key: string) => number | undefined | Promise<number | undefined>
  /** The window, in milliseconds (fixed windows from the epoch: 86 400 000 is a UTC day). */
  window: number
  /** The key spending is kept under. Default: the session key (`sessionKey`, else the credential, else the IP). */
  key?: (request: FastifyRequest) => string | undefined
  /**
   * Let a session whose model has no `pricing` entry open while its caller has a budget: it spends without
   * counting. Default false: such a session is refused with 402 FST_REALTIME_UNPRICED_MODEL before any dial.
   */
  allowUnpriced?: boolean
}

/** `budgets` after validation, with the store that keeps the totals and this replica's ledger. */
export interface BudgetSettings extends BudgetOptions {
  store: BudgetStore
  ledger: Ledger
}

/** Checks `budgets` once, at registration, with the store that must keep the totals. */
export function budgetSettings (budgets: unknown, store: object): Omit<BudgetSettings, 'ledger'> | undefined {
  if (budgets === undefined) return undefined
  if (budgets === null || typeof budgets !== 'object') throw new InvalidOptionError('"budgets" must be { limitUSD(key), window, key? }')
  refuseUnknownKeys(budgets, ['limitUSD', 'window', 'key', 'allowUnpriced'] satisfies Array<keyof BudgetOptions>, 'budgets.')
  const { limitUSD, window, key, allowUnpriced = false } = budgets as BudgetOptions
  if (typeof allowUnpriced !== 'boolean') throw new InvalidOptionError('"budgets.allowUnpriced" must be true or false')
  if (typeof limitUSD !== 'function') throw new InvalidOptionError('"budgets.limitUSD" must be a function (key) => USD or undefined')
  if (typeof window !== 'number' || !Number.isInteger(window) || window <= 0) throw new InvalidOptionError('"budgets.window" must be a positive number of milliseconds, such as 86_400_000 for a day')
  if (key !== undefined && typeof key !== 'function') throw new InvalidOptionError('"budgets.key" must be a function (request) => string')
  const budgetStore = store as Partial<BudgetStore>
  if (typeof budgetStore.spent !== 'function' || typeof budgetStore.debit !== 'function') {
    throw new InvalidOptionError('"store" must also have spent(key, window) and debit(key, usd, window) when "budgets" is on: MemoryStore and RedisStore do')
  }
  return { limitUSD, window, key, allowUnpriced, store: budgetStore as BudgetStore }
}

/** How often debits the store could not take are tried again (ms). */
export const DEBIT_RETRY = 1000
/** The most spent keys a replica remembers per window (the oldest forgotten first). */
const MAX_REMEMBERED = 100_000

/**
 * This replica's side of the budgets. Debits the store could not take (Redis unreachable) are kept and debited
 * when it answers again; the key is then cut if that brings it over. Keys cut in the current window are
 * remembered with the total that crossed the limit, so a store that forgot them (a flush, a restart without
 * persistence) is raised back to it when the key tries again.
 */
export class Ledger {
  readonly #store: BudgetStore
  readonly #window: number
  /** Cuts `key`'s sessions here and on every replica (never rejects). */
  readonly #spent: (key: string, total: number) => unknown
  readonly #log: FastifyBaseLogger
  readonly #unsent = new Map<string, { usd: number, limit: number, window: number }>()
  readonly #cut = new Map<string, { total: number, window: number }>()
  #timer: NodeJS.Timeout | undefined
  #failing = false

  constructor (store: BudgetStore, window: number, spent: (key: string, total: number) => unknown, log: FastifyBaseLogger) {
    this.#store = store
    this.#window = window
    this.#spent = spent
    this.#log = log
  }

  #now (): number {
    return Math.floor(Date.now() / this.#window)
  }

  /** Debits `usd` to `key` (negative: a refund); a total at or over `limit` cuts the key everywhere. */
  debit (key: string, limit: number, usd: number): void {
    // A store that throws synchronously is handled like one that rejects: a debit never breaks the relay.
    new Promise<number>((resolve) => { resolve(this.#store.debit(key, usd, this.#window)) }).then((total) => {
      if (this.#failing && this.#unsent.size === 0) {
        this.#failing = false
        this.#log.info('the budget store answers again: the debits it missed are counted')
      }
      const owed = total + this.unsent(key)
      if (usd > 0 && owed >= limit) {
        this.remember(key, owed)
        this.#spent(key, owed)
      }
    }, (err: unknown) => { this.#keep(key, limit, usd, err) })
  }

  #keep (key: string, limit: number, usd: number, err: unknown): void {
    if (!this.#failing) {
      this.#failing = true
      this.#log.error({ err }, 'a budget debit failed: it is kept, and debited when the store answers again')
    }
    const window = this.#now()
    const kept = this.#unsent.get(key)
    if (kept?.window === window) kept.usd += usd
    else this.#unsent.set(key, { usd, limit, window })
    this.#timer ??= setInterval(() => { this.#retry() }, DEBIT_RETRY).unref()
  }

  #retry (): void {
    const window = this.#now()
    const due = [...this.#unsent]
    this.#unsent.clear()
    clearInterval(this.#timer)
    this.#timer = undefined
    for (const [key, { usd, limit, window: spentIn }] of due) {
      if (spentIn === window) this.debit(key, limit, usd)
      else this.#log.warn({ usd }, 'budget debits kept past the end of their window are dropped: the window they count against is over')
    }
  }

  /** USD this replica debited to `key` in the current window that the store has not counted yet. */
  unsent (key: string): number {
    const kept = this.#unsent.get(key)
    return kept?.window === this.#now() ? kept.usd : 0
  }

  /** `key` was cut with `total` spent (here, or on a replica that said so). */
  remember (key: string, total: number): void {
    if (!Number.isFinite(total)) return
    const window = this.#now()
    const known = this.#cut.get(key)
    this.#cut.delete(key)
    this.#cut.set(key, { total: known?.window === window ? Math.max(known.total, total) : total, window })
    for (const [old, entry] of this.#cut) {
      if (this.#cut.size <= MAX_REMEMBERED && entry.window === window) break
      this.#cut.delete(old)
    }
  }

  /**
   * What `key` has spent in the current window, from the store's total: with what this replica has not sent
   * yet, and never less than a cut it remembers (a store that forgot it is raised back to it).
   */
  reckon (key: string, stored: number): number {
    const cut = this.#cut.get(key)
    const remembered = cut?.window === this.#now() ? cut.total : 0
    if (stored < remembered) {
      this.#log.warn('the budget store had forgotten a spent key (flushed, or restarted without persistence): its total is raised back')
      const store = this.#store
      new Promise((resolve) => {
        resolve(store.raise === undefined ? store.debit(key, remembered - stored, this.#window) : store.raise(key, remembered, this.#window))
      }).catch(() => {}) // tried again when the key next tries to start
    }
    return Math.max(stored, remembered) + this.unsent(key)
  }

  close (): void {
    clearInterval(this.#timer)
    if (this.#unsent.size > 0) this.#log.error({ keys: this.#unsent.size }, 'closing with budget debits the store never took: they are not counted')
  }
}

/** One key's spending, held by each of its sessions. */
export class Account {
  readonly key: string
  readonly limit: number
  readonly #ledger: Ledger

  constructor (ledger: Ledger, key: string, limit: number) {
    this.#ledger = ledger
    this.key = key
    this.limit = limit
  }

  /** Debits `usd` (negative: a refund); a total at or over the limit cuts the key everywhere. */
  charge (usd: number): void {
    if (usd !== 0) this.#ledger.debit(this.key, this.limit, usd)
  }
}

/**
 * The caller's account, refused with 402 when its window is already spent. Undefined without `budgets`, or when
 * `limitUSD` sets no limit for the key.
 */
export async function openAccount (settings: BudgetSettings | undefined, request: FastifyRequest, callerKey: string): Promise<Account | undefined> {
  if (settings === undefined) return undefined
  const raw = settings.key?.(request) ?? callerKey
  const limit = await settings.limitUSD(raw)
  if (limit === undefined) return undefined
  const key = storeKey(raw)
  let spent: number
  try {
    spent = await settings.store.spent(key, settings.window)
  } catch (err) {
    throw storeUnavailable(err)
  }
  if (settings.ledger.reckon(key, spent) >= limit) throw new BudgetExceededError()
  return new Account(settings.ledger, key, limit)
}
