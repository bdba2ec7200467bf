// Whichever side closes first, the other side gets the same code and reason; unsendable codes are mapped.
import t from 'tap'
import { once } from 'node:events'
import { connect as tcp, type AddressInfo } from 'node:net'
import { closed, fakeUpstream, open, startProxy, until, type Tap } from './helpers.js'

async function session (t: Tap) {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  return { proxy, ws, conn }
}

t.test('client close code and reason reach the provider', async (t) => {
  const { proxy, ws, conn } = await session(t)
  ws.close(4000, 'user hung up')
  t.same(await conn.closed, { code: 4000, reason: 'user hung up' })
  await until(() => proxy.app.realtime.sessions.size === 0, 'session removed')
  const end = proxy.logs.lines.find((l) => l.msg === 'realtime session ended') as { summary: Record<string, unknown> }
  t.match(end.summary, { by: 'client', code: 4000, reason: 'user hung up', provider: 'openai', model: 'gpt-realtime' })
})

t.test('provider close code and reason reach the client (OpenAI session_expired)', async (t) => {
  const { ws, conn } = await session(t)
  const c = closed(ws)
  conn.socket.close(1001, 'session_expired')
  t.same(await c, { code: 1001, reason: 'session_expired' })
})

t.test('a close without status (1005) is sent on as 1000', async (t) => {
  const { ws, conn } = await session(t)
  const c = closed(ws)
  conn.socket.close()
  t.same(await c, { code: 1000, reason: '' })
})

t.test('an abnormal drop (1006) is sent on as 1011', async (t) => {
  t.test('provider drops', async (t) => {
    const { ws, conn } = await session(t)
    const c = closed(ws)
    conn.socket.terminate()
    t.same(await c, { code: 1011, reason: '' })
  })
  t.test('client drops', async (t) => {
    const { ws, conn } = await session(t)
    ws.terminate()
    t.same(await conn.closed, { code: 1011, reason: '' })
  })
})

t.test('invalid UTF-8 in a text frame closes both sides with 1007', async (t) => {
  t.test('from the client: the proxy validates it', async (t) => {
    const { ws, conn } = await session(t)
    const c = closed(ws)
    ws.send(Buffer.from([0x7b, 0x80, 0x7d]), { binary: false }) // a lone continuation byte is not UTF-8
    t.equal((await c).code, 1007)
    t.equal((await conn.closed).code, 1007)
    t.equal(conn.frames.length, 0, 'never forwarded')
  })
  t.test('from the provider: trusted, relayed unchanged, and the client validates it', async (t) => {
    const { ws, conn } = await session(t)
    const c = new Promise<{ code: number }>((resolve) => ws.once('close', (code: number) => resolve({ code })))
    const errors: string[] = []
    ws.on('error', (err: Error & { code?: string }) => errors.push(err.code as string))
    conn.socket.send(Buffer.from([0x7b, 0x80, 0x7d]), { binary: false })
    t.equal((await conn.closed).code, 1007, 'the client\'s 1007 is mirrored to the provider')
    t.same(errors, ['WS_ERR_INVALID_UTF8'])
    t.equal((await c).code, 1006, 'ws stops reading after a protocol error, so the client sees its own abnormal close')
  })
})

t.test('one session ending leaves another untouched', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const a = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const connA = await upstream.next()
  const b = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const connB = await upstream.next()
  connA.socket.terminate()
  await closed(a)
  b.send('still here')
  await until(() => connB.frames.length === 1, 'b relays')
  t.equal(connB.frames[0]?.data.toString(), 'still here')
  t.equal(proxy.app.realtime.sessions.size, 1)
})

t.test('a client that breaks the protocol and never closes its side is dropped after closeTimeout', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, closeTimeout: 300 })
  const { port } = proxy.app.server.address() as AddressInfo
  // Raw TCP, half-open allowed: it never answers the proxy's close frame nor its FIN.
  const socket = tcp({ port, host: '127.0.0.1', allowHalfOpen: true })
  t.teardown(() => socket.destroy())
  socket.on('error', () => {})
  socket.write('GET /v1/realtime?model=gpt-realtime HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  const [answer] = await once(socket, 'data') as [Buffer]
  t.match(answer.toString(), /^HTTP\/1\.1 101 /)
  const conn = await upstream.next()
  const failedAt = Date.now()
  socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69])) // an unmasked frame: clients must mask
  t.same(await conn.closed, { code: 1002, reason: 'Invalid WebSocket frame: MASK must be set' }, 'the provider hears 1002 at once')
  await until(() => proxy.app.realtime.sessions.size === 0, 'the client leg dropped', 3000)
  const waited = Date.now() - failedAt
  t.ok(waited >= 250 && waited < 3000, `dropped after ${waited} ms (closeTimeout 300, ws's own default 30 s)`)
})

t.test('a provider that never answers the close frame is dropped after closeTimeout', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, closeTimeout: 300 })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  ;(conn.socket as unknown as { _socket: { pause (): void } })._socket.pause() // reads nothing more, answers nothing
  const closedAt = Date.now()
  ws.close(1000, 'bye')
  await until(() => proxy.app.realtime.sessions.size === 0, 'the provider leg dropped', 3000)
  const waited = Date.now() - closedAt
  t.ok(waited >= 250 && waited < 3000, `dropped after ${waited} ms (closeTimeout 300, ws's own default 30 s)`)
})
