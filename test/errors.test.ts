// The error family: every error the plugin raises is a RealtimeProxyError, whatever else it is.
import t from 'tap'
import Fastify from 'fastify'
import * as api from '../lib/index.js'
import realtimeProxy, { RealtimeProxyError, UpstreamError } from '../lib/index.js'
import { fakeUpstream, refused, startProxy } from './helpers.js'

// Every error class the package exports, by its code.
const classes = Object.entries(api).filter(([name, value]) => typeof value === 'function' && /^[A-Z]\w*Error$/.test(name) &&
  name !== 'RealtimeProxyError' && name !== 'UpstreamError' && name !== 'RealtimeProxyTypeError') as Array<[string, new (...args: unknown[]) => Error]>

t.test('every exported error is a RealtimeProxyError', async (t) => {
  t.ok(classes.length >= 25, `${classes.length} error classes`)
  for (const [name, Err] of classes) t.ok(new Err('a', 'b', 'c') instanceof RealtimeProxyError, name)
})

t.test('UnroutableModelError and InvalidOptionError join the family; an option error stays a TypeError', async (t) => {
  t.ok(new api.UnroutableModelError('m', 'm') instanceof RealtimeProxyError)
  const option = new api.InvalidOptionError('x')
  t.ok(option instanceof RealtimeProxyError)
  t.ok(option instanceof TypeError)
  t.notOk(option instanceof UpstreamError, 'the family test is for the root only')
  t.notOk(new TypeError('x') instanceof RealtimeProxyError, 'a TypeError of anyone else\'s is not ours')
  t.notOk(new Error('x') instanceof RealtimeProxyError)
  t.ok(new api.UpstreamTimeoutError('p', 1) instanceof UpstreamError)
})

t.test('what registration, routing and terminate() throw is a RealtimeProxyError', async (t) => {
  const app = Fastify()
  t.teardown(() => app.close())
  const err = await app.register(realtimeProxy, { providers: {} }).ready().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof RealtimeProxyError, 'an empty providers option')
  t.equal((err as { code: string }).code, 'FST_REALTIME_INVALID_OPTION')

  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { a: { baseURL: upstream.url }, b: { baseURL: upstream.url } } })
  let unroutable: unknown
  try {
    proxy.app.realtime.providers.resolve({ model: 'nowhere' })
  } catch (e) {
    unroutable = e
  }
  t.ok(unroutable instanceof RealtimeProxyError)
  t.equal((unroutable as { code: string }).code, 'FST_REALTIME_UNROUTABLE_MODEL')
  const answer = await refused(t, `${proxy.url}/v1/realtime?model=nowhere`)
  t.equal(answer.status, 400)
  const rejected = await proxy.app.realtime.terminate({} as never).then(() => undefined, (e: unknown) => e)
  t.ok(rejected instanceof RealtimeProxyError)
  t.ok(rejected instanceof TypeError)
  t.equal((rejected as Error).name, 'TypeError')
})

t.test('a 3xx handshake answer is counted as rejected, as the failover classifies it', async (t) => {
  const upstream = await fakeUpstream(t, { reject: { status: 302, body: '', headers: { location: 'http://127.0.0.1:1/' } } })
  const proxy = await startProxy(t, { providers: { moved: { baseURL: upstream.url } }, metrics: true })
  t.equal((await refused(t, `${proxy.url}/v1/realtime?model=m`)).status, 502)
  const text = await (await fetch(`${proxy.url.replace('ws://', 'http://')}/metrics`)).text()
  t.match(text, 'realtime_proxy_sessions_total{provider="moved",outcome="rejected"} 1\n')
  t.match(text, 'realtime_proxy_upstream_dial_duration_seconds_count{provider="moved",outcome="rejected"} 1\n')
})
