// fastify-realtime-proxy: one websocket route that relays OpenAI-schema realtime sessions to the provider
// chosen per request, with the provider's credentials added server-side.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import type { Socket } from 'node:net'
import { settingsFrom, type RealtimeProxyOptions, type Settings } from './options.js'
import { RealtimeProxyTypeError, ShuttingDownError } from './errors.js'
import { storeKey, type FleetBus, type FleetMessage } from './store/types.js'
import { readCredential, type RealtimeRequest } from './http/credentials.js'
import { Heartbeat } from './session/heartbeat.js'
import { SessionHub, type RealtimeStats } from './session/hub.js'
import { createMetrics, type Metrics } from './usage/metrics.js'
import { ProviderRegistry, providerTypeOf } from './providers/registry.js'
import { isProviderType, providerTypes } from './providers/index.js'
import type { ProviderModule } from './providers/types.js'
import { ATTACH_ROUTE, realtimeRoute } from './http/realtime-route.js'
import { dropAnsweredUpgrades } from './http/answered-upgrades.js'
import { liveRoute } from './http/live-route.js'
import { translation } from './protocols/translation.js'
import { live } from './protocols/live.js'
import { forwarder } from './http/forward.js'
import { liveSignalingRoutes } from './http/live-signaling.js'
import { signalingRoutes } from './http/signaling-routes.js'
import { UpstreamHttp } from './upstream/http-client.js'
import { ProviderDialer } from './upstream/provider-dial.js'
import { DeploymentHealth } from './upstream/failover.js'
import type { RealtimeSession } from './session/session.js'
import type { PluginState } from './state.js'
import { CLOSE } from './close-codes.js'
import { Ledger } from './limits/budget.js'

export * from './errors.js'
export {
  DEFAULT_CALL_TTL, DEFAULT_CLOSE_TIMEOUT, DEFAULT_DIAL_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_ATTACHES_PER_CALL, DEFAULT_MAX_EXPIRES_AFTER, DEFAULT_MAX_PAYLOAD, DEFAULT_START_TIMEOUT, DEFAULT_PATH, DEFAULT_PONG_TIMEOUT, DEFAULT_SIGNALING_BODY_LIMIT
} from './options.js'
export type { LiveOptions, RealtimeProxyOptions } from './options.js'
export type { SignalingOptions } from './http/signaling-routes.js'
export { ProviderRegistry } from './providers/registry.js'
export type {
  ApiKey, CodecSettings, Endpoint, HttpTarget, ModelRoute, ModelTarget, Plan, Provider, ProviderConfig, ProviderType, RegistryOptions, Resolution, RouteQuery,
  RouteStrategy, TargetRequest, UpstreamTarget
} from './providers/registry.js'
export { OPENAI_TO_GEMINI_VOICES } from './codecs/gemini/voices.js'
export { DEFAULT_COOLDOWN, DEFAULT_MAX_ATTEMPTS, type Attempt, type AttemptOutcome, type FailoverOptions, type RetryOn } from './upstream/failover.js'
export type { CloseRecord, LegStats, Side } from './session/relay.js'
export type { RealtimeSession, SessionSummary } from './session/session.js'
export type { RealtimeStats, SessionHooks } from './session/hub.js'
export type { MetricsOptions, Traffic } from './usage/metrics.js'
export type { CredentialSource, RealtimeRequest } from './http/credentials.js'
export type { AllowedOrigins } from './http/origin.js'
export { DEFAULT_MAX_CALLS, MemoryStore, type MemoryStoreOptions } from './store/memory.js'
export { DEFAULT_FLEET_LOG_TTL, RedisStore, type RedisClient, type RedisStoreOptions, type RedisSubscriber } from './store/redis.js'
export type { BudgetStore, CallRecord, CallStore, CountingStore, FleetBus, FleetMessage, Lease, SessionStore } from './store/types.js'
export type { BudgetOptions } from './limits/budget.js'
export { isSessionUpdate } from './session/policy.js'
export type { EventPolicyOptions, PolicySession, RealtimeEvent, SessionConfig, SessionUpdateEvent } from './session/policy.js'
export type { FrameRate } from './limits/rate-limit.js'
export type { ModelPricing, Pricing } from './usage/pricing.js'
export { defaultPricing, defaultPricingSources, type PriceSource } from './usage/prices.js'
export type { Billing } from './providers/types.js'
export type { DurationUsage, ResponseUsage, TokenUsage, TranscriptionUsage, UsageRecord, UsageTotals } from './usage/records.js'

