// Regression: maps built from user input are read by own property. A model named "constructor" was priced at
// costUSD 0 through Object.prototype; a forwarded header named "constructor" sent Object's source upstream;
// a provider named "__proto__" vanished from stats(); a simulator session.update could reach Object.prototype.
import t from 'tap'
import { MemoryStore, type UsageRecord } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { fakeUpstream, nextMessage, open, startProxy, until } from './helpers.js'

const NAMES = ['constructor', 'toString', '__proto__', 'hasOwnProperty'] as const
/** A header as the fake provider received it, by its raw lines (node's headers object inherits "constructor"). */
function header (raw: string[], name: string): string | undefined {
  const i = raw.findIndex((v, j) => j % 2 === 0 && v.toLowerCase() === name.toLowerCase())
  return i === -1 ? undefined : raw[i + 1]
}

const DONE = JSON.stringify({ type: 'response.done', response: { id: 'r', usage: { total_tokens: 3, input_tokens: 1, output_tokens: 2 } } })

for (const name of NAMES) {
  t.test(`"${name}" as a model, a provider, a models entry, a header and a store key`, async (t) => {
    const upstream = await fakeUpstream(t)
    const records: UsageRecord[] = []
    // JSON.parse makes "__proto__" an own key, as a config file would.
    const pricing = JSON.parse(`{"priced/${name}": { "output": { "text": 1000000 } }, "other": { "perMinute": 1 }}`)
    const providers = JSON.parse(`{"${name}": { "type": "openai", "baseURL": "${upstream.url}", "headers": { "${name}": "from-config" } },
      "priced": { "type": "openai", "baseURL": "${upstream.url}" }}`)
    const models = JSON.parse(`{"${name}": { "provider": "priced", "model": "${name}" }}`)
    const { url, app } = await startProxy(t, { providers, models, defaultProvider: name, pricing, forwardHeaders: [name.toLowerCase()], onUsage: (r) => { records.push(r) } })

    // 1. an unpriced model gets no price (not Object.prototype's)
    const unpriced = await open(t, `${url}/v1/realtime?model=${name}&provider=${encodeURIComponent(name)}`)
    const conn = await upstream.next()
    t.equal(conn.url, `/realtime?model=${name}`)
    t.equal(header(conn.rawHeaders, name), 'from-config', 'the provider header is sent; no client header is read from the prototype')
    const byProvider = app.realtime.stats().sessionsByProvider
    t.same(Object.entries(byProvider), [[name, 1]], 'counted under its own key')
    conn.socket.send(DONE)
    await nextMessage(unpriced)
    await until(() => records.length === 1, 'the record')
    t.equal(records[0]?.model, name)
    t.notOk('costUSD' in (records[0] as object), 'no price: no costUSD')

    // 2. the models entry routes it to "priced", whose own pricing entry applies
    const priced = await open(t, `${url}/v1/realtime?model=${name}`)
    const conn2 = await upstream.next()
    t.equal(conn2.url, `/realtime?model=${name}`)
    t.equal(header(conn2.rawHeaders, name), undefined, '"priced" has no such header, and the client sent none')
    conn2.socket.send(DONE)
    await nextMessage(priced)
    await until(() => records.length === 2, 'the priced record')
    t.match(records[1], { provider: 'priced', model: name, costUSD: 2 })

    // 3. the store keeps such keys apart from its own methods
    const store = new MemoryStore()
    const lease = store.acquire(name, 1, 0)
    t.ok(lease !== undefined)
    t.equal(store.acquire(name, 1, 0), undefined)
    t.equal(store.count(name), 1)
    lease?.release()
    t.equal(store.count(name), 0)
    t.equal(store.getCall(name), undefined)
    store.setCall(name, { provider: name, owner: 'key:x' }, 60_000)
    t.match(store.getCall(name), { provider: name, owner: 'key:x', expiresAt: Number })
  })
}

t.test('a client header named like an Object.prototype member is forwarded only when sent', async (t) => {
  const upstream = await fakeUpstream(t)
  const { url } = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, forwardHeaders: ['constructor', 'tostring'] })
  await open(t, `${url}/v1/realtime?model=m`, [], { headers: { tostring: 'sent' } })
  const conn = await upstream.next()
  t.equal(header(conn.rawHeaders, 'constructor'), undefined, 'not "function Object() { [native code] }"')
  t.equal(header(conn.rawHeaders, 'tostring'), 'sent')
})

t.test('the simulator\'s session.update merge never reaches Object.prototype', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0 })
  t.teardown(() => sim.close())
  const ws = await open(t, `${sim.url.replace('http', 'ws')}/realtime?model=m`)
  await nextMessage(ws) // session.created
  ws.send('{"type":"session.update","session":{"__proto__":{"polluted":true},"instructions":"x","metadata":{"a":1}}}')
  const updated = JSON.parse((await nextMessage(ws)).data.toString())
  t.equal(updated.type, 'session.updated')
  t.equal(updated.session.instructions, 'x')
  t.same(updated.session.metadata, { a: 1 }, 'a key the session did not have is added')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
