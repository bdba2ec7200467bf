// A client that stops reading must not grow the proxy's memory: the proxy stops reading the provider instead.
import t from 'tap'
import { once } from 'node:events'
import { deafClient, fakeUpstream, startProxy, until } from './helpers.js'

const FRAME = Buffer.alloc(6400, 'A') // 100 ms of base64 PCM16 audio
const OFFERED = 256 * 1024 * 1024

t.test('a stalled reader bounds what the proxy reads from the provider', async (t) => {
  let sent = 0
  let stop = false
  const upstream = await fakeUpstream(t, {
    onConnection: (ws) => {
      // Stream as fast as the proxy reads; this side's own buffer is what grows when the proxy pauses.
      const pump = (): void => {
        if (stop) return
        while (sent < OFFERED && ws.bufferedAmount < 4 * 1024 * 1024) {
          ws.send(FRAME, { binary: false })
          sent += FRAME.length
        }
        if (sent < OFFERED) setTimeout(pump, 1)
      }
      pump()
    }
  })
  const highWaterMark = 256 * 1024
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, highWaterMark, heartbeatInterval: 0 })
  // A raw TCP client: handshake, then never read again.
  await deafClient(t, proxy)

  await until(() => proxy.app.realtime.sessions.size === 1, 'session')
  const session = [...proxy.app.realtime.sessions.values()][0]
  // Wait until the proxy has stopped reading: what it received no longer grows.
  let last = -1
  await until(() => {
    const now = session?.stats.upstream.bytes ?? 0
    const settled = now === last && now > 0
    last = now
    return settled
  }, 'the proxy to stop reading', 20_000)
  await new Promise((resolve) => setTimeout(resolve, 300))
  const read = session?.stats.upstream.bytes ?? 0
  stop = true
  t.equal(read, last, 'still not reading after 300 ms')
  // Read = high-water mark + what the kernel buffers of both loopback sockets hold; far below what was offered.
  t.ok(read < 48 * 1024 * 1024, `proxy read ${read} bytes of ${sent} offered`)
  t.ok(sent > read + 2 * 1024 * 1024, 'the provider had more to send')
})

t.test('a reader that resumes gets every frame, in order', async (t) => {
  const total = 2000
  const upstream = await fakeUpstream(t, {
    onConnection: (ws) => {
      for (let i = 0; i < total; i++) ws.send(`${i}:`.padEnd(6400, 'A'))
    }
  })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, highWaterMark: 64 * 1024 })
  const port = Number(new URL(proxy.url).port)
  const { default: WebSocket } = await import('ws')
  const ws = new WebSocket(`ws://127.0.0.1:${port}/v1/realtime?model=m`)
  t.teardown(() => ws.terminate())
  const got: number[] = []
  ws.on('message', (data: Buffer) => got.push(Number(data.toString().split(':')[0])))
  await once(ws, 'open')
  ;(ws as unknown as { _socket: { pause (): void } })._socket.pause()
  await new Promise((resolve) => setTimeout(resolve, 200))
  ;(ws as unknown as { _socket: { resume (): void } })._socket.resume()
  await until(() => got.length === total, 'all frames', 20_000)
  t.same(got, Array.from({ length: total }, (_, i) => i))
  t.equal(proxy.app.realtime.sessions.size, 1)
})
