// POST {path}/calls: SDP offer in, SDP answer out, the call registered, its sideband metered; client attach and hangup.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { FormData, request, Response } from 'undici'
import { MemoryStore, type RealtimeSession, type SessionSummary, type UsageRecord } from '../lib/index.js'
import { fakeUpstream, nextMessage, open, refused, startProxy, until, type RecordedRequest } from './helpers.js'

const KEY = 'sk-test-secret-key-0123456789'
const OFFER = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n'
const ANSWER = 'v=0\r\no=- 3 4 IN IP4 203.0.113.7\r\ns=-\r\nm=audio 3478 UDP/TLS/RTP/SAVPF 111\r\n'
const CALL = 'rtc_u1Tp7bQx'
const DONE = JSON.stringify({ type: 'response.done', event_id: 'ev_1', response: { id: 'resp_1', usage: { total_tokens: 30, input_tokens: 10, output_tokens: 20 } } })

function answerCalls (req: RecordedRequest, res: ServerResponse): void {
  if (req.url.endsWith('/hangup')) res.writeHead(200).end()
  else res.writeHead(201, { 'content-type': 'application/sdp', location: `/v1/realtime/calls/${CALL}` }).end(ANSWER)
}

async function post (url: string, path: string, body: string | Buffer | FormData, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, text: string }> {
  if (body instanceof FormData) {
    // Encoded here, as a browser's fetch would: undici 7's request() sends a FormData body incompletely on Node 24
    // (the server waits for the rest and answers 408), while Response encodes it the same on every line.
    const encoded = new Response(body)
    return await post(url, path, Buffer.from(await encoded.arrayBuffer()), { ...headers, 'content-type': encoded.headers.get('content-type') as string })
  }
  const res = await request(`${url.replace('ws:', 'http:')}/v1/realtime${path}`, { method: 'POST', headers: { authorization: 'Bearer app-token', ...headers }, body })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

const sdpOffer = async (url: string, query = '?model=voice', headers: Record<string, string> = {}): ReturnType<typeof post> =>
  await post(url, `/calls${query}`, OFFER, { 'content-type': 'application/sdp', ...headers })

async function formOf (req: RecordedRequest): Promise<Record<string, string>> {
  const form = await new Response(req.body, { headers: { 'content-type': req.headers['content-type'] as string } }).formData()
  return Object.fromEntries([...form].map(([k, v]) => [k, String(v)]))
}

t.test('an SDP offer becomes a call: answer relayed, Location rewritten, sideband attached and metered', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const usage: Array<[UsageRecord, RealtimeSession]> = []
  const ended: SessionSummary[] = []
  const store = new MemoryStore()
  const { url, app, logs } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } },
    models: { voice: { provider: 'openai', model: 'gpt-realtime-2025-08-28' } },
    pricing: { 'gpt-realtime-2025-08-28': { input: { text: 4 }, output: { text: 16 } } },
    signaling: true,
    store,
    onUsage: (record, session) => { usage.push([record, session]) },
    onSessionEnd: (summary) => { ended.push(summary) }
  })
  const res = await sdpOffer(url)
  t.equal(res.status, 201)
  t.equal(res.text, ANSWER, 'the SDP answer byte for byte')
  t.equal(res.headers['content-type'], 'application/sdp')
  t.equal(res.headers['x-content-type-options'], 'nosniff', 'a relayed answer is never sniffed')
  t.equal(res.headers.location, `/v1/realtime/calls/${CALL}`)

  const [created] = upstream.posts as [RecordedRequest]
  t.equal(created.url, '/v1/realtime/calls')
  t.equal(created.headers.authorization, `Bearer ${KEY}`)
  t.match(created.headers['content-type'], /^multipart\/form-data; boundary=/)
  t.same(await formOf(created), { sdp: OFFER, session: '{"type":"realtime","model":"gpt-realtime-2025-08-28"}' })

  const sideband = await upstream.next()
  t.equal(sideband.url, `/v1/realtime?call_id=${CALL}`)
  t.equal(sideband.headers.authorization, `Bearer ${KEY}`)
  await until(() => app.realtime.sessions.size === 1, 'the sideband session')
  const [session] = [...app.realtime.sessions.values()] as [RealtimeSession]
  t.equal(session.callId, CALL)
  t.equal(session.sideband, true)
  t.equal(app.realtime.stats().sessionsByProvider.openai, 1)

  sideband.socket.send(DONE)
  await until(() => usage.length === 1, 'the usage record')
  const [record, from] = usage[0] as [UsageRecord, RealtimeSession]
  t.match(record, { kind: 'response', provider: 'openai', model: 'gpt-realtime-2025-08-28', responseId: 'resp_1', totalTokens: 30, costUSD: 0.00036 })
  t.equal(from, session)

  sideband.socket.close(1000, 'call ended')
  await until(() => ended.length === 1, 'the summary')
  t.match(ended[0], { callId: CALL, sideband: true, provider: 'openai', by: 'upstream', code: 1000, reason: 'call ended', usage: { responses: 1, totalTokens: 30 } })
  t.equal(store.getCall(CALL)?.provider, 'openai', 'the call stays in the registry when its sideband ends (until callTTL or a hangup)')
  t.ok(logs.lines.some((l) => l.msg === 'realtime call created' && l.callId === CALL))
  t.notOk(logs.text.includes(KEY))
})

