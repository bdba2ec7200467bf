// Options are validated once, at registration; every message names the option and how to fix it.
import { InvalidOptionError } from './errors.js'
import { refuseUnknownKeys, shown } from './validate.js'
import { forwardHeaderSettings } from './upstream/headers.js'
import type { FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import type { SessionHooks } from './session/hub.js'
import { DEFAULT_MAX_CALLS, MemoryStore } from './store/memory.js'
import { budgetSettings, type BudgetOptions, type BudgetSettings } from './limits/budget.js'
import type { CallStore, CountingStore, SessionStore } from './store/types.js'
import { originSettings, type AllowedOrigins } from './http/origin.js'
import type { RealtimeRouteOptions } from './http/realtime-route.js'
import type { SignalingOptions, SignalingRouteOptions, SignalingSettings } from './http/signaling-routes.js'
import type { ProviderDialOptions } from './upstream/provider-dial.js'
import { failoverSettings, type FailoverOptions } from './upstream/failover.js'
import { typeFilter, type EventPolicyOptions } from './session/policy.js'
import type { FrameRate } from './limits/rate-limit.js'
import { metricsSettings, type MetricsOptions } from './usage/metrics.js'
import { pricingSettings, type Pricing } from './usage/pricing.js'
import type { ModelRoute, ProviderConfig } from './providers/registry.js'

export const DEFAULT_PATH = '/v1/realtime'
export const DEFAULT_DIAL_TIMEOUT = 10_000
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024
export const DEFAULT_HEARTBEAT_INTERVAL = 30_000
export const DEFAULT_PONG_TIMEOUT = 10_000
export const DEFAULT_CLOSE_TIMEOUT = 5_000
export const DEFAULT_MAX_EXPIRES_AFTER = 600
export const DEFAULT_SIGNALING_BODY_LIMIT = 64 * 1024
export const DEFAULT_CALL_TTL = 3_600_000
export const DEFAULT_MAX_ATTACHES_PER_CALL = 2
const LEASE_HEARTBEATS = 3

export interface RealtimeProxyOptions extends SessionHooks, EventPolicyOptions {
  /** Route path. Default `/v1/realtime`. */
  path?: string
  /** Provider name -> config. At least one. */
  providers: Record<string, ProviderConfig>
  /** Model name -> provider name, or `{ provider, model }` to rename it upstream. */
  models?: Record<string, ModelRoute>
  /** Provider for models that match nothing else. */
  defaultProvider?: string
  /**
   * How a model with several `targets` fails over when one refuses before the client is upgraded:
   * `{ maxAttempts: 3, cooldown: 30_000, retryOn: ['429', '5xx', 'network', 'timeout'] }` by default.
   */
  failover?: FailoverOptions
  /** Client headers allowed upstream (lower-cased). Credentials, cookies, origin and hop-by-hop headers are refused. Default `[]`. */
  forwardHeaders?: string[]
  /** Milliseconds to wait for the provider's handshake before answering 504. Default 10 000. */
  dialTimeout?: number
  /** Largest frame accepted from either side, in bytes; larger closes the session with 1009. Default 16 MiB. */
  maxPayload?: number
  /** Stop reading one side while the other's send buffer holds more bytes than this. Default 1 MiB. */
  highWaterMark?: number
  /** Milliseconds between pings to both peers; 0 disables. Default 30 000. */
  heartbeatInterval?: number
  /** Milliseconds a peer has to answer a ping before it is terminated. Default 10 000. */
  pongTimeout?: number
  /**
   * Milliseconds a close handshake may take before the connection is dropped: on `fastify.close()`, and
   * for any leg that closes (a peer that broke the protocol and never answers). Default 5 000.
   */
  closeTimeout?: number
  /** USD prices per model, to add `costUSD` to usage records. None are built in. */
  pricing?: Pricing
  /** Watch provider events for usage (`onUsage`, `stats().usage`, usage metrics). Default true. */
  metering?: boolean
  /** Prometheus metrics through prom-client: `true` serves them at `/metrics`. */
  metrics?: boolean | MetricsOptions
  /** Route-level hooks, run after the app's own hooks and before anything is dialed (auth). */
  onRequest?: onRequestHookHandler | onRequestHookHandler[]
  preHandler?: preHandlerHookHandler | preHandlerHookHandler[]
  /** Also read the caller's credential from this query parameter (off by default: URLs end up in logs and histories). */
  credentialQuery?: string
  /** Browser origins allowed to open sessions (a handshake without Origin is not a browser's and passes). */
  allowedOrigins?: AllowedOrigins
  /** Sessions open at once in this process (or in the shared store). Default: no limit. */
  maxSessions?: number
  /** Sessions open at once per `sessionKey`. Default: no limit. */
  maxSessionsPerKey?: number
  /** Client attaches (`?call_id=`) open at once to one call created through `signaling`. Default 2. */
  maxAttachesPerCall?: number
  /** Groups sessions for `maxSessionsPerKey`. Default: the caller's credential, else its IP. */
  sessionKey?: (request: FastifyRequest) => string | undefined
  /** Where the session slots (leases) and the call registry live. Default: in memory (`MemoryStore`). */
  store?: SessionStore | CountingStore
  /** Seconds in the Retry-After of a 429, and of a 503 while the store is unreachable or the server drains. Default 1. */
  retryAfter?: number
  /**
   * USD a caller may spend per window, debited as usage arrives and enforced live: a key over its limit is
   * refused with 402 before any dial, and its sessions on every replica are cut (error event, 1008).
   */
  budgets?: BudgetOptions
  /**
   * Milliseconds `app.close()` lets live sessions finish before closing them with 1001; new upgrades get 503
   * with Retry-After meanwhile, so a load balancer retries another replica. Default 0 (close them at once).
   */
  drainTimeout?: number
  /**
   * Transcription sessions (`?intent=transcription`) dial without a model; the routed upstream model is written
   * into `session.audio.input.transcription.model` of every client `session.update`, so a client cannot switch
   * to a model it was not routed to. Default true.
   */
  pinTranscriptionModel?: boolean
  /** Milliseconds a session may last; the client gets an `error` event, then both legs close with 1001. Default 0 (no limit). */
  maxSessionDuration?: number
  /** Milliseconds without a frame either way before both legs close with 1000 "idle timeout". Default 0 (no limit). */
  idleTimeout?: number
  /** Client frames per second (token bucket); a client over it is closed with 1008. Default: no limit. */
  rateLimit?: FrameRate
  /**
   * WebRTC signaling routes (client secrets, calls, sideband metering). Off by default: a client secret or a
   * WebRTC call talks to the provider directly, outside the event policy and frame limits of the websocket route.
   */
  signaling?: boolean | SignalingOptions
  /**
   * GPT-Live sessions (`/live/sessions`), off by default: `true` or `{ path, startTimeout }`. The route defaults
   * to `path`'s parent + `/live/sessions` (`/v1/live/sessions`), so an SDK whose base URL is the app's `/v1`
   * finds both protocols; the same hooks, limits, policy and metering apply.
   */
  live?: boolean | LiveOptions
}

export interface LiveOptions {
  /** Default: the realtime `path`'s parent + `/live/sessions`. */
  path?: string
  /** Milliseconds to wait for the client's `session.start` when the request does not name the provider. Default 10 000. */
  startTimeout?: number
}

/** Every top-level option, and the ones Fastify's register() itself takes (it passes them on to the plugin). */
export const OPTION_NAMES = [
  'path', 'providers', 'models', 'defaultProvider', 'failover', 'forwardHeaders', 'dialTimeout', 'maxPayload', 'highWaterMark',
  'heartbeatInterval', 'pongTimeout', 'closeTimeout', 'pricing', 'metering', 'metrics', 'onRequest', 'preHandler',
  'credentialQuery', 'allowedOrigins', 'maxSessions', 'maxSessionsPerKey', 'maxAttachesPerCall', 'sessionKey', 'store',
  'retryAfter', 'budgets', 'drainTimeout', 'pinTranscriptionModel', 'maxSessionDuration', 'idleTimeout', 'rateLimit', 'signaling',
  'onSessionStart', 'onUsage', 'onSessionEnd', 'onClientEvent', 'clientEvents', 'onServerEvent', 'serverEvents', 'live',
  'prefix', 'logLevel', 'logSerializers'
] as const satisfies ReadonlyArray<keyof RealtimeProxyOptions | 'prefix' | 'logLevel' | 'logSerializers'>

// A compile error here names an option missing from OPTION_NAMES (an option added to the interface only).
type Listed<Missing extends never> = Missing
/** @internal */
export type EveryOptionListed = Listed<Exclude<keyof RealtimeProxyOptions, (typeof OPTION_NAMES)[number]>>

const SIGNALING_OPTION_NAMES = ['maxExpiresAfter', 'bodyLimit', 'sideband', 'maxCalls', 'callTTL', 'onSession'] as const satisfies ReadonlyArray<keyof SignalingOptions>

/** Options after validation: what the route and every session read. */
export interface Settings extends RealtimeRouteOptions, SignalingRouteOptions, ProviderDialOptions {
  path: string
  heartbeatInterval: number
  pongTimeout: number
  forwardHeaders: string[]
  metrics?: MetricsOptions
  hooks: SessionHooks
  signaling?: SignalingSettings
  live?: Required<LiveOptions>
  drainTimeout: number
  /** `budgets` validated; `budgets` (with how to cut a key everywhere) is made from it where the hub is. */
  budgetOptions?: Omit<BudgetSettings, 'ledger'>
}

export const DEFAULT_START_TIMEOUT = 10_000

function liveSettings (live: RealtimeProxyOptions['live'], path: string): Settings['live'] {
  if (live === undefined || live === false) return undefined
  if (live !== true && (live === null || typeof live !== 'object')) throw new InvalidOptionError('"live" must be true or an object such as { path: "/v1/live/sessions" }')
  const given: LiveOptions = live === true ? {} : live
  refuseUnknownKeys(given, ['path', 'startTimeout'] satisfies Array<keyof LiveOptions>, 'live.')
  const livePath = given.path ?? `${path.replace(/\/+$/, '').replace(/\/[^/]*$/, '')}/live/sessions`
  if (typeof livePath !== 'string' || !livePath.startsWith('/')) throw new InvalidOptionError('"live.path" must start with "/", such as "/v1/live/sessions"')
  return { path: livePath, startTimeout: checkedInteger(given.startTimeout ?? DEFAULT_START_TIMEOUT, 'live.startTimeout', 1) }
}

function signalingSettings (signaling: RealtimeProxyOptions['signaling'], store: SessionStore | CountingStore): SignalingSettings | undefined {
  if (signaling === undefined || signaling === false) return undefined
  if (signaling !== true && (signaling === null || typeof signaling !== 'object')) {
    throw new InvalidOptionError('"signaling" must be true or an object such as { maxExpiresAfter: 600 }')
  }
  const given: SignalingOptions = signaling === true ? {} : signaling
  refuseUnknownKeys(given, SIGNALING_OPTION_NAMES, 'signaling.')
  const number = (key: keyof SignalingOptions, fallback: number, min: number): number => checkedInteger(given[key] ?? fallback, `signaling.${key}`, min)
  if (given.sideband !== undefined && typeof given.sideband !== 'boolean') throw new InvalidOptionError('"signaling.sideband" must be a boolean')
  if (given.onSession !== undefined && typeof given.onSession !== 'function') throw new InvalidOptionError('"signaling.onSession" must be a function (session, request) => session')
  const calls = store as Partial<CallStore>
  if (typeof calls.setCall !== 'function' || typeof calls.getCall !== 'function' || typeof calls.deleteCall !== 'function') {
    throw new InvalidOptionError('"store" must also have setCall(id, call, ttl), getCall(id) and deleteCall(id) when "signaling" is on: the call registry lives there')
  }
  return {
    maxExpiresAfter: number('maxExpiresAfter', DEFAULT_MAX_EXPIRES_AFTER, 1),
    bodyLimit: number('bodyLimit', DEFAULT_SIGNALING_BODY_LIMIT, 1),
    sideband: given.sideband ?? true,
    maxCalls: number('maxCalls', DEFAULT_MAX_CALLS, 1),
    callTTL: number('callTTL', DEFAULT_CALL_TTL, 1),
    onSession: given.onSession,
    calls: calls as CallStore
  }
}

function hookSettings<T> (value: T | T[] | undefined, name: string): T[] {
  const list = value === undefined ? [] : Array.isArray(value) ? value : [value]
  if (list.some((h) => typeof h !== 'function')) throw new InvalidOptionError(`"${name}" must be a hook function or an array of them`)
  return list
}

function rateLimitSettings (value: unknown): FrameRate | undefined {
  if (value === undefined) return undefined
  const rate = value as FrameRate
  if (value === null || typeof value !== 'object' || !(rate.perSecond > 0) || (rate.burst !== undefined && !(rate.burst >= 1))) {
    throw new InvalidOptionError('"rateLimit" must be { perSecond: number > 0, burst?: number >= 1 }, such as { perSecond: 100, burst: 200 }')
  }
  refuseUnknownKeys(rate, ['perSecond', 'burst'] satisfies Array<keyof FrameRate>, 'rateLimit.')
  return rate
}

function checkedInteger (value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError(`"${name}" must be an integer >= ${min}, got ${shown(value)}`)
  }
  return value
}

