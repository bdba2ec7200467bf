// A recording fake Gemini Live for the codec's tests, and reading a client's OpenAI events by type.
import type WebSocket from 'ws'
import { OpenAIRealtimeWebSocket, RealtimeSession, type RealtimeAgent } from '@openai/agents-realtime'
import type { UsageRecord } from '../lib/index.js'
import { fakeUpstream, nextMessage, open, startProxy, type FakeUpstream, type Tap } from './helpers.js'

export type Event = Record<string, any>

/** Sends a Gemini server message as Gemini does: JSON in a binary frame. */
export const send = (ws: WebSocket, message: object): void => ws.send(Buffer.from(JSON.stringify(message)), { binary: true })

/** The client's next event, or the next of `type`. */
export async function next (ws: WebSocket, type?: string): Promise<Event> {
  for (;;) {
    const event = JSON.parse((await nextMessage(ws)).data.toString())
    if (type === undefined || event.type === type) return event
  }
}

/** A fake Gemini whose connections answer each setup with `onSetup` (default: setupComplete). */
export async function geminiUpstream (t: Tap, onSetup: (ws: WebSocket, n: number) => void = (ws) => send(ws, { setupComplete: {} })): Promise<FakeUpstream & { setups: () => number }> {
  let setups = 0
  const upstream = await fakeUpstream(t, {
    onConnection: (ws) => ws.on('message', (data: Buffer) => {
      if (JSON.parse(data.toString()).setup !== undefined) onSetup(ws, ++setups)
    })
  })
  return Object.assign(upstream, { setups: () => setups })
}

/** A client on a Gemini Live session through the plugin (priced at 1 and 2 USD per 1M text tokens in and out), its Gemini connection, and the usage records. */
export async function geminiSession (t: Tap) {
  const upstream = await geminiUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { gemini: { type: 'gemini', apiKey: 'AIzaSyTEST0123456789abcdefghijklmnopqrs', baseURL: upstream.url } },
    pricing: { 'gemini-live': { input: { text: 1 }, output: { text: 2 } } },
    onUsage: (r) => { records.push(r) }
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gemini/gemini-live`)
  const conn = await upstream.next()
  return { upstream, proxy, ws, conn, records }
}

/**
 * @openai/agents-realtime's RealtimeSession for `agent` on `url` (the plugin over TLS with the test `cert`),
 * connected, with the transcripts of its answers and its errors as they come.
 */
export async function agentSession (t: Tap, url: string, agent: RealtimeAgent, cert: Buffer, model: string) {
  // The transport dials with Node's ws here, given the test certificate.
  const createWebSocket = async ({ url, apiKey }: { url: string, apiKey: string }): Promise<never> => {
    const { default: WebSocket } = await import('ws')
    return new WebSocket(url, ['realtime', `openai-insecure-api-key.${apiKey}`], { ca: cert }) as never
  }
  const transport = new OpenAIRealtimeWebSocket({ url, createWebSocket })
  const session = new RealtimeSession(agent, { transport, model })
  t.teardown(() => session.close())
  const errors: unknown[] = []
  session.on('error', (e) => errors.push(e))
  const transcripts: string[] = []
  transport.on('*', (event: Event) => { if (event.type === 'response.output_audio_transcript.done') transcripts.push(event.transcript) })
  await session.connect({ apiKey: 'app-user-token', url })
  return { session, errors, transcripts }
}
