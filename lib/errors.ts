// Every error the plugin raises: a stable code, an HTTP status, a message that says what to fix. They form a
// family: every one is a RealtimeProxyError; the provider's refusals and failures are also UpstreamErrors. Each
// error's fields are set by its constructor, never patched on after.
import createError from '@fastify/error'

/**
 * The parent of every error the plugin raises (`err instanceof RealtimeProxyError`). Option and argument errors
 * are TypeErrors as well (RealtimeProxyTypeError): JavaScript has one prototype chain, so they join the family
 * here.
 */
export class RealtimeProxyError extends Error {
  static override [Symbol.hasInstance] (value: unknown): boolean {
    return Function.prototype[Symbol.hasInstance].call(this, value) ||
      (this === RealtimeProxyError && value instanceof RealtimeProxyTypeError)
  }
}
/** A RealtimeProxyError that is also a TypeError: a bad option at registration, a bad argument to a method. */
export class RealtimeProxyTypeError extends TypeError {}
/** The provider refused, failed or did not answer. */
export class UpstreamError extends RealtimeProxyError {}

const Base = RealtimeProxyError as ErrorConstructor

/** Whether `err` is one the plugin raised (its message is meant for the client), by its FST_REALTIME_ code. */
export const ownError = (err: unknown): boolean => typeof (err as { code?: unknown } | null)?.code === 'string' && (err as { code: string }).code.startsWith('FST_REALTIME_')
const Upstream = UpstreamError as ErrorConstructor

/** Registration or runtime registry change with a bad option. */
export const InvalidOptionError = createError<'FST_REALTIME_INVALID_OPTION', [string]>(
  'FST_REALTIME_INVALID_OPTION', 'Invalid fastify-realtime-proxy option: %s', 500, RealtimeProxyTypeError as ErrorConstructor)

/** A plain HTTP request reached the websocket route. */
export const UpgradeRequiredError = createError<'FST_REALTIME_UPGRADE_REQUIRED', 426, []>(
  'FST_REALTIME_UPGRADE_REQUIRED', 'This route only accepts websocket upgrades', 426, Base)

/** An upgrade request that ws would refuse (bad Sec-WebSocket-Key or version): refused before dialing. */
export const BadUpgradeError = createError<'FST_REALTIME_BAD_UPGRADE', 400, [string]>(
  'FST_REALTIME_BAD_UPGRADE', 'Invalid websocket upgrade: %s', 400, Base)

/** A query parameter is malformed (repeated, too long, illegal characters, unknown value). */
export const BadQueryError = createError<'FST_REALTIME_BAD_QUERY', 400, [string]>(
  'FST_REALTIME_BAD_QUERY', 'Invalid query: %s', 400, Base)

export const ModelRequiredError = createError<'FST_REALTIME_MODEL_REQUIRED', 400, []>(
  'FST_REALTIME_MODEL_REQUIRED', 'Missing "model" query parameter: connect with ?model=<model>', 400, Base)

export const UnknownProviderError = createError<'FST_REALTIME_UNKNOWN_PROVIDER', 400, [string, string]>(
  'FST_REALTIME_UNKNOWN_PROVIDER', 'Unknown provider "%s"; configured providers: %s', 400, Base)

export const UnroutableModelError = createError<'FST_REALTIME_UNROUTABLE_MODEL', 400, [string, string]>(
  'FST_REALTIME_UNROUTABLE_MODEL',
  'No provider for model "%s": add it to the "models" option, prefix it as "<provider>/%s", pass ?provider=, or set "defaultProvider"',
  400, Base)

/** `?intent=` (or a transcription client secret) on a provider that has no such session type. */
export const UnsupportedIntentError = createError<'FST_REALTIME_UNSUPPORTED_INTENT', 400, [string, string, string]>(
  'FST_REALTIME_UNSUPPORTED_INTENT', 'Provider "%s" (type %s) does not support intent "%s"', 400, Base)

/** A GPT-Live session (`live` route) routed to a provider that does not serve them. */
export const UnsupportedProtocolError = createError<'FST_REALTIME_UNSUPPORTED_PROTOCOL', 400, [string, string, string]>(
  'FST_REALTIME_UNSUPPORTED_PROTOCOL', 'Provider "%s" (type %s) does not serve %s sessions', 400, Base)

/** The provider refused the handshake with a 4xx whose body was not JSON (a JSON body is relayed as is). */
export const UpstreamRejectedError = createError<'FST_REALTIME_UPSTREAM_REJECTED', [number, string]>(
  'FST_REALTIME_UPSTREAM_REJECTED', 'The provider refused the session with HTTP %d: %s', 400, Upstream)

/** What a provider's HTTP answer to a handshake carried that the client or the failover reads. */
export interface ProviderAnswer {
  /** The provider's JSON body, redacted, when it sent JSON: relayed to the client as is. */
  body?: string
  /** Its Retry-After header: relayed, and read by the failover's cooldown. */
  retryAfter?: string
}

/** The provider's 4xx refusal of a handshake, answered with the provider's own status; an UpstreamRejectedError. */
export class ProviderRejectedError extends UpstreamRejectedError {
  declare statusCode: number
  readonly body?: string
  readonly retryAfter?: string

  constructor (status: number, detail: string, answer: ProviderAnswer = {}) {
    super(status, detail)
    this.statusCode = status
    if (answer.body !== undefined) this.body = answer.body
    if (answer.retryAfter !== undefined) this.retryAfter = answer.retryAfter
  }
}

/** Network error, TLS error, 5xx or any non-websocket answer from the provider. */
export const UpstreamUnavailableError = createError<'FST_REALTIME_UPSTREAM_UNAVAILABLE', 502, [string, string, { cause: Error }?]>(
  'FST_REALTIME_UPSTREAM_UNAVAILABLE', 'Could not open the %s realtime session: %s', 502, Upstream)

