// The Gemini Live simulator, against shared/protocols/gemini-live.md: setup once (1007 on a second), JSON in
// binary frames, 16 kHz in (1007 otherwise) and 24 kHz out, transcriptions, a tool call round trip, usage per
// turn, resumption handles with lastConsumedClientMessageIndex, goAway after the connection's lifetime, and the
// key in x-goog-api-key only.
import t from 'tap'
import WebSocket from 'ws'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { tone } from '../lib/simulator/audio.js'
import { closed, nextMessage, open, refused } from './helpers.js'

type Message = Record<string, any>
const KEY = { headers: { 'x-goog-api-key': 'gm-key' } }
const next = async (ws: WebSocket): Promise<Message> => {
  const frame = await nextMessage(ws)
  if (!frame.isBinary) throw new Error('expected JSON in a binary frame')
  return JSON.parse(frame.data.toString())
}
const setup = (extra: object = {}): string => JSON.stringify({ setup: { model: 'models/gemini-3.8-live', ...extra } })
/** 16 kHz PCM16 from the 24 kHz tone: every third sample of three dropped (a test signal, not a resampler). */
function speech16k (seconds: number): Buffer {
  const at24 = tone(seconds, 300)
  const out = Buffer.alloc(Math.floor(at24.length / 3) * 2)
  for (let i = 0; i < out.length / 2; i++) out.writeInt16LE(at24.readInt16LE(Math.floor(i * 1.5) * 2), i * 2)
  return out
}
const audio = (pcm: Buffer, rate = 16000): string => JSON.stringify({ realtimeInput: { audio: { data: pcm.toString('base64'), mimeType: `audio/pcm;rate=${rate}` } } })

async function until (ws: WebSocket, predicate: (m: Message) => boolean): Promise<Message[]> {
  const seen: Message[] = []
  for (;;) {
    const m = await next(ws)
    seen.push(m)
    if (predicate(m)) return seen
  }
}

t.test('a spoken turn: setupComplete, transcriptions both ways, 24 kHz audio out, one usageMetadata, a resumption handle', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0, apiKey: 'gm-key' })
  t.teardown(() => sim.close())
  t.match(sim.geminiURL, /^ws:\/\/127\.0\.0\.1:\d+\/ws\/google\.ai\.generativelanguage\.v1beta\.GenerativeService\.BidiGenerateContent$/)
  const ws = await open(t, sim.geminiURL, [], KEY)
  ws.send(setup({ inputAudioTranscription: {}, outputAudioTranscription: {}, sessionResumption: { transparent: true } }))
  t.same(await next(ws), { setupComplete: {} })
  ws.send(audio(speech16k(1)))
  ws.send(audio(Buffer.alloc(16000 * 2 * 0.6))) // 600 ms of silence ends the turn
  const turn = await until(ws, (m) => m.sessionResumptionUpdate !== undefined)
  t.same(turn[0], { serverContent: { inputTranscription: { text: '[1.6 seconds of audio]' } } })
  const audioParts = turn.filter((m) => m.serverContent?.modelTurn !== undefined).map((m) => m.serverContent.modelTurn.parts[0].inlineData)
  t.ok(audioParts.length > 0 && audioParts.every((p) => p.mimeType === 'audio/pcm;rate=24000'))
  t.equal(audioParts.reduce((n, p) => n + Buffer.from(p.data, 'base64').length, 0), 0.3 * 48000, '0.3 s of 24 kHz PCM16')
  t.equal(turn.filter((m) => m.serverContent?.outputTranscription !== undefined).map((m) => m.serverContent.outputTranscription.text).join(''), 'I heard 1.6 seconds of audio. ')
  const usage = turn.filter((m) => m.usageMetadata !== undefined)
  t.equal(usage.length, 1, 'usage once per turn')
  t.match(usage[0], { serverContent: { turnComplete: true }, usageMetadata: { promptTokenCount: 60, responseTokenCount: 8, totalTokenCount: 68, promptTokensDetails: [{ modality: 'AUDIO', tokenCount: 60 }] } })
  t.ok(turn.findIndex((m) => m.serverContent?.generationComplete === true) < turn.findIndex((m) => m.serverContent?.turnComplete === true))
  t.match(turn.at(-1), { sessionResumptionUpdate: { newHandle: /^handle_/, resumable: true, lastConsumedClientMessageIndex: '2' } })
})

