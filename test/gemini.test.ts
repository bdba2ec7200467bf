// The Gemini codec against a recording fake Gemini: where it dials and with what (the key in its header, never
// the URL), the setup built from the client's session.update, resampled audio (rate label and length), the
// server events an OpenAI client expects, a later session.update applied on a resumed connection with the
// messages Gemini had not consumed sent again, and errors for what has no Gemini equivalent.
import t from 'tap'
import { once } from 'node:events'
import type { IncomingMessage } from 'node:http'
import { connect as tcp } from 'node:net'
import WebSocket from 'ws'
import { closed, fakeUpstream, nextMessage, open, refused, startProxy, until, type FakeUpstream, type Proxy, type Tap, type UpstreamConnection } from './helpers.js'
import { tone } from '../lib/simulator/audio.js'
import { next, send } from './gemini-fake.js'

type Event = Record<string, any>
const KEY = 'AIzaSyTEST0123456789abcdefghijklmnopqrs'
const PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent'

/** A Gemini that answers every setup with setupComplete (JSON in a binary frame, as Gemini sends it). */
function gemini (ws: WebSocket, _req: IncomingMessage): void {
  ws.on('message', (data: Buffer) => {
    if (JSON.parse(data.toString()).setup !== undefined) send(ws, { setupComplete: {} })
  })
}
const received = (conn: UpstreamConnection): any[] => conn.frames.map((f) => JSON.parse(f.data.toString()))

async function collect (ws: WebSocket, until: string): Promise<Event[]> {
  const events: Event[] = []
  for (;;) {
    const event = JSON.parse((await nextMessage(ws)).data.toString())
    events.push(event)
    if (event.type === until) return events
  }
}

/** The summary logged when the session ended. */
async function summaryOf (proxy: Proxy): Promise<Event> {
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the session to end')
  return proxy.logs.lines.find((l) => l.msg === 'realtime session ended')?.summary as Event
}

async function proxyTo (t: Tap, extra: object = {}, options: object = {}): Promise<{ url: string, upstream: FakeUpstream, proxy: Proxy }> {
  const upstream = await fakeUpstream(t, { onConnection: gemini })
  const proxy = await startProxy(t, { providers: { gemini: { type: 'gemini', apiKey: KEY, baseURL: `${upstream.url}/some/path?x=1`, ...extra } }, ...options })
  return { url: `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`, upstream, proxy }
}

const FULL_UPDATE = {
  type: 'session.update',
  event_id: 'evt_1',
  session: {
    type: 'realtime',
    model: 'gemini/gemini-3.8-live',
    instructions: 'Answer briefly.',
    output_modalities: ['audio'],
    max_output_tokens: 512,
    audio: {
      input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-transcribe' }, turn_detection: { type: 'server_vad', prefix_padding_ms: 200, silence_duration_ms: 700, interrupt_response: false } },
      output: { format: { type: 'audio/pcm', rate: 24000 }, voice: 'marin' }
    },
    tools: [{ type: 'function', name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }]
  }
}

t.test('gemini: dials the BidiGenerateContent path on the base URL\'s host, the key in x-goog-api-key only; setup from the first session.update', async (t) => {
  const { url, upstream } = await proxyTo(t)
  const ws = await open(t, url, [], { headers: { 'x-goog-api-key': 'AIzaSyCLIENT0123456789abcdefghijklmnopq' } })
  const conn = await upstream.next()
  t.equal(conn.url, PATH, 'scheme and host from baseURL, its path and query replaced')
  t.equal(conn.headers['x-goog-api-key'], KEY, 'the app\'s key, not the client\'s')
  t.notOk(conn.url.includes('key'), 'no key in the URL')
  t.equal(conn.headers.authorization, undefined)
  const created = await next(ws)
  t.match(created, { type: 'session.created', event_id: /^event_/, session: { type: 'realtime', object: 'realtime.session', model: 'gemini/gemini-3.8-live', output_modalities: ['audio'], audio: { output: { voice: 'alloy' } } } })
  t.equal(conn.frames.length, 0, 'no setup before the client\'s session.update')

  ws.send(JSON.stringify(FULL_UPDATE))
  const updated = await next(ws)
  t.match(updated, { type: 'session.updated', session: { instructions: 'Answer briefly.', max_output_tokens: 512, audio: { output: { voice: 'marin' } } } })
  t.same(received(conn)[0], {
    setup: {
      model: 'models/gemini-3.8-live',
      generationConfig: { responseModalities: ['AUDIO'], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Aoede' } } }, maxOutputTokens: 512 },
      systemInstruction: { parts: [{ text: 'Answer briefly.' }] },
      tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }] }],
      realtimeInputConfig: { automaticActivityDetection: { disabled: false, prefixPaddingMs: 200, silenceDurationMs: 700 }, activityHandling: 'NO_INTERRUPTION' },
      inputAudioTranscription: {},
      outputAudioTranscription: {},
      sessionResumption: { transparent: true },
      contextWindowCompression: { slidingWindow: {} }
    }
  })
})

t.test('Gemini\'s own settings pass through session.gemini (a live-translate model\'s target language, proactivity); the model and resumption stay the codec\'s', async (t) => {
  const { ws, conn, upstream } = await configured(t, {
    gemini: { generationConfig: { translationConfig: { targetLanguageCode: 'fr' }, thinkingConfig: { thinkingBudget: 0 } }, proactivity: { proactiveAudio: true }, model: 'models/other', sessionResumption: { handle: 'forged' } }
  })
  const { setup } = received(conn)[0]
  t.same(setup.generationConfig, { responseModalities: ['AUDIO'], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Zephyr' } } }, translationConfig: { targetLanguageCode: 'fr' }, thinkingConfig: { thinkingBudget: 0 } })
  t.same(setup.proactivity, { proactiveAudio: true })
  t.equal(setup.model, 'models/gemini-3.8-live')
  t.same(setup.sessionResumption, { transparent: true })
  ws.send(JSON.stringify({ type: 'session.update', session: { gemini: { generationConfig: { translationConfig: { targetLanguageCode: 'de' } } } } }))
  const second = await upstream.next()
  await until(() => second.frames.length >= 1, 'the new setup')
  t.same(received(second)[0].setup.generationConfig.translationConfig, { targetLanguageCode: 'de' }, 'a new target language: a new setup on a resumed connection')
})

t.test('input audio: 24 kHz PCM16 resampled to 16 kHz, labelled audio/pcm;rate=16000, two thirds of the length, no aliasing', async (t) => {
  const { url, upstream } = await proxyTo(t)
  const ws = await open(t, url)
  const conn = await upstream.next()
  await next(ws, 'session.created')
  ws.send(JSON.stringify({ type: 'session.update', session: { type: 'realtime' } }))
  await next(ws, 'session.updated')
  // One second at 1 kHz, then one second at 10 kHz (above 16 kHz's Nyquist: must not fold back as 6 kHz).
  const low = tone(1, 1000)
  const high = tone(1, 10_000)
  for (const pcm of [low, high]) {
    for (let at = 0; at < pcm.length; at += 960) ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm.subarray(at, at + 960).toString('base64') }))
  }
  await until(() => conn.frames.length === 101, '100 audio frames')
  const audio = received(conn).slice(1).map((m) => m.realtimeInput.audio)
  t.ok(audio.every((a) => a.mimeType === 'audio/pcm;rate=16000'), 'rate label')
  const pcm = audio.map((a) => Buffer.from(a.data, 'base64'))
  const first = Buffer.concat(pcm.slice(0, 50))
  const second = Buffer.concat(pcm.slice(50))
  // 16 000 samples a second, less the filter's delay (64 samples) still inside the filter.
  t.equal(first.length, 2 * (16_000 - 64), '1 s in, 1 s out (less the filter delay)')
  t.equal(second.length, 2 * 16_000, 'the next second in full')
  const rms = (b: Buffer, from: number, to: number): number => {
    let sum = 0
    for (let i = from; i < to; i++) sum += b.readInt16LE(i * 2) ** 2
    return Math.sqrt(sum / (to - from))
  }
  const inputRms = rms(low, 2400, 21_600)
  t.ok(Math.abs(20 * Math.log10(rms(first, 1600, 14_400) / inputRms)) < 0.5, '1 kHz passes within 0.5 dB')
  t.ok(20 * Math.log10(rms(second, 1600, 14_400) / inputRms) < -60, '10 kHz is attenuated by more than 60 dB')
})

