// Budgets on one replica (MemoryStore): 402 before any dial once a key's window is spent, the live cut-off
// when a debit crosses the limit, time-billed sessions debited each heartbeat and settled at the end;
// terminate() on one replica; drainTimeout; a store that fails is a 503.
import t from 'tap'
import { MemoryStore, type SessionSummary } from '../lib/index.js'
import { storeKey } from '../lib/store/types.js'
import { closed, connect, fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const DONE = JSON.stringify({ type: 'response.done', response: { id: 'resp_1', usage: { input_tokens: 10, output_tokens: 10, total_tokens: 20 } } })
const PRICES = { m: { input: { text: 1000 }, output: { text: 1000 } } } // $0.02 a DONE
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })
const HOUR = 3_600_000

t.test('a debit that crosses the limit cuts every session of the key; the key is then refused with 402 before any dial', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const keys: string[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    pricing: PRICES,
    store,
    budgets: { limitUSD: (key) => { keys.push(key); return key === 'rich' ? undefined : 0.03 }, window: HOUR, key: (request) => request.headers['x-user'] as string | undefined }
  })
  const headers = (user: string) => ({ headers: { 'x-user': user } })
  const first = await open(t, `${proxy.url}/v1/realtime?model=m`, [], headers('ann'))
  const provider = await upstream.next()
  const second = await open(t, `${proxy.url}/v1/realtime?model=m`, [], headers('ann'))
  await upstream.next()
  const rich = await open(t, `${proxy.url}/v1/realtime?model=m`, [], headers('rich'))
  const richProvider = await upstream.next()
  const ends = [closed(first), closed(second)]
  provider.socket.send(DONE)
  t.equal((await nextMessage(first)).data.toString(), DONE)
  provider.socket.send(DONE)
  await nextMessage(first)
  for (const ws of [first, second]) {
    const event = JSON.parse((await nextMessage(ws)).data.toString())
    t.match(event, { type: 'error', error: { type: 'invalid_request_error', code: 'budget_exceeded', message: 'The budget for this caller is spent; the session is closed' } })
  }
  t.same(await Promise.all(ends), [{ code: 1008, reason: 'budget_exceeded' }, { code: 1008, reason: 'budget_exceeded' }])
  const dials = upstream.requests.length
  const refusal = await refused(t, `${proxy.url}/v1/realtime?model=m`, [], headers('ann'))
  t.equal(refusal.status, 402)
  t.same(JSON.parse(refusal.body), { statusCode: 402, code: 'FST_REALTIME_BUDGET_EXCEEDED', error: 'Payment Required', message: 'The budget for this caller is spent for now' })
  t.equal(upstream.requests.length, dials, 'nothing dialled')
  richProvider.socket.send(DONE)
  richProvider.socket.send(DONE)
  await nextMessage(rich)
  await nextMessage(rich)
  t.equal(rich.readyState, rich.OPEN, 'a key without a limit is not cut')
  t.same(keys.slice(0, 3), ['ann', 'ann', 'rich'], 'limitUSD gets the raw key')
  t.equal(store.spent(storeKey('ann'), HOUR), 0.04)
  await until(() => proxy.logs.lines.filter((l) => l.msg === 'The budget for this caller is spent; the session is closed').length === 2, 'one line per session cut')
})

