// The provider is dialed before the client is upgraded: every failure is a real HTTP answer, never a dead session.
import t from 'tap'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { once } from 'node:events'
import { fakeUpstream, refused, startProxy, until } from './helpers.js'

const KEY = 'sk-proj-SECRETSECRETSECRET1234'

for (const status of [401, 403, 404, 429]) {
  t.test(`a provider ${status} reaches the client as ${status} with its JSON body, redacted`, async (t) => {
    const body = JSON.stringify({ error: { message: `Incorrect API key provided: ${KEY}. Also sk-proj-****1234.`, type: 'invalid_request_error', code: 'invalid_api_key' } })
    const upstream = await fakeUpstream(t, { reject: { status, body, headers: { 'content-type': 'application/json', 'retry-after': '7' } } })
    const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } } })
    const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
    t.equal(res.status, status)
    t.equal(res.headers['content-type'], 'application/json; charset=utf-8')
    t.equal(res.headers['retry-after'], '7')
    t.same(JSON.parse(res.body), { error: { message: 'Incorrect API key provided: [REDACTED]. Also [REDACTED].', type: 'invalid_request_error', code: 'invalid_api_key' } })
    t.equal(upstream.requests.length, 1)
    t.notOk(proxy.logs.text.includes('SECRETSECRET'), 'the key is not logged')
    t.equal(proxy.logs.lines.filter((l) => l.msg === 'provider refused the realtime session' && l.statusCode === status).length, 1, 'logged once')
    await until(() => proxy.logs.lines.some((l) => l.msg === 'request completed'), 'the request logged as completed')
    t.same(proxy.logs.lines.filter((l) => (l.level as number) >= 50).map((l) => l.msg), [], 'and nothing went wrong after the answer was sent')
  })
}

t.test('a provider 4xx that is not JSON becomes a typed error with the same status', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 403, body: `<html>denied for Bearer ${KEY}</html>`, headers: { 'content-type': 'text/html' } } })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  t.equal(res.status, 403)
  t.same(JSON.parse(res.body), {
    statusCode: 403,
    code: 'FST_REALTIME_UPSTREAM_REJECTED',
    error: 'Forbidden',
    message: 'The provider refused the session with HTTP 403: <html>denied for [REDACTED]</html>'
  })
  t.notOk(proxy.logs.text.includes('SECRETSECRET'))
})

t.test('an empty 4xx body names the status', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 404, body: '', headers: {} } })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  t.equal(res.status, 404)
  t.equal(JSON.parse(res.body).message, 'The provider refused the session with HTTP 404: Not Found')
})

t.test('a provider 5xx becomes 502', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 503, body: '{"error":"overloaded"}' } })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  t.equal(res.status, 502)
  t.same(JSON.parse(res.body), {
    statusCode: 502,
    code: 'FST_REALTIME_UPSTREAM_UNAVAILABLE',
    error: 'Bad Gateway',
    message: 'Could not open the openai realtime session: the provider answered HTTP 503'
  })
  t.equal(proxy.logs.lines.filter((l) => l.level === 50).length, 1, 'logged once, as an error')
})

t.test('a network error becomes 502', async (t) => {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  server.close()
  await once(server, 'close')
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: `http://127.0.0.1:${port}/v1` } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  t.equal(res.status, 502)
  t.same(JSON.parse(res.body), {
    statusCode: 502,
    code: 'FST_REALTIME_UPSTREAM_UNAVAILABLE',
    error: 'Bad Gateway',
    message: 'Could not open the openai realtime session: the provider could not be reached'
  })
  t.notOk(res.body.includes('127.0.0.1'), 'no internal address reaches the client')
  const mentions = proxy.logs.lines.filter((l) => JSON.stringify(l).includes(`ECONNREFUSED 127.0.0.1:${port}`))
  t.equal(mentions.length, 1, 'the network cause is logged once, server-side')
  t.equal(JSON.stringify(mentions[0]).split(`ECONNREFUSED 127.0.0.1:${port}`).length, 2, 'and once in that line')
})

t.test('no answer within dialTimeout becomes 504', async (t) => {
  const upstream = await fakeUpstream(t, { hang: true })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, dialTimeout: 150 })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  t.equal(res.status, 504)
  t.same(JSON.parse(res.body), {
    statusCode: 504,
    code: 'FST_REALTIME_UPSTREAM_TIMEOUT',
    error: 'Gateway Timeout',
    message: 'The openai realtime endpoint did not answer within 150 ms'
  })
})

t.test('a provider that answers 200 instead of 101 becomes 502', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 200, body: 'hello' } })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const res = await refused(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  t.equal(res.status, 502)
  t.equal(JSON.parse(res.body).message, 'Could not open the openai realtime session: the provider answered HTTP 200')
})

t.test('a malformed upgrade is refused before dialing', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const port = new URL(proxy.url).port
  for (const [headers, message] of [
    ['Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13', 'Invalid websocket upgrade: missing or malformed Sec-WebSocket-Key'],
    ['Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 99', 'Invalid websocket upgrade: Sec-WebSocket-Version must be 13']
  ]) {
    const { connect } = await import('node:net')
    const socket = connect(Number(port), '127.0.0.1')
    t.teardown(() => socket.destroy())
    socket.write(`GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${headers}\r\n\r\n`)
    let text = ''
    socket.on('data', (c) => { text += c.toString() })
    await once(socket, 'close')
    t.match(text, /^HTTP\/1\.1 400 Bad Request\r\n/)
    t.equal(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).message, message)
  }
  t.equal(upstream.requests.length, 0)
})
