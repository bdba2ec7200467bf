// Routing across deployments: a model with several targets fails over before the client is upgraded when one
// refuses in a retryable way (429, 5xx, no answer, a network error), passes any other refusal through at once,
// cools failed targets down (Retry-After when longer), orders targets by strategy, attributes usage to the target
// that served, and does the same for WebRTC signaling and GPT-Live.
import t from 'tap'
import type WebSocket from 'ws'
import { fakeUpstream, nextMessage, open, refused, startProxy, until, type FakeUpstream, type FakeUpstreamOptions, type Proxy, type Tap } from './helpers.js'
import { ProviderRegistry } from '../lib/providers/registry.js'
import { attemptOrder, failoverSettings, DeploymentHealth as TargetHealth } from '../lib/upstream/failover.js'

type Event = Record<string, any>
const RATE_LIMITED = { status: 429, body: JSON.stringify({ error: { message: 'Rate limit reached for sk-deployment-a-000000', code: 'rate_limit_exceeded' } }), headers: { 'content-type': 'application/json', 'retry-after': '60' } }
const UNAVAILABLE = { status: 503, body: 'overloaded', headers: { 'content-type': 'text/plain' } }
const MAINTENANCE = { status: 503, body: 'maintenance', headers: { 'content-type': 'text/plain', 'retry-after': '120' } }
const UNAUTHORIZED = { status: 401, body: JSON.stringify({ error: { message: 'Incorrect API key provided: sk-deplo**********0000', code: 'invalid_api_key' } }) }

/** A realtime peer that answers response.create with a response.done carrying usage. */
function converse (ws: WebSocket): void {
  ws.send(JSON.stringify({ type: 'session.created', session: { id: 'sess_1' } }))
  ws.on('message', (data: Buffer) => {
    if (JSON.parse(data.toString()).type === 'response.create') {
      ws.send(JSON.stringify({ type: 'response.done', response: { id: 'resp_1', status: 'completed', usage: { total_tokens: 30, input_tokens: 10, output_tokens: 20 } } }))
    }
  })
}

interface Deployments {
  proxy: Proxy
  fakes: Record<string, FakeUpstream & { options: FakeUpstreamOptions }>
  records: Event[]
  url: string
}

/** Deployments `a`, `b`, `c` (OpenAI-compatible), each a fake upstream with its own behaviour, behind model `voice`. */
async function deployments (t: Tap, behaviours: Record<string, FakeUpstreamOptions>, route: object = {}, options: object = {}): Promise<Deployments> {
  const fakes: Deployments['fakes'] = {}
  for (const [name, behaviour] of Object.entries(behaviours)) {
    const fakeOptions: FakeUpstreamOptions = { onConnection: converse, ...behaviour }
    fakes[name] = Object.assign(await fakeUpstream(t, fakeOptions), { options: fakeOptions })
  }
  const records: Event[] = []
  const names = Object.keys(behaviours)
  const proxy = await startProxy(t, {
    providers: Object.fromEntries(names.map((name) => [name, { type: 'openai-compatible' as const, baseURL: `${(fakes[name] as FakeUpstream).url}/v1`, apiKey: `sk-deployment-${name}-000000` }])),
    models: { voice: { targets: names.map((name) => ({ provider: name, model: `model-${name}` })), ...route } },
    pricing: Object.fromEntries(names.map((name, i) => [`${name}/model-${name}`, { input: { text: i + 1 }, output: { text: i + 1 } }])),
    onUsage: (record: Event) => { records.push(record) },
    metrics: true,
    ...options
  })
  return { proxy, fakes, records, url: `${proxy.url}/v1/realtime?model=voice` }
}

const summaries = (proxy: Proxy): Event[] => proxy.logs.lines.filter((l) => l.msg === 'realtime session ended').map((l) => l.summary as Event)
const metricsText = async (proxy: Proxy): Promise<string> => await (await fetch(`${proxy.url.replace('ws://', 'http://')}/metrics`)).text()

