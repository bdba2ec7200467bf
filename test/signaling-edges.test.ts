// The signaling routes' rarer paths: no Location, oversize answers, providers removed at runtime, shutdown
// during a call's creation, a sideband that stops answering, and the simulator's own refusals.
import t from 'tap'
import { request } from 'undici'
import { MemoryStore, type CallRecord, type SessionSummary } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const KEY = 'sk-test-secret-key-0123456789'
const OFFER = 'v=0\r\ns=-\r\n'

async function post (base: string, path: string, body: string, type: string): Promise<{ status: number, headers: Record<string, unknown>, text: string }> {
  // reset: no keep-alive connection for app.close() to wait on
  const res = await request(`${base.replace('ws:', 'http:')}${path}`, { method: 'POST', headers: { 'content-type': type }, body, reset: true })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

t.test('a 2xx without a usable Location is relayed but not registered or metered', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/calls/bad id' }).end('v=0\r\n') } })
  const store = new MemoryStore()
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true, maxSessions: 2, store })
  const res = await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')
  t.equal(res.status, 201)
  t.equal(res.text, 'v=0\r\n')
  t.equal(res.headers.location, undefined, 'no Location pointing at the provider')
  t.equal(store.calls, 0)
  t.equal(store.count('global'), 0)
  t.equal(upstream.connections.length, 0)
  t.equal(logs.lines.filter((l) => l.msg === 'the provider answered the realtime call without a usable Location; it is not metered').length, 1)
})

t.test('an answer larger than 1 MiB is a 502', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }).end(`"${'x'.repeat(2 * 1024 * 1024)}"`) } })
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true })
  const res = await post(url, '/v1/realtime/client_secrets', '{}', 'application/json')
  t.equal(res.status, 502)
  t.equal(JSON.parse(res.text).message, 'Could not open the openai realtime session: the answer was larger than 1048576 bytes')
})

t.test('a call whose provider was removed at runtime cannot be attached', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(201, { location: '/v1/realtime/calls/rtc_gone' }).end('v=0\r\n') } })
  const { url, app } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url }, spare: { type: 'openai', baseURL: upstream.url } },
    defaultProvider: 'openai',
    signaling: { sideband: false }
  })
  t.equal((await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')).status, 201)
  app.realtime.providers.delete('openai')
  const res = await refused(t, `${url}/v1/realtime?call_id=rtc_gone`)
  t.equal(res.status, 400)
  t.equal(JSON.parse(res.body).message, 'Unknown provider "openai"; configured providers: spare')
})

t.test('shutdown while a call is being registered: no sideband is attached, its slot comes back', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(201, { location: '/v1/realtime/calls/rtc_late' }).end('v=0\r\n') } })
  let registered!: () => void
  const slow = new MemoryStore()
  const store = Object.assign(slow, {
    setCall: async (id: string, call: CallRecord, ttl: number): Promise<void> => {
      await new Promise<void>((resolve) => { registered = resolve })
      MemoryStore.prototype.setCall.call(slow, id, call, ttl)
    }
  })
  const { url, app, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true, maxSessions: 1, store })
  const pending = post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')
  await until(() => registered !== undefined, 'the store to be called')
  const closing = app.close()
  await new Promise((resolve) => setTimeout(resolve, 20))
  registered()
  t.equal((await pending).status, 201)
  await closing
  t.equal(upstream.connections.length, 0)
  t.ok(logs.lines.some((l) => l.msg === 'could not attach to the call\'s sideband; its usage is not metered' && (l.err as { code: string }).code === 'FST_REALTIME_SHUTTING_DOWN'))
  t.equal(slow.count('global'), 0)
  t.equal(slow.calls, 1, 'the call stays owned by its creator (until callTTL), whatever became of the sideband')
})