t.test('a split sample and an oversized frame: every byte accounted for', async (t) => {
  const { url, upstream } = await proxyTo(t)
  const ws = await open(t, url)
  const conn = await upstream.next()
  ws.send(JSON.stringify({ type: 'session.update', session: {} }))
  await next(ws, 'session.updated')
  const pcm = tone(2, 500) // 96 000 bytes: one frame longer than a resampler pass
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm.subarray(0, 4801).toString('base64') }))
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm.subarray(4801).toString('base64') }))
  await until(() => conn.frames.length === 3, 'two audio frames')
  const out = received(conn).slice(1).map((m) => Buffer.from(m.realtimeInput.audio.data, 'base64').length)
  t.equal(out[0] as number % 2, 0, 'whole samples only')
  t.equal((out[0] as number) + (out[1] as number), 2 * (32_000 - 64), 'the odd byte joined the next frame')
})

t.test('server events: a spoken answer as OpenAI sends it, usage from usageMetadata, the user\'s transcript before response.done', async (t) => {
  const records: Event[] = []
  const { url, upstream, proxy } = await proxyTo(t, {}, {
    pricing: { 'gemini/gemini-3.8-live': { input: { text: 1, audio: 3, cached: 0 }, output: { text: 2, audio: 12 } } },
    onUsage: (record: Event) => { records.push(record) }
  })
  const ws = await open(t, url)
  const conn = await upstream.next()
  await next(ws, 'session.created')
  ws.send(JSON.stringify({ type: 'session.update', session: { audio: { input: { transcription: { model: 'x' } } } } }))
  await next(ws, 'session.updated')
  const g = conn.socket
  send(g, { serverContent: { inputTranscription: { text: 'What is ' } } })
  send(g, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'AAAA' } }, { text: 'thinking', thought: true }] } } })
  send(g, { serverContent: { inputTranscription: { text: 'the time?' }, outputTranscription: { text: 'It is ' } } })
  send(g, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'BBBB' } }] }, outputTranscription: { text: 'noon.' } } })
  send(g, { serverContent: { generationComplete: true } })
  send(g, { usageMetadata: { promptTokenCount: 1, responseTokenCount: 1, totalTokenCount: 2 } }) // superseded: the turn's last report counts
  send(g, { serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 100, cachedContentTokenCount: 10, responseTokenCount: 30, thoughtsTokenCount: 5, totalTokenCount: 135, promptTokensDetails: [{ modality: 'TEXT', tokenCount: 40 }, { modality: 'AUDIO', tokenCount: 60 }], responseTokensDetails: [{ modality: 'AUDIO', tokenCount: 30 }] } })
  const events = await collect(ws, 'response.done')
  t.same(events.map((e) => e.type), [
    'input_audio_buffer.committed', 'conversation.item.added', 'conversation.item.done',
    'conversation.item.input_audio_transcription.delta',
    'response.created', 'response.output_item.added', 'conversation.item.added', 'response.content_part.added', 'response.output_audio.delta',
    'conversation.item.input_audio_transcription.delta', 'response.output_audio_transcript.delta',
    'response.output_audio.delta', 'response.output_audio_transcript.delta',
    'response.output_audio.done', 'response.output_audio_transcript.done', 'response.content_part.done', 'response.output_item.done', 'conversation.item.done',
    'conversation.item.input_audio_transcription.completed', 'response.done'
  ])
  const user = events[0]?.item_id
  t.match(events[18], { item_id: user, transcript: 'What is the time?' })
  const response = events.at(-1)?.response
  t.equal(events[14]?.transcript, 'It is noon.')
  t.match(response, { status: 'completed', output: [{ type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_audio', transcript: 'It is noon.' }] }] })
  t.same(response.usage, {
    total_tokens: 135,
    input_tokens: 100,
    output_tokens: 35,
    input_token_details: { text_tokens: 40, audio_tokens: 60, image_tokens: 0, cached_tokens: 10 },
    output_token_details: { text_tokens: 5, audio_tokens: 30 }
  })
  t.ok(events.every((e, i) => i === 0 || typeof e.event_id === 'string'))
  ws.close()
  const summary = await summaryOf(proxy)
  t.match(summary.usage, { responses: 1, inputTokens: 100, outputTokens: 35, input: { text: 40, audio: 60, cached: 10 }, output: { text: 5, audio: 30 } })
  // 30 text (40 less 10 cached at 0) x1 + 60 audio x3 + 5 text x2 + 30 audio x12, per million
  t.equal(summary.usage.costUSD, (30 * 1 + 60 * 3 + 5 * 2 + 30 * 12) / 1e6)
  t.equal(summary.reconnects, 0)
  t.equal(records.length, 1, 'one record for the turn')
  t.match(records[0], { kind: 'response', provider: 'gemini', model: 'gemini-3.8-live', inputTokens: 100, outputTokens: 35, costUSD: summary.usage.costUSD })
})

const append = (ws: WebSocket, pcm: Buffer): void => ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm.toString('base64') }))
const FRAME = tone(0.02, 300) // 20 ms at 24 kHz

/** Opens a client and configures it; resolves with the client and the first upstream connection. */
async function configured (t: Tap, session: object = {}, extra: object = {}, options: object = {}): Promise<{ ws: WebSocket, conn: UpstreamConnection, upstream: FakeUpstream, proxy: Proxy }> {
  const { url, upstream, proxy } = await proxyTo(t, extra, options)
  const ws = await open(t, url)
  const conn = await upstream.next()
  await next(ws, 'session.created')
  ws.send(JSON.stringify({ type: 'session.update', session }))
  await next(ws, 'session.updated')
  return { ws, conn, upstream, proxy }
}

