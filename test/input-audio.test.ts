// Seconds of input audio from append events, at the format a session.update names; the simulator's translation
// session refusing what the provider refuses; measured billing beside the hooks that may drop or hold a frame.
import t from 'tap'
import { request, Response } from 'undici'
import type { UsageRecord } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { InputAudio } from '../lib/usage/input-audio.js'
import { Meter } from '../lib/usage/meter.js'
import { fakeUpstream, nextMessage, open, refused, startProxy, until } from './helpers.js'

const frame = (event: object, space?: number): Buffer => Buffer.from(JSON.stringify(event, null, space))
const audio = (bytes: number): string => Buffer.alloc(bytes, 7).toString('base64')

t.test('InputAudio: sizes from base64 with and without padding, formats GA and beta, events that are not appends', async (t) => {
  const meter = new InputAudio()
  for (const bytes of [48_000, 1, 2, 3]) meter.observe(frame({ type: 'input_audio_buffer.append', audio: audio(bytes) }))
  t.equal(meter.seconds, 48_006 / 48_000, 'padding counted out exactly')
  const spaced = new InputAudio()
  spaced.observe(frame({ type: 'session.input_audio_buffer.append', audio: audio(24_000) }, 2))
  spaced.observe(frame({ type: 'input_audio_buffer.append', audio: 7 }, 2))
  spaced.observe(frame({ type: 'something.else', note: 'input_audio_buffer.append"' }, 2))
  spaced.observe(Buffer.from('{"type":"input_audio_buffer.append","audio":"AAAA'))
  spaced.observe(Buffer.from('not json input_audio_buffer.append"'))
  t.equal(spaced.seconds, 0.5, 'only the real append counted')
  const formats = new InputAudio()
  const set = (session: object): void => formats.observe(frame({ type: 'session.update', session }))
  set({ audio: { input: { format: { type: 'audio/pcma' } } } })
  formats.observe(frame({ type: 'input_audio_buffer.append', audio: audio(8_000) })) // 1 s
  for (const ignored of [{ audio: { input: { format: { type: 'audio/opus' } } } }, { input_audio_format: 'opus' }, { audio: 'x' }, { audio: { input: 3 } }, {}]) set(ignored)
  formats.observe(frame({ type: 'session.update', session: 'nope' }))
  formats.observe(frame({ type: 'session.updated', session: { input_audio_format: 'pcm16' } }))
  formats.observe(frame({ type: 'input_audio_buffer.append', audio: audio(4_000) })) // still G.711: 0.5 s
  set({ input_audio_format: 'g711_ulaw' }) // same rate: nothing to fold
  set({ audio: { input: { format: { type: 'audio/pcm', rate: -1 } } } }) // no usable rate: 24 kHz
  formats.observe(frame({ type: 'input_audio_buffer.append', audio: audio(24_000) }))
  t.equal(formats.seconds, 2)
})

t.test('Meter: measured seconds are priced per minute, else per second of transcription, else not at all', async (t) => {
  const records: UsageRecord[] = []
  const meter = (pricing?: object): Meter => new Meter({ sessionId: 's', provider: 'p', model: 'm', billing: 'tokens', pricing: pricing as never, emit: (r) => records.push(r) })
  meter({ m: { perMinute: 0.6 } }).measured(30)
  meter({ m: { transcription: { perSecond: 0.01 } } }).measured(30)
  meter().measured(30)
  t.same(records.map((r) => r.costUSD), [0.3, 0.3, undefined])
  const seconds = meter()
  t.equal(seconds.reported, false)
  seconds.record({ kind: 'seconds', totalSeconds: 3, final: false })
  t.equal(seconds.reported, true)
})

