// Browsers cannot set headers: the caller's credential comes from the subprotocol, never goes upstream, never comes back.
import t from 'tap'
import OpenAI from 'openai'
import { fakeUpstream, open, refused, startProxy } from './helpers.js'
import type { RealtimeRequest } from '../lib/index.js'

t.test('credential order: Authorization, openai-insecure-api-key, xai-client-secret, then the query when allowed', async (t) => {
  const upstream = await fakeUpstream(t)
  const seen: RealtimeRequest[] = []
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, credentialQuery: 'token' }, (app) => {
    app.addHook('onRequest', async (request) => { seen.push({ ...request.realtime }) })
  })
  const url = `${proxy.url}/v1/realtime?model=m`
  await open(t, url, ['realtime', 'openai-insecure-api-key.sub-key', 'xai-client-secret.xai-key'], { headers: { authorization: 'Bearer header-key' } })
  await open(t, url, ['realtime', 'xai-client-secret.xai-key', 'openai-insecure-api-key.sub-key'])
  await open(t, url, ['realtime', 'xai-client-secret.xai-key'])
  await open(t, `${url}&token=query-key`, ['realtime'])
  await open(t, url, [], { headers: { authorization: 'Basic abc' } })
  t.same(seen, [
    { credential: 'header-key', credentialSource: 'authorization' },
    { credential: 'sub-key', credentialSource: 'subprotocol' },
    { credential: 'xai-key', credentialSource: 'subprotocol' },
    { credential: 'query-key', credentialSource: 'query' },
    {}
  ])
  for (const conn of upstream.connections) {
    t.equal(conn.headers['sec-websocket-protocol'], undefined)
    t.notMatch(conn.url, /token|key/)
  }
  await refused(t, `${proxy.url}/v1/realtime`) // no query at all: logged as is
  t.ok(proxy.logs.lines.some((l) => (l.req as { url?: string } | undefined)?.url === '/v1/realtime'))
  t.notOk(proxy.logs.text.includes('query-key'), 'the query credential is not logged')
  t.ok(proxy.logs.text.includes('token=%5BREDACTED%5D'), 'the logged URL shows it was redacted')
})

t.test('the query is ignored unless credentialQuery allows it', async (t) => {
  const upstream = await fakeUpstream(t)
  let seen: RealtimeRequest | undefined
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } }, (app) => {
    app.addHook('onRequest', async (request) => { seen = request.realtime })
  })
  await open(t, `${proxy.url}/v1/realtime?model=m&token=query-key`)
  t.same(seen, {})
})

t.test('the openai SDK\'s browser subprotocol list gets "realtime" back, and the key stays with the app', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { apiKey: 'sk-provider-000000', baseURL: upstream.url } } }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (request.realtime.credential !== 'ek_browser_token') return reply.code(401).send({ error: 'no' })
    })
  })
  // The list OpenAIRealtimeWebSocket builds in a browser: realtime, the key, and the beta marker.
  const client = new OpenAI({ apiKey: 'ek_browser_token', dangerouslyAllowBrowser: true })
  const protocols = ['realtime', `openai-insecure-api-key.${client.apiKey}`, 'openai-beta.realtime-v1']
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`, protocols)
  t.equal(ws.protocol, 'realtime')
  const conn = await upstream.next()
  t.equal(conn.headers.authorization, 'Bearer sk-provider-000000')
  t.equal(conn.headers['sec-websocket-protocol'], undefined)
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`, ['realtime', 'openai-insecure-api-key.other'])).status, 401)
})
