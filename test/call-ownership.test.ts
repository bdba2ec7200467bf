// Regressions on calls created through the signaling routes:
// - ownership failed open: when the plugin's sideband could not attach (provider 500) or dropped, the call left the
//   registry, and anyone could then attach to it with ?call_id=, routed by the query and dialled with the app's key;
// - attaches held no slot: with signaling { sideband: false } and maxSessions 1, one caller opened four provider
//   websockets on the app's key (a call, three attaches, a session); with the sideband on, one call took 10 attaches.
import type { ServerResponse } from 'node:http'
import t from 'tap'
import { request } from 'undici'
import { DEFAULT_MAX_ATTACHES_PER_CALL, MemoryStore } from '../lib/index.js'
import { closed, fakeUpstream, open, refused, startProxy, until, type RecordedRequest } from './helpers.js'

const KEY = 'sk-test-secret-key-0123456789'
const CALL = 'rtc_owned1'

function answerCalls (req: RecordedRequest, res: ServerResponse): void {
  if (req.url.endsWith('/hangup')) res.writeHead(200).end()
  else res.writeHead(201, { 'content-type': 'application/sdp', location: `/v1/realtime/calls/${CALL}` }).end('v=0\r\n')
}

async function createCall (url: string, token = 'owner'): Promise<number> {
  const res = await request(`${url.replace('ws:', 'http:')}/v1/realtime/calls?model=gpt-realtime`, {
    method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${token}` }, body: 'v=0\r\n'
  })
  await res.body.text()
  return res.statusCode
}

const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

t.test('a sideband the provider refuses (500): the call stays owned, a stranger is refused before any dial', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls, reject: { status: 500, body: '{"error":"boom"}' } })
  const store = new MemoryStore()
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true, store })
  t.equal(await createCall(url), 201)
  await until(() => logs.lines.some((l) => l.msg === 'could not attach to the call\'s sideband; its usage is not metered'), 'the failed attach')
  const dials = upstream.requests.length
  const stranger = await refused(t, `${url}/v1/realtime?call_id=${CALL}&model=gpt-realtime`, [], as('stranger'))
  t.equal(stranger.status, 403)
  t.equal(JSON.parse(stranger.body).code, 'FST_REALTIME_CALL_FORBIDDEN')
  t.equal(upstream.requests.length, dials, 'nothing was dialled for the stranger')
  t.equal(store.calls, 1)
})

t.test('a sideband that drops while the call is live: the call stays owned until a hangup or callTTL', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const store = new MemoryStore()
  const { url, app } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { callTTL: 60_000 }, store })
  t.equal(await createCall(url), 201)
  const sideband = await upstream.next()
  sideband.socket.terminate()
  await until(() => app.realtime.sessions.size === 0, 'the sideband to end')
  const stranger = await refused(t, `${url}/v1/realtime?call_id=${CALL}&model=gpt-realtime`, [], as('stranger'))
  t.equal(stranger.status, 403)
  t.equal(upstream.requests.length, 1, 'only the sideband was ever dialled')
  const owner = await open(t, `${url}/v1/realtime?call_id=${CALL}`, [], as('owner'))
  t.equal((await upstream.next()).url, `/realtime?call_id=${CALL}`, 'the owner still attaches')
  owner.close()
  const hangup = await request(`${url.replace('ws:', 'http:')}/v1/realtime/calls/${CALL}/hangup`, { method: 'POST', headers: { authorization: 'Bearer owner' } })
  t.equal(hangup.statusCode, 200)
  await hangup.body.text()
  t.equal(store.calls, 0, 'a hangup through the plugin ends the ownership record')
})

t.test('sideband off: every attach and session holds a slot; maxSessions 1 means one provider websocket', async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const store = new MemoryStore()
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { sideband: false }, maxSessions: 1, maxSessionsPerKey: 1, store
  })
  t.equal(await createCall(url), 201, 'the call opens no websocket here, so it holds no slot')
  const first = await open(t, `${url}/v1/realtime?call_id=${CALL}`, [], as('owner'))
  await upstream.next()
  for (const query of [`call_id=${CALL}`, `call_id=${CALL}`, 'model=gpt-realtime']) {
    const busy = await refused(t, `${url}/v1/realtime?${query}`, [], as('owner'))
    t.equal(busy.status, 429, query)
    t.equal(JSON.parse(busy.body).code, 'FST_REALTIME_TOO_MANY_SESSIONS')
    t.equal(busy.headers['retry-after'], '1')
  }
  t.equal(upstream.connections.length, 1, 'one provider websocket on the app\'s key')
  t.equal(store.count('global'), 1)
  const c = closed(first)
  first.close()
  await c
  await until(() => store.count('global') === 0 && store.count(`call:${CALL}`) === 0, 'the attach\'s slots to come back')
  await open(t, `${url}/v1/realtime?model=gpt-realtime`, [], as('owner'))
})

t.test(`attaches per call are capped at maxAttachesPerCall (default ${DEFAULT_MAX_ATTACHES_PER_CALL}), with the sideband on too`, async (t) => {
  const upstream = await fakeUpstream(t, { http: answerCalls })
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true })
  t.equal(await createCall(url), 201)
  await upstream.next() // the plugin's own sideband
  const attached = []
  for (let i = 0; i < DEFAULT_MAX_ATTACHES_PER_CALL; i++) attached.push(await open(t, `${url}/v1/realtime?call_id=${CALL}`, [], as('owner')))
  const over = await refused(t, `${url}/v1/realtime?call_id=${CALL}`, [], as('owner'))
  t.equal(over.status, 429)
  t.equal(JSON.parse(over.body).message, 'Too many realtime sessions attached to this call; retry later')
  t.equal(upstream.connections.length, 1 + DEFAULT_MAX_ATTACHES_PER_CALL)
  const c = closed(attached[0] as import('ws').WebSocket)
  attached[0]?.close()
  await c
  await until(() => upstream.connections.filter((x) => x.socket.readyState === 1).length === DEFAULT_MAX_ATTACHES_PER_CALL, 'one attach gone')
  // Its slot is given back when the session has ended on the plugin's side too, which the fake may see close first.
  await until(() => logs.lines.some((l) => l.msg === 'realtime session ended'), 'the attach\'s session to end')
  await open(t, `${url}/v1/realtime?call_id=${CALL}`, [], as('owner'))

  const one = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { sideband: false }, maxAttachesPerCall: 1 })
  t.equal(await createCall(one.url), 201)
  await open(t, `${one.url}/v1/realtime?call_id=${CALL}`, [], as('owner'))
  t.equal((await refused(t, `${one.url}/v1/realtime?call_id=${CALL}`, [], as('owner'))).status, 429)
})

t.test('a GPT-Live session id named as a realtime ?call_id= is owner-checked: a stranger is refused before any dial (#23 item 11)', async (t) => {
  const SESSION = 'live_owned7'
  const upstream = await fakeUpstream(t, {
    http: (req, res) => res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ session: { id: SESSION }, transport: { type: 'webrtc', sdp: 'v=0\r\n' } }))
  })
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } }, live: true, signaling: { sideband: false } })
  const created = await request(`${url.replace('ws:', 'http:')}/v1/live/sessions`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer owner' }, body: JSON.stringify({ session: { model: 'gpt-live-1' }, transport: { type: 'webrtc', sdp: 'v=0\r\n' } })
  })
  await created.body.text()
  t.equal(created.statusCode, 201)
  const stranger = await refused(t, `${url}/v1/realtime?call_id=${SESSION}`, [], as('stranger'))
  t.equal(stranger.status, 403)
  t.equal(JSON.parse(stranger.body).code, 'FST_REALTIME_CALL_FORBIDDEN')
  t.equal(upstream.requests.length, 0, 'nothing dialled on the app\'s key')
})

t.test('a full call registry refuses a new call (503, hung up at the provider) and never forgets a live one (#23 item 12)', async (t) => {
  let n = 0
  const upstream = await fakeUpstream(t, {
    http: (req, res) => {
      if (req.url.endsWith('/hangup')) res.writeHead(200).end()
      else res.writeHead(201, { 'content-type': 'application/sdp', location: `/v1/realtime/calls/rtc_${++n}` }).end('v=0\r\n')
    }
  })
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } }, signaling: { sideband: false, maxCalls: 1 } })
  t.equal(await createCall(url), 201)
  t.equal(await createCall(url), 503, 'the second call is refused')
  t.equal(upstream.posts[2]?.url, '/v1/realtime/calls/rtc_2/hangup', 'and hung up at the provider, so it cannot run unmetered')
  t.ok(logs.lines.some((l) => l.msg === 'the realtime call could not be registered; it was hung up at the provider'))
  const stranger = await refused(t, `${url}/v1/realtime?call_id=rtc_1`, [], as('stranger'))
  t.equal(stranger.status, 403, 'the live call is still owned')
  const hung = await request(`${url.replace('ws:', 'http:')}/v1/realtime/calls/rtc_1/hangup`, { method: 'POST', headers: { authorization: 'Bearer owner' } })
  await hung.body.text()
  t.equal(hung.statusCode, 200, 'its owner can still hang it up')
})
