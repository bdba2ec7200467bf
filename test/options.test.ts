// Registration fails fast with a message that names the option and the fix.
import t from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import realtimeProxy, { DEFAULT_PATH, type RealtimeProxyOptions } from '../lib/index.js'
import { LogCapture } from './helpers.js'

async function registerError (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  try {
    await app.register(realtimeProxy, options as RealtimeProxyOptions)
    await app.ready()
  } catch (err) {
    return err as Error
  } finally {
    await app.close()
  }
  throw new Error('register did not fail')
}

const cases: Array<[string, unknown, string]> = [
  ['no providers', {}, '"providers" must name at least one provider, such as { openai: { apiKey: process.env.OPENAI_API_KEY } }'],
  ['empty providers', { providers: {} }, '"providers" must name at least one provider, such as { openai: { apiKey: process.env.OPENAI_API_KEY } }'],
  ['provider not an object', { providers: { openai: 'sk' } }, "providers.openai must be an object such as { apiKey: '...' }"],
  ['unknown type', { providers: { x: { type: 'anthropic' } } }, 'providers.x.type "anthropic" is unknown; use one of openai, azure, xai, bailian, zai, openai-compatible, gemini, vertex, simulator'],
  ['unparseable baseURL', { providers: { openai: { baseURL: 'api.openai.com/v1' } } }, 'providers.openai.baseURL "api.openai.com/v1" is not a URL; use an absolute URL such as https://api.example.com/v1'],
  ['unsupported scheme', { providers: { openai: { baseURL: 'ftp://api.openai.com/v1' } } }, 'providers.openai.baseURL uses unsupported scheme "ftp:"; use https:, http:, wss: or ws:'],
  ['credentials in baseURL', { providers: { openai: { baseURL: 'https://u:p@api.openai.com/v1' } } }, 'providers.openai.baseURL must not carry credentials; put the key in providers.openai.apiKey'],
  ['azure without baseURL', { providers: { azure: {} } }, 'providers.azure.baseURL is required for type "azure"; set it to your resource endpoint, such as https://my-resource.openai.azure.com'],
  ['compatible without baseURL', { providers: { local: {} } }, 'providers.local.baseURL is required for type "openai-compatible"; set it to the base that ends before /realtime'],
  ['bad apiKey type', { providers: { openai: { apiKey: 42 } } }, 'providers.openai.apiKey must be a string, a function returning one, or null for a provider that takes no key'],
  ['apiVersion off azure', { providers: { openai: { apiVersion: '2025-04-01-preview' } } }, 'providers.openai.apiVersion only applies to type "azure"'],
  ['auth off azure', { providers: { openai: { auth: 'bearer' } } }, 'providers.openai.auth only applies to type "azure"'],
  ['empty apiVersion', { providers: { azure: { baseURL: 'https://r.openai.azure.com', apiVersion: '' } } }, 'providers.azure.apiVersion must be a non-empty string such as "2025-04-01-preview"'],
  ['bad auth', { providers: { azure: { baseURL: 'https://r.openai.azure.com', auth: 'basic' } } }, 'providers.azure.auth must be "api-key" or "bearer"'],
  ['bad headers', { providers: { openai: { headers: { 'bad header': 'x' } } } }, 'providers.openai.headers must map header names to string values'],
  ['bad provider name', { providers: { 'a b': {} } }, 'provider name "a b" may only use letters, digits, "_", "-" and "."'],
  ['models naming a missing provider', { providers: { openai: {} }, models: { 'grok-voice': 'xai' } }, 'models["grok-voice"] names provider "xai", which is not in "providers" (openai); add it there or fix the name'],
  ['models entry malformed', { providers: { openai: {} }, models: { m: { model: 'x' } } }, 'models["m"] must be a provider name or { provider, model }'],
  ['models not an object', { providers: { openai: {} }, models: null }, '"models" must map model names to a provider name or { provider, model }'],
  ['defaultProvider missing', { providers: { openai: {} }, defaultProvider: 'xai' }, 'defaultProvider names provider "xai", which is not in "providers" (openai); add it there or fix the name'],
  ['path', { providers: { openai: {} }, path: 'v1/realtime' }, '"path" must start with "/", such as "/v1/realtime"'],
  ['dialTimeout', { providers: { openai: {} }, dialTimeout: 0 }, '"dialTimeout" must be an integer >= 1, got 0'],
  ['maxPayload', { providers: { openai: {} }, maxPayload: '16mb' }, '"maxPayload" must be an integer >= 1, got "16mb"'],
  ['pongTimeout vs heartbeat', { providers: { openai: {} }, heartbeatInterval: 1000, pongTimeout: 1000 }, '"pongTimeout" must be shorter than "heartbeatInterval"'],
  ['forwardHeaders shape', { providers: { openai: {} }, forwardHeaders: 'x-tenant' }, '"forwardHeaders" must be an array of header names, such as ["x-tenant-id"]'],
  ['forwardHeaders credentials', { providers: { openai: {} }, forwardHeaders: ['x-tenant', 'Authorization'] }, '"forwardHeaders" may not include "authorization": credentials, cookies, origin and hop-by-hop headers never travel upstream'],
  ['forwardHeaders websocket', { providers: { openai: {} }, forwardHeaders: ['Sec-WebSocket-Protocol'] }, '"forwardHeaders" may not include "sec-websocket-protocol": credentials, cookies, origin and hop-by-hop headers never travel upstream'],
  ['signaling not an object', { providers: { openai: {} }, signaling: 'yes' }, '"signaling" must be true or an object such as { maxExpiresAfter: 600 }'],
  ['signaling null', { providers: { openai: {} }, signaling: null }, '"signaling" must be true or an object such as { maxExpiresAfter: 600 }'],
  ['signaling cap', { providers: { openai: {} }, signaling: { maxExpiresAfter: 0 } }, '"signaling.maxExpiresAfter" must be an integer >= 1, got 0'],
  ['metering', { providers: { openai: {} }, metering: 'off' }, '"metering" must be a boolean'],
  ['signaling onSession', { providers: { openai: {} }, signaling: { onSession: 'x' } }, '"signaling.onSession" must be a function (session, request) => session'],
  ['signaling sideband', { providers: { openai: {} }, signaling: { sideband: 'on' } }, '"signaling.sideband" must be a boolean'],
  ['misspelt top-level option', { providers: { openai: {} }, maxSesions: 5 }, 'unknown option "maxSesions"; did you mean "maxSessions"?'],
  ['misspelt provider option', { providers: { openai: { baseUrl: 'http://127.0.0.1:1' } } }, 'unknown option "providers.openai.baseUrl"; did you mean "providers.openai.baseURL"?'],
  ['misspelt signaling option', { providers: { openai: {} }, signaling: { sidebnd: false } }, 'unknown option "signaling.sidebnd"; did you mean "signaling.sideband"?'],
  ['misspelt metrics option', { providers: { openai: {} }, metrics: { prefx: 'x_' } }, 'unknown option "metrics.prefx"; did you mean "metrics.prefix"?'],
  ['misspelt rateLimit option', { providers: { openai: {} }, rateLimit: { perSecond: 5, brust: 9 } }, 'unknown option "rateLimit.brust"; did you mean "rateLimit.burst"?'],
  ['NaN is printed as given', { providers: { openai: {} }, maxSessions: NaN }, '"maxSessions" must be an integer >= 1, got NaN'],
  ['a function where a number belongs', { providers: { openai: {} }, dialTimeout: () => 5 }, '"dialTimeout" must be an integer >= 1, got [Function: dialTimeout]'],
  ['store without calls', { providers: { openai: {} }, signaling: true, store: { acquire: () => true, release: () => {} } },
    '"store" must also have setCall(id, call, ttl), getCall(id) and deleteCall(id) when "signaling" is on: the call registry lives there']
]

