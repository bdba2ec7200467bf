// Reads the route's query once, strictly: one value per key, bounded length, printable names only.
import { BadQueryError } from '../errors.js'
import type { RouteQuery } from '../providers/registry.js'

// Printable ASCII without spaces; the URL builder encodes the rest, so "&" or "#" cannot inject anything.
const NAME = { pattern: /^[\x21-\x7e]{1,256}$/, rule: '1 to 256 printable ASCII characters without spaces' }
const CALL_ID = { pattern: /^[\w-]{1,128}$/, rule: '1 to 128 letters, digits, "_" or "-"' }

function one (query: Record<string, unknown>, key: string, { pattern, rule }: typeof NAME): string | undefined {
  const value = query[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw new BadQueryError(`"${key}" must be given once`)
  if (!pattern.test(value)) throw new BadQueryError(`"${key}" must be ${rule}`)
  return value
}

export function readQuery (raw: unknown): RouteQuery {
  const query = raw as Record<string, unknown>
  const intent = one(query, 'intent', NAME)
  if (intent !== undefined && intent !== 'transcription') throw new BadQueryError('"intent" may only be "transcription"')
  const callId = one(query, 'call_id', CALL_ID)
  return { model: one(query, 'model', NAME), provider: one(query, 'provider', NAME), intent, callId }
}
