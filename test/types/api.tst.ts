// Type tests of the public API (tstyche): the Fastify augmentation, option types, hook signatures, records.
import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import realtimeProxy, {
  defaultPricing,
  defaultPricingSources,
  MemoryStore,
  ProviderFailedError,
  ProviderRegistry,
  ProviderRejectedError,
  ProviderUnreachableError,
  RealtimeProxyError,
  RedisStore,
  type Attempt,
  type CallRecord,
  type Lease,
  type PriceSource,
  type Pricing,
  type RealtimeDecorator,
  type RealtimeEvent,
  type RealtimeProxyOptions,
  type RealtimeRequest,
  type RealtimeSession,
  type RealtimeStats,
  type SessionStore,
  type SessionSummary,
  type UsageRecord
} from '../../lib/index.js'

test('register takes the options; the decorators are typed', async () => {
  const app = Fastify()
  await app.register(realtimeProxy, { providers: { openai: { apiKey: 'k' } } })
  expect(app.realtime).type.toBe<RealtimeDecorator>()
  expect(app.realtime.providers).type.toBe<ProviderRegistry>()
  expect(app.realtime.sessions).type.toBe<ReadonlyMap<string, RealtimeSession>>()
  expect(app.realtime.stats()).type.toBe<RealtimeStats>()
  expect(app.realtime.stats().cooling).type.toBe<Record<string, number> | undefined>()
  app.get('/', async (request: FastifyRequest) => {
    expect(request.realtime).type.toBe<RealtimeRequest>()
    expect(request.realtime.credential).type.toBe<string | undefined>()
    return null
  })
})

test('options: providers are required, names are checked, values are typed', () => {
  expect<RealtimeProxyOptions>().type.toBeAssignableFrom({ providers: { openai: { apiKey: 'k' } } })
  expect<RealtimeProxyOptions>().type.toBeAssignableFrom({
    providers: { azure: { apiKey: async () => 'token', baseURL: 'https://r.openai.azure.com', auth: 'bearer' as const }, local: { baseURL: 'http://127.0.0.1/v1', apiKey: null } },
    models: { voice: { provider: 'azure', model: 'deployment' }, other: 'local' },
    maxSessions: 10,
    maxAttachesPerCall: 1,
    pinTranscriptionModel: false,
    signaling: { sideband: false, callTTL: 60_000 },
    metrics: { prefix: 'x_' },
    rateLimit: { perSecond: 50 },
    live: { path: '/v1/live/sessions', startTimeout: 5000 }
  })
  expect<RealtimeProxyOptions>().type.toBeAssignableFrom({ providers: { openai: {} }, live: true })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: { openai: {} }, live: { startTimeout: '5s' } })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({})
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: {}, maxSessions: '5' })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: { x: { type: 'nope' } } })
})

test('options: Gemini Live on the Gemini API and on Vertex AI', () => {
  expect<RealtimeProxyOptions>().type.toBeAssignableFrom({
    providers: {
      gemini: { type: 'gemini' as const, apiKey: 'AIza...', startTimeout: 2000 },
      vertex: { type: 'vertex' as const, project: 'my-project', location: 'us-central1', apiKey: async () => 'ya29.token' }
    }
  })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: { vertex: { type: 'vertex' as const, location: 1 } } })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: { gemini: { startTimeout: '5s' } } })
})

test('options: several deployments per model and how they fail over', () => {
  expect<RealtimeProxyOptions>().type.toBeAssignableFrom({
    providers: { east: { apiKey: 'k' }, west: { apiKey: 'k' } },
    models: { voice: { targets: [{ provider: 'east', model: 'm', weight: 3 }, { provider: 'west' }], strategy: 'weighted' as const } },
    failover: { maxAttempts: 2, cooldown: 10_000, retryOn: ['429' as const, '5xx' as const] }
  })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: { a: {} }, models: { voice: { targets: [{ provider: 'a' }], strategy: 'random' } } })
  expect<RealtimeProxyOptions>().type.not.toBeAssignableFrom({ providers: { a: {} }, failover: { retryOn: ['4xx'] } })
})

