// Close codes: every code the plugin sends or reads, which may be sent on the wire, and what a local protocol
// error means for the other leg. The base layer, so codecs and the simulator name them too: no other module
// writes a close-code literal.

/** The codes the plugin closes with or reads (RFC 6455 § 7.4.1). */
export const CLOSE = Object.freeze({
  /** idle timeout; a peer's 1005 (no status) sent on */
  normal: 1000,
  /** server shutdown; maxSessionDuration */
  goingAway: 1001,
  /** a websocket protocol error */
  protocolError: 1002,
  /** reported locally for a connection dropped without a close frame; never sent */
  abnormal: 1006,
  /** a payload the peer refuses (Gemini: an invalid argument) */
  invalidPayload: 1007,
  /** rateLimit exceeded; policy */
  policyViolation: 1008,
  /** a frame larger than maxPayload */
  tooBig: 1009,
  /** a peer dropped (1006) or missed its heartbeat */
  internalError: 1011
})

const NO_STATUS = 1005
const TLS_FAILURE = 1015

/** 1005 (no status), 1006 (abnormal) and 1015 (TLS) are reported locally but may never be sent. */
export function sendableCode (code: number): number {
  if (code === NO_STATUS) return CLOSE.normal
  if (code === CLOSE.abnormal || code === TLS_FAILURE) return CLOSE.internalError
  return code
}

// Every receive error ws defines, with the close code ws itself sends its peer for it (ws's receiver.js and
// permessage-deflate.js); test/close-codes.test.ts checks this table against the installed ws.
export const WS_ERROR_CLOSE_CODES: ReadonlyMap<string, number> = new Map([
  ['WS_ERR_EXPECTED_FIN', 1002],
  ['WS_ERR_EXPECTED_MASK', 1002],
  ['WS_ERR_INVALID_CLOSE_CODE', 1002],
  ['WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH', 1002],
  ['WS_ERR_INVALID_OPCODE', 1002],
  ['WS_ERR_UNEXPECTED_MASK', 1002],
  ['WS_ERR_UNEXPECTED_RSV_1', 1002],
  ['WS_ERR_UNEXPECTED_RSV_2_3', 1002],
  ['WS_ERR_INVALID_UTF8', 1007],
  ['WS_ERR_TOO_MANY_BUFFERED_PARTS', 1008],
  ['WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH', 1009],
  ['WS_ERR_UNSUPPORTED_MESSAGE_LENGTH', 1009]
])

/** The close code ws sent its peer for a receive error, mirrored to the other leg (1002 for anything else). */
export function errorCloseCode (err: Error & { code?: string }): number {
  return WS_ERROR_CLOSE_CODES.get(String(err.code)) ?? CLOSE.protocolError
}

/** A close reason may carry at most 123 bytes; cut longer text on a character boundary. */
export function closeReason (reason: string | Buffer): string | Buffer {
  if (typeof reason !== 'string' || Buffer.byteLength(reason) <= 123) return reason
  let cut = reason.slice(0, 123)
  while (Buffer.byteLength(cut) > 123) cut = cut.slice(0, -1)
  return cut
}
