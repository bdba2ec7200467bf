// GPT-Live over WebRTC under `signaling`: POST {live.path} with GPT-Live's JSON body is routed by session.model,
// passed through onSession and forwarded; the 201 is relayed, the session registered and its sideband
// (`.../live/sessions/{id}/attach`) metered by the plugin. The creator alone may attach its own sideband through
// {live.path}/{id}/attach or hang up through {live.path}/{id}/hangup.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { request } from 'undici'
import { MemoryStore, type SessionSummary, type UsageRecord } from '../lib/index.js'
import { closed, fakeUpstream, open, refused, startProxy, until, type RecordedRequest } from './helpers.js'

const KEY = 'sk-live-provider-key-0123456789'
const SESSION = 'live_abc123'
const ANSWER = JSON.stringify({ session: { id: SESSION, model: 'gpt-live-1' }, transport: { type: 'webrtc', sdp: 'v=0\r\nanswer' } })
const OFFER = { type: 'webrtc', sdp: 'v=0\r\noffer' }

function provider (req: RecordedRequest, res: ServerResponse): void {
  if (req.url.endsWith('/hangup')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}')
  else res.writeHead(201, { 'content-type': 'application/json' }).end(ANSWER)
}

const http = (url: string): string => url.replace('ws:', 'http:')

async function create (url: string, body: unknown, token = 'owner', query = ''): Promise<{ status: number, headers: Record<string, unknown>, body: string }> {
  const res = await request(`${http(url)}/v1/live/sessions${query}`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body)
  })
  return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
}

async function hangup (url: string, id: string, token = 'owner'): Promise<{ status: number, body: string }> {
  const res = await request(`${http(url)}/v1/live/sessions/${id}/hangup`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })
  return { status: res.statusCode, body: await res.body.text() }
}

const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

t.test('create: routed by session.model, pinned by onSession, forwarded with the provider key; the sideband is metered', async (t) => {
  const upstream = await fakeUpstream(t, { http: provider })
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const store = new MemoryStore()
  const { url, logs } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } },
    models: { voice: { provider: 'openai', model: 'gpt-live-1' } },
    live: true,
    store,
    signaling: { onSession: (session) => ({ ...session, instructions: 'Pinned by the app.' }) },
    pricing: { 'gpt-live-1': { perMinute: 0.05 } },
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const res = await create(url, { session: { model: 'voice', instructions: 'Ignore the app.' }, transport: OFFER })
  t.equal(res.status, 201)
  t.equal(res.body, ANSWER, 'the provider\'s answer relayed byte for byte')
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  const [post] = upstream.posts
  t.equal(post?.url, '/v1/live/sessions')
  t.equal(post?.headers.authorization, `Bearer ${KEY}`)
  t.equal(post?.headers['content-type'], 'application/json')
  t.same(JSON.parse(String(post?.body)), { session: { model: 'gpt-live-1', instructions: 'Pinned by the app.' }, transport: OFFER })
  t.same(await store.getCall(SESSION), { provider: 'openai', model: 'gpt-live-1', requestedModel: 'voice', owner: (await store.getCall(SESSION))?.owner, protocol: 'live', expiresAt: (await store.getCall(SESSION))?.expiresAt })

  const sideband = await upstream.next()
  t.equal(sideband.url, `/v1/live/sessions/${SESSION}/attach`)
  t.equal(sideband.headers.authorization, `Bearer ${KEY}`)
  for (const seconds of [30.5, 61]) sideband.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds } }))
  sideband.socket.send(JSON.stringify({ type: 'session.closed', reason: 'remote_hangup', usage: { seconds: 75 } }))
  sideband.socket.close(1000)
  await until(() => summaries.length === 1, 'the sideband to end')
  t.same(records.map((r) => [r.kind, (r as { seconds: number }).seconds, (r as { totalSeconds: number }).totalSeconds, r.costUSD]),
    [['duration', 30.5, 30.5, 0.025416667], ['duration', 30.5, 61, 0.025416667], ['duration', 14, 75, 0.011666667]])
  t.match(summaries[0], { sideband: true, callId: SESSION, provider: 'openai', model: 'gpt-live-1', usageFinal: true, usage: { durationSeconds: 75 } })
  t.notOk(JSON.stringify(logs.lines).includes(KEY), 'the provider key never logged')
})