test('hooks see typed sessions, events, records and summaries', () => {
  const options: RealtimeProxyOptions = {
    providers: { openai: {} },
    onClientEvent (event, session) {
      expect(event).type.toBe<RealtimeEvent>()
      expect(session.intent).type.toBe<string | undefined>()
      return null
    },
    onUsage (record, session) {
      expect(record).type.toBe<UsageRecord>()
      expect(session).type.toBe<RealtimeSession>()
      if (record.kind === 'response') expect(record.totalTokens).type.toBe<number>()
      if (record.kind === 'duration') expect(record.measuredFrom).type.toBe<'input-audio' | undefined>()
    },
    onSessionEnd (summary) {
      expect(summary).type.toBe<SessionSummary>()
      expect(summary.usage.costUSD).type.toBe<number>()
      expect(summary.usageFinal).type.toBe<boolean | undefined>()
      expect(summary.reconnects).type.toBe<number | undefined>()
      expect(summary.attempts).type.toBe<Attempt[] | undefined>()
    }
  }
  expect(options).type.toBe<RealtimeProxyOptions>()
})

test('a store is leased; MemoryStore is one', () => {
  expect<SessionStore>().type.toBeAssignableFrom(new MemoryStore())
  expect(new MemoryStore().acquire('k', 1, 1000)).type.toBe<Lease | undefined>()
  expect<CallRecord>().type.toBeAssignableFrom({ provider: 'openai', owner: 'key:x' })
  expect<CallRecord>().type.toBeAssignableFrom({ provider: 'openai', owner: 'key:x', protocol: 'live' as const })
  expect<CallRecord>().type.not.toBeAssignableFrom({ provider: 'openai', owner: 'key:x', protocol: 'sip' })
})

test('RedisStore takes the app\'s ioredis client; terminate and budgets are typed', async () => {
  const { Redis } = await import('ioredis')
  expect(RedisStore).type.toBeConstructableWith({ client: new Redis() })
  expect(RedisStore).type.toBeConstructableWith({ client: new Redis(), prefix: 'p:', leaseTTL: 1000, commandTimeout: 500 })
  expect(RedisStore).type.not.toBeConstructableWith({ client: {} })
  expect<SessionStore>().type.toBeAssignableFrom(new RedisStore({ client: new Redis() }))
  const app = Fastify()
  expect(app.realtime.terminate({ key: 'user-1' })).type.toBe<Promise<number>>()
  expect(app.realtime.terminate).type.toBeCallableWith({ sessionId: 's' })
  expect(app.realtime.terminate).type.not.toBeCallableWith({ user: 'u' })
  expect<RealtimeProxyOptions['budgets']>().type.toBeAssignableFrom({ limitUSD: (key: string) => key.length, window: 1000 })
  expect<RealtimeProxyOptions['budgets']>().type.not.toBeAssignableFrom({ limitUSD: 5, window: 1000 })
})

test('a provider says which protocols it serves', () => {
  const registry = new ProviderRegistry({ providers: { openai: {} } })
  expect(registry.get('openai')?.serves('translation')).type.toBe<boolean | undefined>()
  const provider = registry.get('openai')
  if (provider !== undefined) expect(provider.serves).type.not.toBeCallableWith('gemini')
})

test('defaultPricing spreads into pricing and is read-only', () => {
  expect<RealtimeProxyOptions>().type.toBeAssignableFrom({ providers: {}, pricing: { ...defaultPricing, 'gpt-realtime': { perMinute: 1 } } })
  expect(defaultPricing).type.toBe<Readonly<Pricing>>()
  expect(defaultPricingSources['gpt-realtime']).type.toBe<Readonly<PriceSource> | undefined>()
  expect<Pricing>().type.not.toBeAssignableFrom({ m: { input: { txt: 4 } } })
})

test('the provider errors carry their fields, typed; every error is a RealtimeProxyError', () => {
  const rejected = new ProviderRejectedError(429, 'slow down', { body: '{"error":{}}', retryAfter: '2' })
  expect(rejected.statusCode).type.toBe<number>()
  expect(rejected.body).type.toBe<string | undefined>()
  expect(rejected.retryAfter).type.toBe<string | undefined>()
  expect(new ProviderFailedError('openai', 503, undefined).providerStatus).type.toBe<number>()
  expect(new ProviderUnreachableError('openai', 'ECONNREFUSED').detail).type.toBe<string>()
  expect<RealtimeProxyError>().type.toBeAssignableFrom(rejected)
  expect(ProviderRejectedError).type.not.toBeConstructableWith('429', 'x')
})