t.test('time-billed sessions are debited each heartbeat and settled to what was billed at the end', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { xai: { baseURL: upstream.url, apiKey: 'xai-key' } },
    pricing: { 'grok-voice': { perMinute: 60 } }, // $1 a second
    store,
    heartbeatInterval: 100,
    pongTimeout: 80,
    budgets: { limitUSD: () => 100, window: HOUR },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=grok-voice`, [], as('tim'))
  await upstream.next()
  const key = storeKey('tim')
  await until(() => store.spent(key, HOUR) > 0.15, 'a heartbeat debit before the end')
  const during = store.spent(key, HOUR)
  ws.close()
  await until(() => summaries.length === 1, 'the end')
  const billed = summaries[0]?.usage.costUSD as number
  t.ok(during < billed + 0.001, `debited ${during} during the session`)
  t.ok(Math.abs(store.spent(key, HOUR) - billed) < 1e-9, `settled to the billed $${billed}`)
})

t.test('a time-billed session over its budget is cut by the heartbeat debit, before the provider reports anything', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { xai: { baseURL: upstream.url, apiKey: 'xai-key' } },
    pricing: { 'grok-voice': { perMinute: 60 } },
    heartbeatInterval: 100,
    pongTimeout: 80,
    budgets: { limitUSD: () => 0.25, window: HOUR }
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=grok-voice`, [], as('tom'))
  await upstream.next()
  const started = Date.now()
  t.same(await closed(ws), { code: 1008, reason: 'budget_exceeded' })
  t.ok(Date.now() - started < 2000, `cut within a few heartbeats: ${Date.now() - started} ms for a $0.25 budget at $1 a second`)
})

t.test('terminate() on one replica: by key, by session id; a bad target is a TypeError', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, sessionKey: (request) => request.headers['x-user'] as string })
  const a = await open(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { 'x-user': 'uma' } })
  const b = await open(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { 'x-user': 'uma' } })
  const c = await open(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { 'x-user': 'val' } })
  const ends = [closed(a), closed(b)]
  t.equal(await proxy.app.realtime.terminate({ key: 'uma' }), 2)
  for (const ws of [a, b]) t.match(JSON.parse((await nextMessage(ws)).data.toString()), { type: 'error', error: { code: 'session_terminated' } })
  t.same(await Promise.all(ends), [{ code: 1008, reason: 'session_terminated' }, { code: 1008, reason: 'session_terminated' }])
  await until(() => proxy.app.realtime.sessions.size === 1, 'the terminated sessions to end')
  const [session] = [...proxy.app.realtime.sessions.values()]
  const end = closed(c)
  t.equal(await proxy.app.realtime.terminate({ sessionId: session?.id as string }), 1)
  t.equal((await end).code, 1008)
  t.equal(await proxy.app.realtime.terminate({ key: 'nobody' }), 0)
  await t.rejects(proxy.app.realtime.terminate({} as never), { name: 'TypeError', message: 'terminate() takes { key } or { sessionId }' })
})

t.test('drainTimeout: new upgrades get 503 with Retry-After while live sessions may finish; the rest get 1001', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, drainTimeout: 400, retryAfter: 7 })
  const finishing = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const lingering = await open(t, `${proxy.url}/v1/realtime?model=m`)
  await upstream.next()
  await upstream.next()
  const started = Date.now()
  const closing = proxy.app.close()
  await until(() => proxy.logs.lines.some((l) => l.msg === 'draining: live sessions may finish before they are closed with 1001'), 'the drain')
  const refusedNow = await connect(t, `${proxy.url}/v1/realtime?model=m`)
  t.match(refusedNow, { status: 503, headers: { 'retry-after': '7' } })
  t.same(JSON.parse((refusedNow as { body: string }).body), { statusCode: 503, code: 'FST_REALTIME_SHUTTING_DOWN', error: 'Service Unavailable', message: 'The server is shutting down' })
  finishing.close(1000, 'done')
  t.same(await closed(lingering), { code: 1001, reason: 'server shutting down' })
  await closing
  t.ok(Date.now() - started >= 390, 'the lingering session had drainTimeout')
})

t.test('drainTimeout ends early once every session has finished', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, drainTimeout: 60_000 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  await upstream.next()
  const closing = proxy.app.close()
  setTimeout(() => ws.close(1000), 100)
  const started = Date.now()
  await closing
  t.ok(Date.now() - started < 5000, 'did not wait the whole drainTimeout')
})