t.test('the first deployment answers 429: the client connects on the first try, served and billed by the second', async (t) => {
  const { proxy, fakes, records, url } = await deployments(t, { a: { reject: RATE_LIMITED }, b: {} })
  const ws = await open(t, url)
  t.match(JSON.parse((await nextMessage(ws)).data.toString()), { type: 'session.created' })
  const served = fakes.b?.connections[0]
  t.equal(served?.url, '/v1/realtime?model=model-b', 'the second target, with its own model name')
  t.equal(served?.headers.authorization, 'Bearer sk-deployment-b-000000', 'and its own key')
  t.equal(fakes.a?.requests.length, 1, 'the first was tried once')
  ws.send(JSON.stringify({ type: 'response.create' }))
  await nextMessage(ws)
  ws.close()
  await until(() => summaries(proxy).length === 1, 'the summary')
  t.match(records, [{ kind: 'response', provider: 'b', model: 'model-b', inputTokens: 10, outputTokens: 20, costUSD: (10 * 2 + 20 * 2) / 1e6 }], 'billed to b at b\'s price')
  const summary = summaries(proxy)[0] as Event
  t.match(summary, { provider: 'b', model: 'model-b', attempts: [{ provider: 'a', model: 'model-a', outcome: 'rate_limited' }, { provider: 'b', model: 'model-b', outcome: 'ok' }] })
  t.ok(summary.attempts.every((a: Event) => Number.isInteger(a.ms) && a.ms >= 0), 'milliseconds per attempt')
  const cooling = proxy.app.realtime.stats().cooling as Record<string, number>
  t.same(Object.keys(cooling), ['a/model-a'])
  t.ok((cooling['a/model-a'] as number) > 55_000, 'cooled for its Retry-After (60 s), longer than the default 30 s')
  const metrics = await metricsText(proxy)
  t.match(metrics, 'realtime_proxy_upstream_attempts_total{provider="a",outcome="rate_limited"} 1\n')
  t.match(metrics, 'realtime_proxy_upstream_attempts_total{provider="b",outcome="ok"} 1\n')
  t.notOk(proxy.logs.text.includes('sk-deployment-a-000000'), 'the refusal\'s echoed key is not logged')

  // While a cools down, b goes first: a sees no second handshake.
  const again = await open(t, url)
  await nextMessage(again)
  t.equal(fakes.a?.requests.length, 1)
  t.equal(fakes.b?.connections.length, 2)
  again.close()
  await until(() => summaries(proxy).length === 2, 'the second summary')
  t.equal(summaries(proxy)[1]?.attempts, undefined, 'one attempt: no list')
})

t.test('503 and a provider that never answers move on; a 401 goes back to the client at once, unhidden by a fallback', async (t) => {
  const { fakes, url, proxy } = await deployments(t, { a: { reject: MAINTENANCE }, b: { hang: true }, c: {} }, {}, { dialTimeout: 150 })
  const ws = await open(t, url)
  await nextMessage(ws)
  t.equal(fakes.c?.connections.length, 1)
  ws.close()
  await until(() => summaries(proxy).length === 1, 'the summary')
  t.match(summaries(proxy)[0]?.attempts.map((a: Event) => `${String(a.provider)} ${String(a.outcome)}`), ['a server_error', 'b timeout', 'c ok'])
  const cooling = proxy.app.realtime.stats().cooling as Record<string, number>
  t.ok((cooling['a/model-a'] as number) > 115_000, 'a 503\'s Retry-After (120 s) is honoured too')
  t.ok((cooling['b/model-b'] as number) <= 30_000, 'no answer: the default cooldown')

  const broken = await deployments(t, { a: { reject: UNAUTHORIZED }, b: {} })
  const res = await refused(t, broken.url)
  t.equal(res.status, 401)
  t.equal(res.body, JSON.stringify({ error: { message: 'Incorrect API key provided: [REDACTED]', code: 'invalid_api_key' } }))
  t.equal(broken.fakes.b?.requests.length, 0, 'b was never dialled')
  t.same(broken.proxy.app.realtime.stats().cooling, {}, 'a rejection does not cool a target down')
})