t.test('multipart offers: the session part routes and is forwarded with the model rewritten', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } },
    models: { voice: { provider: 'openai', model: 'gpt-realtime-2025-08-28' } },
    signaling: { sideband: false }
  })
  const form = new FormData()
  form.set('sdp', new Blob([OFFER], { type: 'application/sdp' }), 'offer.sdp')
  form.set('session', JSON.stringify({ type: 'realtime', model: 'voice', instructions: 'Be brief.' }))
  const res = await post(url, '/calls', form)
  t.equal(res.status, 201)
  t.equal(res.text, ANSWER)
  t.same(await formOf(upstream.posts[0] as RecordedRequest), { sdp: OFFER, session: '{"type":"realtime","model":"gpt-realtime-2025-08-28","instructions":"Be brief."}' })
  t.equal(upstream.connections.length, 0, 'no sideband when it is off')
})

t.test('bad offers are refused before anything is forwarded', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url }, zai: { apiKey: KEY } },
    defaultProvider: 'openai',
    signaling: { bodyLimit: 1024 }
  })
  const multipart = (parts: string): [string, Record<string, string>] => [
    parts.replace(/\n/g, '\r\n'), { 'content-type': 'multipart/form-data; boundary=XX' }]
  const cases: Array<[string, Record<string, string>, number, string]> = [
    ['hello', { 'content-type': 'application/sdp' }, 400, 'FST_REALTIME_BAD_BODY'],
    [`${OFFER}${'a=x\r\n'.repeat(300)}`, { 'content-type': 'application/sdp' }, 413, 'FST_ERR_CTP_BODY_TOO_LARGE'],
    ['{"sdp":"v=0"}', { 'content-type': 'application/json' }, 415, 'FST_REALTIME_UNSUPPORTED_MEDIA_TYPE'],
    ['--nope', { 'content-type': 'multipart/form-data; boundary=XX' }, 400, 'FST_REALTIME_BAD_BODY'],
    ...[multipart(`--XX\nContent-Disposition: form-data; name="sdp"\n\n${OFFER}\n--XX\nContent-Disposition: form-data; name="session"\n\nnot json\n--XX--\n`)].map(([b, h]) => [b, h, 400, 'FST_REALTIME_BAD_BODY'] as [string, Record<string, string>, number, string]),
    ...[multipart('--XX\nContent-Disposition: form-data; name="session"\n\n{"model":"gpt-realtime"}\n--XX--\n')].map(([b, h]) => [b, h, 400, 'FST_REALTIME_BAD_BODY'] as [string, Record<string, string>, number, string]),
    ...[multipart(`--XX\nContent-Disposition: form-data; name="sdp"\n\n${OFFER}\n--XX\nContent-Disposition: form-data; name="session"\n\n{"model":5}\n--XX--\n`)].map(([b, h]) => [b, h, 400, 'FST_REALTIME_BAD_BODY'] as [string, Record<string, string>, number, string])
  ]
  for (const [body, headers, status, code] of cases) {
    const res = await post(url, '/calls?model=gpt-realtime', body, headers)
    t.equal(res.status, status, `${code}: ${body.slice(0, 20)}`)
    t.equal(JSON.parse(res.text).code, code)
  }
  const zai = await sdpOffer(url, '?model=zai/glm-realtime')
  t.equal(zai.status, 501)
  t.equal(JSON.parse(zai.text).message, 'Provider "zai" (type zai) has no calls endpoint; use the websocket route for it')
  t.equal(upstream.posts.length, 0)
})