t.test('strict: setup first and once (1007), 16 kHz only (1007), one field per message; the key in its header, never the URL', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0, apiKey: 'gm-key' })
  t.teardown(() => sim.close())
  t.equal((await refused(t, sim.geminiURL)).status, 401)
  t.equal((await refused(t, `${sim.geminiURL}?key=gm-key`, [], KEY)).status, 400, 'a key in the URL is refused')
  const cases: Array<[string[], number, string]> = [
    [[setup(), setup()], 1007, 'Request contains an invalid argument.'],
    [[audio(Buffer.alloc(10))], 1007, 'Request contains an invalid argument: setup must be first.'],
    [[setup(), audio(Buffer.alloc(10), 24000)], 1007, 'Request contains an invalid argument: audio must be audio/pcm;rate=16000.'],
    [[JSON.stringify({ setup: { model: 'gemini-3.8-live' } })], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"realtimeInput":{},"clientContent":{}}'], 1007, 'Request contains an invalid argument.'],
    [[setup(), 'not json'], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"toolResponse":{"functionResponses":[{"id":"nope","response":{}}]}}'], 1007, 'Request contains an invalid argument: functionResponses[].id and an object response are required.'],
    [[setup({ sessionResumption: { handle: 'handle_unknown' } })], 1008, 'session not found'],
    [[setup(), '{"bidiFoo":{}}'], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"realtimeInput":1}'], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"realtimeInput":{"audio":{}}}'], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"realtimeInput":{"video":{}}}'], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"clientContent":{}}'], 1007, 'Request contains an invalid argument.'],
    [[setup(), '{"toolResponse":1}'], 1007, 'Request contains an invalid argument: functionResponses[].id and an object response are required.'],
    [[setup(), '{"contextUpdate":1}'], 1007, 'Request contains an invalid argument: contextUpdate needs systemInstruction { parts } and/or tools { tools }.'],
    [[setup(), '{"contextUpdate":{}}'], 1007, 'Request contains an invalid argument: contextUpdate needs systemInstruction { parts } and/or tools { tools }.'],
    [[setup(), '{"contextUpdate":{"systemInstruction":"be brief"}}'], 1007, 'Request contains an invalid argument: contextUpdate needs systemInstruction { parts } and/or tools { tools }.'],
    [[setup(), '{"contextUpdate":{"tools":[]}}'], 1007, 'Request contains an invalid argument: contextUpdate needs systemInstruction { parts } and/or tools { tools }.']
  ]
  for (const [messages, code, reason] of cases) {
    const ws = await open(t, sim.geminiURL, [], KEY)
    const end = closed(ws)
    for (const m of messages) ws.send(m)
    t.same(await end, { code, reason }, messages.join(' '))
  }
})

t.test('a text turn with a declared tool: toolCall, then the toolResponse answered; TEXT modality answers in text', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0 })
  t.teardown(() => sim.close())
  const ws = await open(t, sim.geminiURL)
  ws.send(setup({ generationConfig: { responseModalities: ['TEXT'] }, tools: [{ googleSearch: {} }, { functionDeclarations: [{ description: 'unnamed' }, { name: 'get_weather', parameters: { type: 'object' } }] }] }))
  await next(ws)
  ws.send(JSON.stringify({ clientContent: { turns: [{ role: 'user', parts: [{ text: 'call get_weather for Paris' }] }], turnComplete: true } }))
  const call = await next(ws)
  t.match(call, { toolCall: { functionCalls: [{ id: /^call_/, name: 'get_weather', args: { text: 'call get_weather for Paris' } }] } })
  ws.send(JSON.stringify({ toolResponse: { functionResponses: [{ id: call.toolCall.functionCalls[0].id, name: 'get_weather', response: { celsius: 21 } }] } }))
  const turn = await until(ws, (m) => m.serverContent?.turnComplete === true)
  t.same(turn[0], { serverContent: { modelTurn: { parts: [{ text: 'The tool said {"celsius":21}.' }] } } })
  t.match(turn.at(-1), { usageMetadata: { responseTokensDetails: [{ modality: 'TEXT' }] } })
  ws.send(JSON.stringify({ clientContent: { turns: [{ role: 'user', parts: [{ text: 'not yet' }] }], turnComplete: false } }))
  ws.send(JSON.stringify({ clientContent: { turns: [{ role: 'user', parts: [{ inlineData: {} }, { text: 'hello' }] }, 'x'], turnComplete: true } }))
  const second = await until(ws, (m) => m.serverContent?.turnComplete === true)
  t.same(second[0], { serverContent: { modelTurn: { parts: [{ text: 'You said:  hello' }] } } }, 'a turn without turnComplete waits; parts without text add nothing')
  t.equal(second.at(-1)?.usageMetadata.promptTokenCount, 40, 'the prompt grows with the history')
})

