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

/** `budgets` after validation, with the store that keeps the totals. */
export interface BudgetSettings extends BudgetOptions {
  store: BudgetStore
  /** Called when a key's spending reaches its limit: cut its sessions here and on every replica (never rejects). */
  spent: (key: string) => unknown
}

/** Checks `budgets` once, at registration, with the store that must keep the totals. */
export function budgetsFrom (budgets: unknown, store: object): Omit<BudgetSettings, 'spent'> | undefined {
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

/**
 * One key's spending, held by each of its sessions: debits are atomic in the store, and the key is cut when a
 * debit brings its total to the limit (by whichever session, on whichever replica, made it).
 */
export class Account {
  readonly key: string
  readonly limit: number
  readonly #settings: BudgetSettings
  readonly #log: FastifyBaseLogger
  #failed = false

  constructor (settings: BudgetSettings, key: string, limit: number, log: FastifyBaseLogger) {
    this.#settings = settings
    this.key = key
    this.limit = limit
    this.#log = log
  }

  /** Debits `usd` (negative: a refund); a total at or over the limit cuts the key everywhere. */
  charge (usd: number): void {
    if (usd === 0) return
    const { store, window } = this.#settings
    // A store that throws synchronously is handled like one that rejects: a debit never breaks the relay.
    new Promise<number>((resolve) => { resolve(store.debit(this.key, usd, window)) }).then((total) => {
      if (usd > 0 && total >= this.limit) this.#settings.spent(this.key)
    }, (err: unknown) => {
      if (this.#failed) return
      this.#failed = true
      this.#log.error({ err }, 'budget debit failed; this session\'s spending is not counted')
    })
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
  if (spent >= limit) throw new BudgetExceededError()
  return new Account(settings, key, limit, request.log)
}
