// Regression: usage the provider reports while a session closes is metered. A response.done that arrived during
// the close handshake (the client had sent its close frame, or maxSessionDuration / idleTimeout / shutdown was
// closing the session) was dropped before the meter saw it, because the client could no longer receive it.
import t from 'tap'
import type { Socket } from 'node:net'
import { request } from 'undici'
import WebSocket from 'ws'
import type { ServerResponse } from 'node:http'
import type { RealtimeProxyOptions, SessionSummary, UsageRecord } from '../lib/index.js'
import { closed, fakeUpstream, nextMessage, open, startProxy, until, type RecordedRequest, type Tap, type UpstreamConnection } from './helpers.js'

const DONE = JSON.stringify({ type: 'response.done', event_id: 'ev_late', response: { id: 'resp_late', usage: { total_tokens: 42, input_tokens: 40, output_tokens: 2 } } })

const rawSocket = (ws: WebSocket): Socket => (ws as unknown as { _socket: Socket })._socket

/** The provider answers the proxy's close frame only after sending one last response.done, as OpenAI may. */
function doneBeforeCloseReply (conn: UpstreamConnection): void {
  rawSocket(conn.socket).prependListener('data', (chunk: Buffer) => {
    if (chunk[0] === 0x88) conn.socket.send(DONE) // a close frame from the proxy: reply DONE before ws answers it
  })
}

async function session (t: Tap, options: Partial<RealtimeProxyOptions> = {}) {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) },
    ...options
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  return { proxy, ws, conn, records, summaries }
}

function expectLateUsage (t: Pick<typeof import('tap').default, 'equal' | 'match'>, records: UsageRecord[], summary: SessionSummary): void {
  t.equal(records.length, 1, 'onUsage fired once')
  t.match(records[0], { kind: 'response', responseId: 'resp_late', totalTokens: 42 })
  t.match(summary.usage, { responses: 1, totalTokens: 42, inputTokens: 40, outputTokens: 2 })
}

t.test('the client sent its close frame but keeps its TCP connection open: late usage is metered', async (t) => {
  const { proxy, ws, conn, records, summaries } = await session(t, { closeTimeout: 300 })
  ws.close(1000, 'bye')
  rawSocket(ws).pause() // reads nothing more: never sees the close reply, never ends its TCP side
  const [serverSide] = [...proxy.app.websocketServer.clients] as [WebSocket]
  await until(() => serverSide.readyState === WebSocket.CLOSING, 'the proxy to get the close frame')
  t.equal(conn.socket.readyState, WebSocket.OPEN, 'the provider leg is still open')
  conn.socket.send(DONE)
  await until(() => records.length === 1, 'the late response.done to be metered')
  t.same(await conn.closed, { code: 1000, reason: 'bye' }, 'the provider is closed once the client leg is (closeTimeout)')
  await until(() => summaries.length === 1, 'the summary')
  expectLateUsage(t, records, summaries[0] as SessionSummary)
})

t.test('maxSessionDuration: a response.done the provider sends before answering the close is metered', async (t) => {
  const { ws, conn, records, summaries } = await session(t, { maxSessionDuration: 200 })
  doneBeforeCloseReply(conn)
  const expired = JSON.parse((await nextMessage(ws)).data.toString())
  t.equal(expired.error.code, 'session_expired')
  t.equal((await closed(ws)).code, 1001)
  await until(() => summaries.length === 1, 'the summary')
  expectLateUsage(t, records, summaries[0] as SessionSummary)
  t.equal(conn.frames.length, 0)
})

t.test('idleTimeout: the same', async (t) => {
  const { ws, conn, records, summaries } = await session(t, { idleTimeout: 100 })
  doneBeforeCloseReply(conn)
  t.same(await closed(ws), { code: 1000, reason: 'idle timeout' })
  await until(() => summaries.length === 1, 'the summary')
  expectLateUsage(t, records, summaries[0] as SessionSummary)
})

t.test('shutdown: the same, for a relayed session and for a call\'s sideband', async (t) => {
  const upstream = await fakeUpstream(t, {
    http: (req: RecordedRequest, res: ServerResponse) => { res.writeHead(201, { 'content-type': 'application/sdp', location: '/v1/realtime/calls/rtc_late' }).end('v=0\r\n') }
  })
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    signaling: true,
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  doneBeforeCloseReply(await upstream.next())
  const call = await request(`${proxy.url.replace('ws:', 'http:')}/v1/realtime/calls?model=gpt-realtime`, { method: 'POST', headers: { 'content-type': 'application/sdp' }, body: 'v=0\r\n' })
  t.equal(call.statusCode, 201)
  await call.body.text()
  doneBeforeCloseReply(await upstream.next())
  await until(() => proxy.app.realtime.sessions.size === 2, 'the session and the sideband')
  const c = closed(ws)
  await proxy.app.close()
  t.equal((await c).code, 1001)
  t.equal(summaries.length, 2)
  t.equal(records.length, 2, 'one late record each')
  for (const summary of summaries) t.match(summary.usage, { responses: 1, totalTokens: 42 })
  t.same(summaries.map((s) => s.sideband).sort(), [false, true])
})
