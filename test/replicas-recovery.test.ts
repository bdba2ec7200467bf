// Replica processes and a real Redis that fails: a three-node Cluster, a stall, a partition of one replica, a
// flush, and a replica started while Redis is down. The store fails closed while it cannot answer and recovers
// without a restart: no phantom slot, no lost terminate(), no spend left uncharged, no budget reset.
import t from 'tap'
import { Redis } from 'ioredis'
import { closed, connect, fakeUpstream, nextMessage, open, refused, until } from './helpers.js'
import { noCluster, noRedis, partition, redisCluster, redisServer } from './redis-server.js'
import { as, DONE, replica, type Replica } from './replicas.js'
import { storeKey } from '../lib/store/types.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }

/** Connects until one is upgraded (or `ms` pass): the status codes of the refused tries, then true or false. */
async function retried (t: Parameters<typeof connect>[0], url: string, token: string, ms = 10_000): Promise<{ opened: boolean, refusals: number[] }> {
  const refusals: number[] = []
  const until = Date.now() + ms
  while (Date.now() < until) {
    const attempt = await connect(t, url, [], as(token))
    if (!('status' in attempt)) return { opened: true, refusals }
    refusals.push(attempt.status)
    await sleep(100)
  }
  return { opened: false, refusals }
}

t.test('two replicas on a three-node Redis Cluster: 20 admissions, a limit across them, a budget cut everywhere', { skip: noCluster }, async (t) => {
  const nodes = await redisCluster(t)
  const upstream = await fakeUpstream(t)
  const env = { BUDGET_USD: '0.03', OPTIONS: JSON.stringify({ maxSessionsPerKey: 2 }) }
  const [a, b] = await Promise.all([replica(t, nodes, upstream, env), replica(t, nodes, upstream, env)]) as [Replica, Replica]
  const statuses: Array<number | 101> = []
  for (let i = 0; i < 20; i++) {
    const attempt = await connect(t, `${(i % 2 === 0 ? a : b).url}?model=gpt-realtime`, [], as(`caller-${i % 10}`))
    statuses.push('status' in attempt ? attempt.status : 101)
  }
  t.same(statuses, Array(20).fill(101), 'no 503 NOSCRIPT: each caller holds two sessions, one per replica')
  t.equal((await refused(t, `${a.url}?model=gpt-realtime`, [], as('caller-0'))).status, 429, 'the third is refused')
  const onA = await open(t, `${a.url}?model=gpt-realtime`, [], as('dave'))
  await until(() => upstream.connections.length === 21, 'A\'s dial')
  const provider = upstream.connections[20]
  const onB = await open(t, `${b.url}?model=gpt-realtime`, [], as('dave'))
  const cutB = closed(onB)
  provider?.socket.send(DONE)
  await nextMessage(onA)
  provider?.socket.send(DONE) // $0.04: over
  t.same(await cutB, { code: 1008, reason: 'budget_exceeded' }, 'the debit script ran on its key\'s node and the cut reached B')
  t.equal((await refused(t, `${b.url}?model=gpt-realtime`, [], as('dave'))).status, 402)
})

t.test('a stall longer than commandTimeout: 503 while it lasts, and no phantom slot once Redis resumes', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t)
  // Leases of a minute: a phantom slot would lock the key out long after the stall.
  const env = { OPTIONS: JSON.stringify({ maxSessionsPerKey: 1 }), STORE: JSON.stringify({ commandTimeout: 300, leaseTTL: 60_000 }) }
  const [a, b, c] = await Promise.all([replica(t, redis, upstream, env), replica(t, redis, upstream, env), replica(t, redis, upstream, env)]) as [Replica, Replica, Replica]
  const raw = new Redis({ port: redis.port, host: '127.0.0.1' })
  t.teardown(() => raw.disconnect())
  const slots = async (): Promise<number> => await raw.zcard(`realtime-proxy:slots:{${storeKey('ivan')}}`)
  for (const r of [a, b, c]) { // each replica's scripts cached in Redis: a stalled acquire is the script itself
    const ws = await open(t, `${r.url}?model=gpt-realtime`, [], as('ivan'))
    ws.close()
    await closed(ws)
    await until(async () => await slots() === 0, 'the slot back')
  }
  redis.pause()
  const during = await Promise.all([a, b, c, a, b, c].map(async (r) => await refused(t, `${r.url}?model=gpt-realtime`, [], as('ivan'))))
  t.same(during.map((r) => r.status), [503, 503, 503, 503, 503, 503])
  t.equal(JSON.parse(during[0]?.body as string).code, 'FST_REALTIME_STORE_UNAVAILABLE')
  redis.resume()
  await sleep(200) // the queued scripts, and the releases behind them, have run
  t.equal(await slots(), 0, 'none of the six refused connects holds a slot')
  for (const r of [a, b, c]) {
    const ws = await open(t, `${r.url}?model=gpt-realtime`, [], as('ivan'))
    ws.close()
    await closed(ws)
    await until(async () => await slots() === 0, 'the slot back')
  }
})

