// RedisStore against a real redis-server: leases under a limit with a TTL on Redis's clock, renewal and
// release, the call registry, budgets over windows, fleet messages through a pub/sub duplicate, scripts
// reloaded after a flush, and fail-closed errors when Redis is down or stalled.
import t from 'tap'
import { Redis } from 'ioredis'
import { RedisStore, type FleetMessage } from '../lib/index.js'
import { clearOfWindowEnd, noRedis, redisServer } from './redis-server.js'
import { closed, fakeUpstream, open, refused, startProxy, until } from './helpers.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function client (t: { teardown: (fn: () => unknown) => void }, port: number): Promise<Redis> {
  const redis = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  t.teardown(() => redis.disconnect())
  await until(() => redis.status === 'ready', 'the Redis client to connect')
  return redis
}

t.test('leases: a limit per key, expiry on Redis\'s clock, renewal, release, keys hash-tagged', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis, prefix: 'test:' })
  const a = await store.acquire('key:abc', 2, 300)
  const b = await store.acquire('key:abc', 2, 300)
  t.ok(a !== undefined && b !== undefined)
  t.equal(await store.acquire('key:abc', 2, 300), undefined, 'the third is refused')
  t.equal(await store.count('key:abc'), 2)
  t.same(await redis.keys('test:*'), ['test:slots:{key:abc}'], 'one hash-tagged key')
  await a?.release()
  await a?.release()
  t.equal(await store.count('key:abc'), 1, 'released once')
  // b is not renewed: it expires within its TTL and the slot comes back
  await sleep(350)
  t.equal(await store.count('key:abc'), 0)
  const c = await store.acquire('key:abc', 1, 300)
  t.ok(c)
  for (let i = 0; i < 4; i++) {
    await sleep(120)
    await c?.renew()
  }
  t.equal(await store.count('key:abc'), 1, 'renewed past its first TTL')
  t.ok(await redis.pttl('test:slots:{key:abc}') <= 300, 'the set expires with its leases')
  await sleep(350)
  await c?.renew() // expired meanwhile (Redis unreachable, say): the live session is counted again
  t.equal(await store.count('key:abc'), 1)
  const forever = await store.acquire('global', 5, 0)
  t.equal(await redis.pttl('test:slots:{global}'), -1, 'a lease of ttl 0 never expires')
  await forever?.renew()
  await forever?.release()
})

t.test('the store\'s own leaseTTL overrides the plugin\'s', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis, leaseTTL: 100 })
  await store.acquire('k', 1, 60_000)
  t.ok(await redis.pttl('realtime-proxy:slots:{k}') <= 100)
  await sleep(150)
  t.ok(await store.acquire('k', 1, 60_000), 'expired after the store\'s TTL')
})

t.test('calls: stored with their TTL, read back, deleted', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis })
  await store.setCall('rtc_1', { provider: 'openai', model: 'gpt-realtime', owner: 'key:o', protocol: 'live' }, 200)
  const call = await store.getCall('rtc_1')
  t.match(call, { provider: 'openai', model: 'gpt-realtime', owner: 'key:o', protocol: 'live', expiresAt: Number })
  t.equal(await store.getCall('rtc_2'), undefined)
  await store.deleteCall('rtc_1')
  t.equal(await store.getCall('rtc_1'), undefined)
  await store.setCall('rtc_3', { provider: 'openai', owner: 'key:o' }, 100)
  await sleep(150)
  t.equal(await store.getCall('rtc_3'), undefined, 'expired')
})

t.test('budgets: atomic debits per window; a new window starts at 0', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis })
  t.equal(await store.spent('key:b', 200), 0)
  await clearOfWindowEnd()
  const totals = await Promise.all(Array.from({ length: 20 }, async () => await store.debit('key:b', 0.05, 60_000)))
  t.equal(Math.max(...totals), 1, 'twenty concurrent debits add up exactly')
  t.equal(await store.spent('key:b', 60_000), 1)
  t.equal(await store.debit('key:b', -0.25, 60_000), 0.75, 'a refund')
  await store.debit('key:w', 1, 100)
  // Into the window after the one that holds now: the debit's window is this one or earlier. (Rounding up
  // instead would stay in the debit's window when now is exactly on a boundary.)
  await sleep((Math.floor(Date.now() / 100) + 1) * 100 - Date.now() + 5)
  t.equal(await store.spent('key:w', 100), 0, 'the next window')
})

t.test('fleet messages reach every store on the channel, through one duplicate each, closed with close()', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const first = new RedisStore({ client: await client(t, server.port) })
  const second = new RedisStore({ client: await client(t, server.port) })
  const other = new RedisStore({ client: await client(t, server.port), prefix: 'other:' })
  const got: Array<[string, FleetMessage]> = []
  await first.subscribe((m) => got.push(['first', m]))
  await second.subscribe((m) => got.push(['second', m]))
  await other.subscribe((m) => got.push(['other', m]))
  await first.publish({ type: 'terminate', key: 'key:x' })
  await until(() => got.length === 2, 'both replicas')
  t.same(got.sort(), [['first', { type: 'terminate', key: 'key:x' }], ['second', { type: 'terminate', key: 'key:x' }]], 'another prefix is another fleet')
  const raw = await client(t, server.port)
  await raw.publish('realtime-proxy:fleet', 'not json')
  await second.publish({ type: 'budget', key: 'key:y' })
  await until(() => got.length === 4, 'the next message')
  t.same(got.slice(2).map(([, m]) => m), [{ type: 'budget', key: 'key:y' }, { type: 'budget', key: 'key:y' }], 'a malformed message is ignored')
  for (const store of [first, second, other]) await store.close()
  await first.close()
})