t.test('the simulator\'s translation session refuses what the provider refuses', async (t) => {
  const sim = await RealtimeSimulator.start({ apiKey: 'sk-sim' })
  t.teardown(() => sim.close())
  const ws = (query: string): string => `${sim.url.replace('http:', 'ws:')}/realtime/translations${query}`
  t.equal((await refused(t, ws('?model=m'), [], { headers: { authorization: 'Bearer wrong' } })).status, 401)
  t.equal((await refused(t, ws(''), [], { headers: { authorization: 'Bearer sk-sim' } })).status, 400)
  const client = await open(t, ws('?model=m'), [], { headers: { authorization: 'Bearer sk-sim' } })
  const next = async (): Promise<Record<string, any>> => JSON.parse((await nextMessage(client)).data.toString())
  t.match(await next(), { type: 'session.created', session: { type: 'translation', model: 'm', audio: { output: { language: 'es' } } } })
  const refusals: Array<[string, string]> = [
    ['[1]', 'invalid_json'],
    ['not json', 'invalid_json'],
    ['{"type":"session.update","session":"x"}', 'invalid_value'],
    ['{"type":"session.update","event_id":"e1","session":{}}', 'invalid_value'],
    ['{"type":"session.input_audio_buffer.append","audio":"AA=="}', 'invalid_audio'],
    ['{"type":"session.input_audio_buffer.append"}', 'invalid_audio'],
    ['{"type":"response.create"}', 'invalid_event']
  ]
  for (const [event, code] of refusals) {
    client.send(event)
    t.match(await next(), { type: 'error', error: { code } }, code)
  }
  client.send('{"type":"session.update","session":{"audio":{"input":{"noise_reduction":{"type":"near_field"}},"output":{}}}}')
  t.match(await next(), { type: 'session.updated', session: { audio: { input: { noise_reduction: { type: 'near_field' }, transcription: null }, output: { language: 'es' } } } })
  client.send(JSON.stringify({ type: 'session.input_audio_buffer.append', audio: audio(4_800) })) // 100 ms: buffered
  client.send('{"type":"session.close"}')
  t.match(await next(), { type: 'session.output_audio.delta', elapsed_ms: 0 }, 'the buffered part flushed')
  t.match(await next(), { type: 'session.closed' })
  await new Promise((resolve) => client.once('close', resolve))
})

t.test('measured audio is what the app\'s policy let through, in order, also when it decides asynchronously', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url, apiKey: 'sk-provider' } },
    clientEvents: ['session.input_audio_buffer.append'],
    onClientEvent: async (event) => (event.drop === true ? null : undefined),
    onUsage: (r) => { records.push(r) }
  })
  const client = await open(t, `${proxy.url}/v1/realtime/translations?model=gpt-realtime-translate`)
  const provider = await upstream.next()
  client.send(JSON.stringify({ type: 'session.input_audio_buffer.append', audio: audio(48_000) }))
  client.send(JSON.stringify({ type: 'session.input_audio_buffer.append', audio: audio(48_000), drop: true }))
  client.send(Buffer.from('binary input_audio_buffer.append"'), { binary: true })
  await until(() => provider.frames.length === 2, 'the frames the policy let through')
  client.close()
  await until(() => records.length === 1, 'the record')
  t.equal((records[0] as { seconds: number }).seconds, 1, 'the dropped second and the binary frame are not billed')
})

t.test('GPT-Live create: a provider that cannot be reached is a 502 and gives its slot back', async (t) => {
  const proxy = await startProxy(t, { providers: { openai: { baseURL: 'http://127.0.0.1:9', apiKey: 'sk-provider' } }, live: true, signaling: true, maxSessions: 1 })
  const post = async (): Promise<number> => {
    const res = await request(`${proxy.url.replace('ws:', 'http:')}/v1/live/sessions`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"session":{"model":"gpt-live-1"},"transport":{"type":"webrtc","sdp":"v=0"}}'
    })
    await res.body.text()
    return res.statusCode
  }
  t.same([await post(), await post()], [502, 502], 'the second is not refused for a slot the first kept')
})

t.test('a translation call with no model and no onSession forwards the offer alone', async (t) => {
  const upstream = await fakeUpstream(t, { http: (req, res) => res.writeHead(201, { 'content-type': 'application/sdp' }).end('v=0\r\nanswer') })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url, apiKey: 'sk-provider' } }, signaling: true })
  const res = await request(`${proxy.url.replace('ws:', 'http:')}/v1/realtime/translations/calls`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\noffer' })
  t.equal(res.statusCode, 201)
  await res.body.text()
  const form = await new Response(upstream.posts[0]?.body, { headers: { 'content-type': String(upstream.posts[0]?.headers['content-type']) } }).formData()
  t.equal(form.get('session'), '{}')
})

t.test('a transcription session whose provider reports seconds: 0 is still billed by the audio it relayed (#24 item 11)', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url, apiKey: 'sk-provider' } },
    pricing: { 'gpt-4o-transcribe': { transcription: { perSecond: 0.0001 } } },
    onUsage: (r) => { records.push(r) }
  })
  const client = await open(t, `${proxy.url}/v1/realtime?intent=transcription&model=gpt-4o-transcribe`)
  const provider = await upstream.next()
  client.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: audio(96_000) })) // 2 s at 24 kHz
  await until(() => provider.frames.length === 1, 'the audio upstream')
  provider.socket.send('{"type":"conversation.item.input_audio_transcription.completed","item_id":"i1","transcript":"hi","usage":{"type":"duration","seconds":0}}')
  await nextMessage(client)
  client.close()
  await until(() => records.length === 2, 'the zero report and the measured audio')
  t.match(records[0], { kind: 'transcription', seconds: 0, costUSD: 0 })
  t.match(records[1], { kind: 'duration', seconds: 2, measuredFrom: 'input-audio', costUSD: 0.0002 })
})
