// Regressions on what the proxy itself sends and logs per client frame:
// - its own frames bypassed backpressure: a client that read nothing and sent tiny frames the event policy refused
//   made the proxy queue about ten times what it sent (8 MiB queued for 1.2 MiB received at highWaterMark 256 KiB);
// - log flooding: after a rateLimit breach every further frame logged a warning (2,995 lines for one client that
//   ignored the 1008 close), and a throwing onClientEvent logged at error level per frame.
import t from 'tap'
import type WebSocket from 'ws'
import { closed, deafClient, fakeUpstream, nextMessage, open, startProxy, until, type Tap } from './helpers.js'
import { maskedFrames as frames, settled } from './frames.js'

t.test('error events refusing a deaf client\'s frames obey highWaterMark: the proxy stops reading it', async (t) => {
  const upstream = await fakeUpstream(t)
  const highWaterMark = 256 * 1024
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    highWaterMark,
    heartbeatInterval: 0,
    clientEvents: '*',
    onClientEvent: () => undefined // every frame is checked; "x" is not JSON, so each is refused with an error event
  })
  const socket = await deafClient(t, proxy)
  await upstream.next()
  const sent = 200_000
  socket.write(frames('x', sent)) // 1.4 MB on the wire; each refusal is a ~220-byte error event
  const [serverSide] = [...proxy.app.websocketServer.clients] as [WebSocket]
  const [session] = [...proxy.app.realtime.sessions.values()]
  const received = await settled(() => session?.stats.client.frames ?? 0)
  const queued = serverSide.bufferedAmount
  t.ok(received < sent, `the proxy stopped reading the client (${received} of ${sent} frames read)`)
  // The mark plus the one error event that crossed it (the old code queued ~40 MB); the rest of the frames
  // read wait undecided, and they are what the client sent.
  t.ok(queued > highWaterMark && queued <= highWaterMark + 512, `queued toward the client: ${queued} bytes`)
  t.equal(upstream.connections[0]?.frames.length, 0, 'nothing refused went upstream')
})

t.test('a client over rateLimit that ignores the 1008 close: one log line, and it is no longer read', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    rateLimit: { perSecond: 1, burst: 1 },
    closeTimeout: 500,
    heartbeatInterval: 0
  })
  const socket = await deafClient(t, proxy)
  const conn = await upstream.next()
  socket.write(frames('{"type":"response.create"}', 3000))
  t.equal((await conn.closed).code, 1008)
  await until(() => proxy.app.realtime.sessions.size === 0, 'the session to end after closeTimeout')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'client exceeded its frame rate; closing with 1008').length, 1)
  t.equal(conn.frames.length, 1, 'only the frame within the rate went upstream')
})

async function session (t: Tap, options: Record<string, unknown>) {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, ...options })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  return { proxy, ws, conn }
}

t.test('a hook failing on every frame logs one line per hook per session; each event still gets its answer', async (t) => {
  const { proxy, ws, conn } = await session(t, {
    onClientEvent: () => { throw new Error('client boom') },
    onServerEvent: () => Promise.reject(new Error('server boom'))
  })
  for (let i = 0; i < 50; i++) ws.send(`{"type":"session.update","event_id":"e${i}","session":{}}`)
  for (let i = 0; i < 50; i++) t.match(JSON.parse((await nextMessage(ws)).data.toString()), { type: 'error', error: { code: 'policy_error', event_id: `e${i}` } })
  for (let i = 0; i < 50; i++) conn.socket.send(`{"type":"response.output_text.delta","delta":"${i}"}`)
  for (let i = 0; i < 50; i++) await nextMessage(ws)
  await new Promise((resolve) => setImmediate(resolve))
  const c = closed(ws)
  ws.close()
  await c
  await until(() => proxy.app.realtime.sessions.size === 0, 'the end')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'onClientEvent hook failed; event dropped').length, 1)
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'onServerEvent hook failed').length, 1)
  t.equal(conn.frames.length, 0)

  // another session logs its own first failure
  const ws2 = await open(t, `${proxy.url}/v1/realtime?model=m`)
  ws2.send('{"type":"session.update","session":{}}')
  await nextMessage(ws2)
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'onClientEvent hook failed; event dropped').length, 2)
})

t.test('an async hook whose own error events cross the mark: frames stay in order, none lost or duplicated', async (t) => {
  // highWaterMark 1: every error event is over the mark, so each holds the client's later frames until it is
  // written, while the hook's decision is pending (settled at once, or after the event was written).
  const { ws, conn } = await session(t, {
    highWaterMark: 1,
    clientEvents: '*',
    onClientEvent: (event: { type: string, n: number }, s: { sendError (code: string, message: string): void }) => {
      if (event.type === 'refuse') {
        s.sendError('refused', `frame ${event.n}`)
        return event.n % 2 === 0 ? Promise.resolve(null) : new Promise((resolve) => setTimeout(() => resolve(null), 20))
      }
      return Promise.resolve(undefined)
    }
  })
  const sequence = [0, 1, 2, 3, 4, 5].map((n) => ({ type: n % 3 === 2 ? 'pass' : 'refuse', n }))
  for (const event of sequence) ws.send(JSON.stringify(event))
  const refused = sequence.filter((e) => e.type === 'refuse')
  for (const event of refused) t.equal(JSON.parse((await nextMessage(ws)).data.toString()).error.message, `frame ${event.n}`)
  await until(() => conn.frames.length === 2, 'the frames that pass')
  t.same(conn.frames.map((f) => JSON.parse(f.data.toString()).n), [2, 5])
})