t.test('scripts are loaded again after SCRIPT FLUSH (or a Redis restart)', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis })
  t.ok(await store.acquire('k', 5, 1000))
  await redis.script('FLUSH')
  t.ok(await store.acquire('k', 5, 1000))
  t.equal(await store.count('k'), 2)
  await redis.set('realtime-proxy:slots:{wrong}', 'a string')
  await t.rejects(store.acquire('wrong', 1, 1000), /WRONGTYPE/, 'other errors are not retried')
})

t.test('fail closed: a client that is not connected, or a Redis that does not answer, is a 503 error', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const store = new RedisStore({ client: redis, commandTimeout: 200 })
  const lease = await store.acquire('k', 5, 1000)
  const admin = await client(t, server.port)
  await admin.call('CLIENT', 'PAUSE', '3000', 'ALL') // far longer than commandTimeout, so a loaded machine cannot blur the two
  const started = Date.now()
  await t.rejects(store.acquire('k', 5, 1000), { code: 'FST_REALTIME_STORE_UNAVAILABLE', statusCode: 503, message: 'The session store is unreachable (Redis did not answer within 200 ms); new sessions are refused until it is back' })
  t.ok(Date.now() - started < 2000, 'bounded by commandTimeout, not by the pause')
  await sleep(500)
  await server.stop()
  await until(() => redis.status !== 'ready', 'the client to notice')
  await t.rejects(store.getCall('x'), { code: 'FST_REALTIME_STORE_UNAVAILABLE', message: /Redis is (reconnecting|connecting|close)/ })
  await lease?.renew() // skipped while down, no throw
  await lease?.release()
  await server.start()
  await until(() => redis.status === 'ready', 'the client to reconnect', 10_000)
  t.ok(await store.acquire('k', 5, 1000), 'recovered without a restart')
})

t.test('options are checked like every option: FST_REALTIME_INVALID_OPTION saying what to pass', async (t) => {
  const needs = 'RedisStore needs { client }: the app\'s ioredis client, such as new Redis(process.env.REDIS_URL)'
  const client = { status: 'ready', call: async () => null, duplicate: () => { throw new Error('unused') } }
  const bad: Array<[unknown, string]> = [
    [{}, needs],
    [{ client: {} }, needs],
    [undefined, 'RedisStore takes { client }: the app\'s ioredis client, such as new Redis(process.env.REDIS_URL)'],
    [{ client, prefx: 'a:' }, 'unknown option "RedisStore prefx"; did you mean "RedisStore prefix"?'],
    [{ client, prefix: 1 }, 'RedisStore "prefix" must be a string, such as "realtime-proxy:"'],
    [{ client, leaseTTL: -1 }, 'RedisStore "leaseTTL" must be a non-negative whole number of milliseconds'],
    [{ client, commandTimeout: 0 }, 'RedisStore "commandTimeout" must be a positive whole number of milliseconds'],
    [{ client, fleetLogTTL: 1.5 }, 'RedisStore "fleetLogTTL" must be a positive whole number of milliseconds']
  ]
  for (const [options, message] of bad) {
    t.throws(() => new RedisStore(options as never), { code: 'FST_REALTIME_INVALID_OPTION', statusCode: 500, message: `Invalid fastify-realtime-proxy option: ${message}` }, message)
  }
  t.ok(new RedisStore({ client, leaseTTL: 0, commandTimeout: 1, fleetLogTTL: 1 }))
})

t.test('the plugin on a RedisStore: slots in Redis, terminate through pub/sub, the duplicate closed with the app', { skip: noRedis }, async (t) => {
  const server = await redisServer(t)
  const redis = await client(t, server.port)
  const upstream = await fakeUpstream(t)
  const store = new RedisStore({ client: redis })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, store, maxSessions: 1, heartbeatInterval: 100, pongTimeout: 80 })
  const subscribers = async (): Promise<number> => String(await redis.call('CLIENT', 'LIST')).split('\n').filter((line) => / sub=1 /.test(line)).length
  t.equal(await subscribers(), 1, 'one pub/sub duplicate')
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], { headers: { authorization: 'Bearer zoe' } })
  t.equal(await store.count('global'), 1)
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`)).status, 429)
  const ended = closed(ws)
  t.equal(await proxy.app.realtime.terminate({ key: 'zoe' }), 1)
  t.equal((await ended).code, 1008)
  await until(async () => await store.count('global') === 0, 'the slot released')
  await proxy.app.close()
  await until(async () => await subscribers() === 0, 'the duplicate closed')
})
