// Regression (#24 item 10): a signaling answer the provider sent gzip- (or brotli-) encoded reached the client as
// garbled bytes labelled JSON; answers are decoded, and a small compressed body cannot inflate past 1 MiB.
import t from 'tap'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { request } from 'undici'
import { fakeUpstream, startProxy } from './helpers.js'

const SECRET = JSON.stringify({ value: 'ek_gzip', expires_at: 1, session: { type: 'realtime', model: 'gpt-realtime' } })

for (const [encoding, encode] of [['gzip', gzipSync], ['x-gzip', gzipSync], ['deflate', deflateSync], ['br', brotliCompressSync], ['identity', Buffer.from]] as const) {
  t.test(`a ${encoding}-encoded client secret answer is relayed decoded`, async (t) => {
    const upstream = await fakeUpstream(t, { http: (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding }).end((encode as (s: string) => Buffer)(SECRET)) })
    const proxy = await startProxy(t, { providers: { openai: { apiKey: 'sk-test-0000000000', baseURL: `${upstream.url}/v1` } }, signaling: true })
    const res = await request(`${proxy.url.replace('ws:', 'http:')}/v1/realtime/client_secrets`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"session":{"type":"realtime","model":"gpt-realtime"}}'
    })
    t.equal(res.statusCode, 200)
    t.equal(res.headers['content-encoding'], undefined, 'not labelled as encoded')
    t.equal(await res.body.text(), SECRET)
  })
}

t.test('a compressed answer that inflates past 1 MiB is refused as the provider\'s fault (502)', async (t) => {
  const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x20))
  const upstream = await fakeUpstream(t, { http: (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }).end(bomb) })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: 'sk-test-0000000000', baseURL: `${upstream.url}/v1` } }, signaling: true })
  const res = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/client_secrets', payload: { session: { type: 'realtime', model: 'gpt-realtime' } } })
  t.equal(res.statusCode, 502)
  t.equal(JSON.parse(res.body).code, 'FST_REALTIME_UPSTREAM_UNAVAILABLE')
})

t.test('an encoding that cannot be decoded is refused as the provider\'s fault (502), never relayed as garbage', async (t) => {
  const upstream = await fakeUpstream(t, { http: (_req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd-future' }).end('\u0000\u0001') })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: 'sk-test-0000000000', baseURL: `${upstream.url}/v1` } }, signaling: true })
  const res = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/client_secrets', payload: { session: { type: 'realtime', model: 'gpt-realtime' } } })
  t.equal(res.statusCode, 502)
  t.match(JSON.parse(res.body), { code: 'FST_REALTIME_UPSTREAM_UNAVAILABLE', message: /cannot be decoded \(zstd-future\)/ })
})