t.test('provider errors pass through redacted, register nothing and give the slot back', async (t) => {
  let refuse = true
  const upstream = await fakeUpstream(t, {
    http: (req, res) => {
      if (!refuse) return answerCalls(req, res)
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `bad offer for ${KEY}`, code: 'invalid_offer' } }))
    }
  })
  const store = new MemoryStore()
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { sideband: false }, maxSessions: 1, store })
  const res = await sdpOffer(url, '?model=gpt-realtime')
  t.equal(res.status, 400)
  t.equal(res.text, '{"error":{"message":"bad offer for [REDACTED]","code":"invalid_offer"}}')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  t.equal(store.calls, 0)
  t.equal(store.count('global'), 0, 'slot given back')
  refuse = false
  t.equal((await sdpOffer(url, '?model=gpt-realtime')).status, 201)
  t.equal(store.count('global'), 0, 'without a sideband nothing knows when the call ends: the slot is not held')
})

t.test('a call holds its slot until the sideband ends; shutdown closes the sideband with 1001', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const { url, app } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true, maxSessions: 1 })
  t.equal((await sdpOffer(url, '?model=gpt-realtime')).status, 201)
  const first = await upstream.next()
  const busy = await sdpOffer(url, '?model=gpt-realtime')
  t.equal(busy.status, 429)
  t.equal(busy.headers['retry-after'], '1')
  first.socket.close(1000)
  await until(() => app.realtime.sessions.size === 0, 'the first call to end')
  t.equal((await sdpOffer(url, '?model=gpt-realtime')).status, 201)
  const second = await upstream.next()
  await until(() => app.realtime.sessions.size === 1, 'the second sideband')
  await app.close()
  t.same(await second.closed, { code: 1001, reason: 'server shutting down' })
})

