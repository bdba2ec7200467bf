// fastify-realtime-proxy: one websocket route that relays OpenAI-schema realtime sessions to the provider
// chosen per request, with the provider's credentials added server-side.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { settingsFrom, type RealtimeProxyOptions } from './options.js'
import { readCredential, type RealtimeRequest } from './credentials.js'
import { Heartbeat } from './heartbeat.js'
import { SessionHub, type RealtimeStats } from './hub.js'
import { createMetrics, type Metrics } from './metrics.js'
import { ProviderRegistry } from './registry.js'
import { realtimeRoute, type RouteState } from './route.js'
import { signalingRoutes } from './signaling.js'
import { UpstreamHttp } from './upstream-http.js'
import type { RealtimeSession } from './session.js'

export * from './errors.js'
export {
  DEFAULT_CALL_TTL, DEFAULT_CLOSE_TIMEOUT, DEFAULT_DIAL_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_ATTACHES_PER_CALL, DEFAULT_MAX_EXPIRES_AFTER, DEFAULT_MAX_PAYLOAD, DEFAULT_PATH, DEFAULT_PONG_TIMEOUT, DEFAULT_SIGNALING_BODY_LIMIT
} from './options.js'
export type { RealtimeProxyOptions, SignalingOptions } from './options.js'
export { ProviderRegistry } from './registry.js'
export type {
  ApiKey, Endpoint, HttpTarget, ModelRoute, Provider, ProviderConfig, ProviderType, RegistryOptions, Resolution, RouteQuery, TargetRequest, UpstreamTarget
} from './registry.js'
export type { CloseRecord, LegStats, Side } from './relay.js'
export type { RealtimeSession, SessionSummary } from './session.js'
export type { RealtimeStats, SessionHooks, Traffic } from './hub.js'
export type { MetricsOptions } from './metrics.js'
export type { CredentialSource, RealtimeRequest } from './credentials.js'
export type { AllowedOrigins } from './origin.js'
export { DEFAULT_MAX_CALLS, MemoryStore, type CallRecord, type CallStore, type MemoryStoreOptions, type SessionStore } from './store.js'
export type { EventPolicyOptions, PolicySession, RealtimeEvent } from './policy.js'
export type { FrameRate } from './rate-limit.js'
export type { ModelPricing, Pricing } from './pricing.js'
export type { Billing } from './meter.js'
export type { DurationUsage, ResponseUsage, TokenUsage, TranscriptionUsage, UsageRecord, UsageTotals } from './usage.js'

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

async function shutdown (state: RouteState): Promise<void> {
  state.closing = true
  for (const dial of state.dials) dial.abort(new Error('server shutting down'))
  const { closeTimeout } = state.settings
  await Promise.all([...state.hub.live.values()].map((s) => s.close(1001, 'server shutting down', closeTimeout)))
}

/** Providers of type `simulator` without a baseURL get an embedded simulator, started here and closed with the app. */
async function withSimulator (fastify: FastifyInstance, options: RealtimeProxyOptions): Promise<RealtimeProxyOptions> {
  const providers = options.providers ?? {}
  const simulated = Object.entries(providers).filter(([name, p]) => (p?.type ?? name) === 'simulator' && p?.baseURL === undefined)
  if (simulated.length === 0) return options
  const { RealtimeSimulator } = await import('./simulator/index.js')
  const simulator = await RealtimeSimulator.start()
  fastify.addHook('onClose', () => simulator.close())
  const filled = Object.fromEntries(simulated.map(([name, p]) => [name, { ...p, type: 'simulator' as const, baseURL: simulator.url }]))
  return { ...options, providers: { ...providers, ...filled } }
}

const plugin: FastifyPluginAsync<RealtimeProxyOptions> = async (fastify: FastifyInstance, rawOptions) => {
  const settings = settingsFrom(rawOptions)
  const options = await withSimulator(fastify, rawOptions)
  const metricsOptions = settings.metrics
  const heartbeat = settings.heartbeatInterval > 0 ? new Heartbeat(settings.heartbeatInterval, settings.pongTimeout) : undefined
  const hub = new SessionHub(settings.hooks, metricsOptions === undefined ? undefined : (h) => createMetrics(metricsOptions, h), heartbeat)
  const state: RouteState = { registry: new ProviderRegistry(options), settings, hub, dials: new Set(), closing: false }
  const metrics = hub.metrics
  for (const [name, config] of Object.entries(rawOptions.providers)) {
    if (config.apiKey === undefined && state.registry.get(name)?.type !== 'simulator') {
      fastify.log.warn({ provider: name }, `providers.${name} has no apiKey: its sessions are dialled without credentials (set apiKey: null if it takes none)`)
    }
  }

  // Added before @fastify/websocket's own preClose, which closes every client without a code.
  fastify.addHook('preClose', () => shutdown(state))
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
  fastify.decorate('realtime', {
    providers: state.registry,
    sessions: hub.live,
    stats: () => hub.stats(),
    metrics: metrics?.registry
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
  fastify.route({ method: 'GET', url: settings.path, websocket: true, ...realtimeRoute(state) })
  if (settings.signaling !== undefined) {
    const http = new UpstreamHttp(settings.dialTimeout)
    fastify.addHook('onClose', () => http.close())
    await fastify.register(signalingRoutes(state, http))
  }
}

export const realtimeProxy = fp(plugin, { fastify: '5.x', name: 'fastify-realtime-proxy' })
export default realtimeProxy
