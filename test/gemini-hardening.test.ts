// Regressions (#23) on the Gemini codec: its own answers queued toward a client that reads nothing (item 4), an
// output rate that amplifies audio (5), a setup never completed (6), a goAway after every setup (7), a key of no
// known shape echoed in a close reason (18), append audio that is not base64 (19).
import t from 'tap'
import type WebSocket from 'ws'
import { RESUME_DELAYS } from '../lib/codecs/gemini/leg.js'
import { MAX_ITEM_TEXT } from '../lib/codecs/realtime/response.js'
import { closed, deafClient, fakeUpstream, open, startProxy, until, type Tap, type UpstreamConnection } from './helpers.js'
import { geminiUpstream, next, send, type Event } from './gemini-fake.js'
import { maskedFrames, settled } from './frames.js'

const KEY = 'plainkey-0f3a9c2e7b51d8' // no known key shape: only the exact value can be redacted

async function gemini (t: Tap, onSetup?: (ws: WebSocket, n: number) => void, options: object = {}) {
  const upstream = await geminiUpstream(t, onSetup)
  const proxy = await startProxy(t, { providers: { gemini: { type: 'gemini', apiKey: KEY, baseURL: upstream.url } }, ...options })
  return { upstream, proxy, url: `${proxy.url}/v1/realtime?model=gemini/gemini-live`, setups: upstream.setups }
}

t.test('the codec\'s own answers to a client that reads nothing obey its highWaterMark: the client is not read past it', async (t) => {
  const highWaterMark = 256 * 1024
  const { upstream, proxy } = await gemini(t, undefined, { highWaterMark, heartbeatInterval: 0 })
  const socket = await deafClient(t, proxy, '/v1/realtime?model=gemini/gemini-live')
  await upstream.next()
  const frame = '{"type":"response.cancel"}' // answered with an unsupported_event error of ~230 bytes each
  const sent = 240_000 // 6.7 MB on the wire
  socket.write(maskedFrames(frame, sent))
  const [serverSide] = [...proxy.app.websocketServer.clients] as [WebSocket]
  const [session] = [...proxy.app.realtime.sessions.values()]
  const received = await settled(() => session?.stats.client.frames ?? 0)
  t.ok(received < sent, `the proxy stopped reading the client (${received} of ${sent} frames read)`)
  t.ok(serverSide.bufferedAmount <= highWaterMark + 512, `queued toward the client: ${serverSide.bufferedAmount} bytes (the mark and one answer)`)
})

t.test('audio at a rate outside 8-48 kHz is dropped with one error event; the session goes on', async (t) => {
  const { upstream, url } = await gemini(t)
  const ws = await open(t, url)
  const conn = await upstream.next()
  ws.send('{"type":"session.update","session":{}}')
  await next(ws, 'session.updated')
  const started = performance.now()
  for (const rate of [1, 1, 100_000]) send(conn.socket, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: `audio/pcm;rate=${rate}`, data: Buffer.alloc(4800).toString('base64') } }] } } })
  send(conn.socket, { serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=16000', data: Buffer.alloc(320).toString('base64') } }] } } })
  t.match(await next(ws), { type: 'error', error: { code: 'invalid_provider_audio', message: 'Gemini sent audio at 1 Hz; only 8000-48000 Hz is converted to 24 kHz, so it was dropped' } })
  t.match(await next(ws), { type: 'error', error: { code: 'invalid_provider_audio', message: /100000 Hz/ } }, 'once per rate')
  let delta: Event
  do delta = await next(ws); while (delta.type !== 'response.output_audio.delta')
  const bytes = Buffer.from(delta.delta, 'base64').length
  t.ok(bytes > 0 && bytes <= 480, `a sane rate is still converted (${bytes} bytes of at most 10 ms at 24 kHz, less the filter's delay)`)
  t.ok(performance.now() - started < 1000, 'no stall')
})

t.test('a Gemini that never completes its setup: provider_closed and 1011 after setupTimeout (dialTimeout), slots back', async (t) => {
  const { upstream, proxy, url } = await gemini(t, () => {}, { dialTimeout: 300, maxSessions: 1 })
  const ws = await open(t, url)
  const conn = await upstream.next()
  const c = closed(ws)
  ws.send('{"type":"session.update","session":{}}')
  const event = await next(ws, 'error')
  t.match(event, { error: { code: 'provider_closed', message: 'Gemini Live did not complete its setup within 300 ms' } })
  t.equal((await c).code, 1011)
  await conn.closed
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the session to end')
  t.equal((await open(t, url)).readyState, 1, 'the slot came back')
})

t.test('a goAway after every setup: new connections are paced and bounded, then the session ends', async (t) => {
  const { url, setups } = await gemini(t, (ws) => { send(ws, { setupComplete: {} }); send(ws, { goAway: { timeLeft: '0s' } }) })
  const ws = await open(t, url)
  const c = closed(ws)
  ws.send('{"type":"session.update","session":{}}')
  await new Promise((resolve) => setTimeout(resolve, 500))
  t.ok(setups() <= 6, `${setups()} connections in the first 500 ms`)
  t.match(await next(ws, 'error'), { error: { code: 'provider_closed', message: `Gemini Live ended ${RESUME_DELAYS.length} connections in a row without finishing a turn; the session is closed` } })
  t.equal((await c).code, 1011)
  t.equal(setups(), RESUME_DELAYS.length + 1, 'the first connection and one per delay')
})