function integer (options: RealtimeProxyOptions, key: keyof Settings, fallback: number, min: number): number {
  const value: unknown = options[key as keyof RealtimeProxyOptions] ?? fallback
  return value === Infinity ? value : checkedInteger(value, key, min)
}

export function settingsFrom (options: RealtimeProxyOptions): Settings {
  refuseUnknownKeys(options, OPTION_NAMES, '')
  const path = options.path ?? DEFAULT_PATH
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidOptionError(`"path" must start with "/", such as "${DEFAULT_PATH}"`)
  }
  const settings: Settings = {
    path,
    forwardHeaders: forwardHeaderSettings(options.forwardHeaders ?? []),
    failover: failoverSettings(options.failover),
    dialTimeout: integer(options, 'dialTimeout', DEFAULT_DIAL_TIMEOUT, 1),
    maxPayload: integer(options, 'maxPayload', DEFAULT_MAX_PAYLOAD, 1),
    highWaterMark: integer(options, 'highWaterMark', DEFAULT_HIGH_WATER_MARK, 1),
    heartbeatInterval: integer(options, 'heartbeatInterval', DEFAULT_HEARTBEAT_INTERVAL, 0),
    pongTimeout: integer(options, 'pongTimeout', DEFAULT_PONG_TIMEOUT, 1),
    closeTimeout: integer(options, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT, 0),
    drainTimeout: integer(options, 'drainTimeout', 0, 0),
    leaseTTL: 0, // set below from the heartbeat, which renews the leases
    pricing: pricingSettings(options.pricing),
    metrics: metricsSettings(options.metrics),
    hooks: {},
    onRequest: hookSettings(options.onRequest, 'onRequest'),
    preHandler: hookSettings(options.preHandler, 'preHandler'),
    credentialQuery: options.credentialQuery,
    allowedOrigins: originSettings(options.allowedOrigins),
    maxSessions: integer(options, 'maxSessions', Infinity, 1),
    maxSessionsPerKey: integer(options, 'maxSessionsPerKey', Infinity, 1),
    maxAttachesPerCall: integer(options, 'maxAttachesPerCall', DEFAULT_MAX_ATTACHES_PER_CALL, 1),
    sessionKey: options.sessionKey,
    store: options.store ?? new MemoryStore({ maxCalls: typeof options.signaling === 'object' ? options.signaling?.maxCalls : undefined }),
    retryAfter: integer(options, 'retryAfter', 1, 0),
    metering: options.metering ?? true,
    maxSessionDuration: integer(options, 'maxSessionDuration', 0, 0),
    idleTimeout: integer(options, 'idleTimeout', 0, 0),
    frameRate: rateLimitSettings(options.rateLimit),
    pinTranscriptionModel: options.pinTranscriptionModel ?? true,
    policy: { onClientEvent: options.onClientEvent, onServerEvent: options.onServerEvent },
    wantsClient: typeFilter(options.clientEvents ?? ['session.update'], 'clientEvents'),
    wantsServer: typeFilter(options.serverEvents ?? '*', 'serverEvents'),
    clientTypes: options.clientEvents === '*' ? '*' : new Set(options.clientEvents ?? ['session.update']),
    serverTypes: options.serverEvents === undefined || options.serverEvents === '*' ? '*' : new Set(options.serverEvents)
  }
  if (settings.credentialQuery !== undefined && (typeof settings.credentialQuery !== 'string' || !/^[\w-]+$/.test(settings.credentialQuery))) {
    throw new InvalidOptionError('"credentialQuery" must be a query parameter name such as "token"')
  }
  if (typeof settings.metering !== 'boolean') throw new InvalidOptionError('"metering" must be a boolean')
  if (typeof settings.pinTranscriptionModel !== 'boolean') throw new InvalidOptionError('"pinTranscriptionModel" must be a boolean')
  if (settings.sessionKey !== undefined && typeof settings.sessionKey !== 'function') throw new InvalidOptionError('"sessionKey" must be a function (request) => string')
  const store = settings.store as Partial<CountingStore>
  // acquire(key, limit, ttl) resolving a lease (or, the shape before leases, true/false with release(key))
  if (typeof store.acquire !== 'function') {
    throw new InvalidOptionError('"store" must have acquire(key, limit, ttl) resolving a lease { renew(), release() } or undefined')
  }
  for (const name of ['onClientEvent', 'onServerEvent'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw new InvalidOptionError(`"${name}" must be a function`)
  }
  for (const name of ['onSessionStart', 'onUsage', 'onSessionEnd'] as const) {
    const hook = options[name]
    if (hook !== undefined && typeof hook !== 'function') throw new InvalidOptionError(`"${name}" must be a function`)
    settings.hooks[name] = hook as never
  }
  if (settings.heartbeatInterval > 0 && settings.pongTimeout >= settings.heartbeatInterval) {
    throw new InvalidOptionError('"pongTimeout" must be shorter than "heartbeatInterval"')
  }
  // A slot lives three heartbeats unless renewed: a process that died gives its slots back that long after.
  // Without a heartbeat nothing renews, so slots never expire.
  settings.leaseTTL = LEASE_HEARTBEATS * settings.heartbeatInterval
  settings.signaling = signalingSettings(options.signaling, settings.store)
  settings.budgetOptions = budgetSettings(options.budgets, settings.store)
  settings.live = liveSettings(options.live, path)
  return settings
}
