// maxSessions and maxSessionsPerKey: slots taken in the store before anything is dialed or created upstream.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { TooManySessionsError } from '../errors.js'
import { GLOBAL_KEY, storeKey, type CountingStore, type Lease, type SessionStore } from '../store/types.js'

export interface CallerKeyOptions {
  /** Groups sessions for `maxSessionsPerKey` and owns calls. Default: the caller's credential, else its IP. */
  sessionKey?: (request: FastifyRequest) => string | undefined
}

/** The options the session limits read. */
export interface SlotOptions extends CallerKeyOptions {
  store: SessionStore | CountingStore
  /** Milliseconds a slot lives unless renewed (the session renews it each heartbeat); 0: never expires. */
  leaseTTL: number
  maxSessions: number
  maxSessionsPerKey: number
  maxAttachesPerCall: number
  /** Seconds in the Retry-After of a 429. */
  retryAfter: number
}

/** Who the caller is for per-key limits and call ownership: `sessionKey`, else the credential, else the IP. Hashed. */
export function callerKey (options: CallerKeyOptions, request: FastifyRequest, credential: string | undefined): string {
  return storeKey(options.sessionKey?.(request) ?? credential ?? request.ip)
}

/** The slots a session holds: renewed on the shared heartbeat, given back at its end. */
export interface Slots {
  renew (): void
  release (): void
}

const nothing = (): void => {}
const NOTHING_TAKEN: Slots = Object.freeze({ renew: nothing, release: nothing })

// Its own class, so what a session keeps until it ends holds the leases and the logger, not the request and
// reply that acquireSlots sees.
class Held implements Slots {
  readonly #leases: Lease[] = []
  readonly #log: FastifyBaseLogger

  constructor (log: FastifyBaseLogger) {
    this.#log = log
  }

  add (lease: Lease): void {
    this.#leases.push(lease)
  }

  renew (): void {
    for (const lease of this.#leases) {
      Promise.resolve(lease.renew()).catch((err: unknown) => this.#log.error({ err }, 'session store renew failed'))
    }
  }

  release (): void {
    for (const lease of this.#leases.splice(0)) {
      Promise.resolve(lease.release()).catch((err: unknown) => this.#log.error({ err }, 'session store release failed'))
    }
  }
}

/** A store of the shape before leases answers true or false: its slot is a lease that never expires. */
function leaseOf (store: SessionStore | CountingStore, key: string, taken: Lease | boolean | undefined): Lease | undefined {
  if (typeof taken !== 'boolean') return taken
  return taken ? { renew: nothing, release: () => (store as CountingStore).release(key) } : undefined
}

/** The store key counting the client attaches of one call (call ids are the provider's, not secrets). */
export const attachKey = (callId: string): string => `call:${callId}`

/**
 * Takes the slots of one provider websocket (or call) opened for a caller, as leases of `leaseTTL`; returns
 * them, to renew and to give back (once). `callId`: a client's attach to a registered call, which also takes
 * one of the call's `maxAttachesPerCall`. Throws 429 (with Retry-After on `reply`, before an upgrade) when full.
 */
export async function acquireSlots (options: SlotOptions, request: FastifyRequest, reply: FastifyReply | undefined, credential: string | undefined, callId?: string): Promise<Slots> {
  const { store, maxSessions, maxSessionsPerKey, maxAttachesPerCall, leaseTTL } = options
  if (maxSessions === Infinity && maxSessionsPerKey === Infinity && (callId === undefined || maxAttachesPerCall === Infinity)) return NOTHING_TAKEN
  const held = new Held(request.log)
  const take = async (key: string, limit: number, scope: string): Promise<void> => {
    if (limit === Infinity) return
    const lease = leaseOf(store, key, await store.acquire(key, limit, leaseTTL))
    if (lease === undefined) {
      held.release()
      reply?.header('retry-after', String(options.retryAfter)) // after an upgrade (GPT-Live), there is no reply
      throw new TooManySessionsError(scope)
    }
    held.add(lease)
  }
  if (callId !== undefined) await take(attachKey(callId), maxAttachesPerCall, 'attached to this call')
  await take(GLOBAL_KEY, maxSessions, 'on this server')
  if (maxSessionsPerKey !== Infinity) await take(callerKey(options, request, credential), maxSessionsPerKey, 'for this caller')
  return held
}
