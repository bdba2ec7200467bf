// The default store, in this process: leased slots per key and the call registry, both expiring; budgets; and
// the fleet bus of a fleet of one.
import { CallRegistryFullError } from '../errors.js'
import type { BudgetStore, CallRecord, CallStore, FleetBus, FleetMessage, Lease, SessionStore } from './types.js'

export interface MemoryStoreOptions {
  /** Live calls remembered at once; past it a new call is refused (503), never a live one forgotten. Default 10 000. */
  maxCalls?: number
}

export const DEFAULT_MAX_CALLS = 10_000
const BUDGET_SWEEP = 10_000

/** One key's slots: the expiry of each lease (Infinity for a ttl of 0). */
type Slots = Map<MemoryLease, number>

class MemoryLease implements Lease {
  readonly #slots: Slots
  readonly #ttl: number
  readonly #key: string
  readonly #store: Map<string, Slots>

  constructor (store: Map<string, Slots>, key: string, slots: Slots, ttl: number) {
    this.#store = store
    this.#key = key
    this.#slots = slots
    this.#ttl = ttl
    slots.set(this, this.#expiry())
  }

  #expiry (): number {
    return this.#ttl > 0 ? Date.now() + this.#ttl : Infinity
  }

  renew (): void {
    // A lease that expired and was swept stays gone: its slot may be someone else's now.
    if (this.#slots.has(this)) this.#slots.set(this, this.#expiry())
  }

  release (): void {
    if (!this.#slots.delete(this)) return
    if (this.#slots.size === 0 && this.#store.get(this.#key) === this.#slots) this.#store.delete(this.#key)
  }
}

export class MemoryStore implements SessionStore, CallStore, BudgetStore, FleetBus {
  readonly #slots = new Map<string, Slots>()
  // Insertion order is age order: expired and evicted calls come off the front.
  readonly #calls = new Map<string, CallRecord & { expiresAt: number }>()
  readonly #maxCalls: number
  /** Budget totals by key and window: the window they were spent in, and the USD. */
  readonly #budgets = new Map<string, { window: number, usd: number }>()
  readonly #handlers: Array<(message: FleetMessage) => void> = []

  constructor (options: MemoryStoreOptions = {}) {
    this.#maxCalls = options.maxCalls ?? DEFAULT_MAX_CALLS
  }

  acquire (key: string, limit: number, ttl: number): Lease | undefined {
    let slots = this.#slots.get(key)
    if (slots === undefined) this.#slots.set(key, slots = new Map())
    if (this.#live(slots) >= limit) return undefined
    return new MemoryLease(this.#slots, key, slots, ttl)
  }

  /** Unexpired slots held under `key` (for tests and introspection). */
  count (key: string): number {
    const slots = this.#slots.get(key)
    return slots === undefined ? 0 : this.#live(slots)
  }

  /** Forgets the expired leases of a key (their process stopped renewing them) and counts the rest. */
  #live (slots: Slots): number {
    const now = Date.now()
    for (const [lease, expires] of slots) if (expires <= now) slots.delete(lease)
    return slots.size
  }

  /** Remembers a call; refuses (CallRegistryFullError) when maxCalls live calls are held: a live call is never forgotten. */
  setCall (callId: string, call: CallRecord, ttl: number): void {
    const now = Date.now()
    this.#calls.delete(callId)
    // Expired calls come off the front; a full registry is swept whole before it refuses.
    const full = this.#calls.size >= this.#maxCalls
    for (const [id, entry] of this.#calls) {
      if (entry.expiresAt <= now) this.#calls.delete(id)
      else if (!full) break
    }
    if (this.#calls.size >= this.#maxCalls) throw new CallRegistryFullError(this.#maxCalls)
    this.#calls.set(callId, { ...call, expiresAt: now + ttl })
  }

  getCall (callId: string): CallRecord | undefined {
    const entry = this.#calls.get(callId)
    if (entry === undefined) return undefined
    if (entry.expiresAt > Date.now()) return entry
    this.#calls.delete(callId)
    return undefined
  }

  deleteCall (callId: string): void {
    this.#calls.delete(callId)
  }

  /** Calls remembered now, expired ones included until they are swept (for tests and introspection). */
  get calls (): number {
    return this.#calls.size
  }

  #budget (key: string, window: number): { window: number, usd: number } {
    const current = Math.floor(Date.now() / window)
    const id = `${key}:${window}`
    let entry = this.#budgets.get(id)
    if (entry === undefined || entry.window !== current) {
      // Keys of past windows are forgotten once many are held: the map stays as large as one window's callers.
      if (this.#budgets.size >= BUDGET_SWEEP) for (const [k, e] of this.#budgets) if (e.window !== current) this.#budgets.delete(k)
      this.#budgets.set(id, entry = { window: current, usd: 0 })
    }
    return entry
  }

  spent (key: string, window: number): number {
    return this.#budget(key, window).usd
  }

  debit (key: string, usd: number, window: number): number {
    const entry = this.#budget(key, window)
    entry.usd += usd
    return entry.usd
  }

  publish (message: FleetMessage): void {
    for (const handler of this.#handlers) handler(message)
  }

  subscribe (handler: (message: FleetMessage) => void): void {
    this.#handlers.push(handler)
  }
}
