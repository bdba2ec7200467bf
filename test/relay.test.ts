import t from 'tap'
import { randomBytes } from 'node:crypto'
import { closed, fakeUpstream, nextMessage, open, startProxy, until } from './helpers.js'

const SESSION_CREATED = '{"type":"session.created","event_id":"ev_1","session":{"id":"sess_1"}}'

t.test('the provider\'s first event, sent with the 101, reaches the client', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: (ws) => ws.send(SESSION_CREATED) })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: 'sk-test-key-123456', baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const first = await nextMessage(ws)
  t.equal(first.isBinary, false)
  t.equal(first.data.toString(), SESSION_CREATED)
})

t.test('text and binary frames travel verbatim both ways, in order', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  const text = Buffer.from('{"type":"input_audio_buffer.append","audio":"AAEC"} \u00e9\u{1F600}')
  const bin = randomBytes(4096)
  ws.send(text, { binary: false })
  ws.send(bin)
  ws.send('third')
  await until(() => conn.frames.length === 3, 'three frames upstream')
  t.same(conn.frames.map((f) => f.isBinary), [false, true, false])
  t.ok(conn.frames[0]?.data.equals(text))
  t.ok(conn.frames[1]?.data.equals(bin))
  t.equal(conn.frames[2]?.data.toString(), 'third')

  conn.socket.send(bin)
  conn.socket.send(text, { binary: false })
  const first = await nextMessage(ws)
  const second = await nextMessage(ws)
  t.equal(first.isBinary, true)
  t.ok(first.data.equals(bin))
  t.equal(second.isBinary, false)
  t.ok(second.data.equals(text))
})

t.test('a 15 MiB frame passes both ways byte for byte', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  const big = Buffer.alloc(15 * 1024 * 1024, 'QUJD')
  ws.send(big, { binary: false })
  await until(() => conn.frames.length === 1, 'big frame upstream', 20_000)
  t.equal(conn.frames[0]?.isBinary, false)
  t.ok(conn.frames[0]?.data.equals(big))
  const down = nextMessage(ws)
  conn.socket.send(big, { binary: true })
  const got = await down
  t.equal(got.isBinary, true)
  t.ok(got.data.equals(big))
})

t.test('a frame over maxPayload closes the session with 1009 on both sides', async (t) => {
  t.test('from the client', async (t) => {
    const upstream = await fakeUpstream(t)
    const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxPayload: 1024 })
    const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
    const conn = await upstream.next()
    const clientClosed = closed(ws)
    ws.send(Buffer.alloc(1025, 'a'))
    t.equal((await clientClosed).code, 1009)
    const up = await conn.closed
    t.equal(up.code, 1009)
    t.equal(conn.frames.length, 0)
  })
  t.test('from the provider', async (t) => {
    const upstream = await fakeUpstream(t)
    const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxPayload: 1024 })
    const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
    const conn = await upstream.next()
    const clientClosed = closed(ws)
    let got = 0
    ws.on('message', () => got++)
    conn.socket.send(Buffer.alloc(1025, 'a'))
    t.equal((await conn.closed).code, 1009)
    t.equal((await clientClosed).code, 1009)
    t.equal(got, 0)
  })
})
