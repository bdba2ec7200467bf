// Removes credentials from text that may reach a client or a log: the exact secrets we know, and anything
// shaped like a key (each provider module names its key prefixes) or a bearer token (providers echo masked
// keys such as "sk-proj-****abcd" in 401 bodies).
import { KEY_PREFIXES, KEY_SHAPES } from '../providers/index.js'

const KEYS = new RegExp(`\\b(?:${KEY_PREFIXES.join('|')})[-_][\\w*-]{6,}|\\b(?:${KEY_SHAPES.join('|')})|\\bBearer\\s+[^\\s"',<]+`, 'gi')

export const REDACTED = '[REDACTED]'

export function redact (text: string, secrets: ReadonlyArray<string | undefined> = []): string {
  return redactSecrets(text, secrets).replace(KEYS, REDACTED)
}

/** Only the exact secrets: for a minted client secret, whose `ek_` value is the point of the answer. */
export function redactSecrets (text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text
  for (const secret of secrets) {
    if (secret !== undefined && secret.length >= 4) out = out.split(secret).join(REDACTED)
  }
  return out
}
