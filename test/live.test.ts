// GPT-Live over websocket (issue #15, first part): the /v1/live/sessions route, routed by the first frame
// (session.start), the app's policy on it before anything is dialled, metering of cumulative seconds, and every
// refusal path, against the simulator and a recording fake provider.
import t from 'tap'
import WebSocket from 'ws'
import { MemoryStore, ProviderRegistry, type RealtimeEvent, type SessionSummary, type UsageRecord } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until, type Tap } from './helpers.js'

type Event = Record<string, any>
const KEY = 'sk-live-test-key-000000'
const next = async (ws: WebSocket): Promise<Event> => JSON.parse((await nextMessage(ws)).data.toString())
const start = (model: string, extra: object = {}): string => JSON.stringify({ type: 'session.start', event_id: 'c_1', session: { model, ...extra } })

async function until2 (ws: WebSocket, type: string): Promise<Event[]> {
  const seen: Event[] = []
  for (;;) {
    const event = await next(ws)
    seen.push(event)
    if (event.type === type) return seen
  }
}

t.test('a GPT-Live conversation with the simulator through the plugin, metered by cumulative seconds', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0, usageInterval: 100 })
  t.teardown(() => sim.close())
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { sim: { type: 'openai-compatible', baseURL: sim.url, apiKey: null } },
    live: true,
    pricing: { 'gpt-live-1': { perMinute: 0.05 } },
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  ws.send(start('gpt-live-1', { instructions: 'Be brief.' }))
  const started = await next(ws)
  t.match(started, { type: 'session.started', session: { id: /^live_/, model: 'gpt-live-1', instructions: 'Be brief.', status: 'active' } })
  ws.send(JSON.stringify({ type: 'session.input_audio.append', audio: Buffer.alloc(24000 * 2 * 1.5).toString('base64') }))
  const turn = await until2(ws, 'session.output_audio.delta')
  t.ok(turn.some((e) => e.type === 'session.input_transcript.delta' && e.delta === '[1.5 seconds of audio]'), 'the simulator heard 1.5 s')
  t.ok(turn.some((e) => e.type === 'session.output_transcript.delta' && e.delta === 'I heard 1.5 seconds of audio.'))
  await until(() => records.length >= 1, 'a usage update')
  ws.send('{"type":"session.close"}')
  const end = await until2(ws, 'session.closed')
  t.equal(end.at(-1)?.reason, 'close_requested')
  await until(() => summaries.length === 1, 'the summary')
  const total = end.at(-1)?.usage.seconds as number
  t.equal(records.every((r) => r.kind === 'duration'), true)
  t.equal(Math.round(records.reduce((sum, r) => sum + (r as { seconds: number }).seconds, 0) * 10) / 10, total, 'records add up to the last total')
  t.equal((records.at(-1) as { totalSeconds?: number }).totalSeconds, total)
  t.match(summaries[0], { provider: 'sim', model: 'gpt-live-1', usageFinal: true, usage: { durationSeconds: Number } })
})

