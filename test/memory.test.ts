// What a live session keeps: thousands of idle sessions must not each hold the upgrade's Fastify request and
// reply and its HTTP request and response (about 3 KB a session; the benchmark measures the rest).
import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { fakeUpstream, nextMessage, open, startProxy, until } from './helpers.js'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

t.test('an open session lets the request, the reply and the HTTP request and response go', async (t) => {
  const upstream = await fakeUpstream(t)
  const held: Array<WeakRef<object>> = []
  // With session limits on, the slots' release function must not hold the request either.
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, maxSessions: 10, maxSessionsPerKey: 5 }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      held.push(new WeakRef(request), new WeakRef(reply), new WeakRef(request.raw), new WeakRef(reply.raw))
    })
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  t.equal(held.length, 4)
  // A WeakRef keeps its target until the job that read it ends: collect, then look in a later turn.
  await until(() => {
    gc()
    return held.every((ref) => ref.deref() === undefined)
  }, 'the request and reply collected')
  t.equal(proxy.app.realtime.sessions.size, 1, 'while the session is open')
  ws.send('{"type":"input_audio_buffer.clear"}')
  await until(() => conn.frames.length === 1, 'the client frame upstream')
  t.equal(conn.frames[0]?.data.toString(), '{"type":"input_audio_buffer.clear"}')
  conn.socket.send('{"type":"input_audio_buffer.cleared"}')
  t.equal((await nextMessage(ws)).data.toString(), '{"type":"input_audio_buffer.cleared"}')
})
