// Prometheus metrics through prom-client: served on a route, or registered into the app's own registry.
import t from 'tap'
import { Registry } from 'prom-client'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const DONE = JSON.stringify({ type: 'response.done', response: { id: 'r1', usage: { input_tokens: 10, output_tokens: 20 } } })

t.test('metrics: true serves /metrics with sessions, dials, traffic, tokens and cost', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: (ws) => ws.send(DONE) })
  const rejecting = await fakeUpstream(t, { reject: { status: 401, body: '{"error":"no"}' } })
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url }, bad: { baseURL: rejecting.url }, xai: { baseURL: upstream.url } },
    defaultProvider: 'openai',
    pricing: { 'gpt-realtime': { input: { text: 1000 }, output: { text: 2000 } }, 'grok-voice': { perMinute: 60 } },
    metrics: true
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  await nextMessage(ws)
  ws.send('hello')
  await until(() => proxy.app.realtime.stats().frames.client === 1, 'frame counted')
  await refused(t, `${proxy.url}/v1/realtime?model=bad/m`)

  const http = proxy.url.replace('ws://', 'http://')
  let res = await fetch(`${http}/metrics`)
  t.equal(res.status, 200)
  t.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/)
  let text = await res.text()
  t.match(text, 'realtime_proxy_sessions_active{provider="openai"} 1\n')
  t.match(text, 'realtime_proxy_frames_total{provider="openai",from="client"} 1\n')
  t.match(text, 'realtime_proxy_frames_total{provider="openai",from="upstream"} 1\n')
  t.match(text, 'realtime_proxy_bytes_total{provider="openai",from="client"} 5\n')
  t.match(text, `realtime_proxy_bytes_total{provider="openai",from="upstream"} ${DONE.length}\n`)
  t.match(text, 'realtime_proxy_tokens_total{provider="openai",model="gpt-realtime",direction="input"} 10\n')
  t.match(text, 'realtime_proxy_tokens_total{provider="openai",model="gpt-realtime",direction="output"} 20\n')
  t.match(text, 'realtime_proxy_cost_usd_total{provider="openai",model="gpt-realtime"} 0.05\n')
  t.match(text, 'realtime_proxy_sessions_total{provider="bad",outcome="rejected"} 1\n')
  t.match(text, 'realtime_proxy_upstream_dial_duration_seconds_count{provider="openai",outcome="ok"} 1\n')
  t.match(text, 'realtime_proxy_upstream_dial_duration_seconds_count{provider="bad",outcome="rejected"} 1\n')

  const c = closed(ws)
  ws.close()
  await c
  const x = await open(t, `${proxy.url}/v1/realtime?model=xai/grok-voice`)
  await nextMessage(x) // xai answers with the same fake: a response.done without per-token prices
  x.close()
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'sessions ended')
  res = await fetch(`${http}/metrics`)
  text = await res.text()
  t.match(text, 'realtime_proxy_sessions_total{provider="openai",outcome="client_closed"} 1\n')
  t.notMatch(text, 'realtime_proxy_sessions_active{provider="openai"}')
  t.match(text, 'realtime_proxy_frames_total{provider="openai",from="client"} 1\n', 'ended sessions still count')
  t.match(text, /realtime_proxy_billed_seconds_total\{provider="xai",model="grok-voice",kind="duration"\} [0-9.]+\n/)
  t.ok(proxy.app.realtime.metrics instanceof Registry)
})

t.test('the app\'s own registry, a prefix, no route; transcription metrics', async (t) => {
  const registry = new Registry()
  const upstream = await fakeUpstream(t, {
    onConnection: (ws) => {
      ws.send(JSON.stringify({ type: 'conversation.item.input_audio_transcription.completed', usage: { type: 'tokens', input_tokens: 7, output_tokens: 3 } }))
      ws.send(JSON.stringify({ type: 'conversation.item.input_audio_transcription.completed', usage: { type: 'duration', seconds: 4 } }))
    }
  })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, metrics: { registry, prefix: 'voice_' } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  await nextMessage(ws)
  await nextMessage(ws)
  const text = await registry.metrics()
  t.match(text, 'voice_tokens_total{provider="openai",model="m",direction="input"} 7\n')
  t.match(text, 'voice_tokens_total{provider="openai",model="m",direction="output"} 3\n')
  t.match(text, 'voice_billed_seconds_total{provider="openai",model="m",kind="transcription"} 4\n')
  const res = await proxy.app.inject({ url: '/metrics' })
  t.equal(res.statusCode, 404, 'no route unless asked for')
})

t.test('one session, one count: failed failover attempts are attempts, not sessions (#24 item 14)', async (t) => {
  const down = await fakeUpstream(t, { reject: { status: 503, body: '{}' } })
  const up = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { a: { type: 'openai', apiKey: 'sk-a-0000000', baseURL: down.url }, b: { type: 'openai', apiKey: 'sk-b-0000000', baseURL: up.url } },
    models: { voice: { targets: [{ provider: 'a', model: 'm' }, { provider: 'b', model: 'm' }] }, dead: { targets: [{ provider: 'a', model: 'm' }, { provider: 'a', model: 'n' }] } },
    metrics: true
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=voice`)
  const c = closed(ws)
  ws.close()
  await c
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the session to end')
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=dead`)).status, 502)
  const text = (await proxy.app.inject('/metrics')).body
  const sessions = text.split('\n').filter((l) => l.startsWith('realtime_proxy_sessions_total{'))
  t.same(sessions, ['realtime_proxy_sessions_total{provider="b",outcome="client_closed"} 1', 'realtime_proxy_sessions_total{provider="a",outcome="unavailable"} 1'],
    'the session that opened after a failover, and the one that never opened, once each')
  t.match(text, 'realtime_proxy_upstream_attempts_total{provider="a",outcome="server_error"} 3\n')
})
