// Reads the route's query once, strictly: one value per key, bounded length, printable names only.
import { BadQueryError } from '../errors.js'
import type { RouteQuery } from '../providers/registry.js'
import { NAME } from '../validate.js'

// Names are printable ASCII without spaces (NAME); the URL builder encodes the rest, so "&" or "#" cannot inject anything.
const CALL_ID = { pattern: /^[\w-]{1,128}$/, rule: '1 to 128 letters, digits, "_" or "-"' }

function one (query: Record<string, unknown>, key: string, { pattern, rule }: { pattern: RegExp, rule: string }): string | undefined {
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