t.test('a later session.update: the same setup is answered at once; a new voice resumes on a new connection with the handle, and what Gemini had not consumed is sent again', async (t) => {
  const { ws, conn, upstream, proxy } = await configured(t, { instructions: 'Be brief.' })
  ws.send(JSON.stringify({ type: 'session.update', session: { tracing: 'auto' } }))
  t.match(await next(ws), { type: 'session.updated', session: { instructions: 'Be brief.', tracing: 'auto' } }, 'nothing Gemini sees changed: no reconnect')
  for (let i = 0; i < 3; i++) append(ws, FRAME)
  await until(() => conn.frames.length === 4, 'three audio frames')
  // Gemini has consumed the first two (indexes 1 and 2: the setup is 0).
  send(conn.socket, { sessionResumptionUpdate: { newHandle: 'handle-1', resumable: true, lastConsumedClientMessageIndex: '2' } })
  await new Promise((resolve) => setTimeout(resolve, 20))
  ws.send(JSON.stringify({ type: 'session.update', session: { audio: { output: { voice: 'shimmer' } } } }))
  const second = await upstream.next()
  t.same(await conn.closed, { code: 1000, reason: 'resumed on a new connection' })
  const updated = await next(ws)
  t.match(updated, { type: 'session.updated', session: { instructions: 'Be brief.', audio: { output: { voice: 'shimmer' } } } }, 'after the new connection\'s setupComplete')
  append(ws, FRAME)
  await until(() => second.frames.length === 3, 'setup, the resent frame, the new frame')
  const frames = received(second)
  t.match(frames[0], { setup: { generationConfig: { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Leda' } } } }, systemInstruction: { parts: [{ text: 'Be brief.' }] }, sessionResumption: { handle: 'handle-1', transparent: true } } })
  t.same(frames[1], received(conn)[3], 'the third frame, which Gemini had not consumed, again')
  t.equal(frames[2].realtimeInput.audio.mimeType, 'audio/pcm;rate=16000')
  t.equal(second.url, conn.url)
  t.equal(second.headers['x-goog-api-key'], KEY)
  ws.close()
  t.equal((await summaryOf(proxy)).reconnects, 1)
})

t.test('goAway during a model turn: the new connection waits for the turn to end and for a handle that covers it', async (t) => {
  const { ws, conn, upstream } = await configured(t)
  const g = conn.socket
  send(g, { sessionResumptionUpdate: { newHandle: 'h-before', resumable: true, lastConsumedClientMessageIndex: '0' } })
  send(g, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'AAAA' } }] } } })
  send(g, { goAway: { timeLeft: '50s' } })
  await next(ws, 'response.output_audio.delta')
  send(g, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'BBBB' } }] } } })
  t.match(await next(ws, 'response.output_audio.delta'), { delta: 'BBBB' }, 'the turn goes on on the old connection')
  send(g, { serverContent: { turnComplete: true } })
  await next(ws, 'response.done')
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(upstream.connections.length, 1, 'the handle before the turn would lose it: still one connection')
  send(g, { sessionResumptionUpdate: { newHandle: 'h-after', resumable: false } })
  await new Promise((resolve) => setTimeout(resolve, 30))
  t.equal(upstream.connections.length, 1, 'a handle that is not resumable is not taken')
  send(g, { sessionResumptionUpdate: { newHandle: 'h-after', resumable: true, lastConsumedClientMessageIndex: '0' } })
  const second = await upstream.next()
  await until(() => second.frames.length === 1, 'the setup')
  t.match(received(second)[0], { setup: { sessionResumption: { handle: 'h-after' } } })
})

t.test('a connection that drops while resumable: the turn ends incomplete, a new connection resumes, and the session goes on', async (t) => {
  const { ws, conn, upstream, proxy } = await configured(t)
  send(conn.socket, { sessionResumptionUpdate: { newHandle: 'h-1', resumable: true, lastConsumedClientMessageIndex: '0' } })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'AAAA' } }] } } })
  await next(ws, 'response.output_audio.delta')
  conn.socket.terminate()
  const done = await next(ws, 'response.done')
  t.match(done.response, { status: 'incomplete', status_details: { type: 'incomplete' }, output: [{ status: 'incomplete' }] })
  const second = await upstream.next()
  await until(() => second.frames.length === 1, 'the setup')
  t.match(received(second)[0], { setup: { sessionResumption: { handle: 'h-1' } } })
  send(second.socket, { serverContent: { modelTurn: { parts: [{ text: 'ignored in an audio session' }] }, outputTranscription: { text: 'Still here.' } } })
  t.match(await next(ws, 'response.output_audio_transcript.delta'), { delta: 'Still here.' })
  // Three more drops in a row without a finished turn: the session is given up.
  for (let i = 0; i < 3; i++) {
    const current = upstream.connections.at(-1) as UpstreamConnection
    await until(() => current.frames.length >= 1, 'a setup')
    current.socket.terminate()
    if (i < 2) await upstream.next()
  }
  const error = await next(ws, 'error')
  t.match(error.error, { code: 'provider_closed', message: /^Gemini closed the session \(1006\)/ })
  t.equal((await closed(ws)).code, 1011, '1006 is not sendable: the client gets 1011')
  t.equal((await summaryOf(proxy)).reconnects, 3)
})

t.test('a close Gemini would repeat (1007, 1008) ends the session: an error event naming it, then the same code', async (t) => {
  for (const [code, reason] of [[1007, 'Request contains an invalid argument.'], [1008, 'session not found']] as const) {
    await t.test(String(code), async (t) => {
      const { ws, conn } = await configured(t)
      send(conn.socket, { sessionResumptionUpdate: { newHandle: 'h-1', resumable: true } })
      await new Promise((resolve) => setTimeout(resolve, 20))
      conn.socket.close(code, reason)
      const error = await next(ws, 'error')
      t.same(error.error, { type: 'invalid_request_error', code: 'provider_closed', message: `Gemini closed the session (${code}: ${reason})`, param: null, event_id: null })
      t.same(await closed(ws), { code, reason })
    })
  }
})

