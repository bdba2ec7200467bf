// The embedded simulator speaks OpenAI's GA realtime events: directly, through the plugin, and to the openai SDK.
import t from 'tap'
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'
import OpenAI from 'openai'
import { OpenAIRealtimeWS } from 'openai/realtime/ws'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { tone } from '../lib/simulator/audio.js'
import { nextMessage, open, refused, startProxy, type Tap } from './helpers.js'
import type { UsageRecord } from '../lib/index.js'

type Event = Record<string, any>

async function simulator (t: Tap, options = {}): Promise<RealtimeSimulator> {
  const sim = await RealtimeSimulator.start({ pace: 0, ...options })
  t.teardown(() => sim.close())
  return sim
}

async function client (t: Tap, sim: RealtimeSimulator, query = 'model=gpt-realtime') {
  const ws = await open(t, `${sim.url.replace('http', 'ws')}/realtime?${query}`)
  const next = async (): Promise<Event> => JSON.parse((await nextMessage(ws)).data.toString())
  const until = async (type: string): Promise<Event[]> => {
    const seen: Event[] = []
    for (;;) {
      const e = await next()
      seen.push(e)
      if (e.type === type) return seen
    }
  }
  const send = (event: object): void => ws.send(JSON.stringify(event))
  return { ws, next, until, send }
}

const pcm = (seconds: number): string => tone(seconds).toString('base64')
const silence = (seconds: number): string => Buffer.alloc(Math.round(seconds * 48000)).toString('base64')

t.test('session.created, session.update -> session.updated (merged)', async (t) => {
  const sim = await simulator(t)
  const c = await client(t, sim)
  const created = await c.next()
  t.match(created, { type: 'session.created', event_id: /^event_/, session: { type: 'realtime', object: 'realtime.session', model: 'gpt-realtime', audio: { output: { voice: 'alloy' }, input: { turn_detection: { type: 'server_vad' } } } } })
  c.send({ type: 'session.update', session: { type: 'realtime', instructions: 'Be brief.', audio: { output: { voice: 'marin' } } } })
  const updated = await c.next()
  t.match(updated, { type: 'session.updated', session: { instructions: 'Be brief.', audio: { output: { voice: 'marin', format: { type: 'audio/pcm', rate: 24000 } } } } })
  t.equal(sim.sessions, 1)
})

t.test('audio in, commit, transcription, response with real audio deltas and usage', async (t) => {
  const sim = await simulator(t)
  const c = await client(t, sim)
  await c.next()
  c.send({ type: 'session.update', session: { audio: { input: { turn_detection: null, transcription: { model: 'gpt-4o-transcribe' } } } } })
  await c.next()
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.5) })
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.7) })
  c.send({ type: 'input_audio_buffer.commit' })
  const committed = await c.until('conversation.item.input_audio_transcription.completed')
  t.same(committed.map((e) => e.type), ['input_audio_buffer.committed', 'conversation.item.added', 'conversation.item.done', 'conversation.item.input_audio_transcription.completed'])
  t.match(committed[3], { transcript: '[1.2 seconds of audio]', usage: { type: 'duration', seconds: 1.2 } })
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.2) })
  c.send({ type: 'input_audio_buffer.commit' })
  const second = await c.until('conversation.item.input_audio_transcription.completed')
  t.equal(second[0]?.previous_item_id, committed[0]?.item_id, 'items chain')
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.5) })
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.7) })
  c.send({ type: 'input_audio_buffer.commit' })
  await c.until('conversation.item.input_audio_transcription.completed')
  c.send({ type: 'response.create' })
  const events = await c.until('response.done')
  const types = events.map((e) => e.type)
  t.same(types.slice(0, 4), ['response.created', 'response.output_item.added', 'conversation.item.added', 'response.content_part.added'])
  t.same(types.slice(-5), ['response.output_audio.done', 'response.output_audio_transcript.done', 'response.content_part.done', 'response.output_item.done', 'response.done'])
  const audio = Buffer.concat(events.filter((e) => e.type === 'response.output_audio.delta').map((e) => Buffer.from(e.delta, 'base64')))
  t.equal(audio.length, 1.2 * 48000, 'the audio it heard comes back')
  t.equal(events.filter((e) => e.type === 'response.output_audio.delta')[0]?.delta.length, 6400, '100 ms per delta')
  const transcript = events.filter((e) => e.type === 'response.output_audio_transcript.delta').map((e) => e.delta).join('')
  t.equal(transcript, 'I heard 1.2 seconds of audio. Here it is back.')
  const done = events.at(-1) as Event
  t.match(done.response, { status: 'completed', output: [{ role: 'assistant', content: [{ type: 'output_audio', transcript }] }] })
  t.same(done.response.usage, {
    total_tokens: 26 + 24 + 12,
    input_tokens: 26,
    output_tokens: 24 + 12,
    input_token_details: { text_tokens: 0, audio_tokens: 26, image_tokens: 0, cached_tokens: 0, cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 } },
    output_token_details: { text_tokens: 12, audio_tokens: 24 }
  })
})

