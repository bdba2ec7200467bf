// maxSessions and maxSessionsPerKey: slots taken in the store before anything is dialed or created upstream.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { StoreUnavailableError, TooManySessionsError } from '../errors.js'
import { GLOBAL_KEY, storeKey, storeUnavailable, type CountingStore, type Lease, type SessionStore } from '../store/types.js'
import { openAccount, type Account, type BudgetSettings } from './budget.js'

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
  /** Seconds in the Retry-After of a 429 or of a 503 while the store is unreachable. */
  retryAfter: number
  budgets?: BudgetSettings
}

/** Who the caller is, as the app knows it: `sessionKey`, else the credential, else the IP. */
function rawCallerKey (options: CallerKeyOptions, request: FastifyRequest, credential: string | undefined): string {
  return options.sessionKey?.(request) ?? credential ?? request.ip
}

/** Who the caller is for per-key limits, call ownership and `terminate({ key })`: hashed. */
export function callerKey (options: CallerKeyOptions, request: FastifyRequest, credential: string | undefined): string {
  return storeKey(rawCallerKey(options, request, credential))
}

/** The slots a session holds: renewed on the shared heartbeat, given back at its end; and who holds them. */
export interface Slots {
  renew (): void
  release (): void
  /** The caller's key (hashed): what `terminate({ key })` matches. */
  readonly key: string
  /** The caller's budget, when `budgets` sets a limit for it. */
  readonly account?: Account
}

const nothing = (): void => {}

// Its own class, so what a session keeps until it ends holds the leases and the logger, not the request and
// reply that acquireSlots sees.
class Held implements Slots {
  readonly #leases: Lease[] = []
  readonly #log: FastifyBaseLogger
  readonly key: string
  readonly account: Account | undefined

  constructor (log: FastifyBaseLogger, key: string, account: Account | undefined) {
    this.#log = log
    this.key = key
    this.account = account
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
 * Admits one provider websocket (or call) for a caller: its budget (402 when spent), then its slots, as leases
 * of `leaseTTL`; returns them, to renew and to give back (once). `callId`: a client's attach to a registered
 * call, which also takes one of the call's `maxAttachesPerCall`. Throws 429 when full, 503 when the store cannot
 * be reached (both with Retry-After on `reply`, before an upgrade).
 */
export async function acquireSlots (options: SlotOptions, request: FastifyRequest, reply: FastifyReply | undefined, credential: string | undefined, callId?: string): Promise<Slots> {
  const { store, maxSessions, maxSessionsPerKey, maxAttachesPerCall, leaseTTL } = options
  const raw = rawCallerKey(options, request, credential)
  const key = storeKey(raw)
  const retry = (): void => { reply?.header('retry-after', String(options.retryAfter)) } // after an upgrade (GPT-Live), there is no reply
  let account: Account | undefined
  try {
    account = await openAccount(options.budgets, request, raw)
  } catch (err) {
    if (err instanceof StoreUnavailableError) retry()
    throw err
  }
  const held = new Held(request.log, key, account)
  const take = async (slotKey: string, limit: number, scope: string): Promise<void> => {
    if (limit === Infinity) return
    let lease: Lease | undefined
    try {
      lease = leaseOf(store, slotKey, await store.acquire(slotKey, limit, leaseTTL))
    } catch (err) {
      held.release()
      retry()
      throw storeUnavailable(err)
    }
    if (lease === undefined) {
      held.release()
      retry()
      throw new TooManySessionsError(scope)
    }
    held.add(lease)
  }
  if (callId !== undefined) await take(attachKey(callId), maxAttachesPerCall, 'attached to this call')
  await take(GLOBAL_KEY, maxSessions, 'on this server')
  await take(key, maxSessionsPerKey, 'for this caller')
  return held
}