t.test('client events without a Gemini equivalent get an error event each, never silence; nothing reaches Gemini', async (t) => {
  const { ws, conn } = await configured(t)
  const cases: Array<[object | string, string, RegExp]> = [
    [{ type: 'response.cancel', event_id: 'e1' }, 'unsupported_event', /^response\.cancel is not available through Gemini Live: Gemini Live cannot cancel/],
    [{ type: 'input_audio_buffer.clear', event_id: 'e2' }, 'unsupported_event', /no buffer to clear/],
    [{ type: 'conversation.item.truncate' }, 'unsupported_event', /truncatable/],
    [{ type: 'conversation.item.delete' }, 'unsupported_event', /cannot delete/],
    [{ type: 'conversation.item.retrieve' }, 'unsupported_event', /cannot return/],
    [{ type: 'output_audio_buffer.clear' }, 'unsupported_event', /WebRTC/],
    [{ type: 'transcription_session.update' }, 'unsupported_event', /Gemini Live has no equivalent/],
    ['not json', 'invalid_event', /JSON object with a string "type"/],
    [{ type: 'session.update' }, 'invalid_value', /needs a "session" object/],
    [{ type: 'session.update', session: { model: 'gpt-realtime' } }, 'invalid_value', /model cannot change/],
    [{ type: 'session.update', session: { type: 'transcription' } }, 'invalid_value', /session\.type "transcription" is not available/],
    [{ type: 'session.update', session: { audio: { input: { format: { type: 'audio/pcmu' } } } } }, 'invalid_value', /24 kHz PCM16 input/],
    [{ type: 'session.update', session: { audio: { output: { format: { type: 'audio/pcm', rate: 16000 } } } } }, 'invalid_value', /answers in 24 kHz/],
    [{ type: 'input_audio_buffer.append' }, 'invalid_value', /base64 "audio"/],
    [{ type: 'input_audio_buffer.commit', event_id: 'e3' }, 'input_audio_buffer_commit_empty', /buffer is empty/],
    [{ type: 'conversation.item.create' }, 'invalid_value', /needs an "item" object/],
    [{ type: 'conversation.item.create', item: { type: 'message', role: 'system', content: [{ type: 'input_text', text: 'x' }] } }, 'unsupported_event', /^system messages cannot be added/],
    [{ type: 'conversation.item.create', item: { type: 'function_call', name: 'f' } }, 'unsupported_event', /^function_call items cannot be added/],
    [{ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_audio', audio: 'AAAA' }] } }, 'unsupported_event', /Only text content/],
    [{ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'call_nope', output: '{}' } }, 'invalid_value', /No function call with call_id "call_nope"/],
    [{ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 7, output: '{}' } }, 'invalid_value', /No function call with call_id 7/],
    [{ type: 'conversation.item.create', item: { type: 'message', role: 'user' } }, 'unsupported_event', /Only text content/],
    [{ type: 'session.update', session: { audio: null } }, 'invalid_value', /session\.audio, audio\.input and audio\.output must be objects/],
    [{ type: 'session.update', session: { audio: { input: [] } } }, 'invalid_value', /must be objects/]
  ]
  for (const [event, code, message] of cases) {
    ws.send(typeof event === 'string' ? event : JSON.stringify(event))
    const error = await next(ws)
    t.match(error, { type: 'error', error: { type: 'invalid_request_error', code, message } }, typeof event === 'string' ? event : JSON.stringify(event))
    if (typeof event !== 'string' && 'event_id' in event) t.equal(error.error.event_id, event.event_id)
  }
  ws.send(JSON.stringify({ type: 'session.update', session: { audio: { input: { noise_reduction: { type: 'near_field' } }, output: { speed: 1.2 } }, tool_choice: 'required', prompt: { id: 'pmpt_1' }, tools: [{ type: 'mcp', server_label: 'x' }] } }))
  const notes = [await next(ws), await next(ws), await next(ws), await next(ws), await next(ws)]
  t.same(notes.map((e) => e.error.code), ['unsupported_setting', 'unsupported_setting', 'unsupported_setting', 'unsupported_setting', 'unsupported_setting'])
  t.match(notes.map((e) => e.error.message), [/noise_reduction/, /speed/, /tool_choice/, /stored prompts/, /only function tools/])
  t.match(await next(ws), { type: 'session.updated' }, 'the rest is applied')
  ws.send(JSON.stringify({ type: 'session.update', session: { tools: null, tool_choice: 'auto', prompt: null, audio: { input: { noise_reduction: null }, output: { speed: 1 } } } }))
  t.match(await next(ws), { type: 'session.updated', session: { tools: null } }, 'no tools: none declared, nothing to note')
  t.equal(conn.frames.length, 1, 'Gemini saw only the setup')
})

t.test('manual turns (turn_detection null): activityStart before the audio, activityEnd on commit; response.create asks Gemini to speak only when nothing is pending', async (t) => {
  const { ws, conn } = await configured(t, { audio: { input: { turn_detection: null } } })
  t.match(received(conn)[0].setup.realtimeInputConfig, { automaticActivityDetection: { disabled: true } })
  append(ws, FRAME)
  append(ws, FRAME)
  ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }))
  const committed = await next(ws)
  t.match(committed, { type: 'input_audio_buffer.committed', previous_item_id: null, item_id: /^item_/ })
  t.match(await next(ws), { type: 'conversation.item.added', item: { id: committed.item_id, role: 'user', content: [{ type: 'input_audio', transcript: null }] } })
  await next(ws, 'conversation.item.done')
  ws.send(JSON.stringify({ type: 'response.create' }))
  await until(() => conn.frames.length === 6, 'activityStart, two frames, the resampler\'s tail, activityEnd')
  await new Promise((resolve) => setTimeout(resolve, 20))
  const frames = received(conn)
  t.same(frames[1], { realtimeInput: { activityStart: {} } })
  t.equal(frames[2].realtimeInput.audio.mimeType, 'audio/pcm;rate=16000')
  const sent = [2, 3, 4].reduce((sum, i) => sum + Buffer.from(frames[i].realtimeInput.audio.data, 'base64').length, 0)
  t.equal(sent, 2 * FRAME.length * 2 / 3, 'the commit flushes what the resampler held: 40 ms at 24 kHz is exactly 40 ms at 16 kHz (#24 item 5)')
  t.same(frames[5], { realtimeInput: { activityEnd: {} } })
  t.equal(frames.length, 6, 'response.create after a committed turn: Gemini answers by itself')
  // A turn that ends lets response.create ask again.
  send(conn.socket, { serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 3, responseTokenCount: 0 } })
  t.match((await next(ws, 'response.done')).response, { status: 'completed', output: [], usage: { input_tokens: 3, output_tokens: 0 } }, 'a turn with usage and no output is still billed')
  ws.send(JSON.stringify({ type: 'response.create', response: { instructions: 'shout' } }))
  t.match(await next(ws), { type: 'error', error: { code: 'unsupported_setting', message: /Per-response settings/ } })
  await until(() => conn.frames.length === 7, 'a turn request')
  t.same(received(conn)[6], { clientContent: { turns: [], turnComplete: true } })
  ws.send(JSON.stringify({ type: 'response.create' }))
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.equal(conn.frames.length, 7, 'already asked')
})

t.test('server VAD: commit sends audioStreamEnd; semantic_vad maps to Gemini\'s detector by eagerness', async (t) => {
  const { ws, conn, upstream } = await configured(t, { audio: { input: { turn_detection: { type: 'semantic_vad', eagerness: 'high', interrupt_response: true } } } })
  t.same(received(conn)[0].setup.realtimeInputConfig, { automaticActivityDetection: { disabled: false, endOfSpeechSensitivity: 'END_SENSITIVITY_HIGH' } })
  append(ws, FRAME)
  ws.send(JSON.stringify({ type: 'input_audio_buffer.commit' }))
  await next(ws, 'input_audio_buffer.committed')
  await until(() => conn.frames.length === 4, 'audio, the resampler\'s tail and its end')
  t.same(received(conn)[3], { realtimeInput: { audioStreamEnd: true } })
  ws.send(JSON.stringify({ type: 'session.update', session: { audio: { input: { turn_detection: { type: 'semantic_vad', eagerness: 'low' } } } } }))
  const second = await upstream.next()
  await until(() => second.frames.length >= 1, 'the new setup')
  t.same(received(second)[0].setup.realtimeInputConfig, { automaticActivityDetection: { disabled: false, endOfSpeechSensitivity: 'END_SENSITIVITY_LOW' } }, 'no turn yet and no handle: a new session, nothing lost')
  t.same(received(second).slice(1), received(conn).slice(1), 'the audio and its end, sent again')
})

