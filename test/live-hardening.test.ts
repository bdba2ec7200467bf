// Regressions (#23) on the GPT-Live route: held frames without bound (item 3), a departure while the key is read
// (10), the app's pinned model overwritten (13), a second session.start unseen (14), session.start's model not
// validated (15), and a failing hook's message sent to the client (16).
import t from 'tap'
import WebSocket from 'ws'
import { MemoryStore, type SessionSummary } from '../lib/index.js'
import { closed, fakeUpstream, nextMessage, open, startProxy, until } from './helpers.js'

type Event = Record<string, any>
const KEY = 'sk-live-test-key-000000'
const next = async (ws: WebSocket): Promise<Event> => JSON.parse((await nextMessage(ws)).data.toString())
const start = (model: string, extra: object = {}): string => JSON.stringify({ type: 'session.start', event_id: 'c_1', session: { model, ...extra } })

t.test('frames sent while the provider is dialled count against highWaterMark: the client is not read past it, and all arrive in order', async (t) => {
  const upstream = await fakeUpstream(t, { delay: 1500 })
  const highWaterMark = 1024 * 1024
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` }, other: { type: 'openai', apiKey: KEY } }, live: true, highWaterMark })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`) // two providers: routed by session.start, dialled after it
  ws.send(start('openai/gpt-live-1'))
  const frame = (i: number): string => JSON.stringify({ type: 'session.input_audio.append', event_id: `a${i}`, audio: String(i % 10).repeat(1024 * 1024) })
  for (let i = 0; i < 64; i++) ws.send(frame(i))
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.ok(ws.bufferedAmount > 32 * 1024 * 1024, `the proxy stopped reading the client (${ws.bufferedAmount} bytes still queued at the client of 64 MiB)`)
  const conn = await upstream.next()
  await until(() => conn.frames.length === 65, 'session.start and the 64 frames', 15_000)
  t.same(conn.frames.slice(1).map((f) => JSON.parse(f.data.toString()).event_id), Array.from({ length: 64 }, (_, i) => `a${i}`), 'in order')
  t.equal(conn.frames[64]?.data.toString(), frame(63), 'byte-exact')
})

t.test('a client that leaves while an async key is read is not dialled: no session, no slot, app.close() completes', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const slowKey = async (): Promise<string> => await new Promise((resolve) => setTimeout(() => resolve(KEY), 300))
  const proxy = await startProxy(t, { providers: { openai: { apiKey: slowKey, baseURL: `${upstream.url}/v1` }, b: { type: 'openai', apiKey: KEY } }, live: true, store, maxSessions: 5 })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  ws.send(start('openai/gpt-live-1'))
  await new Promise((resolve) => setTimeout(resolve, 50))
  ws.terminate()
  // The realtime route: the upgrade request's socket goes away while the key is read.
  const raw = new WebSocket(`${proxy.url}/v1/realtime?model=openai/gpt-realtime`)
  raw.on('error', () => {})
  await new Promise((resolve) => setTimeout(resolve, 50))
  raw.terminate()
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal(upstream.requests.length, 0, 'nothing was dialled')
  t.equal(proxy.app.realtime.stats().activeSessions, 0)
  t.equal(store.count('global'), 0, 'no slot held')
  await proxy.app.close()
})

t.test('a key function that never settles is bounded by dialTimeout on every path, and gives its slot back', async (t) => {
  const store = new MemoryStore()
  const never = async (): Promise<string> => await new Promise(() => {})
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: never, baseURL: 'http://127.0.0.1:9/v1' }, b: { type: 'openai', apiKey: KEY } },
    live: true,
    signaling: true,
    dialTimeout: 200,
    store,
    maxSessions: 1
  })
  const realtime = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`${proxy.url}/v1/realtime?model=openai/gpt-realtime`)
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode as number))
  })
  t.equal(realtime, 504, 'realtime: 504 before the upgrade')
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  const c = closed(ws)
  ws.send(start('openai/gpt-live-1'))
  t.match(await next(ws), { type: 'error', error: { code: 'FST_REALTIME_UPSTREAM_TIMEOUT' } }, 'GPT-Live after the upgrade: an error event')
  t.equal((await c).code, 1011)
  const secret = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/client_secrets?provider=openai', payload: { session: { type: 'realtime', model: 'gpt-realtime' } } })
  t.equal(secret.statusCode, 504, 'signaling: 504')
  t.equal(store.count('global'), 0, 'every slot given back')
})

