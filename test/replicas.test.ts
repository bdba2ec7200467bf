// Replicas as real child processes sharing one real redis-server through RedisStore: limits, a SIGKILLed
// replica's slots, calls across replicas, budgets cut everywhere, terminate() everywhere, a Redis outage.
import t from 'tap'
import { request } from 'undici'
import { closed, connect, fakeUpstream, nextMessage, open, refused, until } from './helpers.js'
import { noRedis, redisServer } from './redis-server.js'
import { as, DONE, replica, type Replica } from './replicas.js'

t.test('three replicas, one Redis: a per-key limit holds across them; a SIGKILLed replica\'s slots come back', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t)
  const options = { OPTIONS: JSON.stringify({ maxSessionsPerKey: 2 }) }
  const [a, b, c] = await Promise.all([replica(t, redis, upstream, options), replica(t, redis, upstream, options), replica(t, redis, upstream, options)]) as [Replica, Replica, Replica]
  await open(t, `${a.url}?model=gpt-realtime`, [], as('alice'))
  await open(t, `${b.url}?model=gpt-realtime`, [], as('alice'))
  const third = await refused(t, `${c.url}?model=gpt-realtime`, [], as('alice'))
  t.equal(third.status, 429)
  t.equal(JSON.parse(third.body).code, 'FST_REALTIME_TOO_MANY_SESSIONS')
  t.equal(third.headers['retry-after'], '1')
  await open(t, `${c.url}?model=gpt-realtime`, [], as('bob'))
  t.equal(upstream.connections.length, 3, 'the refused one was never dialled')

  a.child.kill('SIGKILL')
  const killedAt = Date.now()
  let reopened = false
  while (!reopened) {
    const attempt = await connect(t, `${c.url}?model=gpt-realtime`, [], as('alice'))
    reopened = !('status' in attempt)
    if (!reopened) await new Promise((resolve) => setTimeout(resolve, 50))
    if (Date.now() - killedAt > 5000) break
  }
  t.ok(reopened, 'the dead replica\'s slot came back')
  // The lease expires at most 600 ms (the TTL) after the dead replica's last renewal; the rest is this loop's polling.
  t.ok(Date.now() - killedAt <= 2500, `within the lease TTL (600 ms), polling and a loaded machine's delays: ${Date.now() - killedAt} ms`)
})

t.test('a call created on A is attached and hung up through B, and metered once', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t, {
    http: (req, res) => req.url.endsWith('/hangup')
      ? res.writeHead(200).end()
      : res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/calls/rtc_shared1' }).end('v=0\r\n')
  })
  const [a, b] = await Promise.all([replica(t, redis, upstream), replica(t, redis, upstream)]) as [Replica, Replica]
  const created = await request(`${a.http}/v1/realtime/calls?model=gpt-realtime`, { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: 'Bearer carol' }, body: 'v=0\r\n' })
  t.equal(created.statusCode, 201)
  await created.body.text()
  const sideband = await upstream.next()
  t.equal(sideband.url, '/realtime?call_id=rtc_shared1')
  const stranger = await refused(t, `${b.url}?call_id=rtc_shared1`, [], as('mallory'))
  t.equal(stranger.status, 403, 'B knows the call\'s owner')
  const client = await open(t, `${b.url}?call_id=rtc_shared1`, [], as('carol'))
  const attach = await upstream.next()
  t.equal(attach.url, '/realtime?call_id=rtc_shared1', 'B routed the attach by the shared registry')
  sideband.socket.send(DONE)
  attach.socket.send(DONE)
  await nextMessage(client)
  await until(() => a.usage.length === 1, 'A\'s sideband record')
  const hangup = await request(`${b.http}/v1/realtime/calls/rtc_shared1/hangup`, { method: 'POST', headers: { authorization: 'Bearer carol' } })
  t.equal(hangup.statusCode, 200)
  await hangup.body.text()
  t.equal(upstream.posts.at(-1)?.url, '/realtime/calls/rtc_shared1/hangup')
  client.close()
  await closed(client)
  sideband.socket.close(1000)
  await until(() => a.ended.length === 1 && b.ended.length === 1, 'both sessions to end')
  t.same([a.usage.length, b.usage.length], [1, 0], 'metered once, by the replica whose sideband it is')
  const again = await request(`${a.http}/v1/realtime/calls/rtc_shared1/hangup`, { method: 'POST', headers: { authorization: 'Bearer carol' } })
  t.equal(again.statusCode, 404, 'the hangup through B ended the record for A too')
  await again.body.text()
})