t.test('every target fails: the last failure\'s status and (redacted) body, nothing leaked, no slot held', async (t) => {
  const { proxy, fakes, url } = await deployments(t, { a: { reject: UNAVAILABLE }, b: { reject: RATE_LIMITED } }, {}, { maxSessions: 1 })
  const res = await refused(t, url)
  t.equal(res.status, 429)
  t.equal(res.headers['retry-after'], '60')
  t.equal(res.body, JSON.stringify({ error: { message: 'Rate limit reached for [REDACTED]', code: 'rate_limit_exceeded' } }))
  t.ok(proxy.logs.lines.some((l) => l.msg === 'no target could serve the session' && (l.attempts as Event[]).length === 2))
  t.notOk(proxy.logs.text.includes('sk-deployment-'), 'no key in the logs')
  // Both cool down now; with nothing healthy left they are tried anyway, and the slot is free for the session.
  delete fakes.b?.options.reject // b is back
  const ws = await open(t, url)
  await nextMessage(ws)
  t.equal(fakes.b?.connections.length, 1, 'the cooling targets tried anyway: one of them served')

  const down = await deployments(t, { a: { reject: RATE_LIMITED }, b: { reject: UNAVAILABLE } })
  const last = await refused(t, down.url)
  t.equal(last.status, 502, 'the last failure was a 503: the provider is unavailable')
  t.match(JSON.parse(last.body), { code: 'FST_REALTIME_UPSTREAM_UNAVAILABLE' })
})

t.test('maxAttempts caps the attempts; retryOn narrows what moves on', async (t) => {
  const capped = await deployments(t, { a: { reject: UNAVAILABLE }, b: { reject: UNAVAILABLE }, c: {} }, {}, { failover: { maxAttempts: 2 } })
  t.equal((await refused(t, capped.url)).status, 502)
  t.equal(capped.fakes.c?.requests.length, 0, 'the third target is past maxAttempts')

  const narrow = await deployments(t, { a: { reject: UNAVAILABLE }, b: {} }, {}, { failover: { retryOn: ['429'] } })
  t.equal((await refused(t, narrow.url)).status, 502, 'a 503 is not retried when only 429 is')
  t.equal(narrow.fakes.b?.requests.length, 0)
})

t.test('cooldown: a failed target is tried last until it ends, then in its turn again', async (t) => {
  const { fakes, url } = await deployments(t, { a: { reject: UNAVAILABLE }, b: {} }, {}, { failover: { cooldown: 600 } }) // long enough for the second session to start within it on a slow machine
  await nextMessage(await open(t, url))
  t.equal(fakes.a?.requests.length, 1)
  delete fakes.a?.options.reject
  await nextMessage(await open(t, url))
  t.equal(fakes.a?.requests.length, 1, 'still cooling: b first')
  await new Promise((resolve) => setTimeout(resolve, 650))
  await nextMessage(await open(t, url))
  t.equal(fakes.a?.connections.length, 1, 'cooled down: a first again, and it serves')
})

t.test('weighted: first attempts follow the weights (300 dials, 3:1, within six standard deviations), the rest in order', async (t) => {
  const { fakes, url } = await deployments(t, { a: {}, b: {} }, { strategy: 'weighted', targets: [{ provider: 'a', model: 'model-a', weight: 3 }, { provider: 'b', model: 'model-b' }] })
  for (let i = 0; i < 300; i++) {
    const ws = await open(t, url)
    ws.close()
  }
  const a = fakes.a?.requests.length as number
  // Binomial(300, 0.75): mean 225, standard deviation 7.5; 6 sigma is a one-in-a-billion miss.
  t.ok(Math.abs(a - 225) <= 45, `a served ${a} of 300`)
  t.equal(a + (fakes.b?.requests.length as number), 300)
})

