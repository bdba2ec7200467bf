// A proxy under test, in its own process: this plugin (metering on; or with an event-policy hook too; or with a
// failing deployment in front of every model, `failover`; or speaking Gemini Live through its codec, `gemini`) or @fastify/http-proxy with websocket: true. Both run the same auth hook. GET /__rss reports memory and CPU time.
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
// The built package, as users run it: tsx (which runs this file) compiles with keepNames, which gives every
// closure a property store and would charge the plugin memory and time that dist/ does not have.
import realtimeProxy from '../dist/index.js'

const [kind, upstreamPort, redisPort] = process.argv.slice(2)
const upstream = `http://127.0.0.1:${upstreamPort}`
const app = Fastify({ logger: false })

app.addHook('onRequest', async (request, reply) => {
  if (request.url.startsWith('/__rss')) return
  if (request.headers.authorization !== 'Bearer bench') return reply.code(401).send({ error: 'unauthorized' })
})
// ?gc=1 collects garbage first (the proxy runs with --expose-gc), so memory figures are what is retained
app.get('/__rss', async (request) => {
  if ((request.query as { gc?: string }).gc === '1') globalThis.gc?.()
  const cpu = process.cpuUsage()
  const { rss, heapUsed } = process.memoryUsage()
  return { rss, heapUsed, cpu: cpu.user + cpu.system }
})

if (kind === 'http-proxy') {
  const { default: proxy } = await import('@fastify/http-proxy')
  await app.register(proxy, { upstream, prefix: '/v1/realtime', rewritePrefix: '/v1/realtime', websocket: true })
  await app.register(proxy, { upstream, prefix: '/v1/live/sessions', rewritePrefix: '/v1/live/sessions', websocket: true })
} else {
  // 'memory' and 'redis' (capacity): limits on, so every session takes its slots in the store.
  const { RedisStore } = await import('../dist/index.js')
  const { Redis } = await import('ioredis')
  const redis = kind === 'redis' ? new Redis({ port: Number(redisPort), host: '127.0.0.1' }) : undefined
  const limited = kind === 'memory' || kind === 'redis'
    ? { maxSessions: 1_000_000, maxSessionsPerKey: 1_000_000, ...(redis === undefined ? {} : { store: new RedisStore({ client: redis }) }) }
    : {}
  // 'failover': every model's first target refuses (503) and is never cooled down, so each session fails over.
  const failover = kind === 'failover'
    ? {
        providers: { down: { type: 'openai-compatible' as const, apiKey: 'sk-bench', baseURL: `${upstream}/failing/v1` }, openai: { apiKey: 'sk-bench', baseURL: `${upstream}/v1` } },
        models: Object.fromEntries(['idle', 'stream', 'sink', 'echo'].map((model) => [model, { targets: [{ provider: 'down' }, { provider: 'openai' }] }])),
        failover: { cooldown: 0 }
      }
    : {}
  // 'gemini': the Gemini codec path (OpenAI Realtime events translated to Gemini Live and back) against the echo.
  const gemini = kind === 'gemini' ? { providers: { gemini: { type: 'gemini' as const, apiKey: 'bench', baseURL: upstream } }, defaultProvider: 'gemini' } : {}
  await app.register(realtimeProxy, {
    ...limited,
    // Two providers and a default: a GPT-Live request names none, so it is routed by its first frame.
    providers: { openai: { apiKey: 'sk-bench', baseURL: `${upstream}/v1` }, spare: { type: 'openai', apiKey: 'sk-bench', baseURL: `${upstream}/v1` } },
    defaultProvider: 'openai',
    live: true,
    heartbeatInterval: 0,
    onUsage: () => {},
    metering: kind !== 'nometer',
    ...(kind === 'policy'
      ? { onClientEvent: (event) => (event.session as Record<string, unknown> | undefined)?.instructions === undefined ? undefined : null }
      : {}),
    ...failover,
    ...gemini
  })
}
// a normal exit on SIGTERM, so `node --cpu-prof` writes its profile
process.on('SIGTERM', () => process.exit(0))
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