t.test('terminate() while a replica is cut off from Redis: it cuts the session when it is back', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const link = await partition(t, redis.port)
  const upstream = await fakeUpstream(t)
  const a = await replica(t, redis, upstream)
  const b = await replica(t, { port: link.port }, upstream)
  const frank = await open(t, `${b.url}?model=gpt-realtime`, [], as('frank'))
  const grace = await open(t, `${b.url}?model=gpt-realtime`, [], as('grace'))
  const ended = closed(frank)
  await link.cut()
  await sleep(300)
  const res = await fetch(`${a.http}/terminate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"frank"}' })
  t.same(await res.json(), { cut: 0 })
  await sleep(500)
  t.equal(frank.readyState, frank.OPEN, 'B did not hear it: it was cut off')
  await link.heal()
  t.same(await ended, { code: 1008, reason: 'session_terminated' }, 'B read it from Redis once it reconnected')
  t.equal(grace.readyState, grace.OPEN, 'another key is untouched')
  // A session frank opens after the terminate is not cut by it.
  const again = await open(t, `${b.url}?model=gpt-realtime`, [], as('frank'))
  await sleep(1500)
  t.equal(again.readyState, again.OPEN)
})

t.test('spend metered while a replica is cut off is charged when it is back, and the key is cut everywhere', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const link = await partition(t, redis.port)
  const upstream = await fakeUpstream(t)
  const env = { BUDGET_USD: '0.03' }
  const a = await replica(t, { port: link.port }, upstream, env)
  const b = await replica(t, redis, upstream, env)
  const onA = await open(t, `${a.url}?model=gpt-realtime`, [], as('dave'))
  const provider = await upstream.next()
  const onB = await open(t, `${b.url}?model=gpt-realtime`, [], as('dave'))
  await upstream.next()
  const [cutA, cutB] = [closed(onA), closed(onB)]
  await link.cut()
  await sleep(300)
  provider.socket.send(DONE)
  provider.socket.send(DONE) // $0.04 while A cannot debit
  await nextMessage(onA)
  await nextMessage(onA)
  await sleep(300)
  t.equal(onB.readyState, onB.OPEN, 'nobody knows yet')
  await link.heal()
  t.same(await cutB, { code: 1008, reason: 'budget_exceeded' }, 'B\'s session cut once A made up its debits')
  t.same(await cutA, { code: 1008, reason: 'budget_exceeded' })
  t.equal((await refused(t, `${b.url}?model=gpt-realtime`, [], as('dave'))).status, 402)
  const raw = new Redis({ port: redis.port, host: '127.0.0.1' })
  t.teardown(() => raw.disconnect())
  const [key] = await raw.keys('realtime-proxy:budget:*')
  t.equal(Number(await raw.get(key as string)), 0.04, 'charged once, in full')
})

t.test('FLUSHALL does not reopen a key cut for overspending: replicas re-assert it, a new replica sees it', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t)
  const upstream = await fakeUpstream(t)
  const env = { BUDGET_USD: '0.03' }
  const [a, b] = await Promise.all([replica(t, redis, upstream, env), replica(t, redis, upstream, env)]) as [Replica, Replica]
  const onA = await open(t, `${a.url}?model=gpt-realtime`, [], as('dave'))
  const provider = await upstream.next()
  const cut = closed(onA)
  provider.socket.send(DONE)
  provider.socket.send(DONE)
  t.same(await cut, { code: 1008, reason: 'budget_exceeded' })
  const raw = new Redis({ port: redis.port, host: '127.0.0.1' })
  t.teardown(() => raw.disconnect())
  await raw.flushall()
  t.equal((await refused(t, `${b.url}?model=gpt-realtime`, [], as('dave'))).status, 402, 'B heard the cut and its total')
  // B answers 402 from what it remembers and raises the store behind the answer
  const total = async (): Promise<number> => {
    const [key] = await raw.keys('realtime-proxy:budget:*')
    return key === undefined ? 0 : Number(await raw.get(key))
  }
  await until(async () => await total() > 0, 'the store raised back')
  t.equal(await total(), 0.04, 'and raised the store back to it')
  const c = await replica(t, redis, upstream, env)
  t.equal((await refused(t, `${c.url}?model=gpt-realtime`, [], as('dave'))).status, 402, 'a replica that never heard it')
  await open(t, `${c.url}?model=gpt-realtime`, [], as('erin'))
})

t.test('a replica started while Redis is down starts, answers 503, then serves and hears terminate() once it is up', { skip: noRedis }, async (t) => {
  const redis = await redisServer(t, [], false)
  const upstream = await fakeUpstream(t)
  const a = await replica(t, redis, upstream, { OPTIONS: JSON.stringify({ maxSessions: 10 }) })
  const down = await refused(t, `${a.url}?model=gpt-realtime`, [], as('heidi'))
  t.equal(down.status, 503)
  t.equal(JSON.parse(down.body).code, 'FST_REALTIME_STORE_UNAVAILABLE')
  await redis.start()
  const { opened } = await retried(t, `${a.url}?model=gpt-realtime`, 'judy')
  t.ok(opened, 'served once Redis is up, no restart')
  const heidi = await open(t, `${a.url}?model=gpt-realtime`, [], as('heidi'))
  const ended = closed(heidi)
  const b = await replica(t, redis, upstream)
  await fetch(`${b.http}/terminate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"key":"heidi"}' })
  t.same(await ended, { code: 1008, reason: 'session_terminated' }, 'its subscription joined once Redis was up')
})
