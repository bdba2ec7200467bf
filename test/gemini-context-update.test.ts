// Gemini's contextUpdate (#29 item 1): a session.update that changes only the instructions or the tools goes to
// Gemini as one contextUpdate on the open connection, in order with the audio (no resumption, no new
// connection); a change only a new setup can carry (a voice, removed instructions) still resumes. Against a
// recording fake (exact messages) and the simulator, with @openai/agents-realtime switching agents.
import t from 'tap'
import { readFileSync } from 'node:fs'
import { RealtimeAgent, tool } from '@openai/agents-realtime'
import { z } from 'zod'
import type WebSocket from 'ws'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { tone } from '../lib/simulator/audio.js'
import { open, startProxy, until, type Proxy, type Tap, type UpstreamConnection } from './helpers.js'
import { agentSession, geminiSession, next, send, type Event } from './gemini-fake.js'

const received = (conn: UpstreamConnection): any[] => conn.frames.map((f) => JSON.parse(f.data.toString()))
const FRAME = tone(0.02, 300)
const append = (ws: WebSocket): void => ws.send(JSON.stringify({ type: 'input_audio_buffer.append', audio: FRAME.toString('base64') }))
const fn = (name: string): object => ({ type: 'function', name, description: `${name} now`, parameters: { type: 'object', properties: {} } })
const declared = (name: string): object => ({ name, description: `${name} now`, parameters: { type: 'object', properties: {} } })
const resumes = (proxy: Proxy): number => proxy.logs.lines.filter((l) => l.msg === 'resuming the Gemini session on a new connection').length

async function configured (t: Tap, session: object) {
  const got = await geminiSession(t)
  await next(got.ws, 'session.created')
  got.ws.send(JSON.stringify({ type: 'session.update', session }))
  await next(got.ws, 'session.updated')
  return got
}

t.test('new instructions: one contextUpdate on the open connection, between the audio before and after it; session.updated at once; no new connection', async (t) => {
  const { ws, conn, upstream, proxy } = await configured(t, { instructions: 'Be brief.', tools: [fn('get_time')] })
  append(ws)
  await until(() => conn.frames.length === 2, 'the setup and a frame')
  ws.send(JSON.stringify({ type: 'session.update', event_id: 'u2', session: { instructions: 'Now answer in French.' } }))
  const updated = await next(ws)
  t.match(updated, { type: 'session.updated', session: { instructions: 'Now answer in French.', tools: [{ name: 'get_time' }] } })
  append(ws)
  await until(() => conn.frames.length === 4, 'the update and the next frame')
  t.equal(conn.frames[2]?.data.toString(), '{"contextUpdate":{"systemInstruction":{"parts":[{"text":"Now answer in French."}]}}}', 'the instructions alone, exactly')
  t.ok(received(conn)[3].realtimeInput.audio !== undefined, 'the audio goes on after it, on the same connection')
  ws.close()
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the session to end')
  t.equal(upstream.connections.length, 1)
  t.equal(resumes(proxy), 0)
  t.equal((proxy.logs.lines.find((l) => l.msg === 'realtime session ended')?.summary as Event).reconnects, 0)
})

t.test('new tools, then none: each a contextUpdate with the tools wrapped as Gemini takes them, an empty list clearing them', async (t) => {
  const { ws, conn, upstream } = await configured(t, { instructions: 'Be brief.', tools: [fn('get_time')] })
  ws.send(JSON.stringify({ type: 'session.update', session: { tools: [fn('get_weather'), { type: 'function', function: declared('get_tide') }] } }))
  await next(ws, 'session.updated')
  ws.send(JSON.stringify({ type: 'session.update', session: { tools: [] } }))
  await next(ws, 'session.updated')
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'Both.', tools: [fn('get_time')] } }))
  await next(ws, 'session.updated')
  await until(() => conn.frames.length === 4, 'three updates')
  t.same(received(conn).slice(1), [
    { contextUpdate: { tools: { tools: [{ functionDeclarations: [declared('get_weather'), declared('get_tide')] }] } } },
    { contextUpdate: { tools: { tools: [] } } },
    { contextUpdate: { systemInstruction: { parts: [{ text: 'Both.' }] }, tools: { tools: [{ functionDeclarations: [declared('get_time')] }] } } }
  ])
  t.equal(upstream.connections.length, 1)
})

t.test('what a contextUpdate cannot carry resumes on a new connection as before: instructions with a new voice, instructions removed', async (t) => {
  const { ws, conn, upstream } = await configured(t, { instructions: 'Be brief.' })
  send(conn.socket, { sessionResumptionUpdate: { newHandle: 'h1', resumable: true, lastConsumedClientMessageIndex: '0' } })
  await new Promise((resolve) => setTimeout(resolve, 20))
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'In French.', audio: { output: { voice: 'shimmer' } } } }))
  const second = await upstream.next()
  await next(ws, 'session.updated')
  t.match(received(second)[0], { setup: { systemInstruction: { parts: [{ text: 'In French.' }] }, generationConfig: { speechConfig: { voiceConfig: { prebuiltVoiceConfig: { voiceName: 'Leda' } } } }, sessionResumption: { handle: 'h1' } } })
  t.equal(received(conn).filter((m) => m.contextUpdate !== undefined).length, 0, 'no contextUpdate on the old connection')
  send(second.socket, { sessionResumptionUpdate: { newHandle: 'h2', resumable: true, lastConsumedClientMessageIndex: '0' } })
  await new Promise((resolve) => setTimeout(resolve, 20))
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: '' } }))
  const third = await upstream.next()
  await next(ws, 'session.updated')
  t.equal(received(third)[0].setup.systemInstruction, undefined, 'a setup without instructions')
  t.equal(received(second).length, 1, 'nothing but the setup on the second connection')
})

