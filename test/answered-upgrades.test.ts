// Regression (#23 item 9): an upgrade the router answered before any hook ran (414 for a GPT-Live attach id over
// Fastify's maxParamLength, 400 for a bad escape) left its socket open forever, and app.close() never finished.
// Every upgrade answered with HTTP is dropped once the answer is sent; the attach route takes every id CALL_ID allows.
import t from 'tap'
import { once } from 'node:events'
import { connect as tcp, type AddressInfo } from 'node:net'
import Fastify from 'fastify'
import realtimeProxy from '../lib/index.js'

const upgrade = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
  'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n'

t.test('upgrades answered by the router, a hook or a route are closed by the server, and app.close() completes', async (t) => {
  const app = Fastify()
  app.addHook('onRequest', async (request, reply) => {
    if (request.url.includes('deny')) await reply.code(401).send({ error: 'no' })
  })
  await app.register(realtimeProxy, { providers: { openai: { apiKey: 'sk-test-0000000000' } }, live: true, signaling: true })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  const cases: Array<[string, number]> = [
    [`/v1/live/sessions/${'a'.repeat(101)}/attach`, 404], // 414 before: past maxParamLength, though CALL_ID allows 128
    [`/v1/live/sessions/${'a'.repeat(129)}/attach`, 404],
    ['/v1/realtime%zz', 400],
    ['/v1/live/sessions/abc', 404], // the attach route's wildcard: not ID/attach
    ['/nowhere', 404],
    ['/v1/realtime?model=m&deny=1', 401],
    ['/v1/realtime', 400] // the plugin's own refusal: no model
  ]
  for (const [path, status] of cases) {
    const socket = tcp(port, '127.0.0.1')
    socket.write(upgrade(path))
    const [answer] = await once(socket, 'data') as [Buffer]
    t.equal(answer.toString().split('\r\n')[0], `HTTP/1.1 ${status} ${status === 400 ? 'Bad Request' : status === 401 ? 'Unauthorized' : 'Not Found'}`, path.slice(0, 40))
    await once(socket, 'close') // the server ended it: without the fix this waits forever
  }
  await app.close()
})
