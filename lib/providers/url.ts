// URL rules shared by every provider: http(s) and ws(s) bases only, mapped to ws(s), trailing slash trimmed.
import { InvalidOptionError } from '../errors.js'

const WS_SCHEME: Record<string, string> = { 'https:': 'wss:', 'wss:': 'wss:', 'http:': 'ws:', 'ws:': 'ws:' }

/** Parses a provider base URL at registration time so a typo fails `register`, not the first session. */
export function parseBaseURL (name: string, baseURL: string): URL {
  let url: URL
  try {
    url = new URL(baseURL)
  } catch {
    throw new InvalidOptionError(`providers.${name}.baseURL "${baseURL}" is not a URL; use an absolute URL such as https://api.example.com/v1`)
  }
  if (WS_SCHEME[url.protocol] === undefined) {
    throw new InvalidOptionError(`providers.${name}.baseURL uses unsupported scheme "${url.protocol}"; use https:, http:, wss: or ws:`)
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidOptionError(`providers.${name}.baseURL must not carry credentials; put the key in providers.${name}.apiKey`)
  }
  return url
}

/** The websocket URL for `path` appended to the base (`keepPath`) or replacing it (path pinned). */
export function wsURL (base: string, path: string, keepPath: boolean): URL {
  const url = new URL(base)
  url.protocol = WS_SCHEME[url.protocol] as string
  url.pathname = (keepPath ? url.pathname.replace(/\/+$/, '') : '') + path
  url.search = ''
  url.hash = ''
  return url
}

/** The https (or http) URL of a REST endpoint beside the websocket: same base rules as wsURL. */
export function httpURL (base: string, path: string, keepPath: boolean): string {
  const url = wsURL(base, path, keepPath)
  url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:'
  return url.href
}

/** Sets the query parameters that have a value; URLSearchParams encodes them, so a model cannot inject one. */
export function withQuery (url: URL, params: Record<string, string | undefined>): string {
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined) url.searchParams.set(key, value)
  }
  return url.href
}

export function bearer (apiKey: string | undefined): Record<string, string> {
  return apiKey === undefined ? {} : { authorization: `Bearer ${apiKey}` }
}
