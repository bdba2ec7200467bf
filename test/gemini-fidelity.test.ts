// Fidelity of the Gemini codec (#24 items 1-6), as LiteLLM's and GoModel's realtime tests expect it: an empty
// toolCall changes nothing, Chat-Completions-shaped tools are accepted, settings Gemini cannot express are named
// (what it can is applied), voices map whatever their case, the resampler's tail reaches Gemini, and usage that
// comes after its turn is billed to that turn.
import t from 'tap'
import { until, type Tap, type UpstreamConnection } from './helpers.js'
import { geminiSession, next, send, type Event } from './gemini-fake.js'

const received = (conn: UpstreamConnection): any[] => conn.frames.map((f) => JSON.parse(f.data.toString()))

async function configured (t: Tap, session: object) {
  const { proxy, ws, conn, records } = await geminiSession(t)
  await next(ws, 'session.created')
  ws.send(JSON.stringify({ type: 'session.update', event_id: 'u1', session }))
  const events: Event[] = []
  for (let e = await next(ws); ; e = await next(ws)) {
    events.push(e)
    if (e.type === 'session.updated') break
  }
  return { ws, conn, proxy, records, events }
}

t.test('an empty toolCall mid-turn changes nothing: one response, its text whole; alone it emits nothing', async (t) => {
  const { ws, conn } = await configured(t, { output_modalities: ['text'] })
  const seen: string[] = []
  ws.on('message', (data: Buffer) => seen.push(JSON.parse(data.toString()).type))
  send(conn.socket, { toolCall: { functionCalls: [] } })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ text: 'Hel' }] } } })
  send(conn.socket, { toolCall: { functionCalls: [] } })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ text: 'lo' }] } } })
  send(conn.socket, { serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 5, responseTokenCount: 2 } })
  const done = await next(ws, 'response.done')
  t.equal(done.response.output[0].content[0].text, 'Hello')
  t.equal(seen.filter((type) => type === 'response.done').length, 1, 'one response.done')
  t.equal(seen.filter((type) => type === 'response.created').length, 1)
})

t.test('Chat-Completions-shaped tools reach Gemini like Realtime ones', async (t) => {
  const parameters = { type: 'object', properties: { city: { type: 'string' } } }
  const { conn } = await configured(t, {
    tools: [
      { type: 'function', function: { name: 'get_weather', description: 'Weather now', parameters } },
      { type: 'function', name: 'get_time', parameters },
      { type: 'function', function: { description: 'no name' } }
    ]
  })
  t.same(received(conn)[0].setup.tools, [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather now', parameters }, { name: 'get_time', parameters }] }])
})

t.test('what Gemini can express is applied (a transcription language); the rest is named in an error event', async (t) => {
  const { conn, events } = await configured(t, {
    audio: { input: { transcription: { model: 'whisper-1', language: 'fr', prompt: 'Proper nouns: Fastify' }, turn_detection: { type: 'server_vad', create_response: false } } }
  })
  t.same(received(conn)[0].setup.inputAudioTranscription, { languageCodes: ['fr'] })
  const notes = events.filter((e) => e.type === 'error').map((e) => e.error.message)
  t.same(notes, [
    'audio.input.turn_detection.create_response false has no Gemini Live equivalent: Gemini answers every turn it detects',
    'audio.input.transcription.prompt has no Gemini Live equivalent and is ignored'
  ])
  t.ok(events.filter((e) => e.type === 'error').every((e) => e.error.code === 'unsupported_setting' && e.error.event_id === 'u1'))
})

for (const [voice, gemini] of [['Alloy', 'Zephyr'], ['ECHO', 'Puck'], ['kore', 'Kore'], ['Charon', 'Charon']]) {
  t.test(`voice "${voice}" is Gemini's "${gemini}"`, async (t) => {
    const { conn } = await configured(t, { audio: { output: { voice } } })
    t.equal(received(conn)[0].setup.generationConfig.speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName, gemini)
  })
}

t.test('4800 bytes at 24 kHz then a commit reach Gemini as 3200 bytes at 16 kHz: the resampler\'s tail is flushed', async (t) => {
  const { ws, conn } = await configured(t, {})
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: Buffer.alloc(4800, 3).toString('base64') }))
  ws.send('{"type":"input_audio_buffer.commit"}')
  await until(() => received(conn).some((m) => m.realtimeInput?.audioStreamEnd === true), 'audioStreamEnd')
  const audio = received(conn).filter((m) => m.realtimeInput?.audio !== undefined).reduce((n, m) => n + Buffer.from(m.realtimeInput.audio.data, 'base64').length, 0)
  t.equal(audio, 3200)
})

t.test('usage that comes after its turn\'s turnComplete is billed to that turn, not lost nor overwritten by the next', async (t) => {
  const { ws, conn, records } = await configured(t, { output_modalities: ['text'] })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ text: 'one' }] } } })
  send(conn.socket, { serverContent: { turnComplete: true } })
  const first = await next(ws, 'response.done')
  t.equal(first.response.usage, null, 'the turn ended before its usage came')
  send(conn.socket, { usageMetadata: { promptTokenCount: 10, responseTokenCount: 3 } })
  const late = await next(ws, 'response.done')
  t.match(late.response, { status: 'completed', output: [], usage: { input_tokens: 10, output_tokens: 3 } }, 'billed at once, as a response of its own')
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ text: 'two' }] } } })
  send(conn.socket, { serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 20, responseTokenCount: 4 } })
  t.match((await next(ws, 'response.done')).response.usage, { input_tokens: 20, output_tokens: 4 })
  await until(() => records.length === 2, 'two records')
  t.same(records.map((r) => [(r as { inputTokens: number }).inputTokens, (r as { outputTokens: number }).outputTokens]), [[10, 3], [20, 4]])
})