t.test('a sideband that misses its pong is dropped', async (t) => {
  const upstream = await fakeUpstream(t, {
    autoPong: false,
    http: (_req, res) => { res.writeHead(201, { location: '/v1/realtime/calls/rtc_one' }).end('v=0\r\n') }
  })
  const ended: SessionSummary[] = []
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    signaling: true,
    heartbeatInterval: 100,
    pongTimeout: 50,
    onSessionEnd: (s) => { ended.push(s) }
  })
  t.equal((await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')).status, 201)
  await until(() => ended.length === 1, 'the heartbeat to drop the sideband')
  t.match(ended[0], { callId: 'rtc_one', sideband: true, by: 'server', code: 1011, reason: 'upstream missed heartbeat' })
  t.equal((await upstream.connections[0]?.closed)?.code, 1006, 'dropped, not closed')
})

// No heartbeat here: a missed pong would drop the connection first and the closeTimeout would never be reached.
t.test('a sideband whose provider ignores the close frame is terminated after closeTimeout', async (t) => {
  const upstream = await fakeUpstream(t, {
    http: (_req, res) => { res.writeHead(201, { location: '/v1/realtime/calls/rtc_two' }).end('v=0\r\n') }
  })
  const { url, app } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    signaling: true,
    heartbeatInterval: 0,
    // ws's own close timer, longer than the session's below: the session's terminate is what drops it, every run.
    closeTimeout: 2000
  })
  t.equal((await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')).status, 201)
  const conn = await upstream.next()
  await until(() => app.realtime.sessions.size === 1, 'the sideband')
  const socket = (conn.socket as unknown as { _socket: { pause: () => void, resume: () => void } })._socket
  socket.pause() // never reads our close frame
  const [session] = [...app.realtime.sessions.values()]
  const summary = await session?.close(1001, 'going away', 50)
  t.match(summary, { callId: 'rtc_two', sideband: true, by: 'server', code: 1001 })
  socket.resume() // reads on: our close frame, then the end of a connection we dropped
  t.same(await conn.closed, { code: 1001, reason: 'going away' }, 'the close frame reached it once it read again')
})

t.test('the simulator refuses bad client_secrets bodies like OpenAI, and plain requests', async (t) => {
  const sim = await RealtimeSimulator.start()
  t.teardown(() => sim.close())
  const base = `http://127.0.0.1:${sim.port}`
  const bad = await post(base, '/v1/realtime/client_secrets', '{"session":', 'application/json')
  t.equal(bad.status, 400)
  t.equal(JSON.parse(bad.text).error.code, 'invalid_json')
  for (const seconds of [5, 7201, 'ten']) {
    const res = await post(base, '/v1/realtime/client_secrets', JSON.stringify({ expires_after: { seconds } }), 'application/json')
    t.equal(res.status, 400)
    t.equal(JSON.parse(res.text).error.message, 'expires_after.seconds must be between 10 and 7200.')
  }
  const transcription = await post(base, '/v1/realtime/client_secrets', '{"session":{"type":"transcription"}}', 'application/json')
  t.equal(JSON.parse(transcription.text).session.type, 'transcription')
  const calls = await post(base, '/v1/realtime/calls', OFFER, 'application/sdp')
  t.equal(calls.status, 501)
  const plain = await request(`${base}/v1/realtime`)
  t.equal(plain.statusCode, 426)
  t.equal(JSON.parse(await plain.body.text()).error.message, 'Connect with a websocket')
})