t.test('routed by session.start: policy first, model rewritten, held frames in order, byte-exact relay', async (t) => {
  const upstream = await fakeUpstream(t)
  const seen: RealtimeEvent[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` }, other: { type: 'openai', apiKey: KEY, baseURL: 'http://127.0.0.1:1/v1' } },
    models: { 'voice-live': { provider: 'openai', model: 'gpt-live-1.1' } },
    live: true,
    onClientEvent: (event) => {
      seen.push(structuredClone(event))
      if (event.type === 'session.start') (event.session as Record<string, unknown>).instructions = 'Pinned by the app.'
      return event
    }
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`, [], { headers: { authorization: 'Bearer app-user' } })
  t.equal(upstream.requests.length, 0, 'nothing dialled before session.start: two providers, no default')
  const appends = [1, 2, 3].map((n) => JSON.stringify({ type: 'session.input_audio.append', audio: Buffer.alloc(n * 10).toString('base64') }))
  ws.send(start('voice-live', { instructions: 'ignore the app', audio: { output: { voice: 'marin' } } }))
  for (const a of appends) ws.send(a)
  const conn = await upstream.next()
  t.equal(conn.url, '/v1/live/sessions', 'no query: the model travels in session.start')
  t.equal(conn.headers.authorization, `Bearer ${KEY}`, 'the provider key, not the caller\'s')
  await until(() => conn.frames.length === 4, 'session.start and the held appends')
  t.same(JSON.parse((conn.frames[0] as { data: Buffer }).data.toString()), {
    type: 'session.start', event_id: 'c_1', session: { model: 'gpt-live-1.1', instructions: 'Pinned by the app.', audio: { output: { voice: 'marin' } } }
  }, 'the first upstream frame: model routed, instructions pinned')
  t.same(conn.frames.slice(1).map((f) => f.data.toString()), appends, 'frames sent before the provider opened, in order, byte for byte')
  t.equal(seen[0]?.type, 'session.start', 'onClientEvent saw session.start although clientEvents lists only session.update')
  const delta = '{"type":"session.output_audio.delta","delta":"AAAA","event_id":"e9"}'
  conn.socket.send(delta)
  t.equal((await nextMessage(ws)).data.toString(), delta, 'server frames verbatim')
  const session = [...proxy.app.realtime.sessions.values()][0]
  t.match(session, { provider: 'openai', model: 'gpt-live-1.1', requestedModel: 'voice-live', credential: 'app-user' })
})

