// RedisStore on a real three-node Redis Cluster through ioredis's Cluster client: every store operation runs
// on the node that owns its key (scripts included, after a flush too), and the plugin admits, limits, meters
// budgets and terminates across nodes; two replica processes share the cluster.
import t from 'tap'
import { Cluster } from 'ioredis'
import { RedisStore, type FleetMessage } from '../lib/index.js'
import { clearOfWindowEnd, noCluster, redisCluster } from './redis-server.js'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

async function cluster (t: { teardown: (fn: () => unknown) => void }, nodes: Array<{ host: string, port: number }>): Promise<Cluster> {
  const client = new Cluster(nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  await until(() => client.status === 'ready', 'the cluster client to connect', 10_000)
  return client
}

/** Keys that land on three different nodes' slots (checked below), so every node runs the scripts. */
const KEYS = ['key:a', 'key:b', 'key:c', 'key:d', 'key:e', 'key:f', 'key:g', 'key:h']

t.test('every store operation on a three-node cluster, scripts on the key\'s node, after SCRIPT FLUSH too', { skip: noCluster }, async (t) => {
  const nodes = await redisCluster(t)
  const client = await cluster(t, nodes)
  const store = new RedisStore({ client, prefix: 'c:' })
  const owners = new Set<string>()
  for (const key of KEYS) {
    const slot = Number(await client.call('CLUSTER', 'KEYSLOT', `c:slots:{${key}}`))
    const shards = await client.call('CLUSTER', 'SLOTS') as Array<[number, number, [string, number]]>
    const owner = shards.find(([from, to]) => slot >= from && slot <= to) as [number, number, [string, number]]
    owners.add(String(owner[2][1]))
  }
  t.equal(owners.size, 3, 'the keys span every node')
  await clearOfWindowEnd()
  for (let round = 0; round < 2; round++) {
    for (const key of KEYS) {
      const a = await store.acquire(key, 2, 5000)
      const b = await store.acquire(key, 2, 5000)
      t.ok(a !== undefined && b !== undefined, `${key}: two slots`)
      t.equal(await store.acquire(key, 2, 5000), undefined, `${key}: the third refused`)
      await a?.renew()
      t.equal(await store.count(key), 2)
      await a?.release()
      await b?.release()
      t.equal(await store.count(key), 0)
      t.equal(await store.debit(key, 0.25, 60_000), 0.25 * (round + 1))
      t.equal(await store.spent(key, 60_000), 0.25 * (round + 1))
      t.equal(await store.raise(key, 1, 60_000), 1)
      t.equal(await store.raise(key, 0.5, 60_000), 1, 'never lowered')
      await store.debit(key, -(1 - 0.25 * (round + 1)), 60_000)
    }
    // Every node forgets its scripts: each is run again on its own node, not loaded on a random one.
    await Promise.all(client.nodes('master').map(async (node) => await node.script('FLUSH')))
  }
  await store.setCall('rtc_1', { provider: 'openai', owner: 'key:o' }, 5000)
  t.match(await store.getCall('rtc_1'), { provider: 'openai', owner: 'key:o' })
  await store.deleteCall('rtc_1')
  t.equal(await store.getCall('rtc_1'), undefined)
  const got: FleetMessage[] = []
  const other = new RedisStore({ client: await cluster(t, nodes), prefix: 'c:' })
  await other.subscribe((m) => got.push(m))
  await store.subscribe(() => {})
  await store.publish({ type: 'terminate', key: 'key:x' })
  await until(() => got.length === 1, 'the message on another client of the cluster')
  t.same(got, [{ type: 'terminate', key: 'key:x' }])
  await store.close()
  await other.close()
})

t.test('the plugin on a cluster: 20 admissions and a limit, a budget cut, terminate, no NOSCRIPT', { skip: noCluster }, async (t) => {
  const nodes = await redisCluster(t)
  const client = await cluster(t, nodes)
  const upstream = await fakeUpstream(t)
  const DONE = JSON.stringify({ type: 'response.done', response: { id: 'r', usage: { input_tokens: 10, output_tokens: 10, total_tokens: 20 } } })
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    store: new RedisStore({ client }),
    maxSessionsPerKey: 1,
    pricing: { m: { input: { text: 1000 }, output: { text: 1000 } } }, // $0.02 a DONE
    budgets: { limitUSD: () => 0.03, window: 3_600_000 },
    heartbeatInterval: 100,
    pongTimeout: 80
  })
  const as = (user: string) => ({ headers: { authorization: `Bearer ${user}` } })
  const sessions = []
  for (let i = 0; i < 20; i++) {
    if (i === 10) await Promise.all(client.nodes('master').map(async (node) => await node.script('FLUSH'))) // half after a flush
    const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, [], as(`user-${i}`))
    sessions.push({ ws, provider: await upstream.next() })
  }
  t.equal(sessions.length, 20, 'every admission answered 101')
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`, [], as('user-3'))).status, 429, 'the per-key limit holds')
  const [zero, one] = sessions as [typeof sessions[0], typeof sessions[0]]
  const cut = closed(zero.ws)
  zero.provider.socket.send(DONE)
  await nextMessage(zero.ws)
  zero.provider.socket.send(DONE) // $0.04: over
  await nextMessage(zero.ws)
  t.same(await cut, { code: 1008, reason: 'budget_exceeded' })
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`, [], as('user-0'))).status, 402)
  const ended = closed(one.ws)
  t.equal(await proxy.app.realtime.terminate({ key: 'user-1' }), 1)
  t.same(await ended, { code: 1008, reason: 'session_terminated' })
  t.notOk(proxy.logs.lines.some((l) => /NOSCRIPT|store/.test(JSON.stringify(l)) && (l.level as number) >= 40), 'no store error logged')
  for (const { ws } of sessions.slice(2)) ws.close()
})
