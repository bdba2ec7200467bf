// The store behind the limits and the call registry: one small interface, in memory by default (MemoryStore),
// shared (Redis) when the app runs several processes. Slots are leases: a process that dies stops renewing
// its leases and its slots come back when they expire.
import { createHash } from 'node:crypto'
import { StoreUnavailableError } from '../errors.js'

/** A slot taken in the store. */
export interface Lease {
  /** Keeps the slot another `ttl` (the session renews it on the shared heartbeat). */
  renew (): void | Promise<void>
  /** Gives the slot back; harmless twice. */
  release (): void | Promise<void>
}

/** A WebRTC call created through `POST {path}/calls` or `POST {live.path}`: what a later attach or hangup is routed by. */
export interface CallRecord {
  /** Provider name in the registry. */
  provider: string
  /** Upstream model. */
  model?: string
  /** The model as the client named it. */
  requestedModel?: string
  /** storeKey() of the caller who created it: only the same caller may attach or hang up. */
  owner: string
  /** `live` for a GPT-Live WebRTC session (`POST {live.path}`); absent for a realtime call. */
  protocol?: 'live'
  /** When the record expires (ms since the epoch), set by the store from the ttl. */
  expiresAt?: number
  /**
   * A GPT-Live session's cumulative `usage.seconds` billed so far, across the attaches that metered it (on any
   * replica): a re-attach bills only what the provider's total adds to it.
   */
  billedSeconds?: number
}

export interface CallStore {
  /** Remembers a call for `ttl` milliseconds. */
  setCall (callId: string, call: CallRecord, ttl: number): void | Promise<void>
  getCall (callId: string): CallRecord | undefined | Promise<CallRecord | undefined>
  deleteCall (callId: string): void | Promise<void>
}

export interface SessionStore extends Partial<CallStore> {
  /**
   * Takes a slot under `key` if fewer than `limit` unexpired slots are held there; the slot expires `ttl`
   * milliseconds from now unless renewed (0: never). Resolves with its lease, or undefined when full.
   */
  acquire (key: string, limit: number, ttl: number): Lease | undefined | Promise<Lease | undefined>
}

/** USD spent per key over fixed windows (`budgets`): atomic debits, so concurrent sessions cannot overspend by racing. */
export interface BudgetStore {
  /** USD debited to `key` in the current window of `window` milliseconds. */
  spent (key: string, window: number): number | Promise<number>
  /** Adds `usd` to `key`'s current window atomically and resolves with the window's new total. */
  debit (key: string, usd: number, window: number): number | Promise<number>
  /**
   * Raises `key`'s current window total to `usd` if it is lower, and resolves with the total: how a replica
   * re-asserts a spent key that a shared store forgot (a flush, a restart without persistence). Optional: a
   * store without it is raised by a debit of the difference.
   */
  raise? (key: string, usd: number, window: number): number | Promise<number>
}

/**
 * A message to every replica (`app.realtime.terminate()`, a budget spent on one replica). `at` is set on a
 * message heard late (the replica was cut off from the store when it was sent): when it was sent, in ms since
 * the epoch; only sessions that started before then are cut.
 */
export type FleetMessage =
  | { type: 'terminate', key?: string, sessionId?: string, at?: number }
  | { type: 'budget', key: string, /** The key's window total that crossed its limit. */ total?: number, at?: number }

/** Messages between the replicas sharing a store (Redis pub/sub); in memory, this process only. */
export interface FleetBus {
  publish (message: FleetMessage): void | Promise<void>
  /** Called once, at registration: `handler` gets every message, this replica's own included. */
  subscribe (handler: (message: FleetMessage) => void): void | Promise<void>
  /** Stops the subscription (closed with the app). */
  close? (): void | Promise<void>
}

/**
 * The store shape before leases (`acquire(key, limit)` resolving a boolean, `release(key)`): still accepted,
 * without expiry. Deprecated: implement `SessionStore`.
 */
export interface CountingStore extends Partial<CallStore> {
  acquire (key: string, limit: number): boolean | Promise<boolean>
  release (key: string): void | Promise<void>
}

/** Store keys never hold a raw credential: a shared store is one more place a secret could leak from. */
export function storeKey (key: string): string {
  return `key:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`
}

export const GLOBAL_KEY = 'global'

/** A store failure as the 503 it is for a new session: a StoreUnavailableError kept as is, anything else wrapped. */
export function storeUnavailable (err: unknown): Error {
  return err instanceof StoreUnavailableError ? err : new StoreUnavailableError((err as Error).message)
}