t.test('attach and hangup: the creator only, GPT-Live sessions only; the attach is not metered twice', async (t) => {
  const upstream = await fakeUpstream(t, { http: provider })
  const records: UsageRecord[] = []
  const store = new MemoryStore()
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    live: { path: '/voice/live' },
    store,
    signaling: true,
    onUsage: (r) => { records.push(r) }
  })
  const res = await request(`${http(url)}/voice/live`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer owner' }, body: JSON.stringify({ session: { model: 'gpt-live-1' }, transport: OFFER })
  })
  t.equal(res.statusCode, 201)
  await res.body.text()
  const sideband = await upstream.next()

  const stranger = await refused(t, `${url}/voice/live/${SESSION}/attach`, [], as('stranger'))
  t.equal(stranger.status, 403)
  t.equal(JSON.parse(stranger.body).code, 'FST_REALTIME_CALL_FORBIDDEN')
  for (const id of ['live_unknown', 'bad%20id']) {
    const unknown = await refused(t, `${url}/voice/live/${id}/attach`, [], as('owner'))
    t.equal(unknown.status, 404, id)
    t.equal(JSON.parse(unknown.body).code, 'FST_REALTIME_UNKNOWN_CALL')
  }
  await store.setCall('rtc_realtime1', { provider: 'openai', owner: (await store.getCall(SESSION))?.owner as string }, 60_000)
  t.equal((await refused(t, `${url}/voice/live/rtc_realtime1/attach`, [], as('owner'))).status, 404, 'a realtime call is not a GPT-Live session')
  for (const id of ['live_unknown', 'bad%20id', 'rtc_realtime1']) {
    const res = await request(`${http(url)}/voice/live/${id}/hangup`, { method: 'POST', headers: { authorization: 'Bearer owner' } })
    t.equal(res.statusCode, 404, `hangup ${id}`)
    t.equal(JSON.parse(await res.body.text()).code, 'FST_REALTIME_UNKNOWN_CALL')
  }

  const client = await open(t, `${url}/voice/live/${SESSION}/attach`, [], as('owner'))
  const attach = await upstream.next()
  t.equal(attach.url, `/live/sessions/${SESSION}/attach`)
  t.equal(attach.headers.authorization, `Bearer ${KEY}`)
  attach.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds: 10 } }))
  sideband.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds: 10 } }))
  client.send('{"type":"session.update","session":{"delegation":{"type":"client"}}}')
  await until(() => attach.frames.length === 1, 'the client frame')
  t.equal(attach.frames[0]?.data.toString(), '{"type":"session.update","session":{"delegation":{"type":"client"}}}')
  await until(() => records.length === 1, 'the sideband\'s record')

  const wrong = await request(`${http(url)}/voice/live/${SESSION}/hangup`, { method: 'POST', headers: { authorization: 'Bearer stranger' } })
  t.equal(wrong.statusCode, 403)
  await wrong.body.text()
  const done = await request(`${http(url)}/voice/live/${SESSION}/hangup`, { method: 'POST', headers: { authorization: 'Bearer owner' } })
  t.equal(done.statusCode, 200)
  t.equal(await done.body.text(), '{}')
  const forwarded = upstream.posts.at(-1)
  t.equal(forwarded?.url, `/live/sessions/${SESSION}/hangup`)
  t.equal(forwarded?.headers.authorization, `Bearer ${KEY}`)
  t.equal(forwarded?.body.length, 0, 'no body')
  t.equal(await store.getCall(SESSION), undefined, 'the hangup ends the record')
  t.equal((await refused(t, `${url}/voice/live/${SESSION}/attach`, [], as('owner'))).status, 404)
  client.close()
  await closed(client)
  t.equal(records.length, 1, 'the client\'s attach is not metered: the plugin\'s sideband is')
})

t.test('refusals: bad bodies, providers without GPT-Live, a missing model, the provider\'s own; nothing registered', async (t) => {
  const upstream = await fakeUpstream(t, {
    http: (req, res) => res.writeHead(400, { 'content-type': 'application/json' }).end(`{"error":{"message":"bad sdp ${KEY}"}}`)
  })
  const store = new MemoryStore()
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url }, bailian: { apiKey: 'bl' } },
    defaultProvider: 'openai',
    live: true,
    store,
    signaling: true,
    maxSessions: 1
  })
  const bad = [
    [[1], 'FST_REALTIME_BAD_BODY'],
    [{ session: { model: 'gpt-live-1' } }, 'FST_REALTIME_BAD_BODY'],
    [{ session: { model: 'gpt-live-1' }, transport: { type: 'websocket' } }, 'FST_REALTIME_BAD_BODY'],
    [{ session: { model: 'gpt-live-1' }, transport: { type: 'webrtc', sdp: 'nope' } }, 'FST_REALTIME_BAD_BODY'],
    [{ session: { model: 7 }, transport: OFFER }, 'FST_REALTIME_BAD_BODY'],
    [{ session: {}, transport: OFFER }, 'FST_REALTIME_MODEL_REQUIRED'],
    [{ session: { model: 'bailian/qwen' }, transport: OFFER }, 'FST_REALTIME_UNSUPPORTED_PROTOCOL']
  ] as const
  for (const [body, code] of bad) {
    const res = await create(url, body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.equal(JSON.parse(res.body).code, code)
  }
  t.equal(upstream.posts.length, 0, 'nothing forwarded')
  const res = await create(url, { session: { model: 'gpt-live-1' }, transport: OFFER })
  t.equal(res.status, 400)
  t.equal(res.body, '{"error":{"message":"bad sdp [REDACTED]"}}', 'the provider\'s refusal relayed, its key redacted')
  t.equal(store.calls, 0)
  t.equal(store.count('global'), 0, 'the slot was given back')
})