t.test('a store that throws fails closed with 503 and Retry-After; a budget store that throws too', async (t) => {
  const upstream = await fakeUpstream(t)
  const failing = new MemoryStore()
  failing.acquire = () => { throw new Error('connection refused 10.0.0.7:6379') }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store: failing, maxSessions: 5 })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal(res.status, 503)
  t.equal(res.headers['retry-after'], '1')
  t.equal(JSON.parse(res.body).code, 'FST_REALTIME_STORE_UNAVAILABLE')
  const spentFails = new MemoryStore()
  spentFails.spent = () => { throw new Error('down') }
  const other = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store: spentFails, budgets: { limitUSD: () => 1, window: HOUR } })
  const res2 = await refused(t, `${other.url}/v1/realtime?model=m`)
  t.equal(res2.status, 503)
  t.equal(res2.headers['retry-after'], '1')
  t.equal(upstream.requests.length, 0)
})

t.test('a record that costs nothing debits nothing', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  let debits = 0
  const debit = store.debit.bind(store)
  store.debit = (key, usd, window) => { debits++; return debit(key, usd, window) }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, pricing: { free: {} }, store, budgets: { limitUSD: () => 1, window: HOUR } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=free`)
  const provider = await upstream.next()
  provider.socket.send(DONE)
  await nextMessage(ws)
  ws.close()
  await closed(ws)
  t.equal(debits, 0)
})

t.test('debits the store refuses are kept, logged once, counted when it answers again, then the key is cut', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const debit = store.debit.bind(store)
  let down = true
  store.debit = (key, usd, window) => { if (down) throw new Error('down'); return debit(key, usd, window) }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, pricing: PRICES, store, budgets: { limitUSD: () => 0.05, window: HOUR } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as('kim'))
  const provider = await upstream.next()
  for (let i = 0; i < 3; i++) { // $0.06 while the store is down: over, but nobody knows yet
    provider.socket.send(DONE)
    await nextMessage(ws)
  }
  const failed = 'a budget debit failed: it is kept, and debited when the store answers again'
  await until(() => proxy.logs.lines.some((l) => l.msg === failed), 'the log line')
  t.equal(proxy.logs.lines.filter((l) => l.msg === failed).length, 1, 'once for the outage, not per debit')
  t.equal(ws.readyState, ws.OPEN, 'the session goes on')
  t.equal(store.spent(storeKey('kim'), HOUR), 0)
  // A new session of the key counts what this replica has not sent: $0.06 is over $0.05.
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`, [], as('kim'))).status, 402)
  const ended = closed(ws)
  down = false
  t.same(await ended, { code: 1008, reason: 'budget_exceeded' }, 'cut once the kept debits were counted')
  t.ok(Math.abs(store.spent(storeKey('kim'), HOUR) - 0.06) < 1e-9, 'made up in full, once')
  t.ok(proxy.logs.lines.some((l) => l.msg === 'the budget store answers again: the debits it missed are counted'))
})

t.test('kept debits of a window that ended are dropped with a warning; closing with kept debits says so', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  store.debit = () => { throw new Error('down') }
  const WINDOW = 1500
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, pricing: PRICES, store, budgets: { limitUSD: () => 1, window: WINDOW } })
  // Start just after a window boundary, so the debit is kept in one window and retried in the next.
  await new Promise((resolve) => setTimeout(resolve, WINDOW - (Date.now() % WINDOW) + 10))
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as('lou'))
  const provider = await upstream.next()
  provider.socket.send(DONE)
  await nextMessage(ws)
  const dropped = 'budget debits kept past the end of their window are dropped: the window they count against is over'
  await until(() => proxy.logs.lines.some((l) => l.msg === dropped), 'the drop', 5000)
  provider.socket.send(DONE)
  await nextMessage(ws)
  ws.close()
  await closed(ws)
  await proxy.app.close()
  t.ok(proxy.logs.lines.some((l) => l.msg === 'closing with budget debits the store never took: they are not counted'))
})

