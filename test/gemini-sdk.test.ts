// OpenAI's own clients hold a conversation with Gemini Live (the simulator) through the plugin, as if it were
// OpenAI: the openai SDK's OpenAIRealtimeWS across three and more goAways (a function call round trip, text and
// spoken turns, transcripts in order, audio neither lost nor doubled, usage summed once), and
// @openai/agents-realtime's RealtimeSession running an agent's tool.
import t from 'tap'
import { readFileSync } from 'node:fs'
import OpenAI from 'openai'
import { OpenAIRealtimeWS } from 'openai/realtime/ws'
import { RealtimeAgent, tool } from '@openai/agents-realtime'
import { z } from 'zod'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { tone } from '../lib/simulator/audio.js'
import { startProxy, until, type Proxy } from './helpers.js'
import { agentSession } from './gemini-fake.js'

type Event = Record<string, any>
const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))
const GEMINI_KEY = 'AIzaSySDK00000000000000000000000000000000'
const resumes = (proxy: Proxy): number => proxy.logs.lines.filter((l) => l.msg === 'resuming the Gemini session on a new connection').length

async function geminiProxy (t: Tap, connectionLifetime: number): Promise<Proxy> {
  const sim = await RealtimeSimulator.start({ pace: 0, apiKey: GEMINI_KEY, connectionLifetime, goAwayGrace: 200 })
  t.teardown(() => sim.close())
  return await startProxy(t, {
    providers: { gemini: { type: 'gemini', apiKey: GEMINI_KEY, baseURL: sim.url } },
    pricing: { 'gemini/gemini-3.8-live': { input: { text: 0.5, audio: 3 }, output: { text: 2, audio: 12 } } }
  }, undefined, { https: { key, cert } })
}
type Tap = Parameters<typeof startProxy>[0]