t.test('text sessions: TEXT modality, text deltas and done events, a text content part', async (t) => {
  const { ws, conn } = await configured(t, { output_modalities: ['text'] })
  const { setup } = received(conn)[0]
  t.same(setup.generationConfig, { responseModalities: ['TEXT'] })
  t.equal(setup.outputAudioTranscription, undefined)
  ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Earlier answer.' }] } }))
  ws.send(JSON.stringify({ type: 'conversation.item.create', item: { id: 'item_mine', type: 'message', role: 'user', content: [{ type: 'input_text', text: 'Hello' }, { type: 'input_text', text: 'there' }] } }))
  await until(() => conn.frames.length === 3, 'two items')
  t.same(received(conn).slice(1), [
    { clientContent: { turns: [{ role: 'model', parts: [{ text: 'Earlier answer.' }] }], turnComplete: false } },
    { clientContent: { turns: [{ role: 'user', parts: [{ text: 'Hello' }, { text: 'there' }] }], turnComplete: true } }
  ])
  const added = await collect(ws, 'conversation.item.done')
  t.match(added, [{ type: 'conversation.item.added', item: { role: 'assistant', status: 'completed' } }, { type: 'conversation.item.done' }])
  const mine = await collect(ws, 'conversation.item.done')
  t.match(mine[0], { previous_item_id: added[0]?.item.id, item: { id: 'item_mine' } })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ text: 'Hi ' }, { text: 'you.' }] } } })
  send(conn.socket, { serverContent: { turnComplete: true } })
  const events = await collect(ws, 'response.done')
  t.same(events.map((e) => e.type), ['response.created', 'response.output_item.added', 'conversation.item.added', 'response.content_part.added', 'response.output_text.delta', 'response.output_text.delta', 'response.output_text.done', 'response.content_part.done', 'response.output_item.done', 'conversation.item.done', 'response.done'])
  t.match(events[3], { part: { type: 'text', text: '' } })
  t.match(events[6], { text: 'Hi you.' })
  t.match(events[2], { previous_item_id: 'item_mine' })
  t.match(events.at(-1)?.response, { output_modalities: ['text'], usage: null, output: [{ content: [{ type: 'output_text', text: 'Hi you.' }] }] })
})

t.test('function calls: a toolCall becomes function_call items and response.done; function_call_output goes back as toolResponse with the call\'s name', async (t) => {
  const { ws, conn } = await configured(t, { tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }] })
  send(conn.socket, { serverContent: { outputTranscription: { text: 'Let me check.' } } })
  send(conn.socket, { toolCall: { functionCalls: [{ id: 'fc_1', name: 'get_weather', args: { city: 'Paris' } }, { id: 'fc_2', name: 'get_time' }] } })
  const events = await collect(ws, 'response.done')
  t.same(events.map((e) => e.type), [
    'response.created', 'response.output_item.added', 'conversation.item.added', 'response.content_part.added', 'response.output_audio_transcript.delta',
    'response.output_audio.done', 'response.output_audio_transcript.done', 'response.content_part.done', 'response.output_item.done', 'conversation.item.done',
    'response.output_item.added', 'conversation.item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done', 'conversation.item.done',
    'response.output_item.added', 'conversation.item.added', 'response.function_call_arguments.delta', 'response.function_call_arguments.done', 'response.output_item.done', 'conversation.item.done',
    'response.done'
  ])
  t.match(events[10], { output_index: 1, item: { type: 'function_call', name: 'get_weather', call_id: 'fc_1', arguments: '', status: 'in_progress' } })
  t.match(events[13], { output_index: 1, call_id: 'fc_1', name: 'get_weather', arguments: '{"city":"Paris"}' })
  t.match(events[19], { output_index: 2, call_id: 'fc_2', name: 'get_time', arguments: '{}' })
  t.match(events.at(-1)?.response.output, [{ type: 'message' }, { type: 'function_call', call_id: 'fc_1', status: 'completed', arguments: '{"city":"Paris"}' }, { type: 'function_call', call_id: 'fc_2' }])
  ws.send(JSON.stringify({ type: 'conversation.item.create', item: { id: 'item_out', type: 'function_call_output', call_id: 'fc_1', output: '{"temperature":21}' } }))
  ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'fc_2', output: 'noon' } }))
  ws.send(JSON.stringify({ type: 'response.create' }))
  await until(() => conn.frames.length === 3, 'two tool responses')
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(received(conn).slice(1), [
    { toolResponse: { functionResponses: [{ name: 'get_weather', response: { temperature: 21 }, id: 'fc_1' }] } },
    { toolResponse: { functionResponses: [{ name: 'get_time', response: { output: 'noon' }, id: 'fc_2' }] } }
  ], 'an object as is, anything else wrapped; response.create adds nothing (Gemini goes on by itself)')
  t.match(await next(ws, 'conversation.item.added'), { item: { id: 'item_out', type: 'function_call_output', call_id: 'fc_1' } })
  ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: 'fc_1', output: '{}' } }))
  t.match(await next(ws, 'error'), { error: { code: 'invalid_value', message: /No function call with call_id "fc_1"/ } }, 'a call is answered once')
})

t.test('interruption, cancelled calls, voice activity, unknown and malformed messages', async (t) => {
  const { ws, conn, proxy } = await configured(t)
  const g = conn.socket
  send(g, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'AAAA' } }] } } })
  send(g, { serverContent: { interrupted: true } })
  send(g, { serverContent: { turnComplete: true, turnCompleteReason: 'INTERRUPTED', waitingForInput: true } })
  const events = await collect(ws, 'response.done')
  const types = events.map((e) => e.type)
  t.same(types.slice(-4), ['response.output_item.done', 'conversation.item.done', 'input_audio_buffer.speech_started', 'response.done'])
  t.notOk(types.includes('response.output_audio.done'), 'an interrupted item is not completed')
  t.match(events.at(-1)?.response, { status: 'cancelled', status_details: { type: 'cancelled', reason: 'turn_detected' }, output: [{ status: 'incomplete' }] })
  send(g, { toolCallCancellation: { ids: ['fc_9'] } })
  t.match(await next(ws), { type: 'error', error: { code: 'function_call_cancelled', message: /fc_9/ } })
  send(g, { voiceActivity: { type: 'ACTIVITY_START' } })
  t.match(await next(ws), { type: 'input_audio_buffer.speech_started', item_id: /^item_/ })
  send(g, { voiceActivity: { type: 'ACTIVITY_END' } })
  t.match(await next(ws), { type: 'input_audio_buffer.speech_stopped' })
  send(g, { somethingNew: { x: 1 } })
  send(g, { somethingNew: { x: 2 } })
  send(g, { serverContent: { newField: 1 } })
  t.match(await next(ws), { type: 'error', error: { code: 'unmapped_provider_event', message: 'Gemini sent "somethingNew", which has no OpenAI equivalent; it was not relayed' } })
  t.match(await next(ws), { type: 'error', error: { code: 'unmapped_provider_event', message: /"serverContent\.newField"/ } }, 'each unknown kind once')
  send(g, { toolCall: 5 })
  t.match(await next(ws), { type: 'error', error: { code: 'unmapped_provider_event', message: /"toolCall"/ } }, 'a malformed message is named, not dropped')
  send(g, { voiceActivity: { type: 'ACTIVITY_MAYBE' } })
  t.match(await next(ws), { type: 'error', error: { message: /"voiceActivity ACTIVITY_MAYBE"/ } })
  send(g, { serverContent: { turnComplete: true } })
  send(g, { toolCall: {}, usageMetadata: { promptTokenCount: 4, promptTokensDetails: [null, { tokenCount: 9 }, { modality: 'AUDIO', tokenCount: 1 }] } })
  const empty = await collect(ws, 'response.done')
  t.same(empty.map((e) => e.type), ['input_audio_buffer.committed', 'conversation.item.added', 'conversation.item.done', 'response.created', 'response.done'],
    'a turn that ends with nothing sends nothing; a tool call with no calls ends its response, after the user\'s turn Gemini heard speech in')
  t.same(empty[4]?.response.usage.input_token_details, { text_tokens: 3, audio_tokens: 1, image_tokens: 0, cached_tokens: 0 }, 'details without a modality are skipped')
  send(g, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm', data: 'CCCC' } }] } } })
  t.match(await next(ws, 'response.output_audio.delta'), { delta: 'CCCC' }, 'no rate named: 24 kHz, as is')
  g.send('not json')
  g.send('[1]')
  send(g, { serverContent: { outputTranscription: { text: 'fine' } } })
  t.match(await next(ws, 'response.output_audio_transcript.delta'), { delta: 'fine' }, 'the session goes on')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'Gemini sent a frame that is not a JSON object; ignored').length, 1, 'one line per cause per session (#23 item 19)')
})

