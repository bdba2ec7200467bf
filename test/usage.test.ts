// Usage records from response.done and transcription events, in OpenAI's and Bailian's spellings, with cost.
import t from 'tap'
import { fakeUpstream, nextMessage, open, startProxy, until, type Tap } from './helpers.js'
import type { RealtimeProxyOptions, RealtimeSession, UsageRecord, SessionSummary } from '../lib/index.js'
import type WebSocket from 'ws'
import { OPENAI_DONE } from './usage-fixtures.js'

const pricing = {
  'gpt-realtime': { input: { text: 4, audio: 32, image: 5, cached: 0.4 }, output: { text: 16, audio: 64 }, transcription: { input: 6, output: 10, perSecond: 0.0001 } },
  'xai/grok-voice': { perMinute: 0.05 }
}

// Bailian (Qwen-Omni) spells the details with "tokens" and may omit the total.
const BAILIAN_DONE = {
  event_id: 'ev_2',
  response: { id: 'resp_2', usage: { input_tokens: 120, output_tokens: 80, input_tokens_details: { text_tokens: 20, audio_tokens: 100 }, output_tokens_details: { text_tokens: 30, audio_tokens: 50 } } },
  type: 'response.done' // type last: the check does not depend on where it sits
}

const TRANSCRIBED_TOKENS = { type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_1', content_index: 0, transcript: 'hi', usage: { type: 'tokens', total_tokens: 30, input_tokens: 20, output_tokens: 10, input_token_details: { text_tokens: 0, audio_tokens: 20 } } }
const TRANSCRIBED_SECONDS = { type: 'conversation.item.input_audio_transcription.completed', item_id: 'item_2', content_index: 0, transcript: 'hello', usage: { type: 'duration', seconds: 2.5 } }

async function session (t: Tap, options: Partial<RealtimeProxyOptions>, model = 'gpt-realtime') {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url }, xai: { baseURL: upstream.url }, bailian: { baseURL: upstream.url } },
    defaultProvider: 'openai',
    pricing,
    onUsage: (record) => { records.push(record) },
    onSessionEnd: (summary) => { summaries.push(summary) },
    ...options
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=${model}`)
  const conn = await upstream.next()
  const send = async (event: object): Promise<void> => {
    conn.socket.send(JSON.stringify(event))
    await nextMessage(ws)
  }
  return { proxy, ws, conn, records, summaries, send }
}

const closeAndWait = async (ws: WebSocket, summaries: SessionSummary[]): Promise<SessionSummary> => {
  ws.close(1000)
  await until(() => summaries.length === 1, 'session summary')
  return summaries[0] as SessionSummary
}

t.test('OpenAI response.done and transcriptions become exact records with cost', async (t) => {
  const { proxy, ws, records, summaries, send } = await session(t, {})
  await send(OPENAI_DONE)
  await send(TRANSCRIBED_TOKENS)
  await send(TRANSCRIBED_SECONDS)
  const sessionId = [...proxy.app.realtime.sessions.keys()][0]
  const who = { sessionId, provider: 'openai', model: 'gpt-realtime' }
  // input: (200-100) text * 4 + (790-200) audio * 32 + 10 image * 5 + 300 cached * 0.4 ; output: 100 * 16 + 400 * 64 (per 1M)
  const cost = (100 * 4 + 590 * 32 + 10 * 5 + 300 * 0.4 + 100 * 16 + 400 * 64) / 1e6
  t.same(records, [
    { kind: 'response', ...who, responseId: 'resp_1', inputTokens: 1000, outputTokens: 500, totalTokens: 1500, input: { text: 200, audio: 790, image: 10, cached: 300 }, output: { text: 100, audio: 400 }, costUSD: cost },
    { kind: 'transcription', ...who, itemId: 'item_1', tokens: 30, inputTokens: 20, outputTokens: 10, costUSD: (20 * 6 + 10 * 10) / 1e6 },
    { kind: 'transcription', ...who, itemId: 'item_2', seconds: 2.5, costUSD: 0.00025 }
  ])
  t.equal(cost, 0.04665)
  const live = [...proxy.app.realtime.sessions.values()][0] as RealtimeSession
  const waiting = live.ended // asked before the end: settles with the summary
  const summary = await closeAndWait(ws, summaries)
  t.equal(await waiting, summary)
  t.equal(await live.ended, summary, 'asked after the end: the same summary')
  t.same(summary.usage, {
    responses: 1,
    inputTokens: 1000,
    outputTokens: 500,
    totalTokens: 1500,
    input: { text: 200, audio: 790, image: 10, cached: 300 },
    output: { text: 100, audio: 400 },
    transcription: { count: 2, tokens: 30, seconds: 2.5 },
    durationSeconds: 0,
    costUSD: 0.04712
  })
  const line = proxy.logs.lines.find((l) => l.msg === 'realtime session ended') as { level: number, reqId: string, sessionId: string, provider: string, model: string, summary: SessionSummary }
  t.equal(line.level, 30)
  t.equal(line.sessionId, sessionId)
  t.equal(line.provider, 'openai')
  t.equal(line.model, 'gpt-realtime')
  t.equal(line.summary.requestId, line.reqId)
  t.same(line.summary.usage, summary.usage)
  t.match(line.summary, { by: 'client', code: 1000, client: { frames: 0, bytes: 0 }, upstream: { frames: 3 } })
  t.notOk(proxy.logs.text.includes('item_1'), 'no frame contents in the logs')
})

t.test('Bailian spelling, a missing total, type anywhere in the object', async (t) => {
  const { records, send } = await session(t, { pricing: undefined }, 'bailian/qwen3-omni-flash-realtime')
  await send(BAILIAN_DONE)
  t.same(records, [{
    kind: 'response',
    sessionId: records[0]?.sessionId,
    provider: 'bailian',
    model: 'qwen3-omni-flash-realtime',
    responseId: 'resp_2',
    inputTokens: 120,
    outputTokens: 80,
    totalTokens: 200,
    input: { text: 20, audio: 100, image: 0, cached: 0 },
    output: { text: 30, audio: 50 }
  }])
})

t.test('frames that only look like usage are not counted', async (t) => {
  const { records, send } = await session(t, {})
  await send({ type: 'response.output_audio_transcript.delta', delta: 'the words "response.done" spoken aloud' })
  await send({ type: 'response.text.delta', delta: 'x', note: '"response.done"' })
  await send({ type: 'conversation.item.created', text: 'user said input_audio_transcription.completed"' })
  await send({ type: 'response.created', previous: 'response.done' }) // the needle, but not the type
  await send({ type: 'response.done' }) // no response object
  await send({ type: 'response.done', response: { id: 'r', status: 'cancelled' } }) // no usage block
  await send({ type: 'response.done', response: { id: 'r', usage: null } })
  await send({ type: 'conversation.item.input_audio_transcription.completed', item_id: 'i' }) // no usage block
  const ws = (await session(t, {}))
  ws.conn.socket.send('not json but mentions "response.done"')
  ws.conn.socket.send('["response.done", {"usage": {"total_tokens": 5}}]') // JSON, but not an event object
  ws.conn.socket.send(Buffer.from('{"type":"response.done","response":{"usage":{"total_tokens":5}}}'), { binary: true })
  await nextMessage(ws.ws)
  await nextMessage(ws.ws)
  await nextMessage(ws.ws)
  t.same(records, [])
  t.same(ws.records, [])
})

t.test('only usage fields that exist count; totals are computed when missing', async (t) => {
  const { records, send } = await session(t, { pricing: { 'gpt-realtime': { input: { text: 1 }, output: { text: 2 } } } })
  await send({ type: 'response.done', response: { usage: { input_tokens: 1000000, output_tokens: 1000000 } } })
  await send({ type: 'response.done', response: { usage: { input_token_details: { text_tokens: 3, audio_tokens: -1 }, output_token_details: { audio_tokens: 'x' } } } })
  await send({ type: 'conversation.item.input_audio_transcription.completed', usage: { type: 'duration' } })
  t.match(records[0], { inputTokens: 1000000, outputTokens: 1000000, totalTokens: 2000000, costUSD: 3 }, 'no breakdown: priced as text')
  t.match(records[1], { inputTokens: 3, outputTokens: 0, totalTokens: 3, input: { text: 3, audio: 0 } })
  t.match(records[2], { kind: 'transcription', seconds: 0, costUSD: 0 })
})

t.test('per-minute providers report the session duration once, at close', async (t) => {
  let ended: Promise<SessionSummary> | undefined
  const { ws, records, summaries } = await session(t, {
    onSessionEnd: (summary, session) => {
      summaries.push(summary)
      ended = session.ended // first asked after the end
    }
  }, 'xai/grok-voice')
  await new Promise((resolve) => setTimeout(resolve, 120))
  const summary = await closeAndWait(ws, summaries)
  t.equal(await ended, summary)
  t.equal(records.length, 1)
  const record = records[0] as Extract<UsageRecord, { kind: 'duration' }>
  t.equal(record.kind, 'duration')
  t.equal(record.provider, 'xai')
  t.ok(record.seconds >= 0.12 && record.seconds < 5, `${record.seconds} s`)
  t.equal(record.costUSD, Math.round(record.seconds / 60 * 0.05 * 1e9) / 1e9)
  t.equal(summary.usage.durationSeconds, record.seconds)
  t.equal(summary.usage.costUSD, record.costUSD)
})

t.test('a model without a price gets no cost; a transcription session has no model', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, pricing, metrics: true, onUsage: (r) => { records.push(r) } })
  const ws = await open(t, `${proxy.url}/v1/realtime?intent=transcription`)
  const conn = await upstream.next()
  conn.socket.send(JSON.stringify(TRANSCRIBED_TOKENS))
  await nextMessage(ws)
  t.match(records[0], { kind: 'transcription', model: undefined, tokens: 30 })
  t.equal(records[0]?.costUSD, undefined)
  const metrics = await proxy.app.inject({ url: '/metrics' })
  t.match(metrics.body, 'realtime_proxy_tokens_total{provider="openai",model="",direction="input"} 20\n')
})

t.test('billing: "duration" works for any provider', async (t) => {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const proxy = await startProxy(t, { providers: { stepfun: { baseURL: upstream.url, billing: 'duration' } }, onUsage: (r) => { records.push(r) } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=step-audio`)
  ws.close()
  await until(() => records.length === 1, 'duration record')
  t.match(records[0], { kind: 'duration', provider: 'stepfun', model: 'step-audio' })
  t.equal((records[0] as { costUSD?: number }).costUSD, undefined, 'no price, no cost')
})

