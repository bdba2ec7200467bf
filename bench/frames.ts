import type { Socket } from 'node:net'
import type WebSocket from 'ws'

// The frame the benchmark streams: 100 ms of 24 kHz PCM16 audio, base64, in an OpenAI output_audio.delta.
export const DELTA = JSON.stringify({ type: 'response.output_audio.delta', event_id: 'event_0', response_id: 'resp_0', item_id: 'item_0', output_index: 0, content_index: 0, delta: 'A'.repeat(6400) })

// The same audio as GPT-Live sends it.
export const LIVE_DELTA = JSON.stringify({ type: 'session.output_audio.delta', event_id: 'evt_0', delta: 'A'.repeat(6400) })

/**
 * Sends `frame` as fast as the connection takes it while `going()`: at most 64 frames a turn (a peer that
 * vanished leaves readyState OPEN until the loop yields), and with `maxBuffered` bytes unsent it waits for
 * the socket to drain, as a real peer does, instead of spinning: a spinning load takes CPU from the proxy
 * under test on a small machine.
 */
export function pump (ws: WebSocket, frame: Buffer, maxBuffered: number, going: () => boolean): void {
  const socket = (ws as unknown as { _socket: Socket })._socket
  const turn = (): void => {
    for (let i = 0; i < 64 && going(); i++) {
      if (ws.bufferedAmount >= maxBuffered) {
        socket.once('drain', turn)
        return
      }
      ws.send(frame, { binary: false })
    }
    if (going()) setImmediate(turn)
  }
  turn()
}
