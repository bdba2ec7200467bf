// The app decides who may open a session, with ordinary Fastify hooks, before anything is dialed.
import t from 'tap'
import { fakeUpstream, nextMessage, open, refused, startProxy } from './helpers.js'
import { buildApp } from '../examples/jwt-auth.js'
import type { AddressInfo } from 'node:net'

t.test('an app-level onRequest hook with a plain API key check', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (request.realtime.credential !== 'app-key-1') return reply.code(401).send({ error: 'unauthorized' })
    })
  })
  const denied = await refused(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { authorization: 'Bearer wrong' } })
  t.equal(denied.status, 401)
  t.same(JSON.parse(denied.body), { error: 'unauthorized' })
  const anonymous = await refused(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal(anonymous.status, 401)
  t.equal(upstream.requests.length, 0, 'nothing dialed for refused callers')

  await open(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { authorization: 'Bearer app-key-1' } })
  await open(t, `${proxy.url}/v1/realtime?model=m`, ['realtime', 'openai-insecure-api-key.app-key-1'])
  t.equal(upstream.requests.length, 2)
})

t.test('a route-level preHandler option refuses with 403', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    preHandler: async (request, reply) => {
      if (request.headers['x-plan'] !== 'pro') return reply.code(403).send({ error: 'upgrade your plan' })
    }
  })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal(res.status, 403)
  t.same(JSON.parse(res.body), { error: 'upgrade your plan' })
  t.equal(upstream.requests.length, 0)
  await open(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { 'x-plan': 'pro' } })
})

t.test('a throwing hook is a JSON error, not an upgrade', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    onRequest: [async () => { throw Object.assign(new Error('token expired'), { statusCode: 401 }) }]
  })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal(res.status, 401)
  t.equal(JSON.parse(res.body).message, 'token expired')
})

t.test('the @fastify/jwt example: browser subprotocol and server Bearer tokens', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: (ws) => ws.send('{"type":"session.created"}') })
  const app = await buildApp('test-secret', { openai: { apiKey: 'sk-provider-000000', baseURL: upstream.url } }, false)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?model=gpt-realtime`
  const token = app.jwt.sign({ sub: 'user-1' })

  const browser = await open(t, url, ['realtime', `openai-insecure-api-key.${token}`], { origin: 'https://app.example.com' })
  t.equal(browser.protocol, 'realtime')
  t.equal((await nextMessage(browser)).data.toString(), '{"type":"session.created"}')
  await open(t, url, [], { headers: { authorization: `Bearer ${token}` } })
  t.equal(upstream.connections[0]?.headers.authorization, 'Bearer sk-provider-000000')

  const third = await refused(t, url, [], { headers: { authorization: `Bearer ${app.jwt.sign({ sub: 'user-1' })}` } })
  t.equal(third.status, 429, 'maxSessionsPerKey counts the user, not the token')
  t.equal(third.headers['retry-after'], '1')

  t.equal((await refused(t, url, ['realtime', 'openai-insecure-api-key.forged'])).status, 401)
  t.equal((await refused(t, url)).status, 401)
  t.equal((await refused(t, url, ['realtime', `openai-insecure-api-key.${token}`], { origin: 'https://evil.example' })).status, 403)
  t.equal(upstream.requests.length, 2)
})
