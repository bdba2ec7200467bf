// defaultPricing: a dated list-price table an app spreads into `pricing`; never applied on its own.
import t from 'tap'
import { fakeUpstream, nextMessage, open, startProxy, until, type Tap } from './helpers.js'
import { defaultPricing, defaultPricingSources, type Pricing, type SessionSummary, type UsageRecord } from '../lib/index.js'
import { pricingSettings as checkPricing, tokenCost } from '../lib/usage/pricing.js'
import { OPENAI_DONE } from './usage-fixtures.js'

async function billed (t: Tap, pricing: Pricing | undefined, model: string): Promise<{ records: UsageRecord[], summary: SessionSummary }> {
  const upstream = await fakeUpstream(t)
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const proxy = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    ...(pricing === undefined ? {} : { pricing }),
    onUsage: (record) => { records.push(record) },
    onSessionEnd: (summary) => { summaries.push(summary) }
  })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=${model}`)
  const conn = await upstream.next()
  conn.socket.send(JSON.stringify(OPENAI_DONE))
  await nextMessage(ws)
  ws.close(1000)
  await until(() => summaries.length === 1, 'session summary')
  return { records, summary: summaries[0] as SessionSummary }
}

t.test('every entry is a valid pricing entry with a dated https source', async (t) => {
  t.same(checkPricing(defaultPricing), defaultPricing, 'the table passes the option check as it is')
  t.same(Object.keys(defaultPricingSources).sort(), Object.keys(defaultPricing).sort(), 'one source per entry')
  for (const [model, source] of Object.entries(defaultPricingSources)) {
    t.match(source.url, /^https:\/\/[a-z.]+\//, `${model}: source URL`)
    t.match(source.checked, /^\d{4}-\d{2}-\d{2}$/, `${model}: date read`)
    t.ok(!Number.isNaN(Date.parse(source.checked)), `${model}: a real date`)
  }
  t.ok(Object.keys(defaultPricing).length >= 16)
  // The families the table covers, with their published units.
  t.same(defaultPricing['gpt-realtime'], { input: { text: 4, audio: 32, image: 5, cached: 0.4 }, output: { text: 16, audio: 64 } })
  t.same(defaultPricing['gpt-realtime-mini'], { input: { text: 0.6, audio: 10, image: 0.8, cached: 0.06, cachedAudio: 0.3 }, output: { text: 2.4, audio: 20 } })
  t.same(defaultPricing['gpt-live-1.1'], { perMinute: 0.05 })
  t.same(defaultPricing['gpt-realtime-whisper'], { transcription: { perSecond: 0.017 / 60 } })
  t.same(defaultPricing['gemini-3.1-flash-live-preview'], { input: { text: 0.75, audio: 3, image: 3 }, output: { text: 4.5, audio: 12 } })
  t.same(defaultPricing['grok-voice-think-fast-2.0'], { perMinute: 0.05 })
})

t.test('the table is frozen to its leaves: an app cannot change it for every other user of the module', async (t) => {
  t.ok(Object.isFrozen(defaultPricing))
  t.ok(Object.isFrozen(defaultPricing['gpt-realtime']))
  t.ok(Object.isFrozen(defaultPricing['gpt-realtime']?.input))
  t.ok(Object.isFrozen(defaultPricingSources['gpt-realtime']))
  t.throws(() => { (defaultPricing['gpt-realtime']?.input as { text: number }).text = 0 }, TypeError)
  t.equal(defaultPricing['gpt-realtime']?.input?.text, 4)
  // Entries that shared a rate object in the source are copies: freezing one never ties two together.
  t.not(defaultPricing['gpt-realtime'], defaultPricing['gpt-realtime-1.5'])
})

t.test('never applied unless the app passes it', async (t) => {
  const { records, summary } = await billed(t, undefined, 'gpt-realtime-mini')
  t.equal(records.length, 1)
  t.notOk('costUSD' in (records[0] as object), 'no price, no cost')
  t.equal(summary.usage.costUSD, 0, 'the totals sum what was priced: nothing')
})

t.test('spread into pricing: list prices bill, cached audio at its own rate', async (t) => {
  const { records, summary } = await billed(t, { ...defaultPricing }, 'gpt-realtime-mini')
  // text (200-100)*0.6 + audio (790-200)*10 + image 10*0.8 + cached text 100*0.06 + cached audio 200*0.3 + out 100*2.4 + 400*20
  const cost = (100 * 0.6 + 590 * 10 + 10 * 0.8 + 100 * 0.06 + 200 * 0.3 + 100 * 2.4 + 400 * 20) / 1e6
  t.equal(cost, 0.014274)
  t.equal(records[0]?.costUSD, cost)
  t.equal(summary.usage.costUSD, cost)
})

t.test('spread and overridden: the app\'s own rate wins for its model, the rest stay list prices', async (t) => {
  const contract = { input: { text: 1, audio: 8, cached: 0.1 }, output: { text: 4, audio: 16 } }
  const pricing: Pricing = { ...defaultPricing, 'gpt-realtime': contract }
  const { records } = await billed(t, pricing, 'gpt-realtime')
  // text 100*1 + audio 590*8 + image 10*0 + cached 300*0.1 (no cachedAudio: audio cached at `cached`) + out 100*4 + 400*16
  t.equal(records[0]?.costUSD, (100 * 1 + 590 * 8 + 300 * 0.1 + 100 * 4 + 400 * 16) / 1e6)
  t.equal(defaultPricing['gpt-realtime']?.input?.text, 4, 'the table itself is untouched')
})

t.test('cachedAudio prices cached audio tokens apart from cached text', async (t) => {
  const usage = { inputTokens: 300, outputTokens: 0, totalTokens: 300, input: { text: 100, audio: 200, image: 0, cached: 300 }, output: { text: 0, audio: 0 } }
  t.equal(tokenCost({ input: { cached: 1, cachedAudio: 10 } }, usage, 200), (100 * 1 + 200 * 10) / 1e6)
  t.equal(tokenCost({ input: { cached: 1 } }, usage, 200), 300 / 1e6, 'without cachedAudio, every cached token at `cached`')
  t.equal(tokenCost({ input: { cachedAudio: 10 } }, usage, 200), 2000 / 1e6, 'cachedAudio alone: cached text costs 0')
  t.throws(() => checkPricing({ m: { input: { cachedAudio: -1 } } }), { code: 'FST_REALTIME_INVALID_OPTION' })
})
