// A recording fake Gemini Live for the codec's tests, and reading a client's OpenAI events by type.
import type WebSocket from 'ws'
import { fakeUpstream, nextMessage, type FakeUpstream, type Tap } from './helpers.js'

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
