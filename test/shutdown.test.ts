// fastify.close() closes every live session with 1001 on both legs and waits for them; nothing is left behind.
import t from 'tap'
import websocket from '@fastify/websocket'
import { closed, fakeUpstream, open, refused, startProxy, until } from './helpers.js'

t.test('close() ends live sessions with 1001 and waits', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const clients = [await open(t, `${proxy.url}/v1/realtime?model=m`), await open(t, `${proxy.url}/v1/realtime?model=m`)]
  const conns = [await upstream.next(), await upstream.next()]
  const clientCloses = clients.map(closed)
  await proxy.app.close()
  t.equal(proxy.app.realtime.sessions.size, 0, 'every session ended before close() resolved')
  for (const c of await Promise.all(clientCloses)) t.same(c, { code: 1001, reason: 'server shutting down' })
  for (const c of await Promise.all(conns.map((c) => c.closed))) t.same(c, { code: 1001, reason: 'server shutting down' })
  const ended = proxy.logs.lines.filter((l) => l.msg === 'realtime session ended') as Array<{ summary: { by: string } }>
  t.same(ended.map((l) => l.summary.by), ['server', 'server'])
})

t.test('a client that never finishes the close handshake is terminated after closeTimeout', async (t) => {
  const upstream = await fakeUpstream(t)
  // The app's own @fastify/websocket keeps ws's 30 s close timer: the bound is the session's closeTimeout.
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, closeTimeout: 100 }, async (app) => {
    await app.register(websocket)
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  await upstream.next()
  // Stop reading so the close frame is never answered.
  ;(ws as unknown as { _socket: { pause (): void } })._socket.pause()
  const started = Date.now()
  await proxy.app.close()
  t.ok(Date.now() - started < 2000, 'bounded by closeTimeout, not ws\'s 30 s')
  t.equal(proxy.app.realtime.sessions.size, 0)
})

t.test('a dial in flight at shutdown is aborted with 503', async (t) => {
  const upstream = await fakeUpstream(t, { hang: true })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const pending = refused(t, `${proxy.url}/v1/realtime?model=m`)
  await until(() => upstream.requests.length === 1, 'dial started')
  const closing = proxy.app.close()
  const res = await pending
  t.equal(res.status, 503)
  t.same(JSON.parse(res.body), { statusCode: 503, code: 'FST_REALTIME_SHUTTING_DOWN', error: 'Service Unavailable', message: 'The server is shutting down' })
  await closing
})

t.test('a client that leaves while the provider is dialed takes the dial with it', async (t) => {
  const upstream = await fakeUpstream(t, { hang: true })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, dialTimeout: 60_000 })
  const { connect } = await import('node:net')
  const socket = connect(Number(new URL(proxy.url).port), '127.0.0.1')
  socket.write('GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  await until(() => upstream.requests.length === 1, 'dial started')
  socket.destroy()
  await until(() => proxy.logs.lines.some((l) => l.msg === 'client left while the provider was dialed'), 'dial aborted')
  t.equal(proxy.app.realtime.sessions.size, 0)
})

t.test('no timers or sockets are left after close()', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, heartbeatInterval: 50, pongTimeout: 20 })
  await open(t, `${proxy.url}/v1/realtime?model=m`)
  await upstream.next()
  const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  await proxy.app.close()
  const after = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  t.ok(after < before, `timers: ${before} during the session, ${after} after close`)
})
