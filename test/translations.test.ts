// Realtime translations: `{path}/translations?model=M` dials `BASE/realtime/translations?model=M` on OpenAI and
// OpenAI-compatible providers (others: 400), relays verbatim, and bills the seconds of input audio the client
// sent, since the provider reports no usage. The openai SDK's own translation client talks through it.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { request, Response } from 'undici'
import OpenAI from 'openai'
import { OpenAIRealtimeTranslationWS } from 'openai/realtime/translations/ws'
import type { SessionSummary, UsageRecord } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))

const append = (bytes: number, type = 'session.input_audio_buffer.append'): string =>
  JSON.stringify({ type, audio: Buffer.alloc(bytes, 1).toString('base64') })

t.test('the route dials /realtime/translations with the model and the provider key, and relays both ways byte for byte', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-0000' } },
    pricing: { 'gpt-realtime-translate': { perMinute: 0.06 } },
    onUsage: (r) => { records.push(r) }
  })
  const client = await open(t, `${proxy.url}/v1/realtime/translations?model=gpt-realtime-translate`)
  const provider = await upstream.next()
  t.equal(provider.url, '/v1/realtime/translations?model=gpt-realtime-translate')
  t.equal(provider.headers.authorization, 'Bearer sk-provider-0000')
  const created = '{"type":"session.created","event_id":"e1","session":{"id":"sess_1","type":"translation","model":"gpt-realtime-translate","expires_at":1,"audio":{}}}'
  provider.socket.send(created)
  t.equal((await nextMessage(client)).data.toString(), created, 'server frame relayed as it came')
  const update = '{"type":"session.update","session":{"audio":{"output":{"language":"fr"}}}}'
  client.send(update)
  // 1.5 s of 24 kHz PCM16 in three appends, one spaced out (parsed, not searched)
  client.send(append(24_000))
  client.send(append(24_000))
  client.send(JSON.stringify({ type: 'session.input_audio_buffer.append', audio: Buffer.alloc(24_000).toString('base64') }, null, 1))
  await until(() => provider.frames.length === 4, 'the frames upstream')
  t.equal(provider.frames[0]?.data.toString(), update)
  t.equal(provider.frames[1]?.data.toString(), append(24_000), 'audio relayed byte for byte')
  client.close(1000)
  await until(() => records.length === 1, 'the usage record')
  t.same(records[0], { kind: 'duration', sessionId: records[0]?.sessionId, provider: 'openai', model: 'gpt-realtime-translate', seconds: 1.5, measuredFrom: 'input-audio', costUSD: 0.0015 })
})

t.test('providers without translations refuse before the upgrade; an intent is refused too', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: {
      openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-0000' },
      bailian: { apiKey: 'bl-key' },
      azure: { baseURL: upstream.url, apiKey: 'az-key' }
    }
  })
  for (const provider of ['bailian', 'azure']) {
    const res = await refused(t, `${proxy.url}/v1/realtime/translations?provider=${provider}&model=m`)
    t.equal(res.status, 400)
    t.same(JSON.parse(res.body), { statusCode: 400, code: 'FST_REALTIME_UNSUPPORTED_PROTOCOL', error: 'Bad Request', message: `Provider "${provider}" (type ${provider}) does not serve realtime translation sessions` })
  }
  const res = await refused(t, `${proxy.url}/v1/realtime/translations?provider=openai&model=m&intent=transcription`)
  t.equal(res.status, 400)
  t.equal(JSON.parse(res.body).code, 'FST_REALTIME_UNSUPPORTED_INTENT')
  t.equal(upstream.requests.length, 0, 'nothing dialled')
})

