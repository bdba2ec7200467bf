// Browsers cannot set headers on a websocket, so SDKs smuggle credentials in Sec-WebSocket-Protocol
// ("openai-insecure-api-key.<key>"). Those entries (each provider module names its own) are never echoed back
// and never forwarded upstream.
import { PRIVATE_PROTOCOLS } from '../providers/index.js'

export function parseProtocols (header: string | undefined): string[] {
  if (header === undefined) return []
  return header.split(',').map((p) => p.trim()).filter((p) => p !== '')
}

export function isCredentialProtocol (protocol: string): boolean {
  return PRIVATE_PROTOCOLS.some((prefix) => protocol.startsWith(prefix))
}

/** The protocol to echo: `realtime` if offered, else the first non-credential one, else none. */
export function selectProtocol (offered: readonly string[]): string | undefined {
  const safe = offered.filter((p) => !isCredentialProtocol(p))
  return safe.includes('realtime') ? 'realtime' : safe[0]
}
