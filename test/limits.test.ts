// Session limits: counts (429 + Retry-After), duration, idle time, client frame rate. Each before the upgrade
// as an HTTP error, or after it as a documented close code.
import t from 'tap'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'
import { MemoryStore, type CountingStore, type Lease, type SessionStore } from '../lib/index.js'

t.test('maxSessions: the next session gets 429 with Retry-After, and a slot frees when a session ends', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 2, retryAfter: 3, store })
  const url = `${proxy.url}/v1/realtime?model=m`
  const a = await open(t, url)
  await open(t, url)
  const res = await refused(t, url)
  t.equal(res.status, 429)
  t.equal(res.headers['retry-after'], '3')
  t.same(JSON.parse(res.body), { statusCode: 429, code: 'FST_REALTIME_TOO_MANY_SESSIONS', error: 'Too Many Requests', message: 'Too many realtime sessions on this server; retry later' })
  t.equal(upstream.requests.length, 2, 'nothing dialed for the refused one')
  t.equal(store.count('global'), 2)
  a.close()
  await until(() => store.count('global') === 1, 'slot released')
  await open(t, url)
})

t.test('a key function that throws takes no slot', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  let fail = true
  const apiKey = (): string => {
    if (fail) throw new Error('token service down')
    return 'sk-rotated'
  }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url, apiKey } }, maxSessions: 1, store })
  const url = `${proxy.url}/v1/realtime?model=m`
  t.equal((await refused(t, url)).status, 500)
  t.equal(store.count('global'), 0)
  fail = false
  await open(t, url)
  t.equal((await upstream.next()).headers.authorization, 'Bearer sk-rotated')
})

t.test('maxSessionsPerKey counts per credential (hashed) and falls back to the IP', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const acquired: string[] = []
  const spy: SessionStore = { acquire: (k, l, ttl) => { acquired.push(k); return store.acquire(k, l, ttl) } }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessionsPerKey: 1, store: spy })
  const url = `${proxy.url}/v1/realtime?model=m`
  await open(t, url, [], { headers: { authorization: 'Bearer user-a-secret' } })
  t.equal((await refused(t, url, [], { headers: { authorization: 'Bearer user-a-secret' } })).status, 429)
  await open(t, url, ['realtime', 'openai-insecure-api-key.user-b-secret'])
  await open(t, url) // keyed by IP
  t.equal((await refused(t, url)).status, 429)
  t.notOk(acquired.some((k) => k.includes('secret')), 'store keys hold a hash, not the credential')
})

t.test('MemoryStore counts down to nothing and forgets the key', async (t) => {
  const store = new MemoryStore()
  const a = store.acquire('k', 2, 0)
  const b = store.acquire('k', 2, 0)
  t.ok(a !== undefined && b !== undefined)
  t.equal(store.acquire('k', 2, 0), undefined)
  a?.release()
  b?.release()
  a?.release() // one too many is harmless
  t.equal(store.count('k'), 0)
})

t.test('MemoryStore leases expire unless renewed; an expired lease stays gone', async (t) => {
  const store = new MemoryStore()
  const kept = store.acquire('k', 2, 80) as Lease
  const dead = store.acquire('k', 2, 80) as Lease // its process died: never renewed
  t.equal(store.acquire('k', 2, 80), undefined, 'full')
  await new Promise((resolve) => setTimeout(resolve, 50))
  kept.renew()
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(store.count('k'), 1, 'the lease not renewed expired')
  dead.renew() // too late: its slot may be someone else's
  const next = store.acquire('k', 2, 80)
  t.ok(next !== undefined, 'its slot came back')
  t.equal(store.count('k'), 2)
  dead.release() // harmless
  t.equal(store.count('k'), 2)
})

