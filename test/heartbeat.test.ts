// Both peers are pinged; one that misses its pong is terminated and the other side closed with 1011.
import t from 'tap'
import { closed, fakeUpstream, open, startProxy, until } from './helpers.js'

const fast = { heartbeatInterval: 100, pongTimeout: 80 } // a margin for a loaded machine: live peers must answer in time

t.test('a client that stops answering pings is terminated; the provider gets 1011', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, ...fast })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], { autoPong: false })
  const conn = await upstream.next()
  const c = closed(ws)
  t.same(await conn.closed, { code: 1011, reason: 'client missed heartbeat' })
  t.equal((await c).code, 1006, 'the client was dropped without a close frame')
  await until(() => proxy.app.realtime.sessions.size === 0, 'session removed')
  t.ok(proxy.logs.lines.some((l) => l.msg === 'realtime peer missed its pong; terminating it' && l.side === 'client'))
})

t.test('a provider that stops answering pings is terminated; the client gets 1011', async (t) => {
  const upstream = await fakeUpstream(t, { autoPong: false })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, ...fast })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  t.same(await closed(ws), { code: 1011, reason: 'upstream missed heartbeat' })
  await until(() => proxy.app.realtime.sessions.size === 0, 'session removed')
})

t.test('peers that answer stay connected across many intervals', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, ...fast })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  let pings = 0
  ws.on('ping', () => pings++)
  await new Promise((resolve) => setTimeout(resolve, 450))
  t.ok(pings >= 3, `client was pinged ${pings} times`)
  ws.send('alive')
  await until(() => conn.frames.length === 1, 'frame relayed')
  t.equal(proxy.app.realtime.sessions.size, 1)
})

t.test('heartbeatInterval 0 disables pings', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, heartbeatInterval: 0 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], { autoPong: false })
  let pings = 0
  ws.on('ping', () => pings++)
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(pings, 0)
  t.equal(proxy.app.realtime.sessions.size, 1)
})

t.test('all sessions share one heartbeat timer, which stops when the last session ends', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, heartbeatInterval: 60_000, pongTimeout: 10_000 })
  const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const idle = timers()
  const clients = []
  for (let i = 0; i < 3; i++) {
    clients.push(await open(t, `${proxy.url}/v1/realtime?model=m`))
    await upstream.next()
    t.equal(timers(), idle + 1, `${i + 1} session(s), one timer`)
  }
  for (const ws of clients) ws.close()
  await until(() => proxy.app.realtime.sessions.size === 0, 'sessions ended')
  t.equal(timers(), idle, 'no timer without sessions')
})

t.test('sessions are pinged in groups spread over the interval, not all in one tick', async (t) => {
  const upstream = await fakeUpstream(t)
  // 1 s: ten groups, one every 100 ms
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, heartbeatInterval: 1000, pongTimeout: 500 })
  const first: number[] = []
  for (let i = 0; i < 10; i++) {
    const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
    await upstream.next()
    ws.once('ping', () => first.push(performance.now()))
  }
  await until(() => first.length === 10, 'every client pinged', 3000)
  const spread = Math.max(...first) - Math.min(...first)
  t.ok(spread >= 500, `the first pings of ten sessions came ${spread.toFixed(0)} ms apart from first to last`)
  t.equal(proxy.app.realtime.sessions.size, 10, 'and every peer answered in time')
})
