// The fake realtime provider for the benchmark, in its own process. The connection URL picks the behaviour:
//   ?mode=stream  send 100 ms audio deltas as fast as the connection takes them
//   ?mode=sink    count what arrives, ack every 500 frames
//   ?mode=echo    send every frame straight back (latency)
//   ?mode=idle    nothing
// Under /failing/ every handshake is refused with 503 at once (a deployment that is down, for failover).
// On Gemini's BidiGenerateContent path it plays Gemini Live as an echo: setupComplete for the setup, then for each
// realtimeInput audio chunk (20 ms at 16 kHz) 20 ms of 24 kHz audio back, in a binary frame as Gemini sends them.
// On /v1/live/sessions (GPT-Live) the first frame, session.start, names the behaviour as its model: it is
// answered with session.started, then `stream` sends 100 ms session.output_audio.delta frames; anything else, nothing.
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

import { DELTA, LIVE_DELTA, pump } from './frames.js'

function stream (ws: WebSocket): void {
  pump(ws, Buffer.from(DELTA), 1024 * 1024, () => ws.readyState === ws.OPEN)
}

// GET /__cpu: this process's CPU time, so the benchmark can count what each frame costs the whole machine.
const server = createServer((req, res) => {
  const cpu = process.cpuUsage()
  if (req.url === '/__cpu') res.end(JSON.stringify({ cpu: cpu.user + cpu.system }))
  else res.writeHead(404).end()
})
const wss = new WebSocketServer({
  server,
  perMessageDeflate: false,
  maxPayload: 16 * 1024 * 1024,
  verifyClient: (info, done) => done(info.req.url?.startsWith('/failing/') !== true, 503)
})
function live (ws: WebSocket): void {
  ws.once('message', (data: Buffer) => {
    const model = (JSON.parse(data.toString()) as { session: { model: string } }).session.model
    ws.send(JSON.stringify({ type: 'session.started', event_id: 'evt_s', session: { id: 'live_bench', model, status: 'active' } }))
    if (model === 'stream') pump(ws, Buffer.from(LIVE_DELTA), 1024 * 1024, () => ws.readyState === ws.OPEN)
  })
}

const GEMINI_ECHO = Buffer.from(JSON.stringify({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: 'A'.repeat(1280) } }] } } }))
function gemini (ws: WebSocket): void {
  ws.once('message', () => {
    ws.send(Buffer.from('{"setupComplete":{}}'), { binary: true })
    ws.on('message', (data: Buffer) => { if (data.includes('"realtimeInput"')) ws.send(GEMINI_ECHO, { binary: true }) })
  })
}

wss.on('connection', (ws, req) => {
  ws.on('error', () => {})
  if (req.url?.startsWith('/v1/live/sessions') === true) return live(ws)
  if (req.url?.includes('BidiGenerateContent') === true) return gemini(ws)
  // the plugin forwards only the model, so the model names the behaviour
  const params = new URL(req.url ?? '/', 'http://x').searchParams
  const mode = params.get('mode') ?? params.get('model')
  if (mode === 'stream') stream(ws)
  else if (mode === 'echo') ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
  else if (mode === 'sink') {
    let n = 0
    ws.on('message', () => { if (++n % 500 === 0) ws.send(`{"type":"ack","n":${n}}`) })
  }
})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as AddressInfo).port })
})
