// Close codes: which may be sent on the wire, and what a local protocol error means for the other leg.

/** 1005 (no status), 1006 (abnormal) and 1015 (TLS) are reported locally but may never be sent. */
export function sendableCode (code: number): number {
  if (code === 1005) return 1000
  if (code === 1006 || code === 1015) return 1011
  return code
}

const ERROR_CODES: Record<string, number> = {
  WS_ERR_UNSUPPORTED_MESSAGE_LENGTH: 1009,
  WS_ERR_INVALID_UTF8: 1007
}

/** The close code ws sent its peer for a receive error (every one is a WS_ERR_*), mirrored to the other leg. */
export function errorCloseCode (err: Error & { code?: string }): number {
  return ERROR_CODES[String(err.code)] ?? 1002
}

/** A close reason may carry at most 123 bytes; cut longer text on a character boundary. */
export function closeReason (reason: string | Buffer): string | Buffer {
  if (typeof reason !== 'string' || Buffer.byteLength(reason) <= 123) return reason
  let cut = reason.slice(0, 123)
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1)
  return cut
}