t.test('least-busy: the target with the fewest live sessions here goes first; ties keep the route\'s order', async (t) => {
  const { fakes, url, proxy } = await deployments(t, { a: {}, b: {} }, { strategy: 'least-busy' })
  await open(t, url)
  const second = await open(t, url)
  await open(t, url)
  t.same([fakes.a?.connections.length, fakes.b?.connections.length], [2, 1], 'a, then b (a busy), then a (a tie)')
  second.close()
  await until(() => proxy.app.realtime.stats().sessionsByProvider.b === undefined, 'b\'s session to end')
  await open(t, url)
  await open(t, url)
  t.same([fakes.a?.connections.length, fakes.b?.connections.length], [2, 3], 'b has none, then one to a\'s two: b twice')
})

t.test('GPT-Live: session.start routed to the model\'s targets; frames sent during the attempts reach the serving target in order', async (t) => {
  const fakes: Record<string, FakeUpstream> = {}
  const liveServer = (ws: WebSocket): void => { ws.on('message', () => {}) }
  fakes.a = await fakeUpstream(t, { reject: UNAVAILABLE, delay: 0 })
  fakes.b = await fakeUpstream(t, { onConnection: liveServer, delay: 100 })
  const proxy = await startProxy(t, {
    providers: { a: { type: 'openai-compatible', baseURL: `${fakes.a.url}/v1`, apiKey: 'sk-a-0000000' }, b: { type: 'openai-compatible', baseURL: `${fakes.b.url}/v1`, apiKey: 'sk-b-0000000' } },
    models: { 'gpt-live-1': { targets: [{ provider: 'a', model: 'live-a' }, { provider: 'b', model: 'live-b' }] } },
    live: true
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  ws.send(JSON.stringify({ type: 'session.start', session: { model: 'gpt-live-1', instructions: 'hi' } }))
  for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ type: 'session.input_audio_buffer.append', audio: `frame-${i}` }))
  const served = await fakes.b.next()
  await until(() => served.frames.length === 6, 'session.start and five frames')
  const frames = served.frames.map((f) => JSON.parse(f.data.toString()))
  t.same(frames[0], { type: 'session.start', session: { model: 'live-b', instructions: 'hi' } }, 'the serving target\'s model name')
  t.same(frames.slice(1).map((f: Event) => f.audio), ['frame-0', 'frame-1', 'frame-2', 'frame-3', 'frame-4'])
  t.equal(fakes.a.requests.length, 1)
  const session = [...proxy.app.realtime.sessions.values()][0]
  t.same([session?.provider, session?.model], ['b', 'live-b'])
})