t.test('text items, text modality, cancel, clear, and errors of the real shape', async (t) => {
  const sim = await simulator(t, { pace: 0.5 })
  const c = await client(t, sim)
  await c.next()
  c.send({ type: 'response.create', response: { output_modalities: ['text'] } })
  t.equal((await c.until('response.done')).filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'Hello from the realtime simulator.')
  c.send({ type: 'conversation.item.create', item: { id: 'item_mine', type: 'message', role: 'assistant', content: 'not a list' } })
  t.equal((await c.until('conversation.item.done')).at(-1)?.item.id, 'item_mine')
  c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_audio', audio: '' }] } })
  await c.until('conversation.item.done')
  c.send({ type: 'response.create', response: { output_modalities: ['text'] } })
  t.equal((await c.until('response.done')).filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'Hello from the realtime simulator.', 'an item without text')
  c.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello there' }] } })
  t.same((await c.until('conversation.item.done')).map((e) => e.type), ['conversation.item.added', 'conversation.item.done'])
  c.send({ type: 'response.create', response: { output_modalities: ['text'] } })
  const text = await c.until('response.done')
  t.equal(text.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''), 'You said: hello there')
  t.equal(text.find((e) => e.type === 'response.output_text.done')?.text, 'You said: hello there')

  c.send({ type: 'response.create' })
  await c.until('response.output_audio.delta')
  c.send({ type: 'response.create' })
  t.match((await c.until('error')).at(-1), { type: 'error', error: { code: 'conversation_already_has_active_response' } })
  c.send({ type: 'response.cancel' })
  const cancelled = (await c.until('response.done')).at(-1) as Event
  t.match(cancelled.response, { status: 'cancelled', status_details: { type: 'cancelled', reason: 'client_cancelled' } })

  const errors: Array<[object | string, string]> = [
    [{ type: 'response.cancel', event_id: 'c1' }, 'response_cancel_not_active'],
    [{ type: 'nope' }, 'invalid_value'],
    ['not json', 'invalid_json'],
    ['null', 'invalid_json'],
    ['[1]', 'invalid_json'],
    [{ type: 'input_audio_buffer.commit' }, 'input_audio_buffer_commit_empty'],
    [{ type: 'input_audio_buffer.append', audio: '***' }, 'invalid_value'],
    [{ type: 'session.update' }, 'missing_required_parameter'],
    [{ type: 'session.update', session: { type: 'transcription' } }, 'invalid_value'],
    [{ type: 'conversation.item.create' }, 'missing_required_parameter']
  ]
  for (const [event, code] of errors) {
    c.ws.send(typeof event === 'string' ? event : JSON.stringify(event))
    const e = (await c.until('error')).at(-1) as Event
    t.match(e, { type: 'error', event_id: /^event_/, error: { type: 'invalid_request_error', code, message: /./ } }, code)
  }
  c.ws.send(Buffer.from('{}'), { binary: true })
  t.match((await c.until('error')).at(-1), { error: { code: 'invalid_json' } })
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.3) })
  c.send({ type: 'input_audio_buffer.clear' })
  t.equal((await c.until('input_audio_buffer.cleared')).at(-1)?.type, 'input_audio_buffer.cleared')
})