t.test('the creator attaches without a model and is not metered twice; others are refused; hangup', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const usage: UsageRecord[] = []
  const { url, app } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` }, other: { type: 'openai', apiKey: KEY, baseURL: 'http://127.0.0.1:1' } },
    defaultProvider: 'other',
    models: { voice: { provider: 'openai', model: 'gpt-realtime-2025-08-28' } },
    signaling: true,
    maxSessionsPerKey: 2, // the sideband and the attach: each is a provider websocket
    onUsage: (record) => { usage.push(record) }
  })
  t.equal((await sdpOffer(url)).status, 201)
  const sideband = await upstream.next()
  const client = await open(t, `${url}/v1/realtime?call_id=${CALL}`, [], { headers: { authorization: 'Bearer app-token' } })
  const attach = await upstream.next()
  t.equal(attach.url, `/v1/realtime?call_id=${CALL}`, 'routed to the call\'s provider, not the default one')
  t.equal(attach.headers.authorization, `Bearer ${KEY}`)
  await until(() => app.realtime.sessions.size === 2, 'both sessions')
  const attached = [...app.realtime.sessions.values()].find((s) => !s.sideband) as RealtimeSession
  t.equal(attached.metered, false)
  t.equal(attached.model, 'gpt-realtime-2025-08-28')
  attach.socket.send(DONE)
  sideband.socket.send(DONE)
  t.equal((await nextMessage(client)).data.toString(), DONE, 'the client still gets every event')
  await until(() => usage.length === 1, 'the sideband\'s record')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(usage.length, 1, 'one record for one response')

  const stranger = await refused(t, `${url}/v1/realtime?call_id=${CALL}`, [], { headers: { authorization: 'Bearer someone-else' } })
  t.equal(stranger.status, 403)
  t.equal(JSON.parse(stranger.body).code, 'FST_REALTIME_CALL_FORBIDDEN')
  t.equal((await post(url, `/calls/${CALL}/hangup`, '', { authorization: 'Bearer someone-else' })).status, 403)
  t.equal((await post(url, '/calls/rtc_unknown/hangup', '')).status, 404)
  t.equal((await post(url, '/calls/bad%20id/hangup', '')).status, 404)

  const hangup = await post(url, `/calls/${CALL}/hangup`, '')
  t.equal(hangup.status, 200)
  const last = upstream.posts.at(-1) as RecordedRequest
  t.equal(last.url, `/v1/realtime/calls/${CALL}/hangup`)
  t.equal(last.headers.authorization, `Bearer ${KEY}`)
  t.equal((await post(url, `/calls/${CALL}/hangup`, '')).status, 404, 'a call hung up leaves the registry')
})

t.test('a sideband that cannot attach gives its slot back and keeps the call (ownership fails closed)', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls, reject: { status: 404, body: '{"error":{"message":"no such call"}}' } })
  const store = new MemoryStore()
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true, maxSessions: 5, store })
  t.equal((await sdpOffer(url, '?model=gpt-realtime')).status, 201)
  await until(() => logs.lines.some((l) => l.msg === 'could not attach to the call\'s sideband; its usage is not metered'), 'the warning')
  await until(() => store.count('global') === 0, 'the slot to come back')
  t.equal(store.calls, 1, 'the call is still registered')
  t.equal(logs.lines.filter((l) => l.msg === 'could not attach to the call\'s sideband; its usage is not metered').length, 1)
})

t.test('calls expire from the registry; the memory store is bounded and never forgets a live call', async (t) => {
  const store = new MemoryStore({ maxCalls: 2 })
  const call = { provider: 'openai', owner: 'key:x' }
  store.setCall('a', call, 60_000)
  store.setCall('b', call, 60_000)
  t.throws(() => store.setCall('c', call, 60_000), { code: 'FST_REALTIME_CALL_REGISTRY_FULL', statusCode: 503, message: 'The call registry is full (2 live calls); retry later' })
  t.equal(store.calls, 2)
  t.match(store.getCall('a'), { ...call, expiresAt: Number }, 'the oldest live call is kept')
  store.setCall('b', call, 1) // refreshed (here with a short ttl): a call already held is never refused
  await new Promise((resolve) => setTimeout(resolve, 5))
  store.setCall('c', call, 60_000) // b expired: swept, though a live call is older
  t.equal(store.getCall('b'), undefined, 'expired')
  t.match(store.getCall('c'), { ...call, expiresAt: Number }, 'with its expiry')
  store.deleteCall('a')
  store.deleteCall('c')
  t.equal(store.calls, 0)

  const upstream = await fakeUpstream(t, { http: answerCalls })
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { sideband: false, callTTL: 30 } })
  t.equal((await sdpOffer(url, '?model=gpt-realtime')).status, 201)
  await new Promise((resolve) => setTimeout(resolve, 60))
  t.equal((await post(url, `/calls/${CALL}/hangup`, '')).status, 404, 'expired calls are unknown')
})