t.test('signaling: client_secrets, calls and GPT-Live\'s WebRTC create fail over before answering; the call registry keeps the serving target', async (t) => {
  const posts: Record<string, Event[]> = { a: [], b: [] }
  const http = (name: string) => (req: { url: string, body: Buffer }, res: import('node:http').ServerResponse): void => {
    posts[name]?.push({ url: req.url, body: req.body.toString() })
    if (name === 'a') {
      res.writeHead(req.url.endsWith('client_secrets') ? 429 : 503, { 'content-type': 'application/json', 'retry-after': '5' }).end('{"error":{"message":"busy"}}')
      return
    }
    if (req.url.endsWith('/client_secrets')) res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ value: 'ek_served_by_b', expires_at: 1 }))
    else if (req.url.endsWith('/hangup')) res.writeHead(200).end()
    else if (req.url.endsWith('/live/sessions')) res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify({ session: { id: 'live_from_b_12345678' }, transport: { sdp: 'v=0 answer' } }))
    else res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/calls/rtc_from_b_12345678' }).end('v=0 answer')
  }
  const a = await fakeUpstream(t, { http: http('a') })
  const b = await fakeUpstream(t, { http: http('b'), onConnection: () => {} })
  const proxy = await startProxy(t, {
    providers: { a: { type: 'openai-compatible', baseURL: `${a.url}/v1`, apiKey: 'sk-a-0000000' }, b: { type: 'openai-compatible', baseURL: `${b.url}/v1`, apiKey: 'sk-b-0000000' } },
    models: { voice: { targets: [{ provider: 'a', model: 'model-a' }, { provider: 'b', model: 'model-b' }] }, live: { targets: [{ provider: 'a', model: 'live-a' }, { provider: 'b', model: 'live-b' }] } },
    signaling: { sideband: false },
    live: true,
    failover: { cooldown: 0 }
  })
  const base = proxy.url.replace('ws://', 'http://')
  const secret = await fetch(`${base}/v1/realtime/client_secrets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: { type: 'realtime', model: 'voice' } }) })
  t.equal(secret.status, 200)
  t.same(await secret.json(), { value: 'ek_served_by_b', expires_at: 1 })
  t.match(JSON.parse(posts.a?.[0]?.body), { session: { model: 'model-a' } })
  t.match(JSON.parse(posts.b?.[0]?.body), { session: { model: 'model-b' } }, 'each target gets its own model name')

  const form = new FormData()
  form.set('sdp', 'v=0 offer')
  form.set('session', JSON.stringify({ model: 'voice' }))
  const call = await fetch(`${base}/v1/realtime/calls`, { method: 'POST', body: form })
  t.equal(call.status, 201)
  t.equal(call.headers.get('location'), '/v1/realtime/calls/rtc_from_b_12345678')
  t.match(posts.b?.[1]?.body, /"model":"model-b"/)
  const hangup = await fetch(`${base}/v1/realtime/calls/rtc_from_b_12345678/hangup`, { method: 'POST' })
  t.equal(hangup.status, 200)
  t.equal(posts.b?.at(-1)?.url, '/v1/realtime/calls/rtc_from_b_12345678/hangup', 'the hangup goes to the target that served the call')
  t.notOk(posts.a?.some((p) => p.url.endsWith('/hangup')))

  const created = await fetch(`${base}/v1/live/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: { model: 'live' }, transport: { type: 'webrtc', sdp: 'v=0 offer' } }) })
  t.equal(created.status, 201)
  t.match(JSON.parse(posts.b?.at(-1)?.body), { session: { model: 'live-b' } })

  // A target that cannot be reached at all (a network error) moves on as well.
  proxy.app.realtime.providers.set('x', { type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1', apiKey: 'sk-x-0000000' })
  proxy.app.realtime.providers.route('spare', { targets: [{ provider: 'x' }, { provider: 'b' }] })
  const unreachable = await fetch(`${base}/v1/realtime/client_secrets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: { type: 'realtime', model: 'spare' } }) })
  t.equal(unreachable.status, 200)
  t.match(proxy.logs.lines.find((l) => l.msg === 'provider failed; trying the next target' && l.outcome === 'network'), { provider: 'x' })

  const down = await fakeUpstream(t, { http: http('a') })
  proxy.app.realtime.providers.set('b', { type: 'openai-compatible', baseURL: `${down.url}/v1`, apiKey: 'sk-b-0000000' })
  const failed = await fetch(`${base}/v1/realtime/client_secrets`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: { type: 'realtime', model: 'voice' } }) })
  t.equal(failed.status, 429, 'every target failed: the last answer, as it came')
  t.equal(failed.headers.get('retry-after'), '5')
})

t.test('signaling skips a target without the endpoint (xAI has no calls); with none that has it, 501 as before', async (t) => {
  const b = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/calls/rtc_b_123456789' }).end('v=0 answer') } })
  const proxy = await startProxy(t, {
    providers: { x: { type: 'xai', apiKey: 'xai-key-0000000' }, b: { type: 'openai-compatible', baseURL: `${b.url}/v1`, apiKey: 'sk-b-0000000' } },
    models: { voice: { targets: [{ provider: 'x' }, { provider: 'b' }] }, grok: { targets: [{ provider: 'x' }] } },
    signaling: { sideband: false }
  })
  const base = proxy.url.replace('ws://', 'http://')
  const offer = (model: string): FormData => {
    const form = new FormData()
    form.set('sdp', 'v=0 offer')
    form.set('session', JSON.stringify({ model }))
    return form
  }
  const call = await fetch(`${base}/v1/realtime/calls`, { method: 'POST', body: offer('voice') })
  t.equal(call.status, 201, 'b served: x was never asked')
  t.equal(b.posts.length, 1)
  const none = await fetch(`${base}/v1/realtime/calls`, { method: 'POST', body: offer('grok') })
  t.equal(none.status, 501)
  t.match(await none.json(), { code: 'FST_REALTIME_NOT_SUPPORTED' })
})

t.test('options: targets, strategies and failover settings are checked at registration', async (t) => {
  const providers = { a: { apiKey: 'k', baseURL: 'http://a.example' }, b: { apiKey: 'k', baseURL: 'http://b.example' } }
  const cases: Array<[object, string]> = [
    [{ voice: { targets: [] } }, 'models["voice"].targets must list at least one { provider, model }'],
    [{ voice: { targets: [{ provider: 'x' }] } }, 'models["voice"].targets[0] names provider "x", which is not in "providers"'],
    [{ voice: { targets: [{ provider: 'a' }, null] } }, 'models["voice"].targets[1] must be a provider name or { provider, model }'],
    [{ voice: { targets: [{ provider: 'a', weight: 0 }] } }, 'models["voice"].targets[0].weight must be a positive number'],
    [{ voice: { targets: [{ provider: 'a' }], strategy: 'random' } }, 'models["voice"].strategy must be one of "fallback", "weighted", "least-busy"'],
    [{ voice: { targets: [{ provider: 'a' }], stratgy: 'weighted' } }, 'unknown option "models["voice"].stratgy"'],
    [{ voice: null }, 'models["voice"] must be a provider name, { provider, model } or { targets: [{ provider, model }, ...], strategy }']
  ]
  for (const [models, message] of cases) {
    t.throws(() => new ProviderRegistry({ providers, models: models as never }), { code: 'FST_REALTIME_INVALID_OPTION', message: new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }, message)
  }
  const failovers: Array<[unknown, string]> = [
    [{ maxAttempts: 0 }, 'failover.maxAttempts must be a positive integer'],
    [{ cooldown: -1 }, 'failover.cooldown must be a non-negative integer'],
    [{ retryOn: ['4xx'] }, 'failover.retryOn must list some of "429", "5xx", "network", "timeout"'],
    [{ retries: 2 }, 'unknown option "failover.retries"'],
    [5, '"failover" must be an object']
  ]
  for (const [given, message] of failovers) {
    t.throws(() => failoverSettings(given as never), { code: 'FST_REALTIME_INVALID_OPTION', message: new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }, message)
  }
  t.same(failoverSettings(undefined), { maxAttempts: 3, cooldown: 30_000, retryOn: new Set(['429', '5xx', 'network', 'timeout']) })
})

t.test('attempt order: fallback, weighted by a given random, least-busy, the cooling last; a target that cannot serve is left out', async (t) => {
  const registry = new ProviderRegistry({
    providers: { a: { apiKey: 'k', baseURL: 'http://a.example' }, b: { apiKey: 'k', baseURL: 'http://b.example' }, c: { apiKey: 'k', baseURL: 'http://c.example' }, x: { type: 'xai', apiKey: 'k' } },
    models: {
      voice: { targets: [{ provider: 'a' }, { provider: 'b', weight: 2 }, { provider: 'c' }] },
      busy: { targets: [{ provider: 'a' }, { provider: 'b' }, { provider: 'c' }], strategy: 'least-busy' },
      weighted: { targets: [{ provider: 'a' }, { provider: 'b', weight: 2 }, { provider: 'c' }], strategy: 'weighted' },
      live: { targets: [{ provider: 'x' }, { provider: 'a', model: 'gpt-live-1' }] }
    }
  })
  const names = (list: Array<{ provider: { name: string } }>): string[] => list.map((r) => r.provider.name)
  const health = new TargetHealth()
  t.same(names(attemptOrder(registry.plan({ model: 'voice' }), health, 3, () => 0)), ['a', 'b', 'c'])
  t.same(names(attemptOrder(registry.plan({ model: 'weighted' }), health, 3, () => 0, () => 0.1)), ['a', 'b', 'c'], '0.1 of 4: a')
  t.same(names(attemptOrder(registry.plan({ model: 'weighted' }), health, 3, () => 0, () => 0.5)), ['b', 'a', 'c'], '0.5 of 4: b')
  t.same(names(attemptOrder(registry.plan({ model: 'weighted' }), health, 3, () => 0, () => 0.9)), ['c', 'a', 'b'], '0.9 of 4: c')
  t.same(names(attemptOrder(registry.plan({ model: 'weighted' }), health, 3, () => 0, () => 1)), ['c', 'a', 'b'], 'the top of the range: the last')
  const load: Record<string, number> = { a: 2, b: 0, c: 1 }
  t.same(names(attemptOrder(registry.plan({ model: 'busy' }), health, 3, (r) => load[r.provider.name] as number)), ['b', 'c', 'a'])
  health.failed(registry.resolve({ model: 'voice' }), 30_000, undefined)
  t.same(names(attemptOrder(registry.plan({ model: 'voice' }), health, 3, () => 0)), ['b', 'c', 'a'], 'the cooling target last')
  t.same(names(attemptOrder(registry.plan({ model: 'voice' }), health, 2, () => 0)), ['b', 'c'], 'at most maxAttempts')
  t.same(names(registry.plan({ model: 'live', protocol: 'live' }).resolutions), ['a'], 'xAI serves no GPT-Live: left out')
  t.throws(() => registry.plan({ model: 'live', protocol: 'translation', intent: 'transcription' }), { code: 'FST_REALTIME_UNSUPPORTED_INTENT' }, 'none can serve: the first one\'s error')
  t.same(names([registry.resolve({ model: 'voice', provider: 'c' })]), ['c'], '?provider= pins one target')
  t.equal(registry.resolve({ model: 'voice', provider: 'c' }).model, 'voice')
  let now = 1000
  const clock = new TargetHealth(() => now)
  const target = registry.resolve({ model: 'voice' })
  clock.failed(target, 100, new Date(0).toUTCString())
  t.same(clock.snapshot(), { 'a/voice': 100 }, 'a Retry-After date in the past: the cooldown')
  clock.failed(target, 100, new Date(now + 5000).toUTCString())
  t.ok((clock.snapshot()['a/voice'] as number) > 3000, 'a Retry-After date: until then')
  clock.failed(target, 100, 'soon')
  t.same(clock.snapshot(), { 'a/voice': 100 }, 'an unreadable Retry-After: the cooldown')
  now += 100
  t.equal(clock.cooling(target), false, 'over')
  t.same(clock.snapshot(), {})
})

t.test('a key function that throws is not a provider failure: no failover, the error as before', async (t) => {
  const b = await fakeUpstream(t, { onConnection: converse })
  const proxy = await startProxy(t, {
    providers: { a: { type: 'openai-compatible', baseURL: 'http://127.0.0.1:9/v1', apiKey: () => { throw new Error('vault down') } }, b: { type: 'openai-compatible', baseURL: `${b.url}/v1`, apiKey: 'sk-b-0000000' } },
    models: { voice: { targets: [{ provider: 'a' }, { provider: 'b' }] } }
  })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=voice`)
  t.equal(res.status, 500)
  t.equal(b.requests.length, 0)
})