t.test('the model the app pins in onClientEvent (session.start) or signaling.onSession is the model sent, failover or not', async (t) => {
  const upstream = await fakeUpstream(t, { http: (req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":"ek_1"}') })
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } },
    models: { voice: { targets: [{ provider: 'openai', model: 'gpt-live-1-eu' }] }, rt: { targets: [{ provider: 'openai', model: 'gpt-realtime-eu' }] } },
    live: true,
    signaling: { onSession: (session) => ({ ...session, model: 'gpt-realtime-pinned' }) },
    onClientEvent: (event) => event.type === 'session.start' ? { ...event, session: { ...(event.session as object), model: 'gpt-live-1-pinned' } } : undefined
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  ws.send(start('voice'))
  const conn = await upstream.next()
  await until(() => conn.frames.length === 1, 'session.start upstream')
  t.equal(JSON.parse(conn.frames[0]?.data.toString() as string).session.model, 'gpt-live-1-pinned')
  const secret = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/client_secrets', payload: { session: { type: 'realtime', model: 'rt' } } })
  t.equal(secret.statusCode, 200)
  t.equal(JSON.parse(upstream.posts[0]?.body.toString() as string).session.model, 'gpt-realtime-pinned')
})

t.test('a second session.start is refused with an error event and never reaches the provider', async (t) => {
  const upstream = await fakeUpstream(t)
  const seen: string[] = []
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } }, live: true, onClientEvent: (e) => { seen.push(e.type) } })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  const conn = await upstream.next()
  ws.send(start('gpt-live-1'))
  ws.send(JSON.stringify({ type: 'session.start', event_id: 'c_2', session: { model: 'gpt-live-1', instructions: 'unseen' } }))
  ws.send('{"type":"session.st\\u0061rt","event_id":"c_3","session":{"model":"gpt-live-1"}}')
  ws.send('{"type":"session.start","session":{"model":"gpt-live-1"}}')
  ws.send('{"type":"session.input_audio.append","audio":"","note":"caf\\u00e9 \\"session.start\\""}')
  t.match(await next(ws), { type: 'error', error: { code: 'session_already_started', client_event_id: 'c_2' } })
  t.match(await next(ws), { type: 'error', error: { code: 'session_already_started', client_event_id: 'c_3' } }, 'an escaped type is read too')
  const third = await next(ws)
  t.match(third, { type: 'error', error: { code: 'session_already_started' } }, 'without an event_id')
  t.notOk('client_event_id' in third.error)
  await until(() => conn.frames.length === 2, 'the first session.start and the append')
  t.same(conn.frames.map((f) => JSON.parse(f.data.toString()).type), ['session.start', 'session.input_audio.append'], 'an append that only names session.start goes on')
  t.same(seen, ['session.start'])
})