t.test('hooks that throw or reject are logged and never break the relay', async (t) => {
  const { proxy, ws, conn, send } = await session(t, {
    onSessionStart: () => { throw new Error('start boom') },
    onUsage: async () => { throw new Error('usage boom') },
    onSessionEnd: async () => { throw new Error('end boom') }
  })
  await send(OPENAI_DONE)
  ws.send('still relaying')
  await until(() => conn.frames.length === 1, 'frame relayed')
  ws.close()
  await until(() => proxy.logs.lines.some((l) => l.msg === 'onSessionEnd hook failed'), 'end hook logged')
  for (const name of ['onSessionStart', 'onUsage', 'onSessionEnd']) {
    t.equal(proxy.logs.lines.filter((l) => l.msg === `${name} hook failed`).length, 1, `${name} logged once`)
  }
})

t.test('metering: false watches nothing, the relay is the same', async (t) => {
  const { ws, send, records, summaries, proxy } = await session(t, { metering: false })
  await send(OPENAI_DONE)
  await send(TRANSCRIBED_SECONDS)
  const summary = await closeAndWait(ws, summaries)
  t.equal(records.length, 0)
  t.equal(summary.usage.responses, 0)
  t.equal(summary.upstream.frames, 2, 'both frames were relayed')
  t.equal(proxy.app.realtime.stats().usage.responses, 0)
})

