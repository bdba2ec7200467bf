// A proxy under test, in its own process: this plugin (metering on; or with an event-policy hook too) or
// @fastify/http-proxy with websocket: true. Both run the same auth hook. GET /__rss reports memory.
import Fastify from 'fastify'
import type { AddressInfo } from 'node:net'
import realtimeProxy from '../lib/index.js'

const [kind, upstreamPort] = process.argv.slice(2)
const upstream = `http://127.0.0.1:${upstreamPort}`
const app = Fastify({ logger: false })

app.addHook('onRequest', async (request, reply) => {
  if (request.url === '/__rss') return
  if (request.headers.authorization !== 'Bearer bench') return reply.code(401).send({ error: 'unauthorized' })
})
app.get('/__rss', async () => ({ rss: process.memoryUsage().rss }))

if (kind === 'http-proxy') {
  const { default: proxy } = await import('@fastify/http-proxy')
  await app.register(proxy, { upstream, prefix: '/v1/realtime', rewritePrefix: '/v1/realtime', websocket: true })
} else {
  await app.register(realtimeProxy, {
    providers: { openai: { apiKey: 'sk-bench', baseURL: `${upstream}/v1` } },
    heartbeatInterval: 0,
    onUsage: () => {},
    ...(kind === 'policy'
      ? { onClientEvent: (event) => (event.session as Record<string, unknown> | undefined)?.instructions === undefined ? undefined : null }
      : {})
  })
}
await app.listen({ port: 0, host: '127.0.0.1' })
process.send?.({ port: (app.server.address() as AddressInfo).port })
