// Reads the route's query once, strictly: one value per key, bounded length, printable names only.
import { BadQueryError } from './errors.js'
import type { RouteQuery } from './registry.js'

const NAME = /^[\x21-\x7e]{1,256}$/ // printable ASCII, no spaces; the URL builder encodes the rest
const CALL_ID = /^[\w-]{1,128}$/

function one (query: Record<string, unknown>, key: string, pattern: RegExp): string | undefined {
  const value = query[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new BadQueryError(`"${key}" must be given once`)
  if (!pattern.test(value)) throw new BadQueryError(`"${key}" must be 1 to 256 printable ASCII characters without spaces`)
  return value
}

export function readQuery (raw: unknown): RouteQuery {
  const query = (raw ?? {}) as Record<string, unknown>
  const intent = one(query, 'intent', NAME)
  if (intent !== undefined && intent !== 'transcription') throw new BadQueryError('"intent" may only be "transcription"')
  const callId = query.call_id === undefined ? undefined : one(query, 'call_id', CALL_ID)
  return { model: one(query, 'model', NAME), provider: one(query, 'provider', NAME), intent, callId }
}
