// Regression (#23 item 2): a provider's usage number crashed the process or froze metering. A count of 1e308 in
// response.done priced to Infinity, and prom-client threw from the metrics listener inside a socket callback;
// GPT-Live's `usage.seconds: 1e999` billed Infinity and every later snapshot billed nothing. Every count now
// passes usage/numbers.ts: bounded (tokens, transcription seconds) or skipped (a cumulative total).
import t from 'tap'
import { Counter } from 'prom-client'
import type WebSocket from 'ws'
import type { UsageRecord } from '../lib/index.js'
import { MAX_SECONDS, MAX_TOKENS } from '../lib/usage/numbers.js'
import { fakeUpstream, nextMessage, open, startProxy, until, type Tap } from './helpers.js'
import { geminiSession } from './gemini-fake.js'

type Event = Record<string, any>
const next = async (ws: WebSocket): Promise<Event> => JSON.parse((await nextMessage(ws)).data.toString())
const WARNING = 'the provider reported a usage count that is not a finite, non-negative, sane number; it was bounded'

async function realtime (t: Tap, options: object = {}) {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    metrics: true,
    pricing: { m: { input: { text: 4 }, output: { text: 16 }, transcription: { perSecond: 0.0001 } } },
    onUsage: (r) => { records.push(r) },
    ...options
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=m`)
  const conn = await upstream.next()
  return { upstream, proxy, ws, conn, records }
}

t.test('response.done with 1e308, NaN-like and negative counts: bounded, priced finite, metrics scraped, one warning', async (t) => {
  const { proxy, ws, conn, records } = await realtime(t)
  // Raw text: 1e999 parses to Infinity, which JSON.stringify could not write.
  conn.socket.send('{"type":"response.done","response":{"id":"r1","usage":{"total_tokens":1e999,"input_tokens":1e308,"output_tokens":-5,' +
    '"input_token_details":{"text_tokens":1e308,"audio_tokens":-1},"output_token_details":{"text_tokens":3}}}}')
  conn.socket.send('{"type":"conversation.item.input_audio_transcription.completed","item_id":"i1","usage":{"type":"duration","seconds":1e999}}')
  conn.socket.send('{"type":"response.done","response":{"id":"r2","usage":{"total_tokens":30,"input_tokens":10,"output_tokens":20}}}')
  for (let i = 0; i < 3; i++) await next(ws)
  await until(() => records.length === 3, 'three records')
  t.match(records[0], { kind: 'response', responseId: 'r1', inputTokens: MAX_TOKENS, outputTokens: 3, totalTokens: MAX_TOKENS, input: { text: MAX_TOKENS, audio: 0 } })
  t.equal(records[0]?.costUSD, MAX_TOKENS * 4e-6 + 3 * 16e-6, 'priced from the bounded counts')
  t.match(records[1], { kind: 'transcription', seconds: MAX_SECONDS, costUSD: 100 })
  t.match(records[2], { kind: 'response', responseId: 'r2', inputTokens: 10, outputTokens: 20, costUSD: 0.00036 })
  const metrics = await proxy.app.inject('/metrics')
  t.equal(metrics.statusCode, 200)
  t.match(metrics.body, `realtime_proxy_tokens_total{provider="openai",model="m",direction="input"} ${MAX_TOKENS + 10}`)
  t.notMatch(metrics.body, / (?:[-+]?Inf|NaN)$/m, 'no sample is infinite or NaN')
  t.ok(Number.isFinite(proxy.app.realtime.stats().usage.costUSD))
  t.equal(proxy.logs.lines.filter((l) => l.msg === WARNING).length, 1, 'one warning for the session')
})

t.test('a metrics library that throws inside a socket callback is logged once; the session goes on', async (t) => {
  // prom-client takes inc from this method when a counter is made: the token counter made next throws.
  type Inc = (this: { name: string }, ...args: unknown[]) => unknown
  const proto = Counter.prototype as unknown as { incWithoutExemplar: Inc }
  const inc = proto.incWithoutExemplar
  proto.incWithoutExemplar = function (...args) {
    if (this.name === 'realtime_proxy_tokens_total') throw new TypeError('the registry refused it')
    return inc.apply(this, args)
  }
  t.teardown(() => { proto.incWithoutExemplar = inc })
  const { proxy, ws, conn, records } = await realtime(t)
  for (let i = 0; i < 3; i++) conn.socket.send(`{"type":"response.done","response":{"id":"r${i}","usage":{"input_tokens":1,"output_tokens":1}}}`)
  for (let i = 0; i < 3; i++) t.match(await next(ws), { type: 'response.done' })
  await until(() => records.length === 3, 'three records, hooks included')
  ws.send('{"type":"response.create"}')
  await until(() => conn.frames.length === 1, 'the client still relayed')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'a metric could not be updated').length, 1)
})

t.test('GPT-Live: usage.seconds 1e999 is skipped; the snapshots after it still bill, and the session ends final', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { apiKey: 'sk-live-test-key-000000', baseURL: `${upstream.url}/v1` } },
    live: true,
    pricing: { 'gpt-live-1': { perMinute: 0.06 } },
    onUsage: (r) => { records.push(r) }
  })
  const ws = await open(t, `${proxy.url}/v1/live/sessions?provider=openai`)
  const conn = await upstream.next()
  ws.send('{"type":"session.start","session":{"model":"gpt-live-1"}}')
  await until(() => conn.frames.length === 1, 'session.start upstream')
  conn.socket.send('{"type":"session.usage.updated","usage":{"seconds":10}}')
  conn.socket.send('{"type":"session.usage.updated","usage":{"seconds":1e999}}')
  conn.socket.send('{"type":"session.usage.updated","usage":{"seconds":30}}')
  conn.socket.send('{"type":"session.closed","usage":{"seconds":60}}')
  for (let i = 0; i < 4; i++) await next(ws)
  await until(() => records.length === 3, 'three records')
  t.same(records.map((r) => [(r as { seconds: number }).seconds, r.costUSD]), [[10, 0.01], [20, 0.02], [30, 0.03]])
  t.equal(proxy.app.realtime.stats().usage.durationSeconds, 60)
  t.equal(proxy.logs.lines.filter((l) => l.msg === WARNING).length, 1)
})

t.test('Gemini usageMetadata of 1e308: the response.done the client sees and the record carry bounded counts', async (t) => {
  const { ws, conn, records } = await geminiSession(t)
  ws.send('{"type":"session.update","session":{"output_modalities":["text"]}}')
  await until(() => conn.frames.length === 1, 'the setup')
  conn.socket.send(Buffer.from('{"usageMetadata":{"promptTokenCount":1e308,"responseTokenCount":1e999,"thoughtsTokenCount":-3},"serverContent":{"turnComplete":true}}'), { binary: true })
  let done: Event
  do done = await next(ws); while (done.type !== 'response.done')
  t.match(done.response.usage, { input_tokens: MAX_TOKENS, output_tokens: MAX_TOKENS, total_tokens: 2 * MAX_TOKENS })
  await until(() => records.length === 1, 'the record')
  t.match(records[0], { inputTokens: MAX_TOKENS, outputTokens: MAX_TOKENS, totalTokens: MAX_TOKENS, costUSD: 30 })
})

t.test('pricing of Infinity is refused at registration, like a negative price', async (t) => {
  const Fastify = (await import('fastify')).default
  const app = Fastify()
  t.teardown(() => app.close())
  const realtimeProxy = (await import('../lib/index.js')).default
  await t.rejects(async () => await app.register(realtimeProxy, { providers: { openai: {} }, pricing: { m: { perMinute: Infinity } } }).ready(), {
    code: 'FST_REALTIME_INVALID_OPTION',
    message: 'pricing["m"].perMinute must be a non-negative number of USD (per 1M tokens, per minute or per second)'
  })
})