for (const [name, options, message] of cases) {
  t.test(name, async (t) => {
    const err = await registerError(options)
    t.equal(err.code, 'FST_REALTIME_INVALID_OPTION')
    t.equal(err.message, `Invalid fastify-realtime-proxy option: ${message}`)
  })
}

t.test('Fastify\'s own register options pass; a provider without a key is named in one warning, unless its key is null', async (t) => {
  const logs = new LogCapture()
  const app = Fastify({ logger: { level: 'warn', stream: logs } })
  t.teardown(() => app.close())
  await app.register(realtimeProxy, {
    providers: { openai: {}, local: { baseURL: 'http://127.0.0.1:1/v1', apiKey: null }, keyed: { type: 'openai', apiKey: 'sk-x' }, sim: { type: 'simulator' } },
    logLevel: 'warn'
  } as RealtimeProxyOptions)
  await app.ready()
  t.same(logs.lines.map((l) => [l.msg, l.provider]), [['providers.openai has no apiKey: its sessions are dialled without credentials (set apiKey: null if it takes none)', 'openai']])
  t.equal(await app.realtime.providers.get('local')?.apiKey(), undefined, 'null: no key, no auth header')
})

t.test('defaults: the route is at /v1/realtime and plain GET gets 426', async (t) => {
  t.equal(DEFAULT_PATH, '/v1/realtime')
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(realtimeProxy, { providers: { openai: {} } })
  const res = await app.inject({ url: '/v1/realtime?model=m' })
  t.equal(res.statusCode, 426)
  t.same(res.json(), { statusCode: 426, code: 'FST_REALTIME_UPGRADE_REQUIRED', error: 'Upgrade Required', message: 'This route only accepts websocket upgrades' })
  t.ok(app.realtime.providers.has('openai'))
  t.equal(app.realtime.sessions.size, 0)
})

t.test('an app that registered @fastify/websocket keeps it, and hears about a larger maxPayload', async (t) => {
  const logs = new LogCapture()
  const app = Fastify({ logger: { stream: logs } })
  t.teardown(() => app.close())
  await app.register(websocket, { options: { maxPayload: 64 * 1024 * 1024 } })
  await app.register(realtimeProxy, { providers: { openai: {} }, path: '/rt' })
  await app.ready()
  t.equal(app.websocketServer.options.maxPayload, 64 * 1024 * 1024)
  t.ok(logs.lines.some((l) => l.msg === '@fastify/websocket was registered with a larger maxPayload; it applies to client frames'))
  t.equal(app.hasRoute({ method: 'GET', url: '/rt' }), true)
})