t.test('the simulator\'s minted keys expire, and its bodies are bounded', async (t) => {
  let clock = Date.now()
  const sim = await RealtimeSimulator.start({ pace: 0, now: () => clock }) // its clock, so nobody waits 10 s
  t.teardown(() => sim.close())
  const base = `http://127.0.0.1:${sim.port}`
  const short = JSON.parse((await post(base, '/v1/realtime/client_secrets', '{"expires_after":{"seconds":10}}', 'application/json')).text)
  const ws = `ws://127.0.0.1:${sim.port}/v1/realtime`
  const headers = { authorization: `Bearer ${short.value as string}` }
  const live = await open(t, ws, [], { headers })
  t.equal(JSON.parse((await nextMessage(live)).data.toString()).session.model, 'gpt-realtime', 'the default model')
  live.close()
  clock += 9_990
  const stillLive = await open(t, ws, [], { headers })
  stillLive.close()
  clock += 20
  t.equal((await refused(t, ws, [], { headers })).status, 401, 'expired after 10 s')
  t.equal((await post(base, '/v1/realtime/client_secrets', '', 'application/json')).status, 200, 'an empty body mints a default key (and sweeps the expired one)')
  t.equal((await post(base, '/v1/realtime/client_secrets', '{}', 'application/json')).status, 200, 'live keys are kept')
  const huge = await post(base, '/v1/realtime/client_secrets', `{"x":"${'y'.repeat(70 * 1024)}"}`, 'application/json')
  t.equal(huge.status, 400)
})

t.test('a sideband session has no client: sendError goes nowhere; a failed call creation gives the slot back', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(201, { location: '/v1/realtime/calls/rtc_s' }).end('v=0\r\n') } })
  const store = new MemoryStore()
  const { url, app } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url }, down: { type: 'openai', apiKey: KEY, baseURL: 'http://127.0.0.1:1' } },
    defaultProvider: 'openai',
    signaling: true,
    maxSessions: 3,
    store
  })
  t.equal((await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')).status, 201)
  const sideband = await upstream.next()
  await until(() => app.realtime.sessions.size === 1, 'the sideband')
  const [session] = [...app.realtime.sessions.values()]
  session?.sendError('policy_error', 'nobody to tell')
  sideband.socket.close(1000)
  await session?.ended
  t.equal(sideband.frames.length, 0, 'nothing was sent to the provider')
  const down = await post(url, '/v1/realtime/calls?model=down/m', OFFER, 'application/sdp')
  t.equal(down.status, 502)
  t.equal(store.count('global'), 0)
})

t.test('bodies without a model go to the provider as they are; the app\'s own SDP parser stays the app\'s', async (t) => {
  const upstream = await fakeUpstream(t, { http: (req, res) => { res.writeHead(req.url.endsWith('/calls') ? 201 : 200).end(req.url.endsWith('/calls') ? 'v=0\r\n' : '{}') } })
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true }, (app) => {
    app.addContentTypeParser('application/sdp', { parseAs: 'string' }, (_req, body, done) => done(null, `app:${body as string}`))
    app.post('/app/sdp', async (request) => request.body)
  })
  for (const session of [{ type: 'transcription' }, { type: 'transcription', audio: { input: { transcription: 'x' } } }, { type: 'transcription', audio: 1 }]) {
    t.equal((await post(url, '/v1/realtime/client_secrets', JSON.stringify({ session }), 'application/json')).status, 200)
    t.same(JSON.parse((upstream.posts.at(-1) as { body: Buffer }).body.toString()).session, session)
  }
  const noModel = await post(url, '/v1/realtime/calls?provider=openai', OFFER, 'application/sdp')
  t.equal(noModel.status, 201, 'the provider answered without a Location')
  t.equal(upstream.connections.length, 0)
  t.ok(logs.lines.some((l) => l.msg === 'the provider answered the realtime call without a usable Location; it is not metered'))
  const sdpOnly = `--XX\r\nContent-Disposition: form-data; name="sdp"\r\n\r\n${OFFER}\r\n--XX--\r\n`
  const only = await post(url, '/v1/realtime/calls', sdpOnly, 'multipart/form-data; boundary=XX')
  t.equal(only.status, 201, only.text)
  const sessionArray = `--XX\r\nContent-Disposition: form-data; name="sdp"\r\n\r\n${OFFER}\r\n--XX\r\nContent-Disposition: form-data; name="session"\r\n\r\n[1]\r\n--XX--\r\n`
  t.equal((await post(url, '/v1/realtime/calls', sessionArray, 'multipart/form-data; boundary=XX')).status, 400)
  const forms = await Promise.all(upstream.posts.slice(-2).map(async (p) => await new (await import('undici')).Response(p.body, { headers: { 'content-type': p.headers['content-type'] as string } }).formData()))
  t.same(forms.map((f) => f.get('session')), ['{"type":"realtime"}', '{"type":"realtime"}'], 'no model named, none added')
  t.equal((await post(url, '/app/sdp', 'v=0', 'application/sdp')).text, 'app:v=0', 'the app\'s parser still serves its routes')
})