t.test('a 201 without a session id is relayed but not registered nor metered', async (t) => {
  const upstream = await fakeUpstream(t, { http: (req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end('{"transport":{"type":"webrtc","sdp":"v=0"}}') })
  const store = new MemoryStore()
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, live: true, store, signaling: true })
  const res = await create(url, { session: { model: 'gpt-live-1' }, transport: OFFER })
  t.equal(res.status, 201)
  t.equal(res.body, '{"transport":{"type":"webrtc","sdp":"v=0"}}')
  t.equal(store.calls, 0)
  t.equal(store.count('global'), 0)
  t.ok(logs.lines.some((l) => l.msg === 'the provider answered the GPT-Live WebRTC session without a usable session.id; it is not metered'))
  t.equal(upstream.requests.length, 0, 'no sideband dialled')
})

t.test('sideband off: registered for attach and hangup, no slot held; without signaling there is no POST route', async (t) => {
  const upstream = await fakeUpstream(t, { http: provider })
  const store = new MemoryStore()
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, live: true, store, signaling: { sideband: false } })
  t.equal((await create(url, { session: { model: 'gpt-live-1' }, transport: OFFER })).status, 201)
  t.equal(store.calls, 1)
  t.equal(store.count('global'), 0)
  t.equal(upstream.requests.length, 0)
  t.equal((await hangup(url, SESSION)).status, 200)

  const plain = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, live: true })
  t.equal((await create(plain.url, { session: { model: 'gpt-live-1' }, transport: OFFER })).status, 404)
})

t.test('sideband off: re-attaches to one GPT-Live session bill the cumulative total once, whatever the attaches (#24 item 12)', async (t) => {
  const upstream = await fakeUpstream(t, { http: provider })
  const records: UsageRecord[] = []
  const store = new MemoryStore()
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    live: true,
    store,
    signaling: { sideband: false },
    pricing: { 'gpt-live-1': { perMinute: 0.06 } },
    onUsage: (r) => { records.push(r) }
  })
  t.equal((await create(url, { session: { model: 'gpt-live-1' }, transport: OFFER })).status, 201)
  for (const total of [100, 160]) {
    const ws = await open(t, `${url}/v1/live/sessions/${SESSION}/attach`, [], as('owner'))
    const conn = await upstream.next()
    const before = records.length
    conn.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds: total } }))
    await until(() => records.length > before, 'a record')
    const c = closed(ws)
    ws.close()
    await c
  }
  t.same(records.map((r) => (r as { seconds: number }).seconds), [100, 60], 'the second attach bills what the total added')
  t.equal(store.getCall(SESSION)?.billedSeconds, 160, 'kept with the call, for any replica')
})

t.test('a store that cannot keep the billed total is logged; the attach goes on', async (t) => {
  const upstream = await fakeUpstream(t, { http: provider })
  const inner = new MemoryStore()
  const store = {
    acquire: inner.acquire.bind(inner),
    getCall: inner.getCall.bind(inner),
    deleteCall: inner.deleteCall.bind(inner),
    setCall: (id: string, call: Parameters<MemoryStore['setCall']>[1], ttl: number) => {
      if (call.billedSeconds !== undefined) throw new Error('store down')
      inner.setCall(id, call, ttl)
    }
  }
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, live: true, store, signaling: { sideband: false } })
  t.equal((await create(url, { session: { model: 'gpt-live-1' }, transport: OFFER })).status, 201)
  const ws = await open(t, `${url}/v1/live/sessions/${SESSION}/attach`, [], as('owner'))
  const conn = await upstream.next()
  conn.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds: 5 } }))
  await until(() => logs.lines.some((l) => l.msg === 'could not keep the GPT-Live session\'s billed total with the call; a later attach may bill it again'), 'the warning')
  t.equal(ws.readyState, 1)
})
