// Options are validated once, at registration; every message names the option and how to fix it.
import { InvalidOptionError } from './errors.js'
import { forwardList } from './headers.js'
import type { SessionHooks } from './hub.js'
import { metricsOptions, type MetricsOptions } from './metrics.js'
import { checkPricing, type Pricing } from './pricing.js'
import type { ModelRoute, ProviderConfig } from './registry.js'

export const DEFAULT_PATH = '/v1/realtime'
export const DEFAULT_DIAL_TIMEOUT = 10_000
export const DEFAULT_MAX_PAYLOAD = 16 * 1024 * 1024
export const DEFAULT_HIGH_WATER_MARK = 1024 * 1024
export const DEFAULT_HEARTBEAT_INTERVAL = 30_000
export const DEFAULT_PONG_TIMEOUT = 10_000
export const DEFAULT_CLOSE_TIMEOUT = 5_000

export interface RealtimeProxyOptions extends SessionHooks {
  /** Route path. Default `/v1/realtime`. */
  path?: string
  /** Provider name -> config. At least one. */
  providers: Record<string, ProviderConfig>
  /** Model name -> provider name, or `{ provider, model }` to rename it upstream. */
  models?: Record<string, ModelRoute>
  /** Provider for models that match nothing else. */
  defaultProvider?: string
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
  /** Milliseconds `fastify.close()` waits for sessions to finish their close handshake. Default 5 000. */
  closeTimeout?: number
  /** USD prices per model, to add `costUSD` to usage records. None are built in. */
  pricing?: Pricing
  /** Prometheus metrics through prom-client: `true` serves them at `/metrics`. */
  metrics?: boolean | MetricsOptions
}

export interface Settings {
  path: string
  forwardHeaders: string[]
  dialTimeout: number
  maxPayload: number
  highWaterMark: number
  heartbeatInterval: number
  pongTimeout: number
  closeTimeout: number
  pricing?: Pricing
  metrics?: MetricsOptions
  hooks: SessionHooks
}

function integer (options: RealtimeProxyOptions, key: keyof Settings, fallback: number, min: number): number {
  const value = options[key as keyof RealtimeProxyOptions] ?? fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidOptionError(`"${key}" must be an integer >= ${min}, got ${JSON.stringify(value)}`)
  }
  return value
}

export function settingsFrom (options: RealtimeProxyOptions): Settings {
  const path = options.path ?? DEFAULT_PATH
  if (typeof path !== 'string' || !path.startsWith('/')) {
    throw new InvalidOptionError(`"path" must start with "/", such as "${DEFAULT_PATH}"`)
  }
  const settings: Settings = {
    path,
    forwardHeaders: forwardList(options.forwardHeaders ?? []),
    dialTimeout: integer(options, 'dialTimeout', DEFAULT_DIAL_TIMEOUT, 1),
    maxPayload: integer(options, 'maxPayload', DEFAULT_MAX_PAYLOAD, 1),
    highWaterMark: integer(options, 'highWaterMark', DEFAULT_HIGH_WATER_MARK, 1),
    heartbeatInterval: integer(options, 'heartbeatInterval', DEFAULT_HEARTBEAT_INTERVAL, 0),
    pongTimeout: integer(options, 'pongTimeout', DEFAULT_PONG_TIMEOUT, 1),
    closeTimeout: integer(options, 'closeTimeout', DEFAULT_CLOSE_TIMEOUT, 0),
    pricing: checkPricing(options.pricing),
    metrics: metricsOptions(options.metrics),
    hooks: {}
  }
  for (const name of ['onSessionStart', 'onUsage', 'onSessionEnd'] as const) {
    const hook = options[name]
    if (hook !== undefined && typeof hook !== 'function') throw new InvalidOptionError(`"${name}" must be a function`)
    settings.hooks[name] = hook as never
  }
  if (settings.heartbeatInterval > 0 && settings.pongTimeout >= settings.heartbeatInterval) {
    throw new InvalidOptionError('"pongTimeout" must be shorter than "heartbeatInterval"')
  }
  return settings
}