t.test('no session.update within startTimeout: the setup goes with OpenAI\'s defaults; audio sent meanwhile follows it', async (t) => {
  const { url, upstream, proxy } = await proxyTo(t, { startTimeout: 50 })
  const ws = await open(t, url)
  const conn = await upstream.next()
  await next(ws, 'session.created')
  append(ws, FRAME)
  await until(() => conn.frames.length === 2, 'the setup, then the audio')
  t.same(received(conn)[0], {
    setup: {
      model: 'models/gemini-3.8-live',
      generationConfig: { responseModalities: ['AUDIO'], speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Zephyr' } } } },
      realtimeInputConfig: { automaticActivityDetection: { disabled: false, prefixPaddingMs: 300, silenceDurationMs: 500 } },
      outputAudioTranscription: {},
      sessionResumption: { transparent: true },
      contextWindowCompression: { slidingWindow: {} }
    }
  })
  t.ok(received(conn)[1].realtimeInput.audio)
  t.ok(proxy.logs.lines.some((l) => l.msg === 'no session.update before startTimeout; Gemini setup sent with defaults' && l.startTimeout === 50))
  ws.send(JSON.stringify({ type: 'session.update', session: { audio: { output: { voice: 'Puck' } } } }))
  const second = await upstream.next()
  await until(() => second.frames.length >= 1, 'the new setup')
  t.equal(received(second)[0].setup.generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName, 'Puck', 'a Gemini voice name passes through')
  t.match(await next(ws, 'session.updated'), { session: { audio: { output: { voice: 'Puck' } } } })
})

t.test('model audio at another rate is converted to the 24 kHz OpenAI clients play', async (t) => {
  const { ws, conn } = await configured(t)
  const pcm16k = Buffer.alloc(3200) // 100 ms of 16 kHz
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=16000', data: pcm16k.toString('base64') } }] } } })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=16000', data: pcm16k.toString('base64') } }] } } })
  const a = Buffer.from((await next(ws, 'response.output_audio.delta')).delta, 'base64')
  const b = Buffer.from((await next(ws, 'response.output_audio.delta')).delta, 'base64')
  t.equal(a.length + b.length, 2 * (4800 - 96), '200 ms at 24 kHz, less the filter delay')
})

t.test('vertex: regional URL, Bearer from the apiKey function (read again for each connection), the model\'s resource name, no id in function responses, candidatesTokenCount', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: gemini })
  let issued = 0
  const proxy = await startProxy(t, {
    providers: {
      vertex: { type: 'vertex', project: 'my-project-123', location: 'europe-west4', baseURL: upstream.url, apiKey: async () => `ya29.token-number-${++issued}` }
    }
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=vertex/gemini-live-2.5-flash-native-audio`)
  const conn = await upstream.next()
  t.equal(conn.url, '/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent')
  t.equal(conn.headers.authorization, 'Bearer ya29.token-number-1')
  t.equal(conn.headers['x-goog-api-key'], undefined)
  await next(ws, 'session.created')
  ws.send(JSON.stringify({ type: 'session.update', session: { tools: [{ type: 'function', name: 'f' }] } }))
  await next(ws, 'session.updated')
  t.equal(received(conn)[0].setup.model, 'projects/my-project-123/locations/europe-west4/publishers/google/models/gemini-live-2.5-flash-native-audio')
  send(conn.socket, { toolCall: { functionCalls: [{ name: 'f', args: {} }] }, usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 4, candidatesTokensDetails: [{ modality: 'TEXT', tokenCount: 4 }] } })
  const done = await next(ws, 'response.done')
  t.same(done.response.usage, { total_tokens: 14, input_tokens: 10, output_tokens: 4, input_token_details: { text_tokens: 10, audio_tokens: 0, image_tokens: 0, cached_tokens: 0 }, output_token_details: { text_tokens: 4, audio_tokens: 0 } })
  const callId = done.response.output[0].call_id
  t.match(callId, /^call_/, 'a call without an id gets one, so the client can answer it')
  ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: callId, output: '{"ok":true}' } }))
  await until(() => conn.frames.length === 2, 'the tool response')
  t.same(received(conn)[1], { toolResponse: { functionResponses: [{ name: 'f', response: { ok: true } }] } })
  send(conn.socket, { sessionResumptionUpdate: { newHandle: 'v-1', resumable: true, lastConsumedClientMessageIndex: '1' } })
  send(conn.socket, { goAway: { timeLeft: '10s' } })
  const second = await upstream.next()
  t.equal(second.headers.authorization, 'Bearer ya29.token-number-2', 'a renewed token')
})

t.test('vertex: the default base URL from the location (global has none in its host)', async (t) => {
  const { ProviderRegistry } = await import('../lib/providers/registry.js')
  const registry = new ProviderRegistry({
    providers: {
      eu: { type: 'vertex', project: 'my-project-123', location: 'europe-west4', apiKey: 'ya29.x' },
      world: { type: 'vertex', project: 'my-project-123', location: 'global', apiKey: 'ya29.x' },
      gemini: { apiKey: KEY },
      keyless: { type: 'gemini', apiKey: null, baseURL: 'http://gemini.internal:8080' }
    }
  })
  const keyless = registry.resolve({ model: 'keyless/m' })
  t.same(keyless.provider.target(keyless, undefined), { url: `ws://gemini.internal:8080${PATH}`, headers: {}, protocols: [] }, 'no key, no header')
  t.equal(registry.get('eu')?.baseURL, 'https://europe-west4-aiplatform.googleapis.com')
  t.equal(registry.get('world')?.baseURL, 'https://aiplatform.googleapis.com')
  t.equal(registry.get('gemini')?.type, 'gemini', 'an entry named gemini is of type gemini')
  const eu = registry.resolve({ model: 'eu/m' })
  t.equal(eu.provider.target(eu, 'ya29.x').url, 'wss://europe-west4-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent')
  const g = registry.resolve({ model: 'gemini/gemini-3.8-live' })
  t.same(g.provider.target(g, KEY), { url: `wss://generativelanguage.googleapis.com${PATH}`, headers: { 'x-goog-api-key': KEY }, protocols: [] })
  t.equal(g.provider.setupModel('models/already'), 'models/already')
  t.equal(eu.provider.setupModel('projects/p/locations/l/publishers/google/models/m'), 'projects/p/locations/l/publishers/google/models/m')
  t.equal(registry.get('gemini')?.startTimeout, 5000)
  const { OPENAI_TO_GEMINI_VOICES } = await import('../lib/index.js')
  t.same(OPENAI_TO_GEMINI_VOICES, { alloy: 'Zephyr', ash: 'Charon', ballad: 'Fenrir', cedar: 'Charon', coral: 'Aoede', echo: 'Puck', marin: 'Aoede', sage: 'Kore', shimmer: 'Leda', verse: 'Orus' }, 'the README\'s table')
  t.ok(Object.isFrozen(OPENAI_TO_GEMINI_VOICES))
  t.equal(new ProviderRegistry({ providers: { openai: { apiKey: 'sk-1' } } }).get('openai')?.setupModel('gpt-realtime'), 'gpt-realtime', 'OpenAI\'s schema names the model as routed')
  t.throws(() => registry.resolve({ model: 'gemini/x', protocol: 'live' }), { code: 'FST_REALTIME_UNSUPPORTED_PROTOCOL' })
  t.throws(() => registry.resolve({ model: 'gemini/x', protocol: 'translation' }), { code: 'FST_REALTIME_UNSUPPORTED_PROTOCOL' })
  t.throws(() => registry.resolve({ model: 'gemini/x', intent: 'transcription' }), { code: 'FST_REALTIME_UNSUPPORTED_INTENT' })
  t.throws(() => registry.resolve({ provider: 'gemini' }), { code: 'FST_REALTIME_MODEL_REQUIRED' })
  t.equal(g.provider.endpoint('client_secrets', KEY), undefined, 'no WebRTC signaling')
})

