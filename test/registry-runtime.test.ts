// fastify.realtime.providers changes at runtime apply to the next session; open sessions keep running.
import t from 'tap'
import { fakeUpstream, nextMessage, open, refused, startProxy } from './helpers.js'

t.test('add, replace and remove a provider while serving', async (t) => {
  const first = await fakeUpstream(t, { onConnection: (ws) => ws.send('first') })
  const second = await fakeUpstream(t, { onConnection: (ws) => ws.send('second') })
  const proxy = await startProxy(t, { providers: { openai: { baseURL: first.url } } })
  const a = await open(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal((await nextMessage(a)).data.toString(), 'first')

  proxy.app.realtime.providers.set('openai', { baseURL: second.url, apiKey: 'sk-rotated-000000' })
  const b = await open(t, `${proxy.url}/v1/realtime?model=m`)
  t.equal((await nextMessage(b)).data.toString(), 'second')
  t.equal(second.connections[0]?.headers.authorization, 'Bearer sk-rotated-000000')

  proxy.app.realtime.providers.set('xai', { baseURL: first.url })
  const c = await open(t, `${proxy.url}/v1/realtime?model=xai/grok`)
  t.equal((await nextMessage(c)).data.toString(), 'first')
  t.equal(first.connections[1]?.url, '/realtime?model=grok')

  proxy.app.realtime.providers.delete('openai')
  const res = await refused(t, `${proxy.url}/v1/realtime?model=m&provider=openai`)
  t.equal(res.status, 400)
  t.equal(JSON.parse(res.body).code, 'FST_REALTIME_UNKNOWN_PROVIDER')
  // sessions opened before the change keep relaying
  a.send('still')
  b.send('open')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(first.connections[0]?.frames[0]?.data.toString(), 'still')
  t.equal(second.connections[0]?.frames[0]?.data.toString(), 'open')
  t.throws(() => proxy.app.realtime.providers.set('bad', { baseURL: 'nope' }), { code: 'FST_REALTIME_INVALID_OPTION' })
  t.throws(() => proxy.app.realtime.providers.set('bad', { baseUrl: 'http://127.0.0.1:1' } as never), {
    code: 'FST_REALTIME_INVALID_OPTION', message: 'Invalid fastify-realtime-proxy option: unknown option "providers.bad.baseUrl"; did you mean "providers.bad.baseURL"?'
  }, 'a misspelt key at runtime is refused too')
  t.equal(proxy.app.realtime.providers.has('bad'), false)
})
