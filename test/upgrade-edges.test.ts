// Upgrade requests at the edges: pipelined frames, refusals after the dial, bad headers, shutdown windows.
import t from 'tap'
import { once } from 'node:events'
import { connect as tcp } from 'node:net'
import websocket from '@fastify/websocket'
import { closeReason } from '../lib/close-codes.js'
import { closed, fakeUpstream, open, refused, startProxy, until } from './helpers.js'

const HANDSHAKE = 'GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n'

/** A masked client text frame, as a browser would send it. */
function maskedText (text: string): Buffer {
  const payload = Buffer.from(text)
  const mask = Buffer.from([1, 2, 3, 4])
  const masked = Buffer.from(payload.map((b, i) => b ^ (mask[i % 4] as number)))
  return Buffer.concat([Buffer.from([0x81, 0x80 | payload.length]), mask, masked])
}

t.test('a frame the client sends before the 101 arrives is relayed, not lost', async (t) => {
  const upstream = await fakeUpstream(t, { delay: 100 })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const socket = tcp(Number(new URL(proxy.url).port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  await once(socket, 'connect')
  socket.write(HANDSHAKE + '\r\n')
  // written while the provider is being dialed (it answers after 100 ms)
  await until(() => upstream.requests.length === 1, 'dial started')
  socket.write(maskedText('{"type":"session.update"}'))
  const conn = await upstream.next()
  await until(() => conn.frames.length === 1, 'pipelined frame upstream')
  t.equal(conn.frames[0]?.data.toString(), '{"type":"session.update"}')
})

t.test('an upgrade ws refuses after the dial (app verifyClient) takes the provider socket down', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } }, async (app) => {
    await app.register(websocket, { options: { verifyClient: (_info: unknown, verdict: (ok: boolean) => void) => setTimeout(() => verdict(false), 20) } as never })
  })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal(res.status, 401)
  const conn = await upstream.next()
  t.equal((await conn.closed).code, 1006, 'provider socket dropped')
  t.equal(proxy.app.realtime.sessions.size, 0)
})

t.test('bad Upgrade or subprotocol headers are refused before dialing', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  for (const [raw, message] of [
    [HANDSHAKE.replace('Upgrade: websocket', 'Upgrade: h2c'), 'Invalid websocket upgrade: Upgrade header must be "websocket"'],
    [HANDSHAKE + 'Sec-WebSocket-Protocol: realtime, bad token\r\n', 'Invalid websocket upgrade: malformed Sec-WebSocket-Protocol']
  ]) {
    const socket = tcp(Number(new URL(proxy.url).port), '127.0.0.1')
    t.teardown(() => socket.destroy())
    socket.write(raw + '\r\n')
    let text = ''
    socket.on('data', (c) => { text += c.toString() })
    await once(socket, 'close')
    t.match(text, /^HTTP\/1\.1 400 /)
    t.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).message, message)
  }
  t.equal(upstream.requests.length, 0)
})

t.test('a session whose auth was still running when shutdown began gets 503, not a dial', async (t) => {
  const upstream = await fakeUpstream(t)
  let authStarted!: () => void
  const started = new Promise<void>((resolve) => { authStarted = resolve })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } }, (app) => {
    app.addHook('onRequest', async () => {
      authStarted()
      await new Promise((resolve) => setTimeout(resolve, 100))
    })
  })
  const pending = refused(t, `${proxy.url}/v1/realtime?model=m`)
  await started
  const closing = proxy.app.close()
  const res = await pending
  t.equal(res.status, 503)
  t.equal(JSON.parse(res.body).code, 'FST_REALTIME_SHUTTING_DOWN')
  await closing
  t.equal(upstream.requests.length, 0)
})

t.test('an unknown 4xx with no body still says what happened', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 499, body: '', headers: {} } })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal(res.status, 499)
  t.equal(JSON.parse(res.body).message, 'The provider refused the session with HTTP 499: no body')
})

t.test('close reasons are cut to 123 bytes on a character boundary', async (t) => {
  t.equal(closeReason('short'), 'short')
  const buf = Buffer.from('x')
  t.equal(closeReason(buf), buf)
  const long = 'é'.repeat(100)
  const cut = closeReason(long) as string
  t.equal(Buffer.byteLength(cut), 122)
  t.equal(cut, 'é'.repeat(61))
  t.equal(closeReason('a'.repeat(200)), 'a'.repeat(123))
})

t.test('an error on one leg closes the other with a mirrored code', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  const c = closed(ws)
  // An unmasked client frame is a protocol error: ws closes that leg with 1002, the provider hears 1002.
  ;(ws as unknown as { _socket: { write (b: Buffer): void } })._socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]))
  t.equal((await conn.closed).code, 1002)
  t.equal((await c).code, 1002)
})
