// allowedOrigins: a browser handshake from another site is refused before anything is dialed.
import t from 'tap'
import { fakeUpstream, open, refused, startProxy } from './helpers.js'

t.test('a list of origins', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, allowedOrigins: ['https://app.example.com'] })
  const url = `${proxy.url}/v1/realtime?model=m`
  const res = await refused(t, url, [], { origin: 'https://evil.example', headers: { cookie: 'sid=victim' } })
  t.equal(res.status, 403)
  t.same(JSON.parse(res.body), { statusCode: 403, code: 'FST_REALTIME_ORIGIN_FORBIDDEN', error: 'Forbidden', message: 'Origin https://evil.example may not open realtime sessions' })
  t.equal(upstream.requests.length, 0)
  await open(t, url, [], { origin: 'https://APP.example.com' })
  await open(t, url) // no Origin: not a browser, nothing to hijack
  t.equal(upstream.requests.length, 2)
})

t.test('a function, async', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    allowedOrigins: async (origin) => origin.endsWith('.example.com')
  })
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`, [], { origin: 'https://example.org' })).status, 403)
  await open(t, `${proxy.url}/v1/realtime?model=m`, [], { origin: 'https://a.example.com' })
})

t.test('"*" allows any origin; malformed lists fail registration', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, allowedOrigins: ['*'] })
  await open(t, `${proxy.url}/v1/realtime?model=m`, [], { origin: 'https://anything.example' })
  const Fastify = (await import('fastify')).default
  const realtimeProxy = (await import('../lib/index.js')).default
  for (const bad of [['https://app.example.com/path'], 'https://app.example.com', [42]]) {
    const app = Fastify()
    await t.rejects(async () => await app.register(realtimeProxy, { providers: { openai: {} }, allowedOrigins: bad as string[] }).ready(), { code: 'FST_REALTIME_INVALID_OPTION' })
    await app.close()
  }
})