t.test('options: Vertex needs its project and location; startTimeout is checked; the Google options are refused elsewhere', async (t) => {
  const { ProviderRegistry } = await import('../lib/providers/registry.js')
  const cases: Array<[object, string]> = [
    [{ type: 'vertex', location: 'us-central1' }, 'providers.p.project must be your Google Cloud project id, such as "my-project-123"'],
    [{ type: 'vertex', project: 'Bad Project', location: 'us-central1' }, 'providers.p.project must be your Google Cloud project id'],
    [{ type: 'vertex', project: 'my-project-123' }, 'providers.p.location must be a Vertex AI location such as "us-central1" or "global"'],
    [{ type: 'vertex', project: 'my-project-123', location: 'us central' }, 'providers.p.location must be a Vertex AI location'],
    [{ type: 'gemini', startTimeout: 0 }, 'providers.p.startTimeout must be a positive integer'],
    [{ type: 'vertex', project: 'my-project-123', location: 'us-central1', startTimeout: 1.5 }, 'providers.p.startTimeout must be a positive integer'],
    [{ type: 'gemini', project: 'my-project-123' }, 'providers.p.project only applies to type "vertex"'],
    [{ type: 'openai', startTimeout: 100 }, 'providers.p.startTimeout only applies to type "gemini", "vertex"'],
    [{ type: 'gemini', location: 'us-central1' }, 'providers.p.location only applies to type "vertex"'],
    [{ type: 'gemini', apiVersion: 'v1' }, 'providers.p.apiVersion only applies to type "azure"']
  ]
  for (const [config, message] of cases) {
    t.throws(() => new ProviderRegistry({ providers: { p: config as never } }), { code: 'FST_REALTIME_INVALID_OPTION', message: new RegExp(message.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) }, message)
  }
})

t.test('Google keys and tokens are redacted from what reaches a client or a log', async (t) => {
  const token = 'ya29.a0AfH6SMBexample-token_value'
  const upstream = await fakeUpstream(t, { reject: { status: 400, body: JSON.stringify({ error: { message: `API key ${KEY} not valid; token ${token}` } }) } })
  const proxy = await startProxy(t, { providers: { gemini: { apiKey: 'AIzaSyOTHER0123456789abcdefghijklmnopqrs', baseURL: upstream.url } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`)
  t.equal(res.status, 400)
  t.equal(res.body, JSON.stringify({ error: { message: 'API key [REDACTED] not valid; token [REDACTED]' } }))
  t.notOk(proxy.logs.text.includes(KEY) || proxy.logs.text.includes(token) || proxy.logs.text.includes('AIzaSyOTHER'))
})

/** A configured session whose key comes from `apiKey`, sent a goAway: the resumption reads the key again. */
async function resumedWithKey (t: Tap, apiKey: () => Promise<string>, options: object = {}): Promise<{ ws: WebSocket, proxy: Proxy, upstream: FakeUpstream }> {
  const upstream = await fakeUpstream(t, { onConnection: gemini })
  const proxy = await startProxy(t, { providers: { gemini: { baseURL: upstream.url, apiKey } }, ...options })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`)
  const conn = await upstream.next()
  ws.send(JSON.stringify({ type: 'session.update', session: {} }))
  await next(ws, 'session.updated')
  send(conn.socket, { goAway: { timeLeft: '1s' } })
  return { ws, proxy, upstream }
}

t.test('a resumption that cannot be dialled: retried, then the session ends with an error event and 1011; nothing leaks', async (t) => {
  let calls = 0
  const { ws, proxy } = await resumedWithKey(t, async () => {
    if (++calls > 1) throw new Error(`token endpoint down (refresh ${KEY})`)
    return KEY
  })
  const error = await next(ws, 'error')
  t.same(error.error, { type: 'invalid_request_error', code: 'provider_closed', message: 'The session could not be resumed: token endpoint down (refresh [REDACTED])', param: null, event_id: null })
  t.same(await closed(ws), { code: 1011, reason: 'Gemini Live could not be reached to resume the session' })
  t.equal(calls, 4, 'the first dial and three attempts to resume')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'could not open a new Gemini connection').length, 3)
  t.notOk(proxy.logs.text.includes(KEY))
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the end')
})

t.test('a resumption whose key never comes: each attempt bounded by dialTimeout, frames held meanwhile released when the session ends', async (t) => {
  let calls = 0
  const { ws, proxy } = await resumedWithKey(t, async () => {
    if (++calls > 1) await new Promise(() => {})
    return KEY
  }, { dialTimeout: 50, highWaterMark: 1024 })
  await until(() => calls === 2, 'the redial')
  append(ws, tone(0.1)) // over the mark: the client is not read until this frame has gone somewhere
  const error = await next(ws, 'error')
  t.match(error.error, { code: 'provider_closed', message: 'The session could not be resumed: The gemini realtime endpoint did not answer within 50 ms' })
  t.same(await closed(ws), { code: 1011, reason: 'Gemini Live could not be reached to resume the session' })
  t.equal(calls, 4)
  t.match(await summaryOf(proxy), { code: 1011, reconnects: 0 })
})

t.test('the client leaves while a new connection is dialled: the dial is dropped when it opens, the session ends once', async (t) => {
  let release: () => void = () => {}
  let calls = 0
  // A heartbeat while there is no connection to ping: the session is not taken for dead.
  const { ws, proxy, upstream } = await resumedWithKey(t, async () => {
    if (++calls > 1) await new Promise<void>((resolve) => { release = resolve })
    return KEY
  }, { heartbeatInterval: 200, pongTimeout: 150 }) // the margin lets the client's pongs through on a loaded machine
  await until(() => calls === 2, 'the redial')
  append(ws, FRAME) // kept for the connection that never comes
  await new Promise((resolve) => setTimeout(resolve, 500)) // two heartbeats, one of them judged
  ws.close(1000, 'bye')
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the end')
  release()
  const second = await upstream.next()
  t.same(await second.closed, { code: 1006, reason: '' }, 'terminated as soon as it opened')
  t.equal(second.frames.length, 0)
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'realtime session ended').length, 1)
  t.match(await summaryOf(proxy), { by: 'client', code: 1000, reconnects: 0 })
})

