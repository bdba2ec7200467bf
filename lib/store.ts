// Shared state behind one small store interface: session counters for the limits (a slot is taken before
// dialing and given back when the session ends) and the call registry of the signaling routes. In memory by
// default; a shared store (Redis, ...) when the app runs several processes.
import { createHash } from 'node:crypto'

/** A WebRTC call created through `POST {path}/calls`: what a later sideband attach is routed by. */
export interface CallRecord {
  /** Provider name in the registry. */
  provider: string
  /** Upstream model. */
  model?: string
  /** The model as the client named it. */
  requestedModel?: string
  /** storeKey() of the caller who created it: only the same caller may attach or hang up. */
  owner: string
}

export interface CallStore {
  /** Remembers a call for `ttl` milliseconds. */
  setCall (callId: string, call: CallRecord, ttl: number): void | Promise<void>
  getCall (callId: string): CallRecord | undefined | Promise<CallRecord | undefined>
  deleteCall (callId: string): void | Promise<void>
}

export interface SessionStore extends Partial<CallStore> {
  /** Takes a slot under `key` if fewer than `limit` are taken; resolves whether it did. */
  acquire (key: string, limit: number): boolean | Promise<boolean>
  /** Gives a slot back. */
  release (key: string): void | Promise<void>
}

export interface MemoryStoreOptions {
  /** Calls remembered at once; the oldest is forgotten first. Default 10 000. */
  maxCalls?: number
}

export const DEFAULT_MAX_CALLS = 10_000

export class MemoryStore implements SessionStore, CallStore {
  readonly #counts = new Map<string, number>()
  // Insertion order is age order: expired and evicted calls come off the front.
  readonly #calls = new Map<string, { call: CallRecord, expires: number }>()
  readonly #maxCalls: number

  constructor (options: MemoryStoreOptions = {}) {
    this.#maxCalls = options.maxCalls ?? DEFAULT_MAX_CALLS
  }

  acquire (key: string, limit: number): boolean {
    const count = this.#counts.get(key) ?? 0
    if (count >= limit) return false
    this.#counts.set(key, count + 1)
    return true
  }

  release (key: string): void {
    const count = (this.#counts.get(key) ?? 1) - 1
    if (count <= 0) this.#counts.delete(key)
    else this.#counts.set(key, count)
  }

  /** Slots taken under `key` (for tests and introspection). */
  count (key: string): number {
    return this.#counts.get(key) ?? 0
  }

  setCall (callId: string, call: CallRecord, ttl: number): void {
    const now = Date.now()
    this.#calls.delete(callId)
    for (const [id, entry] of this.#calls) {
      if (entry.expires > now && this.#calls.size < this.#maxCalls) break
      this.#calls.delete(id)
    }
    this.#calls.set(callId, { call, expires: now + ttl })
  }

  getCall (callId: string): CallRecord | undefined {
    const entry = this.#calls.get(callId)
    if (entry === undefined) return undefined
    if (entry.expires > Date.now()) return entry.call
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
}

/** Store keys never hold a raw credential: a shared store is one more place a secret could leak from. */
export function storeKey (key: string): string {
  return `key:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`
}

export const GLOBAL_KEY = 'global'