t.test('after a contextUpdate, a resumption (goAway) carries the new instructions in its setup', async (t) => {
  const { ws, conn, upstream } = await configured(t, { instructions: 'Be brief.' })
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'Be thorough.' } }))
  await next(ws, 'session.updated')
  await until(() => conn.frames.length === 2, 'the contextUpdate')
  // Gemini has consumed it (index 1): nothing to resend.
  send(conn.socket, { sessionResumptionUpdate: { newHandle: 'h1', resumable: true, lastConsumedClientMessageIndex: '1' } })
  send(conn.socket, { goAway: { timeLeft: '1s' } })
  const second = await upstream.next()
  append(ws)
  await until(() => second.frames.length === 2, 'the setup and the frame')
  t.match(received(second)[0], { setup: { systemInstruction: { parts: [{ text: 'Be thorough.' }] }, sessionResumption: { handle: 'h1' } } })
  t.ok(received(second)[1].realtimeInput !== undefined, 'the consumed contextUpdate is not sent again')
  // The next update is compared with the new connection's setup: the same instructions again change nothing.
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'Be thorough.' } }))
  await next(ws, 'session.updated')
  append(ws)
  await until(() => second.frames.length === 3, 'the next frame')
  t.equal(received(second).filter((m) => m.contextUpdate !== undefined).length, 0)
})

const GEMINI_KEY = 'AIzaSyCTX00000000000000000000000000000000'

async function simulated (t: Tap): Promise<Proxy> {
  const sim = await RealtimeSimulator.start({ pace: 0, apiKey: GEMINI_KEY })
  t.teardown(() => sim.close())
  return await startProxy(t, { providers: { gemini: { type: 'gemini', apiKey: GEMINI_KEY, baseURL: sim.url } } })
}

t.test('the simulator takes a contextUpdate: a tool added mid-session is called on the same connection', async (t) => {
  const proxy = await simulated(t)
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gemini/gemini-3.8-live`)
  await next(ws, 'session.created')
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'Be brief.', output_modalities: ['text'] } }))
  await next(ws, 'session.updated')
  const ask = (text: string): void => {
    ws.send(JSON.stringify({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } }))
    ws.send(JSON.stringify({ type: 'response.create' }))
  }
  ask('please get_weather')
  t.match((await next(ws, 'response.done')).response.output[0], { type: 'message', content: [{ text: 'You said: please get_weather' }] }, 'no such tool yet')
  ws.send(JSON.stringify({ type: 'session.update', session: { tools: [fn('get_weather')] } }))
  await next(ws, 'session.updated')
  ask('please get_weather')
  t.match((await next(ws, 'response.done')).response.output[0], { type: 'function_call', name: 'get_weather' })
  ws.close()
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the session to end')
  t.equal(resumes(proxy), 0, 'one connection throughout')
})

t.test('@openai/agents-realtime: updateAgent switches instructions and tools through contextUpdate; the new agent\'s tool runs', async (t) => {
  const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
  const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))
  const sim = await RealtimeSimulator.start({ pace: 0, apiKey: GEMINI_KEY })
  t.teardown(() => sim.close())
  const proxy = await startProxy(t, { providers: { gemini: { type: 'gemini', apiKey: GEMINI_KEY, baseURL: sim.url } } }, undefined, { https: { key, cert } })
  const url = `${proxy.url.replace('ws://', 'wss://')}/v1/realtime?model=gemini/gemini-3.8-live`
  const calls: string[] = []
  const getTide = tool({ name: 'get_tide', description: 'The tide', parameters: z.object({ text: z.string() }), execute: async ({ text }) => { calls.push(text); return 'high at noon' } })
  const greeter = new RealtimeAgent({ name: 'Greeter', instructions: 'Greet the caller.' })
  const harbour = new RealtimeAgent({ name: 'Harbour', instructions: 'Answer about the harbour.', tools: [getTide] })
  const { session, errors, transcripts } = await agentSession(t, url, greeter, cert, 'gemini/gemini-3.8-live')
  await session.updateAgent(harbour)
  session.sendMessage('what does get_tide say?')
  await until(() => transcripts.length === 1, 'the answer after the tool')
  t.same(calls, ['what does get_tide say?'])
  t.same(transcripts, ['The tool said {"output":"high at noon"}. '])
  t.same(errors, [])
  t.equal(resumes(proxy), 0, 'the agent changed without a new Gemini connection')
})
