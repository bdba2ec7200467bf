// GPT-Live metering (issue #15's protocol layer): usage.seconds is a cumulative total, so records bill the increase
// and add up to the last total, never to the sum of snapshots; delegated backend tokens are priced by their model.
import t from 'tap'
import { live } from '../lib/protocols/live.js'
import { Meter } from '../lib/usage/meter.js'
import type { UsageRecord } from '../lib/index.js'

const frame = (event: object): Buffer => Buffer.from(JSON.stringify(event))
const updated = (seconds: unknown): Buffer => frame({ type: 'session.usage.updated', event_id: 'evt_1', usage: { seconds }, context_window: { usage_ratio: 0.18 } })
const closed = (seconds: number): Buffer => frame({ type: 'session.closed', event_id: 'evt_2', reason: 'close_requested', session: { id: 'live_1', model: 'gpt-live-1', status: 'active' }, usage: { seconds } })
const delegated = frame({ type: 'response.event', delegation_id: 'item_d1', event: { type: 'response.completed', response: { id: 'resp_9', model: 'gpt-5.2', usage: { input_tokens: 812, output_tokens: 95, total_tokens: 907 } } } })

t.test('the GPT-Live protocol reads cumulative seconds and delegated tokens, and nothing else', async (t) => {
  t.equal(live.name, 'live')
  t.equal(live.routing, 'first-frame', 'routed by session.start, not by the request')
  t.same(live.readUsage(updated(30.5)), { kind: 'seconds', totalSeconds: 30.5, final: false })
  t.same(live.readUsage(closed(75)), { kind: 'seconds', totalSeconds: 75, final: true })
  t.same(live.readUsage(delegated), { kind: 'response', responseId: 'resp_9', model: 'gpt-5.2', usage: { input_tokens: 812, output_tokens: 95, total_tokens: 907 } })
  const none = [
    frame({ type: 'session.output_audio.delta', delta: 'AAAA' }),
    frame({ type: 'session.output_transcript.delta', delta: 'the "session.closed" words' }),
    frame({ type: 'info', note: 'session.usage.updated' }), // the needle, not the type
    updated('61'), updated(-1), frame({ type: 'session.usage.updated' }), frame({ type: 'session.closed', usage: null }),
    frame({ type: 'response.event', event: { type: 'response.created', response: { note: 'response.completed' } } }),
    frame({ type: 'response.event', event: { type: 'response.completed', response: { id: 'r' } } }), // no usage
    frame({ type: 'response.event', event: 'response.completed' }),
    frame({ type: 'conversation', note: '"response.event" "response.completed"' }),
    Buffer.from('not json "session.closed"'),
    Buffer.from('["session.usage.updated"]'),
    frame({ type: 'response.done', response: { usage: { total_tokens: 5 } } }) // Realtime's event, not GPT-Live's
  ]
  for (const data of none) t.equal(live.readUsage(data), undefined, data.toString().slice(0, 60))
})

t.test('snapshots 30.5, 61.0, then closed at 75.0 bill 75.0 s in increases; the usage is final', async (t) => {
  const records: UsageRecord[] = []
  const meter = new Meter({ sessionId: 's', provider: 'openai', model: 'gpt-live-1', billing: 'tokens', pricing: { 'gpt-live-1': { perMinute: 0.05 } }, emit: (r) => { records.push(r) } })
  t.equal(meter.final, undefined, 'no cumulative report yet')
  for (const data of [updated(30.5), updated(61), updated(61), closed(75)]) meter.record(live.readUsage(data) as never)
  const who = { sessionId: 's', provider: 'openai', model: 'gpt-live-1' }
  t.same(records, [
    { kind: 'duration', ...who, seconds: 30.5, totalSeconds: 30.5, costUSD: 0.025416667 },
    { kind: 'duration', ...who, seconds: 30.5, totalSeconds: 61, costUSD: 0.025416667 },
    { kind: 'duration', ...who, seconds: 14, totalSeconds: 75, costUSD: 0.011666667 }
  ], 'the repeated snapshot billed nothing')
  t.equal(records.reduce((sum, r) => sum + (r as { seconds: number }).seconds, 0), 75)
  t.equal(meter.totals.durationSeconds, 75)
  t.equal(meter.final, true)
})

t.test('a session that ends on a snapshot keeps its last total, not final; a smaller late snapshot bills nothing', async (t) => {
  const records: UsageRecord[] = []
  const meter = new Meter({ sessionId: 's', provider: 'azure', model: 'gpt-live-1', billing: 'tokens', emit: (r) => { records.push(r) } })
  meter.record(live.readUsage(updated(0)) as never)
  meter.record(live.readUsage(updated(42)) as never)
  meter.record(live.readUsage(updated(40)) as never)
  t.same(records.map((r) => [(r as { seconds: number }).seconds, (r as { totalSeconds: number }).totalSeconds]), [[42, 42]], 'zero and a step back bill nothing')
  t.notOk('costUSD' in (records[0] as object), 'no price, no cost')
  t.equal(meter.totals.durationSeconds, 42)
  t.equal(meter.final, false, 'the summary will say the usage is not final')
})

t.test('delegated backend tokens are a response record of the backend model, priced by its own entry', async (t) => {
  const records: UsageRecord[] = []
  const pricing = { 'gpt-live-1': { perMinute: 0.05 }, 'openai/gpt-5.2': { input: { text: 1.25 }, output: { text: 10 } } }
  const meter = new Meter({ sessionId: 's', provider: 'openai', model: 'gpt-live-1', billing: 'tokens', pricing, emit: (r) => { records.push(r) } })
  meter.record(live.readUsage(delegated) as never)
  t.match(records[0], { kind: 'response', model: 'gpt-5.2', responseId: 'resp_9', inputTokens: 812, outputTokens: 95, totalTokens: 907, costUSD: (812 * 1.25 + 95 * 10) / 1e6 })
  const unpriced = new Meter({ sessionId: 's', provider: 'openai', model: 'gpt-live-1', billing: 'tokens', pricing: { 'gpt-live-1': { perMinute: 0.05 } }, emit: (r) => { records.push(r) } })
  unpriced.record(live.readUsage(delegated) as never)
  t.notOk('costUSD' in (records[1] as object), 'a backend model without a price gets no cost, not the session\'s')
  const anonymous = frame({ type: 'response.event', event: { type: 'response.completed', response: { usage: { total_tokens: 3 } } } })
  t.same(live.readUsage(anonymous), { kind: 'response', responseId: undefined, model: undefined, usage: { total_tokens: 3 } }, 'no backend model named: the session\'s')
  t.equal(unpriced.final, undefined, 'tokens alone say nothing about final seconds')
})

t.test('errors in GPT-Live\'s envelope', async (t) => {
  t.match(live.errorEvent('unroutable_model', 'No provider for "x"', 'c1'), { type: 'error', event_id: /^evt_/, error: { type: 'invalid_request_error', code: 'unroutable_model', message: 'No provider for "x"', client_event_id: 'c1' } })
  t.notOk('client_event_id' in (live.errorEvent('x', 'y').error as object))
})