t.test('openai SDK (OpenAIRealtimeWS): text, a function call and speech across three goAways; one session, nothing lost or doubled, usage once', async (t) => {
  const proxy = await geminiProxy(t, 300)
  const client = new OpenAI({ apiKey: 'app-user-token', baseURL: `${proxy.url.replace('ws://', 'https://')}/v1` })
  const rt = new OpenAIRealtimeWS({ model: 'gemini/gemini-3.8-live', options: { ca: cert } }, client)
  t.teardown(() => rt.close())
  const events: Event[] = []
  rt.on('event', (e) => events.push(e as Event))
  const errors: Event[] = []
  rt.on('error', (e) => errors.push(e as unknown as Event))
  const responseDone = async (): Promise<Event> => {
    const seen = events.filter((e) => e.type === 'response.done').length
    await until(() => events.filter((e) => e.type === 'response.done').length > seen, 'response.done')
    return events.filter((e) => e.type === 'response.done').at(-1) as Event
  }
  const goAway = async (): Promise<void> => {
    const before = resumes(proxy)
    await until(() => resumes(proxy) > before, 'a goAway and a new connection')
  }
  await new Promise((resolve) => rt.socket.once('open', resolve))
  rt.send({
    type: 'session.update',
    session: {
      type: 'realtime',
      instructions: 'Be brief.',
      audio: { input: { transcription: { model: 'gpt-4o-transcribe' } }, output: { voice: 'coral' } },
      tools: [{ type: 'function', name: 'get_weather', description: 'The weather', parameters: { type: 'object', properties: {} } }]
    }
  })
  await until(() => events.some((e) => e.type === 'session.updated'), 'session.updated')

  let done = responseDone()
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'hello one' }] } })
  rt.send({ type: 'response.create' })
  const first = await done
  await goAway()

  done = responseDone()
  rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'please get_weather now' }] } })
  const call = (await done).response.output[0]
  t.match(call, { type: 'function_call', name: 'get_weather', arguments: '{"text":"please get_weather now"}' })
  await goAway() // the model waits for the call's output across the new connection
  done = responseDone()
  rt.send({ type: 'conversation.item.create', item: { type: 'function_call_output', call_id: call.call_id, output: '{"temperature":21}' } })
  rt.send({ type: 'response.create' })
  const toolAnswer = await done
  await goAway()

  // 1.5 s of speech and 0.6 s of silence in 20 ms frames, fast enough to cross a goAway or two mid-stream.
  done = responseDone()
  const speech = Buffer.concat([tone(1.5, 300), Buffer.alloc(24000 * 2 * 0.6)])
  const before = resumes(proxy)
  for (let at = 0; at < speech.length; at += 960) {
    rt.send({ type: 'input_audio_buffer.append', audio: speech.subarray(at, at + 960).toString('base64') })
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  const spoken = await done
  t.ok(resumes(proxy) > before, 'the audio crossed a goAway')
  rt.close()
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the session to end')

  t.same(errors, [], 'no error events')
  const transcripts = events.filter((e) => e.type === 'response.output_audio_transcript.done').map((e) => e.transcript)
  t.same(transcripts, ['You said: hello one ', 'The tool said {"temperature":21}. ', 'I heard 2.0 seconds of audio. '], 'every answer once, in order; 2.1 s in, 2.0 heard until the turn ended (less 4 ms of filter delay): no audio lost or resent twice')
  t.same(events.filter((e) => e.type === 'conversation.item.input_audio_transcription.completed').map((e) => e.transcript), ['[2.0 seconds of audio]'])
  const audioBytes = (response: Event): number => events
    .filter((e) => e.type === 'response.output_audio.delta' && e.response_id === response.response.id)
    .reduce((n, e) => n + Buffer.from(e.delta, 'base64').length, 0)
  t.same([first, toolAnswer, spoken].map(audioBytes), [14_400, 14_400, 14_400], '0.3 s of 24 kHz audio per answer, whole')
  const summary = proxy.logs.lines.find((l) => l.msg === 'realtime session ended')?.summary as Event
  t.ok(summary.reconnects >= 3, `three goAways at least (${String(summary.reconnects)})`)
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'realtime session started').length, 1, 'one session')
  const usages = events.filter((e) => e.type === 'response.done' && e.response.usage !== null).map((e) => e.response.usage)
  t.equal(usages.length, 3, 'one usage per turn (the function call\'s response has none of its own)')
  t.equal(summary.usage.responses, 3)
  t.equal(summary.usage.inputTokens, usages.reduce((n, u) => n + u.input_tokens, 0), 'input tokens summed once')
  t.equal(summary.usage.outputTokens, usages.reduce((n, u) => n + u.output_tokens, 0))
  t.same(proxy.app.realtime.stats().usage.inputTokens, summary.usage.inputTokens)
  t.ok(summary.usage.costUSD > 0, 'priced by the gemini/gemini-3.8-live entry')
})

t.test('@openai/agents-realtime: a RealtimeSession runs the agent\'s tool through Gemini and speaks its answer', async (t) => {
  const proxy = await geminiProxy(t, 600_000)
  const url = `${proxy.url.replace('ws://', 'wss://')}/v1/realtime?model=gemini/gemini-3.8-live`
  const calls: string[] = []
  const getWeather = tool({
    name: 'get_weather',
    description: 'The weather in a city',
    parameters: z.object({ text: z.string() }),
    execute: async ({ text }) => {
      calls.push(text)
      return 'sunny, 21 degrees'
    }
  })
  const agent = new RealtimeAgent({ name: 'Forecaster', instructions: 'Answer with the weather.', tools: [getWeather] })
  const { session, errors, transcripts } = await agentSession(t, url, agent, cert, 'gemini/gemini-3.8-live')
  session.sendMessage('what does get_weather say for Paris?')
  await until(() => transcripts.length === 1, 'the answer after the tool')
  t.same(calls, ['what does get_weather say for Paris?'], 'the agent ran its tool once, with Gemini\'s arguments')
  t.same(transcripts, ['The tool said {"output":"sunny, 21 degrees"}. '], 'the tool\'s string result went back wrapped, as Gemini takes an object')
  t.same(errors, [])
  const history = session.history.map((item: Event) => item.type === 'function_call' ? `call ${String(item.name)}` : `${String(item.role)} message`)
  t.same(history, ['user message', 'call get_weather', 'assistant message'])
})
