// Regression (#24 item 15): a model with no price was billed costUSD 0 silently, and with budgets on such a
// session escaped the budget. With a budget for the caller it is refused before any dial (402
// FST_REALTIME_UNPRICED_MODEL) unless budgets.allowUnpriced; without budgets, one warning per model; a misspelt
// rate in pricing is refused by name.
import t from 'tap'
import Fastify from 'fastify'
import WebSocket from 'ws'
import realtimeProxy, { MemoryStore } from '../lib/index.js'
import { fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const HOUR = 3_600_000
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

t.test('budgets on: an unpriced model is refused before any dial, on the realtime and the GPT-Live routes; allowUnpriced opens it', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const options = {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-000' } },
    pricing: { 'gpt-realtime': { input: { text: 4 } } },
    live: true,
    store,
    maxSessions: 5
  }
  const proxy = await startProxy(t, { ...options, budgets: { limitUSD: () => 10, window: HOUR } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime-mini`, [], as('ana'))
  t.equal(res.status, 402)
  t.same(JSON.parse(res.body), {
    statusCode: 402,
    code: 'FST_REALTIME_UNPRICED_MODEL',
    error: 'Payment Required',
    message: '"openai/gpt-realtime-mini" has no price, and budgets are on: add it to "pricing", or set budgets.allowUnpriced'
  })
  const live = await open(t, `${proxy.url}/v1/live/sessions`, [], as('ana'))
  live.send('{"type":"session.start","session":{"model":"gpt-live-1"}}')
  t.match(JSON.parse((await nextMessage(live)).data.toString()), { type: 'error', error: { code: 'FST_REALTIME_UNPRICED_MODEL' } })
  // One provider: GPT-Live dials it before the upgrade, when the model is not known yet; session.start never reaches it.
  t.equal(upstream.requests.length, 1, 'the realtime session was not dialled')
  const dialled = await upstream.next()
  await dialled.closed
  t.equal(dialled.frames.length, 0, 'nothing was sent on the GPT-Live dial')
  t.equal(store.count('global'), 0, 'no slot kept')
  t.equal((await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`, [], as('ana'))).readyState, WebSocket.OPEN, 'a priced model opens')

  const optOut = await startProxy(t, { ...options, store: new MemoryStore(), budgets: { limitUSD: () => 10, window: HOUR, allowUnpriced: true } })
  t.equal((await open(t, `${optOut.url}/v1/realtime?model=gpt-realtime-mini`, [], as('ana'))).readyState, WebSocket.OPEN, 'the app opted out')
})

t.test('without budgets, a model with no price is named once per model; priced ones never', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url, apiKey: 'sk-provider-000' } }, pricing: { priced: { output: { text: 1 } } } })
  for (const model of ['free', 'free', 'priced']) {
    const ws = await open(t, `${proxy.url}/v1/realtime?model=${model}`)
    const conn = await upstream.next()
    conn.socket.send('{"type":"response.done","response":{"usage":{"input_tokens":1,"output_tokens":1}}}')
    await nextMessage(ws)
    ws.close()
  }
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the sessions to end')
  const warnings = proxy.logs.lines.filter((l) => l.msg === 'this model has no pricing entry: its usage is metered without a cost (costUSD absent); add it to "pricing"')
  t.same(warnings.map((l) => l.model), ['free'])
})

t.test('a misspelt rate in pricing is refused by name', async (t) => {
  const cases: Array<[object, string]> = [
    [{ m: { input: { txt: 4 } } }, 'unknown option "pricing["m"].input.txt"; did you mean "pricing["m"].input.text"?'],
    [{ m: { perMinutes: 0.05 } }, 'unknown option "pricing["m"].perMinutes"; did you mean "pricing["m"].perMinute"?'],
    [{ m: 5 }, 'pricing["m"] must be a non-negative number of USD (per 1M tokens, per minute or per second)'],
    [{ m: { output: 5 } }, 'pricing["m"].output must be a non-negative number of USD (per 1M tokens, per minute or per second)']
  ]
  for (const [pricing, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => await app.register(realtimeProxy, { providers: { openai: {} }, pricing } as never).ready(), { code: 'FST_REALTIME_INVALID_OPTION', message: `Invalid fastify-realtime-proxy option: ${message}` })
    await app.close()
  }
})

t.test('budgets on: a WebRTC call or GPT-Live session on an unpriced model is refused before it is created', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/calls/rtc_1' }).end('v=0\r\n') })
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-000' } },
    pricing: { 'gpt-realtime': { input: { text: 4 } } },
    live: true,
    signaling: true,
    budgets: { limitUSD: () => 10, window: HOUR }
  })
  const call = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/calls?model=gpt-realtime-mini', headers: { 'content-type': 'application/sdp', authorization: 'Bearer ana' }, payload: 'v=0\r\n' })
  t.same([call.statusCode, JSON.parse(call.body).code], [402, 'FST_REALTIME_UNPRICED_MODEL'])
  const live = await proxy.app.inject({ method: 'POST', url: '/v1/live/sessions', headers: { authorization: 'Bearer ana' }, payload: { session: { model: 'gpt-live-1' }, transport: { type: 'webrtc', sdp: 'v=0' } } })
  t.same([live.statusCode, JSON.parse(live.body).code], [402, 'FST_REALTIME_UNPRICED_MODEL'])
  t.equal(upstream.posts.length, 0, 'nothing was created at the provider')
})