t.test('a transcription session whose provider reports no usage is billed by its input audio, at the format it set', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-0000' } },
    pricing: { 'gpt-4o-transcribe': { transcription: { perSecond: 0.0001 } } },
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const client = await open(t, `${proxy.url}/v1/realtime?intent=transcription&model=gpt-4o-transcribe`)
  const provider = await upstream.next()
  client.send(append(48_000, 'input_audio_buffer.append')) // 1 s at the default 24 kHz PCM16
  client.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' } } } } }))
  client.send(append(4_000, 'input_audio_buffer.append')) // 0.5 s of G.711 at 8 kHz
  client.send(JSON.stringify({ type: 'session.update', session: { input_audio_format: 'pcm16' } }))
  client.send(append(12_000, 'input_audio_buffer.append')) // 0.25 s
  client.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 16000 } } } } }))
  client.send(append(8_000, 'input_audio_buffer.append')) // 0.25 s at 16 kHz
  client.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', content: [{ type: 'input_text', text: 'input_audio_buffer.append' }] } }))
  await until(() => provider.frames.length === 8, 'the frames upstream')
  client.close(1000)
  await until(() => summaries.length === 1, 'the summary')
  t.same(records.map((r) => [r.kind, (r as { seconds: number }).seconds, (r as { measuredFrom?: string }).measuredFrom, r.costUSD]), [['duration', 2, 'input-audio', 0.0002]])
  t.equal(summaries[0]?.usage.durationSeconds, 2)
})

t.test('a transcription session whose provider reports usage is billed by it alone', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-0000' } },
    onUsage: (r) => { records.push(r) }
  })
  const client = await open(t, `${proxy.url}/v1/realtime?intent=transcription`)
  const provider = await upstream.next()
  client.send(append(48_000, 'input_audio_buffer.append'))
  provider.socket.send(JSON.stringify({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'i1', transcript: 'hi', usage: { type: 'duration', seconds: 1 } }))
  await nextMessage(client)
  client.close(1000)
  await closed(client)
  await until(() => records.length === 1, 'the record')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(records.map((r) => r.kind), ['transcription'], 'no measured record beside the provider\'s')
})

t.test('with metering off, nothing is measured', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-0000' } },
    metering: false,
    onUsage: (r) => { records.push(r) }
  })
  const client = await open(t, `${proxy.url}/v1/realtime/translations?model=gpt-realtime-translate`)
  const provider = await upstream.next()
  client.send(append(48_000))
  await until(() => provider.frames.length === 1, 'the frame')
  client.close(1000)
  await provider.closed
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(records, [])
})

t.test('the openai SDK\'s translation client talks to the simulator through the plugin, billed once by its audio', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0, apiKey: 'sk-provider-0000' })
  t.teardown(() => sim.close())
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { sim: { type: 'openai-compatible', baseURL: sim.url, apiKey: 'sk-provider-0000' } },
    onRequest: async (request, reply) => {
      if (request.realtime.credential !== 'app-user-token') return reply.code(401).send({ error: 'unauthorized' })
    },
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  }, undefined, { https: { key, cert } })
  const client = new OpenAI({ apiKey: 'app-user-token', baseURL: `${proxy.url.replace('ws://', 'https://')}/v1` })
  const translation = await OpenAIRealtimeTranslationWS.create(client, { model: 'gpt-realtime-translate', options: { ca: cert } })
  const types: string[] = []
  const text: string[] = []
  translation.on('event', (event) => { types.push(event.type) })
  translation.on('session.output_transcript.delta', (event) => { text.push(event.delta) })
  const created = await new Promise<{ session: { model: string, type: string } }>((resolve, reject) => {
    translation.on('session.created', resolve)
    translation.on('error', reject)
  })
  t.match(created.session, { model: 'gpt-realtime-translate', type: 'translation' })
  translation.send({ type: 'session.update', session: { audio: { output: { language: 'de' }, input: { transcription: { model: 'gpt-4o-transcribe' } } } } })
  for (let i = 0; i < 10; i++) translation.send({ type: 'session.input_audio_buffer.append', audio: Buffer.alloc(9_600).toString('base64') }) // 10 x 200 ms
  await translation.finish({ timeoutMs: 5000 })
  await until(() => summaries.length === 1, 'the summary')
  t.same(text, ['[de 1 s] ', '[de 2 s] '])
  t.equal(types.filter((type) => type === 'session.output_audio.delta').length, 10)
  t.ok(types.includes('session.input_transcript.delta'))
  t.equal(types.at(-1), 'session.closed')
  t.same(records.map((r) => [r.kind, (r as { seconds: number }).seconds, (r as { measuredFrom?: string }).measuredFrom]), [['duration', 2, 'input-audio']])
  t.match(summaries[0], { provider: 'sim', model: 'gpt-realtime-translate', by: 'upstream', code: 1000 })
})