/**
 * The provider answered a handshake with a status that is no refusal of the client's (5xx, 3xx): it keeps the
 * status and Retry-After, by which the failover tells a 503 from a network error.
 */
export class ProviderFailedError extends UpstreamUnavailableError {
  readonly providerStatus: number
  readonly retryAfter?: string

  constructor (provider: string, status: number, retryAfter: string | undefined) {
    super(provider, `the provider answered HTTP ${status}`)
    this.providerStatus = status
    if (retryAfter !== undefined) this.retryAfter = retryAfter
  }
}

/**
 * The provider could not be reached (refused, reset, DNS, TLS). The client is told so in general terms; the
 * network cause, which names internal addresses, is kept in `detail` for the server's log line (a `cause`
 * would be printed twice there by pino, in the message and in the stack).
 */
export class ProviderUnreachableError extends UpstreamUnavailableError {
  readonly detail: string

  constructor (provider: string, detail: string) {
    super(provider, 'the provider could not be reached')
    this.detail = detail
  }
}

export const UpstreamTimeoutError = createError<'FST_REALTIME_UPSTREAM_TIMEOUT', 504, [string, number]>(
  'FST_REALTIME_UPSTREAM_TIMEOUT', 'The %s realtime endpoint did not answer within %d ms', 504, Upstream)

/** The provider's key function threw or rejected: the cause stays in the server's log, never in the answer. */
export const ProviderKeyError = createError<'FST_REALTIME_PROVIDER_KEY', 500, [string, { cause: unknown }]>(
  'FST_REALTIME_PROVIDER_KEY', 'The key of provider "%s" could not be read', 500, Base)

/** Budgets are on and a target of the session has no price: it would spend without counting against the budget. */
export const UnpricedModelError = createError<'FST_REALTIME_UNPRICED_MODEL', 402, [string]>(
  'FST_REALTIME_UNPRICED_MODEL', '"%s" has no price, and budgets are on: add it to "pricing", or set budgets.allowUnpriced', 402, Base)

export const ShuttingDownError = createError<'FST_REALTIME_SHUTTING_DOWN', 503, []>(
  'FST_REALTIME_SHUTTING_DOWN', 'The server is shutting down', 503, Base)

/**
 * The session store (Redis) cannot be reached or did not answer in time: new sessions and calls fail closed
 * (with Retry-After); sessions already running go on.
 */
export const StoreUnavailableError = createError<'FST_REALTIME_STORE_UNAVAILABLE', 503, [string]>(
  'FST_REALTIME_STORE_UNAVAILABLE', 'The session store is unreachable (%s); new sessions are refused until it is back', 503, Base)

/** The caller's budget for the current window is spent (`budgets`). */
export const BudgetExceededError = createError<'FST_REALTIME_BUDGET_EXCEEDED', 402, []>(
  'FST_REALTIME_BUDGET_EXCEEDED', 'The budget for this caller is spent for now', 402, Base)

/** A browser handshake from an origin not in `allowedOrigins`. */
export const OriginForbiddenError = createError<'FST_REALTIME_ORIGIN_FORBIDDEN', 403, [string]>(
  'FST_REALTIME_ORIGIN_FORBIDDEN', 'Origin %s may not open realtime sessions', 403, Base)

/** `maxSessions` or `maxSessionsPerKey` reached; the reply carries Retry-After. */
/** The call registry holds `maxCalls` live calls: a new one is refused (hung up at the provider), never a live one forgotten. */
export const CallRegistryFullError = createError<'FST_REALTIME_CALL_REGISTRY_FULL', 503, [number]>(
  'FST_REALTIME_CALL_REGISTRY_FULL', 'The call registry is full (%d live calls); retry later', 503, Base)

export const TooManySessionsError = createError<'FST_REALTIME_TOO_MANY_SESSIONS', 429, [string]>(
  'FST_REALTIME_TOO_MANY_SESSIONS', 'Too many realtime sessions %s; retry later', 429, Base)

/** A signaling request whose body cannot be forwarded (not JSON, no SDP, a malformed part). */
export const BadBodyError = createError<'FST_REALTIME_BAD_BODY', 400, [string]>(
  'FST_REALTIME_BAD_BODY', 'Invalid request body: %s', 400, Base)

export const UnsupportedMediaTypeError = createError<'FST_REALTIME_UNSUPPORTED_MEDIA_TYPE', 415, []>(
  'FST_REALTIME_UNSUPPORTED_MEDIA_TYPE',
  'Send the SDP offer as application/sdp (model in the query) or as multipart/form-data with "sdp" and "session" parts', 415, Base)

/** The provider has no such signaling endpoint (only OpenAI, Azure GA, xAI client secrets and OpenAI-compatible do). */
export const NotSupportedError = createError<'FST_REALTIME_NOT_SUPPORTED', 501, [string, string, string]>(
  'FST_REALTIME_NOT_SUPPORTED', 'Provider "%s" (type %s) has no %s endpoint; use the websocket route for it', 501, Base)

/** A call id the call registry does not hold (never created here, expired, or ended). */
export const UnknownCallError = createError<'FST_REALTIME_UNKNOWN_CALL', 404, [string]>(
  'FST_REALTIME_UNKNOWN_CALL', 'Unknown call "%s"', 404, Base)

/** A call created by another caller (by `sessionKey`, else credential, else IP). */
export const CallForbiddenError = createError<'FST_REALTIME_CALL_FORBIDDEN', 403, [string]>(
  'FST_REALTIME_CALL_FORBIDDEN', 'Call "%s" was created by another caller', 403, Base)
