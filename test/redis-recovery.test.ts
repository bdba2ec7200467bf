// RedisStore recovering from a real redis-server that fails, in one process: a stalled acquire gives its slot
// back, fleet messages kept in Redis reach a store that missed them (on reconnect, on renewals), messages that
// could not be sent are sent late, a store subscribed while Redis is down joins once it is up, a spent key is
// raised back after a flush; and the plugin's side: late messages cut only older sessions, kept debits.
import t from 'tap'
import { Redis } from 'ioredis'
import { MemoryStore, RedisStore, type FleetMessage } from '../lib/index.js'
import { storeKey } from '../lib/store/types.js'
import { clearOfWindowEnd, noRedis, redisServer } from './redis-server.js'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const sleep = async (ms: number): Promise<void> => { await new Promise((resolve) => setTimeout(resolve, ms)) }
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } })

async function client (t: { teardown: (fn: () => unknown) => void }, port: number, ready = true): Promise<Redis> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  redis.on('error', () => {})
  t.teardown(() => redis.disconnect())
  if (ready) await until(() => redis.status === 'ready', 'the Redis client to connect')
  return redis
}

t.test('a stalled acquire that times out gives its slot back when Redis resumes', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis, commandTimeout: 200 })
  const held = await store.acquire('k', 5, 60_000) // the script is cached: the stalled one is the script itself
  server.pause()
  await t.rejects(store.acquire('k', 5, 60_000), { code: 'FST_REALTIME_STORE_UNAVAILABLE', message: /did not answer within 200 ms/ })
  await t.rejects(store.acquire('k', 5, 60_000), { code: 'FST_REALTIME_STORE_UNAVAILABLE' })
  server.resume()
  await until(async () => await store.count('k') === 1, 'only the lease that was granted')
  await sleep(100)
  t.equal(await store.count('k'), 1)
  await held?.release()
})

t.test('fleet messages missed on the channel are read from Redis: on renewals, once each, late ones with when they were sent', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis, fleetLogTTL: 60_000 })
  const got: FleetMessage[] = []
  await store.subscribe((m) => got.push(m))
  const sender = new RedisStore({ client: await client(t, server.port) })
  await sender.publish({ type: 'terminate', key: 'key:heard' })
  await until(() => got.length === 1, 'the message on the channel')
  // A message that reached the log but not the channel (a publish this subscriber missed).
  const at = Date.now() - 5000
  await redis.zadd('realtime-proxy:fleet:{log}', Date.now() + 1, JSON.stringify({ message: { type: 'terminate', key: 'key:missed' }, id: 'm1', at }))
  const lease = await store.acquire('k', 1, 60_000)
  await sleep(1100) // renewals check the log at most once a second
  await lease?.renew()
  await until(() => got.length === 2, 'the missed message, read on a renewal')
  t.same(got, [{ type: 'terminate', key: 'key:heard' }, { type: 'terminate', key: 'key:missed', at }], 'the channel\'s message not again, the late one with its time')
  await sleep(1100)
  await lease?.renew()
  await sleep(100)
  t.equal(got.length, 2, 'each message once')
  await redis.zadd('realtime-proxy:fleet:{log}', Date.now() + 2, 'not json', Date.now() + 3, JSON.stringify({ id: 'm2' }), Date.now() + 4, JSON.stringify({ message: null, id: 'm3' }))
  await sleep(1100)
  await lease?.renew()
  await sleep(100)
  t.equal(got.length, 2, 'junk in the log is ignored')
  await store.close()
  await sender.close()
})

t.test('a store cut off from Redis: its publish is sent late once it is back; it reads what it missed on reconnect', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const other = await client(t, server.port)
  const store = new RedisStore({ client: redis })
  const peer = new RedisStore({ client: other })
  const got: FleetMessage[] = []
  const peerGot: FleetMessage[] = []
  await store.subscribe((m) => got.push(m))
  await peer.subscribe((m) => peerGot.push(m))
  await server.stop()
  await until(() => redis.status !== 'ready', 'the client to notice')
  const before = Date.now()
  await t.rejects(store.publish({ type: 'terminate', sessionId: 's_1' }), { code: 'FST_REALTIME_STORE_UNAVAILABLE' })
  await server.start() // empty: the log is gone with it, the kept message is not
  await until(() => peerGot.length === 1, 'the kept message, sent once Redis answers', 10_000)
  t.match(peerGot[0], { type: 'terminate', sessionId: 's_1' })
  t.ok((peerGot[0]?.at as number) >= before && (peerGot[0]?.at as number) <= Date.now(), 'late: with when it was asked')
  // The peer reconnects after a message went out without it: it reads it from the log.
  await other.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  await peer.publish({ type: 'budget', key: 'key:b', total: 2 })
  await until(() => peerGot.length === 2, 'heard, on the channel or from the log', 10_000)
  t.match(peerGot[1], { type: 'budget', key: 'key:b', total: 2 })
  await store.close()
  await peer.close()
})

