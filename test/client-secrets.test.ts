// POST {path}/client_secrets: routed by session.model, rewritten, TTL capped, forwarded with the provider's key.
import t from 'tap'
import { request } from 'undici'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { fakeUpstream, open, nextMessage, refused, startProxy, type RecordedRequest } from './helpers.js'

const KEY = 'sk-test-secret-key-0123456789'
const MINTED = JSON.stringify({ value: 'ek_abcdef0123456789', expires_at: 1767225600, session: { type: 'realtime', model: 'gpt-realtime-2025-08-28' } })

const ok = (_req: RecordedRequest, res: import('node:http').ServerResponse): void => {
  res.writeHead(200, { 'content-type': 'application/json', 'x-request-id': 'req_upstream' }).end(MINTED)
}

async function mint (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, headers: Record<string, unknown>, text: string }> {
  const res = await request(`${url.replace('ws:', 'http:')}/v1/realtime/client_secrets`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer app-token', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

t.test('routes by session.model, rewrites it, caps the TTL and sends the provider key only', async (t) => {
  const upstream = await fakeUpstream(t, { http: ok })
  const { url, logs } = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: `${upstream.url}/v1` } },
    models: { voice: { provider: 'openai', model: 'gpt-realtime-2025-08-28' } },
    signaling: { maxExpiresAfter: 120 }
  })
  const res = await mint(url, { expires_after: { anchor: 'created_at', seconds: 3600 }, session: { type: 'realtime', model: 'voice', instructions: 'hi' } })
  t.equal(res.status, 200)
  t.equal(res.text, MINTED, 'the minted ek_ value is relayed unchanged')
  t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
  t.equal(res.headers['x-content-type-options'], 'nosniff')
  const [post] = upstream.posts as [RecordedRequest]
  t.equal(post.method, 'POST')
  t.equal(post.url, '/v1/realtime/client_secrets')
  t.equal(post.headers.authorization, `Bearer ${KEY}`)
  t.equal(post.headers['content-type'], 'application/json')
  t.match(post.headers['x-request-id'], /\S/)
  t.same(JSON.parse(post.body.toString()), {
    expires_after: { anchor: 'created_at', seconds: 120 },
    session: { type: 'realtime', model: 'gpt-realtime-2025-08-28', instructions: 'hi' }
  })
  t.notOk(logs.text.includes(KEY), 'the key is not logged')
  t.notOk(logs.text.includes('ek_abcdef'), 'the minted secret is not logged')
  t.ok(logs.lines.some((l) => l.msg === 'realtime client secret minted' && l.provider === 'openai' && l.model === 'gpt-realtime-2025-08-28'))

  await mint(url, { session: { type: 'transcription', audio: { input: { transcription: { model: 'openai/gpt-4o-transcribe' } } } } })
  t.same(JSON.parse((upstream.posts[1] as RecordedRequest).body.toString()), {
    session: { type: 'transcription', audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } },
    expires_after: { anchor: 'created_at', seconds: 120 }
  }, 'the nested transcription model routes and is rewritten; a missing TTL gets the cap')
  await mint(url, { expires_after: { seconds: 30 } })
  t.same(JSON.parse((upstream.posts[2] as RecordedRequest).body.toString()), { expires_after: { anchor: 'created_at', seconds: 30 } },
    'no session: the only provider takes it, a shorter TTL is kept')
})

t.test('provider errors come back with their status, redacted', async (t) => {
  const upstream = await fakeUpstream(t, {
    http: (_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json', 'retry-after': '7' })
        .end(JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error' } }))
    }
  })
  const { url, logs } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: true })
  const res = await mint(url, { session: { type: 'realtime', model: 'gpt-realtime' } })
  t.equal(res.status, 401)
  t.equal(res.headers['retry-after'], '7')
  t.equal(res.text, '{"error":{"message":"Incorrect API key provided: [REDACTED].","type":"invalid_request_error"}}')
  t.equal(logs.lines.filter((l) => l.msg === 'provider refused the signaling request').length, 1, 'logged once')
  t.notOk(logs.text.includes(KEY))
})

t.test('xAI takes only expires_after.seconds; Azure GA its own path and api-key; others answer 501', async (t) => {
  const upstream = await fakeUpstream(t, { http: ok })
  const { url } = await startProxy(t, {
    providers: {
      xai: { apiKey: 'xai-key-0123456789', baseURL: `${upstream.url}/v1` },
      azure: { apiKey: 'azure-key-0123456789', baseURL: `${upstream.url}/openai/v1` },
      legacy: { type: 'azure', apiKey: 'azure-key-0123456789', baseURL: upstream.url, apiVersion: '2025-04-01-preview' },
      bailian: { apiKey: 'dash-key-0123456789', baseURL: upstream.url }
    },
    signaling: true
  })
  t.equal((await mint(url, { expires_after: { anchor: 'created_at', seconds: 300 }, session: { type: 'realtime', model: 'xai/grok-voice' } })).status, 200)
  const xai = upstream.posts[0] as RecordedRequest
  t.equal(xai.url, '/v1/realtime/client_secrets')
  t.equal(xai.headers.authorization, 'Bearer xai-key-0123456789')
  t.equal(xai.body.toString(), '{"expires_after":{"seconds":300}}')

  t.equal((await mint(url, { session: { type: 'realtime', model: 'azure/my-deployment' } })).status, 200)
  const azure = upstream.posts[1] as RecordedRequest
  t.equal(azure.url, '/openai/v1/realtime/client_secrets')
  t.equal(azure.headers['api-key'], 'azure-key-0123456789')
  t.equal(azure.headers.authorization, undefined)
  t.same(JSON.parse(azure.body.toString()).session, { type: 'realtime', model: 'my-deployment' })

  for (const model of ['legacy/x', 'bailian/qwen-omni']) {
    const res = await mint(url, { session: { type: 'realtime', model } })
    t.equal(res.status, 501)
    t.equal(JSON.parse(res.text).code, 'FST_REALTIME_NOT_SUPPORTED')
  }
  t.equal(upstream.posts.length, 2, 'nothing forwarded for 501s')
})

