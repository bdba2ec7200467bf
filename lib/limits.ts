// Session counters behind a small store interface: in memory by default, shared (Redis, ...) when the app
// runs several processes. A slot is taken before dialing and given back when the session ends.
import { createHash } from 'node:crypto'

export interface SessionStore {
  /** Takes a slot under `key` if fewer than `limit` are taken; resolves whether it did. */
  acquire (key: string, limit: number): boolean | Promise<boolean>
  /** Gives a slot back. */
  release (key: string): void | Promise<void>
}

export class MemoryStore implements SessionStore {
  readonly #counts = new Map<string, number>()

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
}

/** Store keys never hold a raw credential: a shared store is one more place a secret could leak from. */
export function storeKey (key: string): string {
  return `key:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`
}

export const GLOBAL_KEY = 'global'