t.test('goAway after the connection lifetime, then a close; the handle resumes on a new connection, the model may not change', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0, connectionLifetime: 100, goAwayGrace: 50 })
  t.teardown(() => sim.close())
  const first = await open(t, sim.geminiURL)
  const ended = closed(first)
  first.send(setup({ sessionResumption: {} }))
  await next(first)
  first.send(JSON.stringify({ realtimeInput: { audioStreamEnd: true } }))
  const turn = await until(first, (m) => m.sessionResumptionUpdate !== undefined)
  const handle = turn.at(-1)?.sessionResumptionUpdate.newHandle as string
  t.equal(turn.at(-1)?.sessionResumptionUpdate.lastConsumedClientMessageIndex, undefined, 'only with transparent')
  t.same(await next(first), { goAway: { timeLeft: '0.05s' } })
  t.same(await ended, { code: 1000, reason: 'connection lifetime reached' })
  const second = await open(t, sim.geminiURL)
  second.send(setup({ sessionResumption: { handle } }))
  t.same(await next(second), { setupComplete: {} })
  second.send(JSON.stringify({ realtimeInput: { activityEnd: {} } }))
  const resumed = await until(second, (m) => m.usageMetadata !== undefined)
  t.equal(resumed.at(-1)?.usageMetadata.promptTokenCount, 40, 'the conversation went on: second turn')
  const third = await open(t, sim.geminiURL)
  const refusedResume = closed(third)
  third.send(JSON.stringify({ setup: { model: 'models/other', sessionResumption: { handle } } }))
  t.same(await refusedResume, { code: 1007, reason: 'Request contains an invalid argument: the model cannot change on resumption.' })
})

t.test('at pace 1 the answer streams at speaking pace', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 1 })
  t.teardown(() => sim.close())
  const ws = await open(t, sim.geminiURL)
  ws.send(setup())
  await next(ws)
  const started = Date.now()
  ws.send(JSON.stringify({ realtimeInput: { audioStreamEnd: true } }))
  await until(ws, (m) => m.serverContent?.turnComplete === true)
  t.ok(Date.now() - started >= 300, `0.3 s of audio took ${Date.now() - started} ms`)
})

t.test('a handle is a checkpoint: a function call waits across connections; audio after the handle counts only when sent again', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0 })
  t.teardown(() => sim.close())
  const first = await open(t, sim.geminiURL, [], {})
  first.send(setup({ sessionResumption: { transparent: true }, inputAudioTranscription: {}, tools: [{ functionDeclarations: [{ name: 'lookup' }] }] }))
  await next(first)
  first.send(JSON.stringify({ clientContent: { turns: [{ role: 'user', parts: [{ text: 'please lookup' }] }], turnComplete: true } }))
  const call = await next(first)
  const update = await next(first)
  t.match(update, { sessionResumptionUpdate: { newHandle: /^handle_/, resumable: true, lastConsumedClientMessageIndex: '1' } }, 'a handle right after the call')
  first.send(audio(speech16k(1))) // after the handle: not in its checkpoint
  first.close()
  const second = await open(t, sim.geminiURL)
  second.send(setup({ sessionResumption: { handle: update.sessionResumptionUpdate.newHandle, transparent: true }, inputAudioTranscription: {} }))
  await next(second)
  second.send(JSON.stringify({ toolResponse: { functionResponses: [{ id: call.toolCall.functionCalls[0].id, name: 'lookup', response: { ok: true } }] } }))
  const answer = await until(second, (m) => m.serverContent?.turnComplete === true)
  t.match(answer.find((m) => m.serverContent?.outputTranscription === undefined && m.serverContent?.modelTurn !== undefined), { serverContent: { modelTurn: {} } }, 'the call made on the first connection is answered on the second')
  await next(second) // its handle
  second.send(audio(speech16k(0.5)))
  second.send(JSON.stringify({ realtimeInput: { audioStreamEnd: true } }))
  const heard = await until(second, (m) => m.serverContent?.inputTranscription !== undefined)
  t.same(heard.at(-1), { serverContent: { inputTranscription: { text: '[0.5 seconds of audio]' } } }, 'the second of audio sent to the first connection after its handle is not in the checkpoint')
})
