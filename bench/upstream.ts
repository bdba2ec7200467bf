// The fake realtime provider for the benchmark, in its own process. The connection URL picks the behaviour:
//   ?mode=stream  send 100 ms audio deltas as fast as the connection takes them
//   ?mode=sink    count what arrives, ack every 500 frames
//   ?mode=echo    send every frame straight back (latency)
//   ?mode=idle    nothing
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

import { DELTA, pump } from './frames.js'

function stream (ws: WebSocket): void {
  pump(ws, Buffer.from(DELTA), 1024 * 1024, () => ws.readyState === ws.OPEN)
}

// GET /__cpu: this process's CPU time, so the benchmark can count what each frame costs the whole machine.
const server = createServer((req, res) => {
  const cpu = process.cpuUsage()
  if (req.url === '/__cpu') res.end(JSON.stringify({ cpu: cpu.user + cpu.system }))
  else res.writeHead(404).end()
})
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 })
wss.on('connection', (ws, req) => {
  ws.on('error', () => {})
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