t.test('options: budgets and drainTimeout are checked', async (t) => {
  const upstream = await fakeUpstream(t)
  const bad: Array<[object, RegExp]> = [
    [{ budgets: 1 }, /"budgets" must be/],
    [{ budgets: { limitUSD: 1, window: 1 } }, /"budgets.limitUSD" must be a function/],
    [{ budgets: { limitUSD: () => 1, window: 0 } }, /"budgets.window" must be a positive number/],
    [{ budgets: { limitUSD: () => 1, window: 1, key: 'x' } }, /"budgets.key" must be a function/],
    [{ budgets: { limitUSD: () => 1, window: 1, allowUnpriced: 'yes' } }, /"budgets.allowUnpriced" must be true or false/],
    [{ budgets: { limitUSD: () => 1, window: 1, windw: 2 } }, /unknown option "budgets.windw"/],
    [{ budgets: { limitUSD: () => 1, window: 1 }, store: { acquire: () => undefined } }, /"store" must also have spent\(key, window\) and debit/],
    [{ drainTimeout: -1 }, /drainTimeout/]
  ]
  for (const [options, message] of bad) {
    await t.rejects(startProxy(t, { providers: { openai: { baseURL: upstream.url } }, ...options } as never), { code: 'FST_REALTIME_INVALID_OPTION', message }, JSON.stringify(options))
  }
})

t.test('GPT-Live sessions: debited each heartbeat; settled to session.closed\'s total, or kept when the session ended without it', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url, apiKey: 'sk-live' } },
    live: true,
    pricing: { 'gpt-live-1': { perMinute: 60 } },
    store,
    heartbeatInterval: 100,
    pongTimeout: 80,
    budgets: { limitUSD: () => 100, window: HOUR },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const run = async (user: string, closedTotal: number | undefined): Promise<number> => {
    const ws = await open(t, `${proxy.url}/v1/live/sessions`, [], as(user))
    ws.send('{"type":"session.start","session":{"model":"gpt-live-1"}}')
    const provider = await upstream.next()
    await until(() => store.spent(storeKey(user), HOUR) > 0.15, 'a heartbeat debit')
    if (closedTotal !== undefined) {
      provider.socket.send(JSON.stringify({ type: 'session.closed', usage: { seconds: closedTotal } }))
      await nextMessage(ws)
    }
    const before = summaries.length
    ws.close()
    await until(() => summaries.length > before, 'the summary')
    return store.spent(storeKey(user), HOUR)
  }
  const settled = await run('lena', 0.1)
  t.ok(Math.abs(settled - 0.1) < 1e-9, `settled to the $0.10 of 0.1 s billed: $${settled}`)
  const kept = await run('lars', undefined)
  t.ok(kept > 0.15, `the estimate ($${kept}) is kept: the usage is not final`)
  t.equal(summaries.at(-1)?.usageFinal, false, 'no report came: not final (#24 item 13)')
})

