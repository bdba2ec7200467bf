// maxSessions and maxSessionsPerKey: slots taken in the store before anything is dialed or created upstream.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { TooManySessionsError } from './errors.js'
import type { Settings } from './options.js'
import { GLOBAL_KEY, storeKey } from './store.js'

/** Who the caller is for per-key limits and call ownership: `sessionKey`, else the credential, else the IP. Hashed. */
export function callerKey (settings: Settings, request: FastifyRequest, credential: string | undefined): string {
  return storeKey(settings.sessionKey?.(request) ?? credential ?? request.ip)
}

const NOTHING_TAKEN = (): void => {}

// Its own function, so the closure a session keeps until it ends holds the keys and the logger, not the
// request and reply that acquireSlots sees.
function releaser (store: Settings['store'], taken: string[], log: FastifyBaseLogger): () => void {
  return () => {
    for (const key of taken.splice(0)) {
      Promise.resolve(store.release(key)).catch((err: unknown) => log.error({ err }, 'session store release failed'))
    }
  }
}

/** The store key counting the client attaches of one call (call ids are the provider's, not secrets). */
export const attachKey = (callId: string): string => `call:${callId}`

/**
 * Takes the slots of one provider websocket (or call) opened for a caller; returns what gives them back (once).
 * `callId`: a client's attach to a registered call, which also takes one of the call's `maxAttachesPerCall`.
 * Throws 429 with Retry-After when full.
 */
export async function acquireSlots (settings: Settings, request: FastifyRequest, reply: FastifyReply, credential: string | undefined, callId?: string): Promise<() => void> {
  const { store, maxSessions, maxSessionsPerKey, maxAttachesPerCall } = settings
  if (maxSessions === Infinity && maxSessionsPerKey === Infinity && (callId === undefined || maxAttachesPerCall === Infinity)) return NOTHING_TAKEN
  const taken: string[] = []
  const release = releaser(store, taken, request.log)
  const take = async (key: string, limit: number, scope: string): Promise<void> => {
    if (limit === Infinity) return
    if (!(await store.acquire(key, limit))) {
      release()
      reply.header('retry-after', String(settings.retryAfter))
      throw new TooManySessionsError(scope)
    }
    taken.push(key)
  }
  if (callId !== undefined) await take(attachKey(callId), maxAttachesPerCall, 'attached to this call')
  await take(GLOBAL_KEY, maxSessions, 'on this server')
  if (maxSessionsPerKey !== Infinity) await take(callerKey(settings, request, credential), maxSessionsPerKey, 'for this caller')
  return release
}