/** `fastify.realtime` */
export interface RealtimeDecorator {
  /** The provider registry: look up, resolve, add, replace and remove providers at runtime. */
  readonly providers: ProviderRegistry
  /** Live sessions by id. */
  readonly sessions: ReadonlyMap<string, RealtimeSession>
  /** Live and cumulative counts: sessions by provider, frames, bytes, usage. */
  stats (): RealtimeStats
  /** The prom-client registry, when the `metrics` option is on. */
  readonly metrics?: Metrics['registry']
  /**
   * Closes the sessions of a caller (`key`: what `sessionKey` returns, else its credential) or one session, on
   * every replica sharing the store: an error event (`session_terminated`), then 1008. Resolves once the message
   * is sent, with the number of sessions cut on this replica.
   */
  terminate (which: { key: string } | { sessionId: string }): Promise<number>
}

declare module 'fastify' {
  interface FastifyInstance {
    realtime: RealtimeDecorator
  }
  interface FastifyRequest {
    /** The caller's credential, for the app's auth hooks on the realtime route. */
    realtime: RealtimeRequest
  }
}

/**
 * While the server closes, an upgrade gets 503 with Retry-After at once, so a load balancer retries another
 * replica (Fastify's own 503 while closing has none).
 */
function refuseUpgrades (server: FastifyInstance['server'], retryAfter: number): void {
  const body = JSON.stringify({ statusCode: 503, code: 'FST_REALTIME_SHUTTING_DOWN', error: 'Service Unavailable', message: new ShuttingDownError().message })
  server.removeAllListeners('upgrade')
  server.on('upgrade', (_request, socket: Socket) => {
    socket.on('error', () => {})
    socket.end(`HTTP/1.1 503 Service Unavailable\r\nRetry-After: ${retryAfter}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  })
}

async function shutdown (fastify: FastifyInstance, state: PluginState, settings: Settings): Promise<void> {
  state.closing = true
  refuseUpgrades(fastify.server, settings.retryAfter)
  state.dialer.abortAll(new Error('server shutting down'))
  for (const drop of state.pending) drop()
  const { live } = state.hub
  if (settings.drainTimeout > 0 && live.size > 0) {
    fastify.log.info({ sessions: live.size, drainTimeout: settings.drainTimeout }, 'draining: live sessions may finish before they are closed with 1001')
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.all([...live.values()].map(async (s) => await s.ended)),
      new Promise((resolve) => { timer = setTimeout(resolve, settings.drainTimeout) })
    ])
    clearTimeout(timer)
  }
  await Promise.all([...live.values()].map((s) => s.close(CLOSE.goingAway, 'server shutting down', settings.closeTimeout)))
}

/** Entries of an embedded type (the simulator) without a baseURL get one started here, closed with the app. */
async function withEmbedded (fastify: FastifyInstance, options: RealtimeProxyOptions): Promise<RealtimeProxyOptions> {
  const providers = options.providers ?? {}
  const filled: RealtimeProxyOptions['providers'] = {}
  const started = new Map<string, string>() // one instance per type
  for (const [name, config] of Object.entries(providers)) {
    if (config === null || typeof config !== 'object') continue // the registry refuses these below, with a message
    const type = providerTypeOf(name, config)
    if (!isProviderType(type)) continue
    const { embedded } = providerTypes[type] as ProviderModule
    if (embedded === undefined || config.baseURL !== undefined) continue
    let url = started.get(type)
    if (url === undefined) {
      const server = await embedded()
      fastify.addHook('onClose', () => server.close())
      started.set(type, url = server.url)
    }
    filled[name] = { ...config, type, baseURL: url }
  }
  return { ...options, providers: { ...providers, ...filled } }
}

const plugin: FastifyPluginAsync<RealtimeProxyOptions> = async (fastify: FastifyInstance, rawOptions) => {
  const settings = settingsFrom(rawOptions)
  const options = await withEmbedded(fastify, rawOptions)
  const metricsOptions = settings.metrics
  const heartbeat = settings.heartbeatInterval > 0 ? new Heartbeat(settings.heartbeatInterval, settings.pongTimeout) : undefined
  const hub = new SessionHub(settings.hooks, metricsOptions === undefined ? undefined : (h) => createMetrics(metricsOptions, h), heartbeat)
  const dialer = new ProviderDialer(settings, (provider, seconds, outcome) => hub.dialed(provider, seconds, outcome), (provider, outcome) => hub.attempted(provider, outcome),
    (provider, outcome) => hub.unopened(provider, outcome))
  const state: PluginState = { registry: new ProviderRegistry(options), hub, dialer, health: new DeploymentHealth(), closing: false, pending: new Set() }
  const metrics = hub.metrics
  for (const [name, config] of Object.entries(rawOptions.providers)) {
    if (config.apiKey === undefined && state.registry.get(name)?.keyless === false) {
      fastify.log.warn({ provider: name }, `providers.${name} has no apiKey: its sessions are dialled without credentials (set apiKey: null if it takes none)`)
    }
  }

  // Added before @fastify/websocket's own preClose, which closes every client without a code.
  fastify.addHook('preClose', () => shutdown(fastify, state, settings))
  // Fleet-wide messages (terminate, a spent budget) from the store's bus: this replica's own included.
  const bus = settings.store as Partial<FleetBus>
  if (typeof bus.subscribe === 'function' && typeof bus.publish === 'function') {
    await bus.subscribe((message) => {
      if (message.type === 'budget' && typeof message.total === 'number') settings.budgets?.ledger.remember(message.key, message.total)
      hub.fleet(message)
    })
    fastify.addHook('onClose', async () => { await bus.close?.() })
  }
  /** Cuts locally at once, and tells the other replicas; a failed publish is logged (the local cut stands). */
  const broadcast = async (message: FleetMessage): Promise<number> => {
    const cut = hub.fleet(message)
    try {
      await bus.publish?.(message)
    } catch (err) {
      fastify.log.error({ err }, 'could not tell the other replicas: the store is unreachable')
    }
    return cut
  }
  const { budgetOptions } = settings
  if (budgetOptions !== undefined) {
    const ledger = new Ledger(budgetOptions.store, budgetOptions.window, async (key, total) => await broadcast({ type: 'budget', key, total }), fastify.log)
    fastify.addHook('onClose', () => { ledger.close() })
    settings.budgets = { ...budgetOptions, ledger }
  }
  if (fastify.hasDecorator('websocketServer')) {
    const appMax = fastify.websocketServer.options.maxPayload
    if (appMax !== undefined && appMax > settings.maxPayload) {
      fastify.log.warn({ appMax, maxPayload: settings.maxPayload }, '@fastify/websocket was registered with a larger maxPayload; it applies to client frames')
    }
  } else {
    // closeTimeout bounds every close handshake, not only shutdown's: a client that broke the protocol and
    // then never closes its side is dropped after it, not after ws's 30 s. (A variable, not a literal: ws
    // 8.23 takes closeTimeout, which @types/ws 8.18 does not list yet.)
    const options = { maxPayload: settings.maxPayload, perMessageDeflate: false, closeTimeout: settings.closeTimeout }
    await fastify.register(websocket, { options })
  }
  fastify.addHook('onClose', dropAnsweredUpgrades(fastify.server))
  fastify.decorate('realtime', {
    providers: state.registry,
    sessions: hub.live,
    stats: () => ({ ...hub.stats(), cooling: state.health.snapshot() }),
    metrics: metrics?.registry,
    async terminate (which) {
      if (which !== null && typeof which === 'object' && 'sessionId' in which && typeof which.sessionId === 'string') {
        return await broadcast({ type: 'terminate', sessionId: which.sessionId })
      }
      if (which !== null && typeof which === 'object' && 'key' in which && typeof which.key === 'string') {
        return await broadcast({ type: 'terminate', key: storeKey(which.key) })
      }
      throw new RealtimeProxyTypeError('terminate() takes { key } or { sessionId }')
    }
  } satisfies RealtimeDecorator)
  if (metrics !== undefined && metrics.route !== false) {
    const { registry } = metrics
    fastify.get(metrics.route, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()))
  }

  const { credentialQuery } = settings
  // Read once and kept: the route later rewrites Sec-WebSocket-Protocol, which may carry the credential.
  const credentials = new WeakMap<FastifyRequest, RealtimeRequest>()
  fastify.decorateRequest('realtime', {
    getter (this: FastifyRequest): RealtimeRequest {
      let found = credentials.get(this)
      if (found === undefined) credentials.set(this, found = readCredential(this, credentialQuery))
      return found
    }
  })
  fastify.route({ method: 'GET', url: settings.path, websocket: true, ...realtimeRoute(state, settings) })
  fastify.route({ method: 'GET', url: `${settings.path.replace(/\/+$/, '')}/translations`, websocket: true, ...realtimeRoute(state, settings, translation) })
  if (settings.live !== undefined) fastify.route({ method: 'GET', url: settings.live.path, websocket: true, ...liveRoute(state, settings) })
  if (settings.signaling !== undefined) {
    const http = new UpstreamHttp(settings.dialTimeout)
    fastify.addHook('onClose', () => http.close())
    const forward = forwarder(state, settings.forwardHeaders, http, settings.failover)
    await fastify.register(signalingRoutes(state, settings, forward))
    if (settings.live !== undefined) {
      await fastify.register(liveSignalingRoutes(state, settings, forward))
      fastify.route({ method: 'GET', url: `${settings.live.path.replace(/\/+$/, '')}${ATTACH_ROUTE}`, websocket: true, ...realtimeRoute(state, settings, live, true) })
    }
  }
}

export const realtimeProxy = fp(plugin, { fastify: '5.x', name: 'fastify-realtime-proxy' })
export default realtimeProxy