t.test('usage: snapshots 30.5 and 61.0, closed at 75.0, bill 75.0 s; without session.closed the usage is not final', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    live: true,
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions?provider=openai`)
  const conn = await upstream.next()
  t.equal(conn.url, '/live/sessions', 'dialled before the upgrade: ?provider= names it')
  ws.send(start('gpt-live-1'))
  await until(() => conn.frames.length === 1, 'session.start')
  for (const seconds of [30.5, 61]) conn.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds } }))
  conn.socket.send(JSON.stringify({ type: 'session.closed', reason: 'close_requested', usage: { seconds: 75 } }))
  conn.socket.close(1000)
  await until(() => summaries.length === 1, 'the summary')
  t.same(records.map((r) => [(r as { seconds: number }).seconds, (r as { totalSeconds: number }).totalSeconds]), [[30.5, 30.5], [30.5, 61], [14, 75]])
  t.match(summaries[0], { usageFinal: true, usage: { durationSeconds: 75 } })

  const ws2 = await open(t, `${proxy.url}/v1/live/sessions?provider=openai`)
  const conn2 = await upstream.next()
  ws2.send(start('gpt-live-1'))
  await until(() => conn2.frames.length === 1, 'session.start')
  conn2.socket.send(JSON.stringify({ type: 'session.usage.updated', usage: { seconds: 42 } }))
  await nextMessage(ws2)
  conn2.socket.terminate()
  await until(() => summaries.length === 2, 'the second summary')
  t.match(summaries[1], { usageFinal: false, usage: { durationSeconds: 42 } }, 'the last total kept, marked not final')
})

async function refusedAfterUpgrade (t: Tap, ws: WebSocket, frame?: string): Promise<{ event: Event, close: { code: number, reason: string } }> {
  const c = closed(ws)
  if (frame !== undefined) ws.send(frame)
  const event = await next(ws)
  return { event, close: await c }
}

t.test('every refusal after the upgrade is an error event in GPT-Live\'s envelope, then a documented close', async (t) => {
  const reject401 = await fakeUpstream(t, { reject: { status: 401, body: `{"error":{"message":"bad key ${KEY}"}}` } })
  const reject503 = await fakeUpstream(t, { reject: { status: 503, body: 'down' } })
  const store = new MemoryStore()
  const proxy = await startProxy(t, {
    providers: {
      a: { type: 'openai', apiKey: KEY, baseURL: reject401.url },
      b: { type: 'openai', apiKey: KEY, baseURL: reject503.url },
      x: { type: 'xai', apiKey: KEY }
    },
    live: { startTimeout: 150 },
    maxSessions: 5,
    store,
    onClientEvent: (event) => (event.type === 'session.start' && (event.session as { model: string }).model === 'refuse' ? null : undefined)
  })
  const url = `${proxy.url}/v1/live/sessions`
  const cases: Array<[string | undefined, string, number]> = [
    ['{"type":"session.input_audio.append","audio":""}', 'session_start_required', 1008],
    ['not json', 'session_start_required', 1008],
    [start('unknown-model'), 'FST_REALTIME_UNROUTABLE_MODEL', 1008],
    [start('x/grok-voice'), 'FST_REALTIME_UNSUPPORTED_PROTOCOL', 1008],
    [start('a/refuse'), 'session_refused', 1008],
    [start('a/gpt-live-1'), 'FST_REALTIME_UPSTREAM_REJECTED', 1008],
    [start('b/gpt-live-1'), 'FST_REALTIME_UPSTREAM_UNAVAILABLE', 1011],
    [undefined, 'session_start_timeout', 1008]
  ]
  for (const [frame, code, closeCode] of cases) {
    const ws = await open(t, url)
    const { event, close } = await refusedAfterUpgrade(t, ws, frame)
    t.match(event, { type: 'error', event_id: /^evt_/, error: { type: 'invalid_request_error', code } }, code)
    t.equal(close.code, closeCode, `${code}: close ${closeCode}`)
    t.notOk(JSON.stringify(event).includes(KEY), 'no key in the error')
  }
  t.equal(store.count('global'), 0, 'no slot held by a refused session')
  t.equal(proxy.app.realtime.sessions.size, 0)

  const before = await refused(t, `${proxy.url}/v1/live/sessions?provider=x`)
  t.equal(before.status, 400, 'a request that names a provider without GPT-Live is refused before the upgrade')
  t.equal(JSON.parse(before.body).code, 'FST_REALTIME_UNSUPPORTED_PROTOCOL')
  const rejected = await refused(t, `${proxy.url}/v1/live/sessions?provider=a`)
  t.equal(rejected.status, 401, 'and the provider\'s refusal is its HTTP status')
  t.same(proxy.logs.lines.filter((l) => (l.level as number) >= 50).map((l) => l.msg), [], 'with nothing logged as an error after it')

  const leaving = await open(t, url)
  leaving.send(start('b/gpt-live-1'))
  leaving.terminate() // gone while the provider is dialled
  await until(() => store.count('global') === 0, 'its slot back')
})

t.test('options: the route is the realtime path\'s parent + /live/sessions; off by default; checked', async (t) => {
  const off = await startProxy(t, { providers: { openai: { apiKey: KEY } } })
  t.equal(off.app.hasRoute({ method: 'GET', url: '/v1/live/sessions' }), false)
  const on = await startProxy(t, { providers: { openai: { apiKey: KEY } }, path: '/api/v2/realtime', live: true })
  t.equal(on.app.hasRoute({ method: 'GET', url: '/api/v2/live/sessions' }), true)
  const custom = await startProxy(t, { providers: { openai: { apiKey: KEY } }, live: { path: '/live' } })
  t.equal(custom.app.hasRoute({ method: 'GET', url: '/live' }), true)
  for (const [live, message] of [
    ['yes', '"live" must be true or an object such as { path: "/v1/live/sessions" }'],
    [{ pth: '/x' }, 'unknown option "live.pth"; did you mean "live.path"?'],
    [{ path: 'live' }, '"live.path" must start with "/", such as "/v1/live/sessions"'],
    [{ startTimeout: 0 }, '"live.startTimeout" must be an integer >= 1, got 0']
  ] as const) {
    await t.rejects(startProxy(t, { providers: { openai: { apiKey: KEY } }, live: live as never }), { code: 'FST_REALTIME_INVALID_OPTION', message: `Invalid fastify-realtime-proxy option: ${message}` })
  }
})

t.test('provider targets for GPT-Live: OpenAI, OpenAI-compatible and Azure Foundry (Bearer), none elsewhere', async (t) => {
  const registry = new ProviderRegistry({
    providers: {
      openai: { apiKey: 'sk-1' },
      local: { baseURL: 'http://127.0.0.1:9/v1', apiKey: 'k-2' },
      azure: { apiKey: 'az-1', baseURL: 'https://res.openai.azure.com/openai/v1', apiVersion: '2025-04-01-preview' },
      bailian: { apiKey: 'b' }
    }
  })
  const target = (name: string): unknown => {
    const resolution = registry.resolve({ provider: name, model: 'gpt-live-1', protocol: 'live' })
    return resolution.provider.target(resolution, resolution.provider.name === 'azure' ? 'az-1' : name === 'openai' ? 'sk-1' : 'k-2')
  }
  t.same(target('openai'), { url: 'wss://api.openai.com/v1/live/sessions', headers: { authorization: 'Bearer sk-1' }, protocols: [] })
  t.same(target('local'), { url: 'ws://127.0.0.1:9/v1/live/sessions', headers: { authorization: 'Bearer k-2' }, protocols: [] })
  t.same(target('azure'), { url: 'wss://res.openai.azure.com/openai/v1/live/sessions', headers: { authorization: 'Bearer az-1' }, protocols: [] })
  t.throws(() => registry.resolve({ provider: 'bailian', protocol: 'live' }), { code: 'FST_REALTIME_UNSUPPORTED_PROTOCOL', message: 'Provider "bailian" (type bailian) does not serve GPT-Live sessions' })
  t.same(['openai', 'local', 'azure', 'bailian'].map((name) => [registry.get(name)?.serves('live'), registry.get(name)?.serves('translation'), registry.get(name)?.serves('realtime')]),
    [[true, true, true], [true, true, true], [true, false, true], [false, false, true]])
  t.same(registry.get('openai')?.liveEndpoint('/live_1/hangup', 'sk-1'), { url: 'https://api.openai.com/v1/live/sessions/live_1/hangup', headers: { authorization: 'Bearer sk-1' } })
  t.same(registry.get('local')?.liveEndpoint('', 'k-2'), { url: 'http://127.0.0.1:9/v1/live/sessions', headers: { authorization: 'Bearer k-2' } })
  t.same(registry.get('azure')?.liveEndpoint('', 'az-1'), { url: 'https://res.openai.azure.com/openai/v1/live/sessions', headers: { authorization: 'Bearer az-1' } })
  t.equal(registry.get('bailian')?.liveEndpoint('', 'b'), undefined)
  const translation = registry.resolve({ provider: 'openai', model: 'gpt-realtime-translate', protocol: 'translation' })
  t.same(translation.provider.target(translation, 'sk-1'), { url: 'wss://api.openai.com/v1/realtime/translations?model=gpt-realtime-translate', headers: { authorization: 'Bearer sk-1' }, protocols: [] })
  t.same(registry.get('openai')?.endpoint('translations/calls', 'sk-1'), { url: 'https://api.openai.com/v1/realtime/translations/calls', headers: { authorization: 'Bearer sk-1' } })
  t.equal(registry.get('azure')?.endpoint('translations/client_secrets', 'az-1'), undefined)
  const sideband = registry.resolve({ provider: 'openai', model: 'gpt-live-1', protocol: 'live', callId: 'live_x/../y' })
  t.equal(sideband.provider.target(sideband, 'sk-1').url, 'wss://api.openai.com/v1/live/sessions/live_x%2F..%2Fy/attach', 'the id cannot climb the path')
})

t.test('the simulator\'s GPT-Live session.start is strict; a delegation reports backend tokens', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0 })
  t.teardown(() => sim.close())
  const url = `${sim.url.replace('http', 'ws')}/live/sessions`
  const strict = await open(t, url)
  const c = closed(strict)
  strict.send(start('gpt-live-1', { voice: 'marin' }))
  t.match(await next(strict), { type: 'error', error: { code: 'unknown_parameter', param: 'session.voice' } })
  t.equal((await c).code, 1008)
  const noModel = await open(t, url)
  noModel.send(start('gpt-live-1', { delegation: { type: 'responses', responses: {} } }))
  t.match(await next(noModel), { type: 'error', error: { code: 'missing_required_parameter', param: 'session.delegation.responses.model' } })
  const first = await open(t, url)
  first.send('{"type":"response.create"}')
  t.match(await next(first), { type: 'error', error: { code: 'session_not_started' } })
  const ws = await open(t, url)
  ws.send(start('gpt-live-1', { delegation: { type: 'responses', responses: { model: 'gpt-5.2' } } }))
  t.equal((await next(ws)).type, 'session.started')
  ws.send('{"type":"response.create"}')
  const events = await until2(ws, 'session.output_audio.delta')
  t.match(events.find((e) => e.type === 'response.event'), { event: { type: 'response.completed', response: { model: 'gpt-5.2', usage: { total_tokens: 150 } } } })
  t.ok(events.some((e) => e.type === 'session.output_transcript.delta' && e.delta === 'Hello from the GPT-Live simulator.'))
  for (const [frame, code] of [['nope', 'invalid_json'], [start('x'), 'session_already_started'], ['{"type":"session.input_audio.append"}', 'invalid_audio'], ['{"type":"what"}', 'unknown_event']]) {
    ws.send(frame as string)
    t.match((await until2(ws, 'error')).at(-1), { type: 'error', error: { code } }, code as string) // after the answer's audio
  }
})

t.test('a client that leaves before or while its session starts takes nothing with it', async (t) => {
  const upstream = await fakeUpstream(t)
  const store = new MemoryStore()
  let hookDone: () => void = () => {}
  const hookWaited = new Promise<void>((resolve) => { hookDone = resolve })
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    live: true,
    maxSessions: 5,
    store,
    onClientEvent: async (event, session) => {
      if (event.type !== 'session.start') return undefined
      if ((event.session as { model: string }).model === 'explain') {
        session.sendError('model_not_allowed', 'Use gpt-live-1', event.event_id)
        return null
      }
      await new Promise((resolve) => setTimeout(resolve, 100)) // the client leaves meanwhile
      hookDone()
      return undefined
    }
  })
  // dialled before the upgrade (one provider), then gone before session.start
  const early = await open(t, `${proxy.url}/v1/live/sessions`)
  const conn = await upstream.next()
  early.terminate()
  t.equal((await conn.closed).code, 1006, 'the provider leg dialled for it is dropped')
  await until(() => store.count('global') === 0, 'its slot back')

  // gone while the app's hook decides: nothing is dialled for it
  const late = await open(t, `${proxy.url}/v1/live/sessions`)
  const conn2 = await upstream.next()
  late.send(start('gpt-live-1'))
  late.terminate()
  await hookWaited
  t.equal((await conn2.closed).code, 1006)
  await until(() => store.count('global') === 0, 'its slot back')
  t.equal(proxy.app.realtime.sessions.size, 0)

  // a protocol error while it waits for session.start: ws closes it (1007), nothing else happens
  const broken = await open(t, `${proxy.url}/v1/live/sessions`)
  const conn3 = await upstream.next()
  const brokenClosed = closed(broken)
  broken.send(Buffer.from([0x7b, 0x80, 0x7d]), { binary: false }) // not UTF-8
  t.equal((await brokenClosed).code, 1007)
  t.equal((await conn3.closed).code, 1006)
  await until(() => store.count('global') === 0, 'its slot back')

  // the hook explains its refusal with its own error event first
  const told = await open(t, `${proxy.url}/v1/live/sessions`)
  await upstream.next()
  const c = closed(told)
  told.send(start('explain'))
  t.match(await next(told), { type: 'error', error: { code: 'model_not_allowed', message: 'Use gpt-live-1', client_event_id: 'c_1' } })
  t.match(await next(told), { type: 'error', error: { code: 'session_refused' } })
  t.equal((await c).code, 1008)
})

t.test('the simulator streams a GPT-Live answer at speaking pace, to callers with its key', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 20, apiKey: 'sim-key' }) // 20x real time: 100 ms of audio every 5 ms
  t.teardown(() => sim.close())
  const denied = await refused(t, `${sim.url.replace('http', 'ws')}/live/sessions`)
  t.equal(denied.status, 401)
  t.equal(JSON.parse(denied.body).error.code, 'invalid_api_key')
  const ws = await open(t, `${sim.url.replace('http', 'ws')}/live/sessions`, [], { headers: { authorization: 'Bearer sim-key' } })
  ws.send(start('gpt-live-1'))
  await next(ws)
  ws.send('{"type":"response.create"}')
  let deltas = 0
  for (;;) {
    const event = await next(ws)
    if (event.type === 'session.output_audio.delta') deltas++
    if (deltas === 5) break
  }
  t.equal(deltas, 5, 'half a second of audio in 100 ms chunks')
})

t.test('shutdown: a client still to send session.start, and one whose provider is being dialled, get an error event and 1001', async (t) => {
  const upstream = await fakeUpstream(t, { hang: true })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url }, other: { type: 'openai', apiKey: KEY, baseURL: upstream.url } }, live: true })
  const waiting = await open(t, `${proxy.url}/v1/live/sessions`)
  const dialling = await open(t, `${proxy.url}/v1/live/sessions`)
  dialling.send(start('openai/gpt-live-1'))
  await until(() => upstream.requests.length === 1, 'the dial')
  const waitingClosed = closed(waiting)
  const diallingClosed = closed(dialling)
  await proxy.app.close()
  for (const [ws, ended] of [[waiting, waitingClosed], [dialling, diallingClosed]] as const) {
    const event = await next(ws)
    t.match(event, { type: 'error', error: { type: 'invalid_request_error', code: 'server_shutting_down', message: 'The server is shutting down; reconnect' } })
    t.same(await ended, { code: 1001, reason: 'server_shutting_down' })
  }
})

t.test('a request that already names the provider: session.start\'s provider/model prefix is routed, not sent upstream', async (t) => {
  // Regression: with one provider (dialled before the upgrade), "sim/gpt-live-1" reached the provider as is and
  // was priced by no entry; ?provider=openai&model=openai/gpt-realtime likewise on the realtime route.
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { sim: { type: 'openai', apiKey: KEY, baseURL: `${upstream.url}/v1` } },
    live: true,
    pricing: { 'gpt-live-1': { perMinute: 0.6 } },
    onUsage: (r) => { records.push(r) }
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions`)
  const conn = await upstream.next()
  ws.send(start('sim/gpt-live-1'))
  await until(() => conn.frames.length === 1, 'session.start')
  t.equal(JSON.parse(conn.frames[0]?.data.toString() as string).session.model, 'gpt-live-1')
  conn.socket.send(JSON.stringify({ type: 'session.closed', usage: { seconds: 10 } }))
  await until(() => records.length === 1, 'the record')
  t.match(records[0], { model: 'gpt-live-1', seconds: 10, costUSD: 0.1 })
  await open(t, `${proxy.url}/v1/realtime?provider=sim&model=sim/gpt-realtime`)
  t.equal((await upstream.next()).url, '/v1/realtime?model=gpt-realtime')
})