t.test('a time-billed session without a price debits nothing by the heartbeat', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const proxy = await startProxy(t, {
    providers: { xai: { baseURL: upstream.url, apiKey: 'xai-key' } },
    store,
    heartbeatInterval: 100,
    pongTimeout: 80,
    budgets: { limitUSD: () => 1, window: HOUR, allowUnpriced: true } // the opt-out: without it, 402 (test/unpriced.test.ts)
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=grok-voice`, [], as('una'))
  await upstream.next()
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(store.spent(storeKey('una'), HOUR), 0)
  ws.close()
  await closed(ws)
})

t.test('a store that cannot tell the other replicas: the local cut stands and the failure is logged', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store })
  store.publish = () => { throw new Error('connection lost 10.0.0.7:6379') }
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as('wes'))
  t.equal(await proxy.app.realtime.terminate({ key: 'wes' }), 1)
  t.equal((await closed(ws)).code, 1008)
  t.ok(proxy.logs.lines.some((l) => l.msg === 'could not tell the other replicas: the store is unreachable'))
})

t.test('a store already failing with 503 keeps its own message; past windows are swept from memory', async (t) => {
  const upstream = await fakeUpstream(t)
  const { StoreUnavailableError } = await import('../lib/errors.js')
  const store = new MemoryStore()
  store.spent = () => { throw new StoreUnavailableError('Redis is reconnecting') }
  store.acquire = () => { throw new StoreUnavailableError('Redis is reconnecting') }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store, budgets: { limitUSD: () => 1, window: HOUR } })
  t.match(JSON.parse((await refused(t, `${proxy.url}/v1/realtime?model=m`)).body), { code: 'FST_REALTIME_STORE_UNAVAILABLE', message: /\(Redis is reconnecting\)/ })
  const other = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store, maxSessions: 1 })
  t.match(JSON.parse((await refused(t, `${other.url}/v1/realtime?model=m`)).body), { message: /\(Redis is reconnecting\)/ })

  const memory = new MemoryStore()
  for (let i = 0; i < 10_000; i++) memory.debit(`k${i}`, 1, 1)
  await new Promise((resolve) => setTimeout(resolve, 2))
  memory.debit('fresh', 1, 1)
  t.equal(memory.spent('k1', 1), 0, 'a past window reads 0')
})

t.test('a cut call sideband hangs up the call at the provider (budget); a GPT-Live session too (terminate); a failed hangup is logged', async (t) => {
  let creates = 0
  const upstream = await fakeUpstream(t, {
    http: (req, res) => {
      if (req.url.endsWith('/hangup')) {
        if (req.url.includes('live_fail')) return res.writeHead(500).end()
        return res.writeHead(200).end()
      }
      if (req.url.endsWith('/live/sessions')) {
        const id = creates++ === 0 ? 'live_ok1' : 'live_fail'
        return res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ session: { id }, transport: { type: 'webrtc', sdp: 'v=0' } }))
      }
      res.writeHead(201, { 'content-type': 'application/sdp', location: '/realtime/calls/rtc_budget1' }).end('v=0\r\n')
    }
  })
  const store = new MemoryStore()
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url, apiKey: 'sk-call' } },
    pricing: PRICES,
    store,
    live: true,
    signaling: true,
    budgets: { limitUSD: () => 0.01, window: HOUR, allowUnpriced: true } // gpt-live-1 has no price here: the GPT-Live part is about hangups
  })
  const http = proxy.url.replace('ws:', 'http:')
  const call = await fetch(`${http}/v1/realtime/calls?model=m`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer cara' }, body: 'v=0\r\n' })
  t.equal(call.status, 201)
  const sideband = await upstream.next()
  sideband.socket.send(DONE) // $0.02: over the $0.01 budget
  t.same(await sideband.closed, { code: 1008, reason: 'budget_exceeded' })
  await until(() => upstream.posts.some((p) => p.url === '/realtime/calls/rtc_budget1/hangup'), 'the hangup')
  const hangup = upstream.posts.find((p) => p.url === '/realtime/calls/rtc_budget1/hangup')
  t.equal(hangup?.headers.authorization, 'Bearer sk-call')
  await until(() => proxy.logs.lines.some((l) => l.msg === 'the call was hung up at the provider'), 'the log line')
  t.equal(await store.getCall('rtc_budget1'), undefined, 'the call left the registry')

  for (const [id, logged] of [['live_ok1', 'the call was hung up at the provider'], ['live_fail', 'could not hang up the call at the provider; it goes on unmetered']] as const) {
    const created = await fetch(`${http}/v1/live/sessions`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer rich' }, body: '{"session":{"model":"gpt-live-1"},"transport":{"type":"webrtc","sdp":"v=0"}}' })
    t.equal(created.status, 201)
    const liveSideband = await upstream.next()
    t.equal(liveSideband.url, `/live/sessions/${id}/attach`)
    const sessionOf = (): { id: string } | undefined => [...proxy.app.realtime.sessions.values()].find((s) => s.callId === id)
    await until(() => sessionOf() !== undefined, 'the sideband session')
    const session = sessionOf()
    t.equal(await proxy.app.realtime.terminate({ sessionId: session?.id as string }), 1)
    t.same(await liveSideband.closed, { code: 1008, reason: 'session_terminated' })
    await until(() => upstream.posts.some((p) => p.url === `/live/sessions/${id}/hangup`), 'the GPT-Live hangup')
    await until(() => proxy.logs.lines.filter((l) => l.msg === logged).length >= 1, logged)
  }
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'the call was hung up at the provider').length, 2)
})
