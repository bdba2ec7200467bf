// Which client headers may travel upstream: only those on the `forwardHeaders` allowlist, and never
// credentials, browser-session headers or anything that belongs to a single websocket hop.
import { InvalidOptionError } from '../errors.js'
import { PROVIDER_HEADERS } from '../providers/index.js'

const NEVER_FORWARDED = new Set([
  ...PROVIDER_HEADERS,
  'authorization', 'x-api-key', 'cookie', 'origin', 'proxy-authorization',
  'host', 'connection', 'upgrade', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding',
  'content-length', 'x-request-id'
])

function neverForwarded (name: string): boolean {
  return NEVER_FORWARDED.has(name) || name.startsWith('sec-websocket-')
}

/** Validates the `forwardHeaders` option; returns lower-cased names. */
export function forwardHeaderSettings (names: unknown): string[] {
  if (!Array.isArray(names) || names.some((n) => typeof n !== 'string' || n === '')) {
    throw new InvalidOptionError('"forwardHeaders" must be an array of header names, such as ["x-tenant-id"]')
  }
  const list = names.map((n: string) => n.toLowerCase())
  const refused = list.find(neverForwarded)
  if (refused !== undefined) {
    throw new InvalidOptionError(`"forwardHeaders" may not include "${refused}": credentials, cookies, origin and hop-by-hop headers never travel upstream`)
  }
  return list
}

/** Headers for the upstream handshake: allowlisted client headers, then the provider's (credentials win), then the request id. */
export function upstreamHeaders (
  client: Record<string, string | string[] | undefined>,
  forward: readonly string[],
  provider: Record<string, string>,
  requestId: string
): Record<string, string> {
  const headers: Record<string, string> = {}
  for (const name of forward) {
    const value = Object.hasOwn(client, name) ? client[name] : undefined // node's headers object inherits "constructor"
    // Node joins repeated request headers into one string (only set-cookie stays an array)
    if (value !== undefined) headers[name] = String(value)
  }
  return { ...headers, ...provider, 'x-request-id': requestId }
}