t.test('a live session renews its leases on the heartbeat, and gives them back at its end', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 1, heartbeatInterval: 100, pongTimeout: 80, store })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  await new Promise((resolve) => setTimeout(resolve, 700)) // over twice the lease TTL (3 heartbeats = 300 ms)
  t.equal(store.count('global'), 1, 'still held')
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`)).status, 429)
  const c = closed(ws)
  ws.close()
  await c
  await until(() => store.count('global') === 0, 'released')
})

t.test('a store whose renew fails is logged, not thrown', async (t) => {
  const upstream = await fakeUpstream(t)
  const store: SessionStore = { acquire: () => ({ renew: async () => { throw new Error('redis down') }, release: () => {} }) }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 5, heartbeatInterval: 50, pongTimeout: 20, store })
  await open(t, `${proxy.url}/v1/realtime?model=m`)
  await until(() => proxy.logs.lines.some((l) => l.msg === 'session store renew failed'), 'logged')
})

t.test('a failed dial gives its slot back', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 401, body: '{}' } })
  const store = new MemoryStore()
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 1, store })
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`)).status, 401)
  t.equal(store.count('global'), 0)
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`)).status, 401, 'not 429')
})

t.test('a store of the shape before leases: true takes a slot, false is a 429', async (t) => {
  const upstream = await fakeUpstream(t)
  let free = 1
  const store: CountingStore = { acquire: () => free > 0 && free-- > 0, release: () => { free++ } }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 1, store, heartbeatInterval: 100, pongTimeout: 80 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`)).status, 429)
  await new Promise((resolve) => setTimeout(resolve, 250)) // heartbeats renew it: such a slot never expires
  t.equal(free, 0)
  const c = closed(ws)
  ws.close()
  await c
  await until(() => free === 1, 'the slot given back through release(key)')
  await open(t, `${proxy.url}/v1/realtime?model=m`)
})

t.test('an async store that fails to release is logged, not thrown (the store shape before leases still works)', async (t) => {
  const upstream = await fakeUpstream(t)
  const store: CountingStore = { acquire: async () => true, release: async () => { throw new Error('redis down') } }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 5, store })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  ws.close()
  await until(() => proxy.logs.lines.some((l) => l.msg === 'session store release failed'), 'logged')
})

t.test('maxSessionDuration: an error event, then 1001 on both legs', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessionDuration: 200 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  const c = closed(ws)
  const event = JSON.parse((await nextMessage(ws)).data.toString())
  t.match(event, { type: 'error', event_id: /^event_/, error: { type: 'invalid_request_error', code: 'session_expired', message: 'The session reached its maximum duration of 0.2 seconds', param: null, event_id: null } })
  t.same(await c, { code: 1001, reason: 'maximum session duration reached' })
  t.same(await conn.closed, { code: 1001, reason: 'maximum session duration reached' })
})

t.test('idleTimeout: no frame either way closes with 1000 "idle timeout"; traffic keeps it open', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, idleTimeout: 200 })
  const busy = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const idle = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const c = closed(idle)
  const timer = setInterval(() => busy.send('tick'), 50)
  t.teardown(() => clearInterval(timer))
  t.same(await c, { code: 1000, reason: 'idle timeout' })
  t.equal(busy.readyState, busy.OPEN)
})

t.test('rateLimit: a client over its frame rate is closed with 1008', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, rateLimit: { perSecond: 1, burst: 5 } }) // a refill every second: a slow machine cannot let a sixth through
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  const c = closed(ws)
  for (let i = 0; i < 50; i++) ws.send(`f${i}`)
  t.same(await c, { code: 1008, reason: 'frame rate limit exceeded' })
  t.equal(conn.frames.length, 5, 'the burst passed, the rest did not')
  t.equal((await conn.closed).code, 1008)
})

t.test('rateLimit lets a paced client through', async (t) => {
  const upstream = await fakeUpstream(t)
  // 20 frames over a burst of 10: only the refill lets them all through (sent at once, the 11th would close it).
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, rateLimit: { perSecond: 100, burst: 10 } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  for (let i = 0; i < 20; i++) {
    ws.send(`f${i}`)
    await new Promise((resolve) => setTimeout(resolve, 12))
  }
  await until(() => conn.frames.length === 20, 'all frames')
  t.equal(ws.readyState, ws.OPEN)
})

t.test('limit options are validated', async (t) => {
  const Fastify = (await import('fastify')).default
  const realtimeProxy = (await import('../lib/index.js')).default
  const cases: Array<[object, RegExp]> = [
    [{ maxSessions: 0 }, /"maxSessions" must be an integer >= 1/],
    [{ rateLimit: { perSecond: 0 } }, /"rateLimit" must be/],
    [{ rateLimit: { perSecond: 5, burst: 0 } }, /"rateLimit" must be/],
    [{ store: {} }, /"store" must have acquire/],
    [{ sessionKey: 'ip' }, /"sessionKey" must be a function/],
    [{ credentialQuery: 'a b' }, /"credentialQuery" must be a query parameter name/],
    [{ onRequest: 'x' }, /"onRequest" must be a hook function or an array of them/],
    [{ onClientEvent: {} }, /"onClientEvent" must be a function/],
    [{ clientEvents: [] }, /"clientEvents" must be a non-empty list of event types/]
  ]
  for (const [extra, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => await app.register(realtimeProxy, { providers: { openai: {} }, ...extra }).ready(), { code: 'FST_REALTIME_INVALID_OPTION', message })
    await app.close()
  }
})
