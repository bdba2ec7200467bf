// Unknown option names fail registration: a misspelt `maxSesions` or a provider's `baseUrl` would otherwise be
// ignored silently, and that provider's sessions would dial the default host with the key.
import { inspect } from 'node:util'
import { InvalidOptionError } from './errors.js'

/** Edit distance, to name the valid option the user most likely meant. */
function distance (a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    const next = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1
      next[j] = Math.min((row[j] as number) + 1, (next[j - 1] as number) + 1, (row[j - 1] as number) + cost)
    }
    row = next
  }
  return row[b.length] as number
}

function closest (name: string, known: readonly string[]): string {
  let best = known[0] as string
  for (const candidate of known) if (distance(name, candidate) < distance(name, best)) best = candidate
  return best
}

/** Throws FST_REALTIME_INVALID_OPTION for the first own key of `value` not in `known`, naming the closest valid one. */
export function refuseUnknownKeys (value: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) {
      throw new InvalidOptionError(`unknown option "${where}${key}"; did you mean "${where}${closest(key, known)}"?`)
    }
  }
}

/** How a given value reads in a message: NaN as NaN (JSON would say null), strings quoted, the rest inspected. */
export function shown (value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : inspect(value, { depth: 0, breakLength: Infinity })
}

/**
 * A model or provider name as a client may send it (`?model=`, GPT-Live's `session.start`, a signaling body):
 * printable ASCII without spaces, so no CR/LF, NUL or bidi override reaches a log line or a provider's URL.
 */
export const NAME = Object.freeze({ pattern: /^[\x21-\x7e]{1,256}$/, rule: '1 to 256 printable ASCII characters without spaces' })