t.test('session.start\'s model and a signaling session.model follow the ?model= rule: nothing dialled, nothing of them logged', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` }, b: { type: 'openai', apiKey: KEY } }, live: true, signaling: true })
  for (const model of ['gpt\r\nX-Injected: 1', 'a\u0000b', 'gpt\u202elive', 'm'.repeat(512 * 1024)]) {
    const ws = await open(t, `${proxy.url}/v1/live/sessions`)
    const c = closed(ws)
    ws.send(start(model))
    t.match(await next(ws), { type: 'error', error: { code: 'invalid_value', message: 'session.model must be 1 to 256 printable ASCII characters without spaces' } })
    t.equal((await c).code, 1008)
    const secret = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/client_secrets', payload: { session: { type: 'realtime', model } } })
    // A 512 KiB name is over the signaling bodyLimit before the model is read.
    t.same([secret.statusCode, JSON.parse(secret.body).code], model.length > 1000 ? [413, 'FST_ERR_CTP_BODY_TOO_LARGE'] : [400, 'FST_REALTIME_BAD_BODY'])
  }
  t.equal(upstream.requests.length + upstream.posts.length, 0)
  t.notOk(proxy.logs.text.includes('X-Injected') || proxy.logs.text.includes('mmmmmmmm') || proxy.logs.text.includes('\\u202e'), 'no model text in the log')
})

t.test('a failing hook or key function on GPT-Live: generic text for the client, the cause in the log', async (t) => {
  const secret = 'postgres://admin:hunter2@db.internal:5432/keys'
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: () => { throw new Error(secret) } }, b: { type: 'openai', apiKey: KEY } },
    live: true,
    onClientEvent: (event) => { if ((event.session as { model: string }).model === 'hook') throw new Error(secret) }
  })
  for (const model of ['b/hook', 'openai/gpt-live-1']) {
    const ws = await open(t, `${proxy.url}/v1/live/sessions`)
    const c = closed(ws)
    ws.send(start(model))
    const event = await next(ws)
    t.notOk(JSON.stringify(event).includes('hunter2'), `${model}: nothing of the cause reaches the client`)
    t.equal((await c).code, 1011)
    if (model === 'b/hook') t.match(event, { error: { code: 'internal_error', message: 'The session could not be started' } })
    else t.match(event, { error: { code: 'FST_REALTIME_PROVIDER_KEY', message: 'The key of provider "openai" could not be read' } })
  }
})

t.test('frames held during a slow dial or failover are charged to the frame rate as they arrived, not as one burst (#23 item 17)', async (t) => {
  const down = await fakeUpstream(t, { delay: 400, reject: { status: 503, body: '{}' } })
  const slow = await fakeUpstream(t, { delay: 800 })
  const proxy = await startProxy(t, {
    providers: { a: { type: 'openai', apiKey: KEY, baseURL: `${down.url}/v1` }, b: { type: 'openai', apiKey: KEY, baseURL: `${slow.url}/v1` } },
    models: { voice: { targets: [{ provider: 'a', model: 'gpt-live-1' }, { provider: 'b', model: 'gpt-live-1' }] } },
    live: true,
    rateLimit: { perSecond: 25, burst: 5 }
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  ws.send(start('voice'))
  let sent = 0
  const pace = setInterval(() => ws.send(JSON.stringify({ type: 'session.input_audio.append', event_id: `a${sent++}`, audio: '' })), 50) // 20 a second
  t.teardown(() => clearInterval(pace))
  const conn = await slow.next()
  await until(() => conn.frames.length >= 30, 'frames after the failover', 10_000)
  clearInterval(pace)
  t.equal(ws.readyState, WebSocket.OPEN, 'a client within its rate is not cut')
  t.same(conn.frames.slice(1, 30).map((f) => JSON.parse(f.data.toString()).event_id), Array.from({ length: 29 }, (_, i) => `a${i}`))

  const flood = await open(t, `${proxy.url}/v1/live/sessions`)
  const c = closed(flood)
  flood.send(start('voice'))
  for (let i = 0; i < 20; i++) flood.send('{"type":"session.input_audio.append","audio":""}')
  t.match(await next(flood), { type: 'error', error: { code: 'rate_limit_exceeded' } }, 'a burst past the rate while dialled is refused')
  t.equal((await c).code, 1008)
})

t.test('a client that leaves while its slots are taken in an async store is let go: nothing dialled, the slot back', async (t) => {
  const upstream = await fakeUpstream(t)
  const inner = new MemoryStore()
  const store = { acquire: async (key: string, limit: number, ttl: number) => { await new Promise((resolve) => setTimeout(resolve, 150)); return inner.acquire(key, limit, ttl) } }
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` }, b: { type: 'openai', apiKey: KEY } }, live: true, store, maxSessions: 5 })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  ws.send(start('openai/gpt-live-1'))
  await new Promise((resolve) => setTimeout(resolve, 50))
  ws.terminate()
  await new Promise((resolve) => setTimeout(resolve, 400))
  t.equal(upstream.requests.length, 0, 'nothing dialled')
  t.equal(inner.count('global'), 0, 'the slot taken after it left was given back')
})

t.test('a GPT-Live session that drops before its first usage event says usageFinal: false, with the time the plugin saw (#24 item 13)', async (t) => {
  const upstream = await fakeUpstream(t)
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } }, live: true, onSessionEnd: (s) => { summaries.push(s) } })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  const conn = await upstream.next()
  ws.send(start('gpt-live-1'))
  await until(() => conn.frames.length === 1, 'session.start upstream')
  await new Promise((resolve) => setTimeout(resolve, 50))
  conn.socket.terminate()
  await until(() => summaries.length === 1, 'the summary')
  t.match(summaries[0], { usageFinal: false, usage: { durationSeconds: 0 } })
  t.ok((summaries[0]?.durationMs as number) >= 50, 'the duration the plugin saw')
})