t.test('a budget crossed on A cuts the same key\'s session on B; the key is then refused with 402 everywhere', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t)
  const env = { BUDGET_USD: '0.03' }
  const [a, b] = await Promise.all([replica(t, redis, upstream, env), replica(t, redis, upstream, env)]) as [Replica, Replica]
  const onA = await open(t, `${a.url}?model=gpt-realtime`, [], as('dave'))
  const providerA = await upstream.next()
  const onB = await open(t, `${b.url}?model=gpt-realtime`, [], as('dave'))
  await upstream.next()
  const other = await open(t, `${b.url}?model=gpt-realtime`, [], as('erin'))
  await upstream.next()
  const endedB = closed(onB)
  const endedA = closed(onA)
  providerA.socket.send(DONE) // $0.02: under
  await nextMessage(onA)
  providerA.socket.send(DONE) // $0.04: over
  const cut = JSON.parse((await nextMessage(onB)).data.toString())
  t.match(cut, { type: 'error', error: { code: 'budget_exceeded', message: 'The budget for this caller is spent; the session is closed' } })
  t.same(await endedB, { code: 1008, reason: 'budget_exceeded' })
  t.equal((await endedA).code, 1008, 'A\'s own session too')
  await until(() => b.ended.length >= 1, 'B\'s summary')
  t.match(b.ended.find((s) => s.reason === 'budget_exceeded'), { by: 'server', code: 1008 }, 'the summary says why')
  const refusedB = await refused(t, `${b.url}?model=gpt-realtime`, [], as('dave'))
  t.equal(refusedB.status, 402)
  t.same(JSON.parse(refusedB.body), { statusCode: 402, code: 'FST_REALTIME_BUDGET_EXCEEDED', error: 'Payment Required', message: 'The budget for this caller is spent for now' })
  t.equal(other.readyState, other.OPEN, 'another key is untouched')
})

t.test('terminate({ key }) on A closes the key\'s session on B; terminate({ sessionId }) one session', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t)
  const [a, b] = await Promise.all([replica(t, redis, upstream), replica(t, redis, upstream)]) as [Replica, Replica]
  const onB = await open(t, `${b.url}?model=gpt-realtime`, [], as('frank'))
  const kept = await open(t, `${b.url}?model=gpt-realtime`, [], as('grace'))
  const endedB = closed(onB)
  const res = await request(`${a.http}/terminate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"frank"}' })
  t.same(await res.body.json(), { cut: 0 }, 'none on A')
  t.match(JSON.parse((await nextMessage(onB)).data.toString()), { type: 'error', error: { code: 'session_terminated' } })
  t.same(await endedB, { code: 1008, reason: 'session_terminated' })
  t.equal(kept.readyState, kept.OPEN)
})

t.test('Redis down: live sessions go on, new ones get 503; Redis back: new sessions work, no restart', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t)
  const env = { OPTIONS: JSON.stringify({ maxSessions: 10 }) }
  const [a] = await Promise.all([replica(t, redis, upstream, env)]) as [Replica]
  const live = await open(t, `${a.url}?model=gpt-realtime`, [], as('heidi'))
  const provider = await upstream.next()
  await redis.stop()
  await new Promise((resolve) => setTimeout(resolve, 300))
  const down = await refused(t, `${a.url}?model=gpt-realtime`, [], as('heidi'))
  t.equal(down.status, 503)
  t.equal(JSON.parse(down.body).code, 'FST_REALTIME_STORE_UNAVAILABLE')
  t.equal(down.headers['retry-after'], '1')
  live.send('{"type":"response.create"}')
  await until(() => provider.frames.length === 1, 'the live session\'s frame')
  provider.socket.send('{"type":"pong"}')
  t.equal((await nextMessage(live)).data.toString(), '{"type":"pong"}', 'the live session kept relaying')
  await redis.start()
  let ok = false
  for (let i = 0; i < 60 && !ok; i++) {
    const attempt = await connect(t, `${a.url}?model=gpt-realtime`, [], as('heidi'))
    ok = !('status' in attempt)
    if (!ok) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  t.ok(ok, 'a new session once Redis is back')
  t.equal(live.readyState, live.OPEN)
})