t.test('bad bodies are refused before anything is forwarded', async (t) => {
  const upstream = await fakeUpstream(t, { http: ok })
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } }, signaling: { bodyLimit: 256 } })
  const cases: Array<[unknown, number, string]> = [
    ['[1]', 400, 'FST_REALTIME_BAD_BODY'],
    [{ session: 'x' }, 400, 'FST_REALTIME_BAD_BODY'],
    [{ session: { model: 7 } }, 400, 'FST_REALTIME_BAD_BODY'],
    [{ expires_after: { seconds: -1 } }, 400, 'FST_REALTIME_BAD_BODY'],
    [{ expires_after: 5 }, 400, 'FST_REALTIME_BAD_BODY'],
    ['{"session":', 400, 'FST_ERR_CTP_INVALID_JSON_BODY'],
    [{ session: { instructions: 'x'.repeat(300) } }, 413, 'FST_ERR_CTP_BODY_TOO_LARGE']
  ]
  for (const [body, status, code] of cases) {
    const res = await mint(url, body)
    t.equal(res.status, status, JSON.stringify(body).slice(0, 40))
    t.equal(JSON.parse(res.text).code, code)
  }
  const { status, text } = await mint(url, {}, { 'content-type': 'application/json' }).then(async () =>
    await request(`${url.replace('ws:', 'http:')}/v1/realtime/client_secrets?provider=nope`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })
      .then(async (r) => ({ status: r.statusCode, text: await r.body.text() })))
  t.equal(status, 400)
  t.equal(JSON.parse(text).code, 'FST_REALTIME_UNKNOWN_PROVIDER')
  t.equal(upstream.posts.length, 1, 'only the valid empty body was forwarded')
})

t.test('the app\'s auth hooks guard the route; network errors are 502, silence 504', async (t) => {
  const upstream = await fakeUpstream(t, { http: () => {} }) // never answers
  const { url, logs } = await startProxy(t, {
    providers: { slow: { type: 'openai', apiKey: KEY, baseURL: upstream.url }, down: { type: 'openai', apiKey: KEY, baseURL: 'http://127.0.0.1:1' } },
    signaling: true,
    dialTimeout: 300,
    onRequest: async (request, reply) => {
      if (request.realtime.credential !== 'app-token') return reply.code(401).send({ error: 'who are you' })
    }
  })
  const denied = await mint(url, {}, { authorization: 'Bearer wrong' })
  t.equal(denied.status, 401)
  t.equal(denied.text, '{"error":"who are you"}')
  t.equal(upstream.posts.length, 0)
  const down = await mint(url, { session: { model: 'down/gpt-realtime' } })
  t.equal(down.status, 502)
  t.same(JSON.parse(down.text), { statusCode: 502, code: 'FST_REALTIME_UPSTREAM_UNAVAILABLE', error: 'Bad Gateway', message: 'Could not open the down realtime session: the provider could not be reached' })
  t.notOk(down.text.includes(KEY))
  t.notOk(down.text.includes('127.0.0.1'), 'no internal address reaches the client')
  t.equal(logs.lines.filter((l) => JSON.stringify(l).includes('ECONNREFUSED 127.0.0.1:1')).length, 1, 'the network cause is logged once')
  const slow = await mint(url, { session: { model: 'slow/gpt-realtime' } })
  t.equal(slow.status, 504)
  t.equal(JSON.parse(slow.text).code, 'FST_REALTIME_UPSTREAM_TIMEOUT')
})

t.test('end to end on the simulator: a key minted through the plugin opens the simulator\'s websocket', async (t) => {
  const sim = await RealtimeSimulator.start({ apiKey: KEY, pace: 0 })
  t.teardown(() => sim.close())
  const { url } = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: sim.url } }, signaling: { maxExpiresAfter: 60 } })
  const res = await mint(url, { session: { type: 'realtime', model: 'gpt-realtime-mini' } })
  t.equal(res.status, 200)
  const minted = JSON.parse(res.text)
  t.match(minted.value, /^ek_[0-9a-f]{48}$/)
  t.ok(Math.abs(minted.expires_at - (Date.now() / 1000 + 60)) < 5, 'the capped TTL reached the simulator')
  const wsURL = `${sim.url.replace('http:', 'ws:')}/realtime`
  const ws = await open(t, wsURL, ['realtime', `openai-insecure-api-key.${minted.value as string}`])
  const created = JSON.parse((await nextMessage(ws)).data.toString())
  t.equal(created.type, 'session.created')
  t.equal(created.session.model, 'gpt-realtime-mini', 'the key carries its session model')
  ws.close()
  const bad = await refused(t, wsURL, [], { headers: { authorization: 'Bearer ek_0000' } })
  t.equal(bad.status, 401)
  t.equal(JSON.parse(bad.body).error.message, 'Invalid or expired ephemeral key.')
  const noKey = await mint(url.replace(/\/\/.*/, `//127.0.0.1:${sim.port}`).replace('ws:', 'http:'), {})
  t.equal(noKey.status, 401, 'the simulator checks its own key on client_secrets')
})