t.test('server VAD: speech, silence, then a committed turn and an answer; speech interrupts an answer', async (t) => {
  const sim = await simulator(t, { pace: 1 })
  const c = await client(t, sim)
  await c.next()
  c.send({ type: 'input_audio_buffer.append', audio: silence(0.2) })
  c.send({ type: 'input_audio_buffer.append', audio: '' }) // empty appends are fine
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.6) })
  c.send({ type: 'input_audio_buffer.append', audio: silence(0.6) })
  const turn = await c.until('response.output_audio.delta')
  t.same(turn.map((e) => e.type).slice(0, 6), ['input_audio_buffer.speech_started', 'input_audio_buffer.speech_stopped', 'input_audio_buffer.committed', 'conversation.item.added', 'conversation.item.done', 'response.created'])
  t.equal(turn[0]?.audio_start_ms, 200)
  t.equal(turn[1]?.audio_end_ms, 800)
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.2) })
  const interrupted = await c.until('response.done')
  t.equal(interrupted.at(-1)?.response.status, 'cancelled')
  t.ok(interrupted.some((e) => e.type === 'input_audio_buffer.speech_started'))
  // turn detection switched off, then on with only a type: the defaults apply
  c.send({ type: 'session.update', session: { audio: { input: { turn_detection: null } } } })
  await c.until('session.updated')
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.3) })
  c.send({ type: 'session.update', session: { audio: { input: { turn_detection: { type: 'server_vad' } } } } })
  await c.until('session.updated')
  c.send({ type: 'input_audio_buffer.append', audio: pcm(0.3) })
  for (let i = 0; i < 3; i++) c.send({ type: 'input_audio_buffer.append', audio: silence(0.2) }) // 20 ms frames in real life
  t.match((await c.until('input_audio_buffer.speech_stopped')).at(-1), { audio_end_ms: 2200 })
})

t.test('transcription sessions, apiKey, and refusals', async (t) => {
  const sim = await simulator(t, { apiKey: 'sk-sim-000000' })
  const base = sim.url.replace('http', 'ws')
  t.equal((await refused(t, `${base}/realtime?model=m`)).status, 401)
  t.equal((await refused(t, `${base}/other?model=m`, [], { headers: { authorization: 'Bearer sk-sim-000000' } })).status, 400)
  t.equal((await refused(t, `${base}/realtime`, [], { headers: { authorization: 'Bearer sk-sim-000000' } })).status, 400)
  const ws = await open(t, `${base}/realtime?intent=transcription`, [], { headers: { authorization: 'Bearer sk-sim-000000' } })
  t.match(JSON.parse((await nextMessage(ws)).data.toString()), { type: 'session.created', session: { type: 'transcription' } })
  ws.send('{"type":"response.create"}')
  t.match(JSON.parse((await nextMessage(ws)).data.toString()), { type: 'error', error: { message: 'Transcription sessions do not create responses.' } })
  const res = await fetch(sim.url)
  t.equal(res.status, 426)
})

t.test('type: "simulator" in the plugin, with the openai SDK and metering', async (t) => {
  const records: UsageRecord[] = []
  const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
  const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))
  const proxy = await startProxy(t, { providers: { simulator: {} }, onUsage: (r) => { records.push(r) } }, undefined, { https: { key, cert } })
  t.equal(proxy.app.realtime.providers.get('simulator')?.type, 'simulator')
  const openai = new OpenAI({ apiKey: 'anything', baseURL: `${proxy.url.replace('ws://', 'https://')}/v1` })
  const rt = new OpenAIRealtimeWS({ model: 'gpt-realtime', options: { ca: cert } }, openai)
  t.teardown(() => rt.close())
  const transcript: string[] = []
  rt.on('response.output_audio_transcript.delta', (e) => transcript.push(e.delta))
  const done = new Promise<Event>((resolve) => rt.on('response.done', resolve))
  await new Promise((resolve) => rt.socket.once('open', resolve))
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hi' }] } })
  rt.send({ type: 'response.create' })
  const event = await done
  t.equal(event.response.status, 'completed')
  t.equal(transcript.join(''), 'You said: hi')
  t.match(records, [{ kind: 'response', provider: 'simulator', model: 'gpt-realtime', outputTokens: event.response.usage.output_tokens }])
})

t.test('a raw ws client against a running simulator', async (t) => {
  const sim = await simulator(t)
  const ws = new WebSocket(`${sim.url.replace('http', 'ws')}/realtime?model=m`)
  t.teardown(() => ws.terminate())
  await new Promise((resolve) => ws.once('open', resolve))
  await sim.close()
  await new Promise((resolve) => ws.once('close', resolve))
  t.equal(sim.sessions, 0)
})