t.test('a store subscribed while Redis is down starts at once and joins the channel once Redis is up', { skip: noRedis }, async (t) => {
  const server = await redisServer(t, [], false)
  const redis = await client(t, server.port, false)
  const store = new RedisStore({ client: redis, commandTimeout: 300 })
  const got: FleetMessage[] = []
  const started = Date.now()
  await store.subscribe((m) => got.push(m))
  t.ok(Date.now() - started < 2000, 'subscribe() does not wait for Redis')
  await server.start()
  await until(() => redis.status === 'ready', 'the client to connect', 10_000)
  const sender = new RedisStore({ client: await client(t, server.port) })
  await until(async () => { await sender.publish({ type: 'terminate', key: 'key:k' }); return got.length > 0 }, 'the subscription joined', 10_000)
  t.match(got[0], { type: 'terminate', key: 'key:k' })
  await store.close()
})

t.test('more messages than one read holds are read in turns', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const now = Date.now()
  const rows: Array<string | number> = []
  for (let i = 0; i < 1500; i++) rows.push(now + i, JSON.stringify({ message: { type: 'terminate', sessionId: `s_${i}` }, id: `m${i}`, at: now }))
  await redis.zadd('realtime-proxy:fleet:{log}', ...rows)
  const store = new RedisStore({ client: redis })
  const got: FleetMessage[] = []
  await store.subscribe((m) => got.push(m))
  await until(() => got.length === 1500, 'every message, in two reads', 10_000)
  t.same(new Set(got.map((m) => (m as { sessionId: string }).sessionId)).size, 1500)
  await store.close()
})

t.test('raise() lifts a window total and never lowers it', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const store = new RedisStore({ client: await client(t, server.port) })
  await clearOfWindowEnd()
  t.equal(await store.raise('k', 0.5, 60_000), 0.5)
  t.equal(await store.raise('k', 0.25, 60_000), 0.5)
  t.equal(await store.debit('k', 0.25, 60_000), 0.75)
  t.equal(await store.spent('k', 60_000), 0.75)
})

t.test('a late terminate cuts the key\'s sessions that started before it was sent, not later ones', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  let deliver: ((m: FleetMessage) => void) | undefined
  const subscribe = store.subscribe.bind(store)
  store.subscribe = (handler) => { deliver = handler; subscribe(handler) }
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store })
  const older = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as('kay'))
  const at = Date.now()
  await sleep(1200) // more than the clock allowance
  const newer = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as('kay'))
  const ended = closed(older)
  deliver?.({ type: 'terminate', key: storeKey('kay'), at })
  t.same(await ended, { code: 1008, reason: 'session_terminated' })
  await sleep(100)
  t.equal(newer.readyState, newer.OPEN, 'opened after the terminate was asked')
})

t.test('a key cut in this window stays cut when the store forgets it; a store without raise() gets the difference debited', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  const DONE = JSON.stringify({ type: 'response.done', response: { id: 'r', usage: { input_tokens: 10, output_tokens: 10, total_tokens: 20 } } })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, pricing: { m: { input: { text: 1000 }, output: { text: 1000 } } }, store, budgets: { limitUSD: () => 0.03, window: 3_600_000 } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as('lee'))
  const provider = await upstream.next()
  const cut = closed(ws)
  provider.socket.send(DONE)
  await nextMessage(ws)
  provider.socket.send(DONE)
  await cut
  const key = storeKey('lee')
  store.debit(key, -0.04, 3_600_000) // the store forgets (as a flushed Redis would)
  t.equal(store.spent(key, 3_600_000), 0)
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`, [], as('lee'))).status, 402)
  await until(() => Math.abs(store.spent(key, 3_600_000) - 0.04) < 1e-9, 'the difference debited back')
  t.ok(proxy.logs.lines.some((l) => l.msg === 'the budget store had forgotten a spent key (flushed, or restarted without persistence): its total is raised back'))
  // A cut heard from another replica, with its total, is remembered too.
  store.publish({ type: 'budget', key: storeKey('mo'), total: 0.5 })
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`, [], as('mo'))).status, 402)
})