t.test('signaling: translation client secrets and calls forward to the provider\'s translation endpoints', async (t) => {
  const upstream = await fakeUpstream(t, {
    http: (req, res) => req.url.endsWith('/client_secrets')
      ? res.writeHead(200, { 'content-type': 'application/json' }).end('{"value":"ek_translate","expires_at":1,"session":{}}')
      : res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/translations/calls/rtc_t1' }).end('v=0\r\nanswer')
  })
  const sessions: unknown[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: `${upstream.url}/v1`, apiKey: 'sk-provider-0000' }, bailian: { apiKey: 'bl' } },
    models: { translate: { provider: 'openai', model: 'gpt-realtime-translate' } },
    signaling: { maxExpiresAfter: 120, onSession: (session) => { sessions.push(session); return { ...session, audio: { output: { language: 'fr' } } } } }
  })
  const base = proxy.url.replace('ws:', 'http:')
  const secret = await request(`${base}/v1/realtime/translations/client_secrets`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ session: { model: 'translate' }, expires_after: { anchor: 'created_at', seconds: 7200 } })
  })
  t.equal(secret.statusCode, 200)
  t.equal(await secret.body.text(), '{"value":"ek_translate","expires_at":1,"session":{}}')
  t.equal(upstream.posts[0]?.url, '/v1/realtime/translations/client_secrets')
  t.equal(upstream.posts[0]?.headers.authorization, 'Bearer sk-provider-0000')
  t.same(JSON.parse(String(upstream.posts[0]?.body)), { session: { model: 'gpt-realtime-translate', audio: { output: { language: 'fr' } } }, expires_after: { anchor: 'created_at', seconds: 120 } })

  const call = await request(`${base}/v1/realtime/translations/calls?model=translate`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\noffer' })
  t.equal(call.statusCode, 201)
  t.equal(call.headers.location, '/v1/realtime/translations/calls/rtc_t1', 'the provider\'s Location, under the translations path (#24 item 9)')
  t.equal(await call.body.text(), 'v=0\r\nanswer')
  const forwarded = upstream.posts[1]
  t.equal(forwarded?.url, '/v1/realtime/translations/calls')
  const form = await new Response(forwarded?.body, { headers: { 'content-type': String(forwarded?.headers['content-type']) } }).formData()
  t.equal(form.get('sdp'), 'v=0\r\noffer')
  t.same(JSON.parse(String(form.get('session'))), { model: 'gpt-realtime-translate', audio: { output: { language: 'fr' } } })
  t.same(sessions, [{ model: 'gpt-realtime-translate' }, { model: 'gpt-realtime-translate' }], 'onSession saw both, model rewritten')
  t.equal(upstream.requests.length, 0, 'no sideband: a translation reports no usage to read')

  for (const path of ['client_secrets', 'calls']) {
    const res = await request(`${base}/v1/realtime/translations/${path}?provider=bailian`, path === 'calls'
      ? { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' }
      : { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"session":{"model":"m"}}' })
    t.equal(res.statusCode, 400, path)
    t.equal(JSON.parse(await res.body.text()).code, 'FST_REALTIME_UNSUPPORTED_PROTOCOL')
  }
})