t.test('a key of no known shape echoed in Gemini\'s close reason reaches neither the client nor the log', async (t) => {
  const { upstream, proxy, url } = await gemini(t)
  const ws = await open(t, url)
  const conn: UpstreamConnection = await upstream.next()
  const texts: string[] = []
  ws.on('message', (data: Buffer) => texts.push(data.toString()))
  const c = closed(ws)
  ws.send('{"type":"session.update","session":{}}')
  await until(() => texts.some((x) => x.includes('session.updated')), 'session.updated')
  conn.socket.close(1008, `API key ${KEY} not valid`)
  const close = await c
  t.equal(close.code, 1008)
  t.equal(close.reason, 'API key [REDACTED] not valid')
  t.ok(texts.some((x) => x.includes('provider_closed')))
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the end')
  t.notOk(texts.join('').includes(KEY), 'not in any frame')
  t.notOk(proxy.logs.text.includes(KEY), 'not in any log line')
})

t.test('a plain provider\'s close reason with the exact key: redacted for the client and the summary', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  const c = closed(ws)
  conn.socket.close(4001, `bad key ${KEY}`)
  t.same(await c, { code: 4001, reason: 'bad key [REDACTED]' })
  await until(() => proxy.app.realtime.stats().activeSessions === 0, 'the end')
  t.notOk(proxy.logs.text.includes(KEY))
})

t.test('append audio that is not base64 is an invalid_value error, not garbage sent to Gemini', async (t) => {
  const { upstream, url } = await gemini(t)
  const ws = await open(t, url)
  const conn = await upstream.next()
  ws.send('{"type":"session.update","session":{}}')
  await next(ws, 'session.updated')
  for (const audio of ['not base64!', 'AAA', 'AAAA====', '\u00e9t\u00e9', 'AA=A', 'AAA\u00e9']) {
    ws.send(JSON.stringify({ type: 'input_audio_buffer.append', event_id: 'e1', audio }))
    t.match(await next(ws, 'error'), { error: { code: 'invalid_value', param: 'audio', event_id: 'e1' } }, audio)
  }
  t.equal(conn.frames.length, 1, 'only the setup reached Gemini')
  // Padded appends are whole base64: no error for them (the next error is the invalid frame's after them).
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', event_id: 'ok1', audio: 'AQID' }))
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', event_id: 'ok2', audio: 'AQI=' }))
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', event_id: 'ok3', audio: 'AQ==' }))
  ws.send(JSON.stringify({ type: 'input_audio_buffer.append', event_id: 'e2', audio: '!' }))
  t.match(await next(ws, 'error'), { error: { code: 'invalid_value', event_id: 'e2' } })
})

t.test('a turn\'s text kept for its done events is bounded (MAX_ITEM_TEXT); every delta still reaches the client', async (t) => {
  const { upstream, url } = await gemini(t)
  const ws = await open(t, url)
  const conn = await upstream.next()
  ws.send('{"type":"session.update","session":{}}')
  await next(ws, 'session.updated')
  const part = 'y'.repeat(200 * 1024)
  for (let i = 0; i < 3; i++) send(conn.socket, { serverContent: { outputTranscription: { text: part } } })
  send(conn.socket, { serverContent: { turnComplete: true } })
  let deltas = 0
  let done: Event
  for (;;) {
    done = await next(ws)
    if (done.type === 'response.output_audio_transcript.delta') deltas += (done.delta as string).length
    if (done.type === 'response.output_audio_transcript.done') break
  }
  t.equal(deltas, 3 * part.length, 'every delta')
  t.equal((done.transcript as string).length, MAX_ITEM_TEXT, 'the done event carries the first MAX_ITEM_TEXT characters')
  t.equal((await next(ws, 'response.done')).response.output[0].content[0].transcript.length, MAX_ITEM_TEXT)
})

t.test('a Gemini connection that breaks the websocket protocol (RSV1 without deflate) is dropped and the session resumes on a new one', async (t) => {
  const { upstream, proxy, url } = await gemini(t)
  const ws = await open(t, url)
  const first = await upstream.next()
  ws.send('{"type":"session.update","session":{}}')
  await next(ws, 'session.updated')
  // A text frame with RSV1 set: ws refuses it (WS_ERR_UNEXPECTED_RSV_1) with an 'error', then the connection closes.
  ;(first.socket as unknown as { _socket: { write (b: Buffer): void } })._socket.write(Buffer.from([0xc1, 0x02, 0x7b, 0x7d]))
  const second = await upstream.next()
  t.ok(second !== first, 'a new connection was dialled')
  await until(() => upstream.setups() === 2, 'its setup')
  t.equal(ws.readyState, ws.OPEN, 'the client never noticed')
  const [session] = [...proxy.app.realtime.sessions.values()]
  const ended = session?.ended
  ws.close()
  t.equal((await ended)?.reconnects, 1)
})
