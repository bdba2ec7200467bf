// Nothing the client sent reaches the provider unless allowlisted; the provider's credentials never reach the client.
import t from 'tap'
import { connect, fakeUpstream, nextMessage, open, startProxy } from './helpers.js'

const KEY = 'sk-live-PROVIDERKEY0000'

t.test('only allowlisted client headers travel upstream, with the request id', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: KEY, baseURL: upstream.url, headers: { 'OpenAI-Project': 'proj_1' } } },
    forwardHeaders: ['X-Tenant-Id']
  })
  await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime&intent=transcription&extra=1`, ['realtime', 'openai-insecure-api-key.client-token'], {
    headers: {
      authorization: 'Bearer client-token',
      'api-key': 'client-azure-key',
      'x-api-key': 'client-x-key',
      cookie: 'sid=abc',
      origin: 'https://evil.example',
      'openai-beta': 'realtime=v1',
      'x-tenant-id': 'acme',
      'x-other': 'dropped',
      'user-agent': 'test-client'
    }
  })
  const conn = await upstream.next()
  t.equal(conn.url, '/realtime?intent=transcription', 'only the provider\'s own query travels (a transcription session names no model upstream)')
  const h = conn.headers
  t.equal(h.authorization, `Bearer ${KEY}`)
  t.equal(h['openai-project'], 'proj_1')
  t.equal(h['x-tenant-id'], 'acme')
  t.match(h['x-request-id'], /^req-/)
  for (const name of ['api-key', 'x-api-key', 'cookie', 'origin', 'openai-beta', 'x-other', 'user-agent', 'sec-websocket-protocol', 'sec-websocket-extensions']) {
    t.equal(h[name], undefined, `${name} not forwarded`)
  }
  const started = proxy.logs.lines.find((l) => l.msg === 'realtime session started')
  t.equal(h['x-request-id'], started?.reqId, 'the upstream request id is the Fastify request id')
})

t.test('the client gets a credential-free subprotocol and no provider secret', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: (ws) => ws.send('{"type":"session.created"}') })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } } })
  const cases: Array<[string[], string]> = [
    [['realtime', 'openai-insecure-api-key.abc'], 'realtime'],
    [['openai-insecure-api-key.abc', 'realtime'], 'realtime'],
    [['openai-insecure-api-key.abc', 'openai-beta.realtime-v1'], 'openai-beta.realtime-v1'],
    [[], '']
  ]
  for (const [offered, echoed] of cases) {
    const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, offered)
    t.equal(ws.protocol, echoed, `offered ${offered.join(',')}`)
    t.equal((await nextMessage(ws)).data.toString(), '{"type":"session.created"}')
    ws.close()
  }
  // Offering only credentials gets none echoed: the credential never comes back, so clients must offer `realtime` too.
  await t.rejects(connect(t, `${proxy.url}/v1/realtime?model=m`, ['xai-client-secret.abc', 'openai-organization.org', 'openai-project.p']), { message: 'Server sent no subprotocol' })
  t.equal(upstream.connections.every((c) => c.protocol === '' && c.headers['sec-websocket-protocol'] === undefined), true, 'no subprotocol upstream')
})

t.test('no secret in any log line, at trace level', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: (ws) => ws.close(4001, 'bye') })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: KEY, baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`, ['realtime', 'openai-insecure-api-key.CLIENTSECRET'], { headers: { authorization: 'Bearer CLIENTSECRET2' } })
  await new Promise((resolve) => ws.once('close', resolve))
  await proxy.app.close()
  t.ok(proxy.logs.lines.length > 3)
  t.notOk(proxy.logs.text.includes('PROVIDERKEY'))
  t.notOk(proxy.logs.text.includes('CLIENTSECRET'))
})