t.test('bounds: at most 1000 unsent messages are kept (the oldest dropped); heard ids are forgotten after fleetLogTTL', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis, fleetLogTTL: 300 })
  const got: FleetMessage[] = []
  await store.subscribe((m) => got.push(m))
  await store.publish({ type: 'terminate', sessionId: 'first' })
  await until(() => got.length === 1, 'heard')
  await sleep(400)
  const lease = await store.acquire('k', 1, 60_000)
  await sleep(1100)
  await lease?.renew() // a catch-up after the TTL: the id is forgotten, and the log has trimmed the message too
  await sleep(200)
  t.equal(got.length, 1)
  await server.stop()
  await until(() => redis.status !== 'ready', 'the client to notice')
  for (let i = 0; i < 1001; i++) await store.publish({ type: 'terminate', sessionId: `s_${i}` }).catch(() => {})
  const peer = new RedisStore({ client: await client(t, server.port, false) })
  const peerGot: FleetMessage[] = []
  await server.start()
  await peer.subscribe((m) => peerGot.push(m))
  await until(() => peerGot.length === 1000, 'the kept messages', 15_000)
  t.equal((peerGot[0] as { sessionId: string }).sessionId, 's_1', 'the oldest one was dropped')
  await store.close()
  await peer.close()
})

t.test('a message published while a replica\'s SUBSCRIBE is still on its way is read from the log once it is confirmed', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const publisher = new RedisStore({ client: await client(t, server.port) })
  const redis = await client(t, server.port)
  // A real subscriber connection whose SUBSCRIBE reaches Redis 400 ms late (a slow link, a busy Redis): the
  // replica reads the fleet log before it is subscribed.
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => { release = resolve })
  const duplicate = redis.duplicate.bind(redis)
  redis.duplicate = (...args: Parameters<Redis['duplicate']>) => {
    const subscriber = duplicate(...args)
    t.teardown(() => subscriber.disconnect())
    const subscribe = subscriber.subscribe.bind(subscriber) as (...channels: string[]) => Promise<unknown>
    ;(subscriber as unknown as { subscribe: typeof subscribe }).subscribe = async (...channels) => { await held; return await subscribe(...channels) }
    return subscriber
  }
  const store = new RedisStore({ client: redis, commandTimeout: 200 })
  const got: FleetMessage[] = []
  await store.subscribe((m) => got.push(m)) // gives up waiting after commandTimeout, not subscribed yet
  await new Promise((resolve) => setTimeout(resolve, 100)) // its first reading of the log is done
  await publisher.publish({ type: 'terminate', sessionId: 'meanwhile' })
  release()
  await until(() => got.length === 1, 'the message published before the subscription took effect', 3000)
  t.same(got.map((m) => (m as { sessionId: string }).sessionId), ['meanwhile'])
  await store.close()
  await publisher.close()
})

t.test('a reading of the fleet log that fails is tried again a second later: what the replica missed is heard then', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const raw = await client(t, server.port)
  const log = 'realtime-proxy:fleet:{log}'
  await raw.set(log, 'not a sorted set') // every reading of the log fails (WRONGTYPE) while it is there
  const store = new RedisStore({ client: await client(t, server.port) })
  const got: FleetMessage[] = []
  await store.subscribe((m) => got.push(m))
  await new Promise((resolve) => setTimeout(resolve, 300)) // the readings made on subscribing have failed
  await raw.del(log)
  const at = Date.now()
  await raw.zadd(log, at, JSON.stringify({ message: { type: 'terminate', sessionId: 'missed' }, id: 'missed-1', at }))
  await until(() => got.length === 1, 'the retry to read it', 3000)
  t.same(got, [{ type: 'terminate', sessionId: 'missed', at }])
  await store.close()
})
