// fastify-realtime-proxy: one websocket route that relays OpenAI-schema realtime sessions to the provider
// chosen per request, with the provider's credentials added server-side.
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import websocket from '@fastify/websocket'
import { settingsFrom, type RealtimeProxyOptions } from './options.js'
import { readCredential, type RealtimeRequest } from './http/credentials.js'
import { Heartbeat } from './session/heartbeat.js'
import { SessionHub, type RealtimeStats } from './session/hub.js'
import { createMetrics, type Metrics } from './usage/metrics.js'
import { ProviderRegistry, providerTypeOf } from './providers/registry.js'
import { isProviderType, providerTypes } from './providers/index.js'
import type { ProviderModule } from './providers/types.js'
import { realtimeRoute } from './http/route.js'
import { liveRoute } from './http/live-route.js'
import { translation } from './protocols/translation.js'
import { live } from './protocols/live.js'
import { forwarder } from './http/forward.js'
import { liveSignalingRoutes } from './http/live-signaling.js'
import { signalingRoutes } from './http/signaling-routes.js'
import { UpstreamHttp } from './upstream/http-client.js'
import { ProviderDialer } from './upstream/provider-dial.js'
import type { RealtimeSession } from './session/session.js'
import type { PluginState } from './state.js'
import { CLOSE } from './session/close-codes.js'

export * from './errors.js'
export {
  DEFAULT_CALL_TTL, DEFAULT_CLOSE_TIMEOUT, DEFAULT_DIAL_TIMEOUT, DEFAULT_HEARTBEAT_INTERVAL, DEFAULT_HIGH_WATER_MARK,
  DEFAULT_MAX_ATTACHES_PER_CALL, DEFAULT_MAX_EXPIRES_AFTER, DEFAULT_MAX_PAYLOAD, DEFAULT_START_TIMEOUT, DEFAULT_PATH, DEFAULT_PONG_TIMEOUT, DEFAULT_SIGNALING_BODY_LIMIT
} from './options.js'
export type { LiveOptions, RealtimeProxyOptions } from './options.js'
export type { SignalingOptions } from './http/signaling-routes.js'
export { ProviderRegistry } from './providers/registry.js'
export type {
  ApiKey, Endpoint, HttpTarget, ModelRoute, Provider, ProviderConfig, ProviderType, RegistryOptions, Resolution, RouteQuery, TargetRequest, UpstreamTarget
} from './providers/registry.js'
export type { CloseRecord, LegStats, Side } from './session/relay.js'
export type { RealtimeSession, SessionSummary } from './session/session.js'
export type { RealtimeStats, SessionHooks } from './session/hub.js'
export type { MetricsOptions, Traffic } from './usage/metrics.js'
export type { CredentialSource, RealtimeRequest } from './http/credentials.js'
export type { AllowedOrigins } from './http/origin.js'
export { DEFAULT_MAX_CALLS, MemoryStore, type MemoryStoreOptions } from './store/memory.js'
export type { CallRecord, CallStore, CountingStore, Lease, SessionStore } from './store/types.js'
export { isSessionUpdate } from './session/policy.js'
export type { EventPolicyOptions, PolicySession, RealtimeEvent, SessionConfig, SessionUpdateEvent } from './session/policy.js'
export type { FrameRate } from './limits/rate-limit.js'
export type { ModelPricing, Pricing } from './usage/pricing.js'
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

async function shutdown (state: PluginState, closeTimeout: number): Promise<void> {
  state.closing = true
  state.dialer.abortAll(new Error('server shutting down'))
  for (const drop of state.pending) drop()
  await Promise.all([...state.hub.live.values()].map((s) => s.close(CLOSE.goingAway, 'server shutting down', closeTimeout)))
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
  const dialer = new ProviderDialer(settings, (provider, seconds, outcome) => hub.dialed(provider, seconds, outcome))
  const state: PluginState = { registry: new ProviderRegistry(options), hub, dialer, closing: false, pending: new Set() }
  const metrics = hub.metrics
  for (const [name, config] of Object.entries(rawOptions.providers)) {
    if (config.apiKey === undefined && state.registry.get(name)?.keyless === false) {
      fastify.log.warn({ provider: name }, `providers.${name} has no apiKey: its sessions are dialled without credentials (set apiKey: null if it takes none)`)
    }
  }

  // Added before @fastify/websocket's own preClose, which closes every client without a code.
  fastify.addHook('preClose', () => shutdown(state, settings.closeTimeout))
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
  fastify.route({ method: 'GET', url: settings.path, websocket: true, ...realtimeRoute(state, settings) })
  fastify.route({ method: 'GET', url: `${settings.path.replace(/\/+$/, '')}/translations`, websocket: true, ...realtimeRoute(state, settings, translation) })
  if (settings.live !== undefined) fastify.route({ method: 'GET', url: settings.live.path, websocket: true, ...liveRoute(state, settings) })
  if (settings.signaling !== undefined) {
    const http = new UpstreamHttp(settings.dialTimeout)
    fastify.addHook('onClose', () => http.close())
    const forward = forwarder(state, settings.forwardHeaders, http)
    await fastify.register(signalingRoutes(state, settings, forward))
    if (settings.live !== undefined) {
      await fastify.register(liveSignalingRoutes(state, settings, forward))
      fastify.route({ method: 'GET', url: `${settings.live.path.replace(/\/+$/, '')}/:sessionId/attach`, websocket: true, ...realtimeRoute(state, settings, live, true) })
    }
  }
}

export const realtimeProxy = fp(plugin, { fastify: '5.x', name: 'fastify-realtime-proxy' })
export default realtimeProxy