t.test('shutdown closes a Gemini session with 1001 like any other; the heartbeat pings through the current connection', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: gemini })
  const proxy = await startProxy(t, { providers: { gemini: { apiKey: KEY, baseURL: upstream.url } }, heartbeatInterval: 100, pongTimeout: 80 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`)
  const conn = await upstream.next()
  let pings = 0
  conn.socket.on('ping', () => pings++)
  await until(() => pings >= 2, 'pings before the setup')
  ws.send(JSON.stringify({ type: 'session.update', session: {} }))
  await next(ws, 'session.updated')
  await until(() => pings >= 4, 'pings after it')
  const bye = closed(ws)
  await proxy.app.close()
  t.equal((await bye).code, 1001)
  t.equal((await conn.closed).code, 1001)
})

t.test('backpressure: a client that reads nothing stops the proxy reading Gemini', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: gemini })
  const proxy = await startProxy(t, { providers: { gemini: { apiKey: KEY, baseURL: upstream.url } }, highWaterMark: 64 * 1024 })
  const socket = tcp(Number(new URL(proxy.url).port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.write('GET /v1/realtime?model=gemini/gemini-3.8-live HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  await once(socket, 'data')
  socket.pause() // never reads again
  const conn = await upstream.next()
  const chunk = { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'A'.repeat(256 * 1024) } }] } } }
  for (let i = 0; i < 200; i++) send(conn.socket, chunk)
  await until(() => conn.socket.bufferedAmount > 8 * 1024 * 1024, 'Gemini\'s own send buffer to fill: the proxy stopped reading it')
  t.ok(conn.socket.bufferedAmount > 8 * 1024 * 1024)
})

t.test('Gemini misses its pong: the connection is dropped and the client gets 1011', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: gemini, autoPong: false })
  const proxy = await startProxy(t, { providers: { gemini: { apiKey: KEY, baseURL: upstream.url } }, heartbeatInterval: 100, pongTimeout: 80 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`)
  const conn = await upstream.next()
  t.same(await closed(ws), { code: 1011, reason: 'upstream missed heartbeat' })
  t.equal((await conn.closed).code, 1006, 'dropped, not closed')
  t.match(await summaryOf(proxy), { by: 'server', code: 1011 })
})

t.test('frames sent while a new connection is dialled are held, with backpressure on the client, and reach it in order', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: gemini })
  let release: () => void = () => {}
  let calls = 0
  const proxy = await startProxy(t, {
    providers: {
      gemini: {
        baseURL: upstream.url,
        apiKey: async () => {
          if (++calls === 2) await new Promise<void>((resolve) => { release = resolve })
          return KEY
        }
      }
    },
    highWaterMark: 4096
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`)
  const conn = await upstream.next()
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'x'.repeat(5000) } }))
  await next(ws, 'session.updated')
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'x'.repeat(5000) } }))
  await next(ws, 'session.updated') // a frame over the mark that becomes no Gemini message
  send(conn.socket, { goAway: { timeLeft: '1s' } })
  await until(() => calls === 2, 'the redial')
  const frames = Array.from({ length: 20 }, (_, i) => tone(0.1, 200 + i * 10)) // 4800 bytes each: every one over the mark
  for (const pcm of frames) append(ws, pcm)
  await new Promise((resolve) => setTimeout(resolve, 50))
  const heldBy = proxy.app.realtime.stats().frames.client
  t.ok(heldBy < 2 + 2 + 20, `the proxy stopped reading the client while it held a frame over the mark (${heldBy} frames read)`)
  release()
  const second = await upstream.next()
  await until(() => second.frames.length === 21, 'the setup and the 20 frames')
  const pcm = received(second).slice(1).map((m) => Buffer.from(m.realtimeInput.audio.data, 'base64'))
  const direct = new (await import('../lib/codecs/realtime/resample.js')).Resampler(24_000, 16_000)
  t.teardown(() => direct.destroy())
  t.ok(pcm.every((p, i) => p.equals(direct.process(frames[i] as Buffer))), 'each frame once, in order, resampled as one stream')
})

t.test('a log Gemini never acknowledges is bounded: past 4 MiB the oldest messages sent are dropped from it, with one warning', async (t) => {
  const { ws, conn, upstream, proxy } = await configured(t)
  const second = tone(1, 300) // one second a frame: 43 KB of base64 at 16 kHz
  for (let i = 0; i < 110; i++) append(ws, second)
  await until(() => conn.frames.length === 111, 'the audio')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'Gemini sent no resumption handle for a long time; older client messages will not be resent on a reconnect').length, 1)
  ws.send(JSON.stringify({ type: 'session.update', session: { audio: { output: { voice: 'sage' } } } }))
  const next2 = await upstream.next()
  const last = conn.frames.at(-1)?.data
  // The audio so far ends with the update: the resampler's tail follows the last frame, on the new connection.
  await until(() => next2.frames.length > 2 && next2.frames.at(-2)?.data.equals(last as Buffer) === true, 'the resend, up to the last message and the tail')
  await new Promise((resolve) => setTimeout(resolve, 50)) // nothing after it
  const resent = next2.frames.slice(1, -1).reduce((n, f) => n + f.data.length, 0)
  t.ok(resent <= 4 * 1024 * 1024 && resent > 4 * 1024 * 1024 - 50_000, `the newest 4 MiB resent (${resent} bytes), not all ${conn.frames.slice(1).reduce((n, f) => n + f.data.length, 0)}`)
  t.same(next2.frames.at(-2)?.data, conn.frames.at(-1)?.data, 'up to the last')
  t.equal(Buffer.from(JSON.parse(next2.frames.at(-1)?.data.toString() as string).realtimeInput.audio.data, 'base64').length, 128, 'then the 64 samples the resampler held')
})

t.test('Gemini\'s quirks: a second setupComplete is ignored; a goAway with turns and no handle cannot be resumed; a close before the setup ends the session', async (t) => {
  const { ws, conn, upstream } = await configured(t)
  send(conn.socket, { setupComplete: {} })
  send(conn.socket, { serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 1 } })
  await next(ws, 'response.done')
  send(conn.socket, { goAway: { timeLeft: '0.1s' } })
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(upstream.connections.length, 1, 'nothing to resume from: no new connection')
  conn.socket.close(1000, 'connection lifetime reached')
  t.match(await next(ws, 'error'), { error: { code: 'provider_closed', message: 'Gemini closed the session (1000: connection lifetime reached)' } })
  t.same(await closed(ws), { code: 1000, reason: 'connection lifetime reached' })

  const { url, upstream: other } = await proxyTo(t)
  const early = await open(t, url)
  const first = await other.next()
  first.socket.close(1011, 'RESOURCE_EXHAUSTED')
  t.match(await next(early, 'error'), { error: { message: 'Gemini closed the session (1011: RESOURCE_EXHAUSTED)' } })
  t.same(await closed(early), { code: 1011, reason: 'RESOURCE_EXHAUSTED' })
})