t.test('stats() counts live and ended sessions', async (t) => {
  const { proxy, ws, send, summaries } = await session(t, {})
  await send(OPENAI_DONE)
  ws.send('abc')
  await until(() => proxy.app.realtime.stats().frames.client === 1, 'client frame counted')
  t.match(proxy.app.realtime.stats(), { activeSessions: 1, sessionsByProvider: { openai: 1 }, totalSessions: 1, frames: { client: 1, upstream: 1 }, bytes: { client: 3 }, usage: { responses: 1, totalTokens: 1500 } })
  await closeAndWait(ws, summaries)
  t.match(proxy.app.realtime.stats(), { activeSessions: 0, sessionsByProvider: {}, totalSessions: 1, frames: { client: 1, upstream: 1 }, bytes: { client: 3 }, usage: { responses: 1, totalTokens: 1500, costUSD: 0.04665 } })
})

t.test('missing rates cost nothing', async (t) => {
  const { durationCost, transcriptionCost, tokenCost } = await import('../lib/usage/pricing.js')
  t.equal(durationCost({}, 60), 0)
  t.equal(durationCost({ perMinute: 0.05 }, 90), 0.075)
  t.equal(transcriptionCost({}, { seconds: 10, inputTokens: 5 }), 0)
  t.equal(tokenCost({}, { inputTokens: 10, outputTokens: 10, totalTokens: 20, input: { text: 10, audio: 0, image: 0, cached: 5 }, output: { text: 10, audio: 0 } }), 0)
})

t.test('options are checked', async (t) => {
  const { InvalidOptionError } = await import('../lib/index.js')
  const Fastify = (await import('fastify')).default
  const realtimeProxy = (await import('../lib/index.js')).default
  const cases: Array<[object, string]> = [
    [{ pricing: { m: { input: { text: -1 } } } }, 'pricing["m"].input.text must be a non-negative number of USD (per 1M tokens, per minute or per second)'],
    [{ pricing: 'cheap' }, 'pricing must be a non-negative number of USD (per 1M tokens, per minute or per second)'],
    [{ metrics: { prefix: 'bad-prefix' } }, '"metrics" must be true or { registry?: prom-client Registry, prefix?: "name_", route?: "/metrics" | false }'],
    [{ metrics: { route: 'metrics' } }, '"metrics" must be true or { registry?: prom-client Registry, prefix?: "name_", route?: "/metrics" | false }'],
    [{ metrics: { registry: {} } }, '"metrics" must be true or { registry?: prom-client Registry, prefix?: "name_", route?: "/metrics" | false }'],
    [{ metrics: 1 }, '"metrics" must be true or { registry?: prom-client Registry, prefix?: "name_", route?: "/metrics" | false }'],
    [{ onUsage: 'log' }, '"onUsage" must be a function'],
    [{ providers: { openai: { billing: 'per-call' } } }, 'providers.openai.billing must be "tokens" or "duration"']
  ]
  for (const [extra, message] of cases) {
    const app = Fastify()
    await t.rejects(async () => await app.register(realtimeProxy, { providers: { openai: {} }, ...extra } as RealtimeProxyOptions).ready(), new InvalidOptionError(message))
    await app.close()
  }
})