t.test('a signaling request still in its hooks when shutdown starts is refused with 503', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => { res.writeHead(200).end('{}') } })
  let unblock!: (key: string) => void
  const { url, app } = await startProxy(t, {
    providers: { openai: { apiKey: async () => await new Promise<string>((resolve) => { unblock = resolve }), baseURL: upstream.url } },
    signaling: true
  })
  const pending = post(url, '/v1/realtime/client_secrets', '{}', 'application/json')
  await until(() => unblock !== undefined, 'the key to be asked for')
  const closing = app.close()
  await new Promise((resolve) => setTimeout(resolve, 20))
  unblock(KEY)
  const res = await pending
  t.equal(res.status, 503)
  t.equal(JSON.parse(res.text).code, 'FST_REALTIME_SHUTTING_DOWN')
  await closing
  t.equal(upstream.posts.length, 0)
})

t.test('onSession pins the session server-side for client secrets and calls, or refuses the request', async (t) => {
  const upstream = await fakeUpstream(t, { http: (req, res) => { res.writeHead(req.url.endsWith('/calls') ? 201 : 200).end(req.url.endsWith('/calls') ? 'v=0\r\n' : '{}') } })
  const { url } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url } },
    signaling: {
      onSession: async (session, request) => {
        if (request.headers['x-deny'] !== undefined) throw Object.assign(new Error('no'), { statusCode: 403 })
        return { ...session, instructions: 'Be the support agent.', tools: [] }
      }
    }
  })
  await post(url, '/v1/realtime/client_secrets', '{"session":{"type":"realtime","model":"m","instructions":"Ignore your rules."}}', 'application/json')
  t.same(JSON.parse((upstream.posts[0] as { body: Buffer }).body.toString()).session, { type: 'realtime', model: 'm', instructions: 'Be the support agent.', tools: [] })
  await post(url, '/v1/realtime/client_secrets', '{}', 'application/json')
  t.same(JSON.parse((upstream.posts[1] as { body: Buffer }).body.toString()).session, { instructions: 'Be the support agent.', tools: [] })
  await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')
  const form = await new (await import('undici')).Response(upstream.posts[2]?.body, { headers: { 'content-type': upstream.posts[2]?.headers['content-type'] as string } }).formData()
  t.equal(form.get('session'), '{"type":"realtime","model":"m","instructions":"Be the support agent.","tools":[]}')
  const denied = await request(`${url.replace('ws:', 'http:')}/v1/realtime/client_secrets`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-deny': '1' }, body: '{}' })
  t.equal(denied.statusCode, 403)
  await denied.body.dump()
  t.equal(upstream.posts.length, 3)
})

t.test('a hangup the provider refuses is relayed and the call stays registered', async (t) => {
  const upstream = await fakeUpstream(t, {
    http: (req, res) => {
      if (req.url.endsWith('/hangup')) res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"call not found"}}')
      else res.writeHead(201, { location: '/v1/realtime/calls/rtc_h' }).end('v=0\r\n')
    }
  })
  const store = new MemoryStore()
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { sideband: false }, store })
  t.equal((await post(url, '/v1/realtime/calls?model=m', OFFER, 'application/sdp')).status, 201)
  const res = await post(url, '/v1/realtime/calls/rtc_h/hangup', '{}', 'application/json')
  t.equal(res.status, 404)
  t.equal(res.text, '{"error":{"message":"call not found"}}')
  t.ok(store.getCall('rtc_h'), 'still registered')
})
