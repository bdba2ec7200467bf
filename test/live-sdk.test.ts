// The official openai SDK's GPT-Live client (v7 `LiveWS`), pointed at the app's /v1, holds a conversation with the
// simulator through the plugin with the app's own credentials; its usage arrives through onUsage exactly once.
// The SDK dials wss://, so the app listens with the test certificate.
import t from 'tap'
import { readFileSync } from 'node:fs'
import OpenAI from 'openai'
import { LiveWS } from 'openai/resources/live/ws'
import type { SessionSummary, UsageRecord } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'
import { startProxy, until } from './helpers.js'

const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))

t.test('LiveWS talks to the simulator through the plugin', async (t) => {
  const sim = await RealtimeSimulator.start({ pace: 0, usageInterval: 50, apiKey: 'provider-key-0000' })
  t.teardown(() => sim.close())
  const records: UsageRecord[] = []
  const summaries: SessionSummary[] = []
  const credentials: Array<string | undefined> = []
  const proxy = await startProxy(t, {
    providers: { sim: { type: 'openai-compatible', baseURL: sim.url, apiKey: 'provider-key-0000' } },
    live: true,
    onRequest: async (request, reply) => {
      credentials.push(request.realtime.credential)
      if (request.realtime.credential !== 'app-user-token') return reply.code(401).send({ error: 'unauthorized' })
    },
    onUsage: (r) => { records.push(r) },
    onSessionEnd: (s) => { summaries.push(s) }
  }, undefined, { https: { key, cert } })
  const client = new OpenAI({ apiKey: 'app-user-token', baseURL: `${proxy.url.replace('ws://', 'https://')}/v1` })
  const live = new LiveWS(client, { ca: cert })
  t.teardown(() => live.close())
  const types: string[] = []
  live.on('event', (event) => { types.push(event.type) })
  const started = new Promise<{ id: string, model: string }>((resolve, reject) => {
    live.on('session.started', (event) => resolve(event.session as unknown as { id: string, model: string }))
    live.on('error', reject)
  })
  live.send({ type: 'session.start', session: { model: 'gpt-live-1', instructions: 'Be brief.' } } as never)
  const session = await started
  t.match(session, { id: /^live_/, model: 'gpt-live-1' })
  t.same(credentials, ['app-user-token'], 'the app authenticated the SDK with its own token')

  const answered = new Promise<string>((resolve) => live.on('session.output_transcript.delta', (event) => resolve((event as unknown as { delta: string }).delta)))
  live.send({ type: 'session.input_audio.append', audio: Buffer.alloc(48000).toString('base64') } as never)
  t.equal(await answered, 'I heard 1.0 seconds of audio.')
  await until(() => records.length >= 1, 'a usage update')

  const closedEvent = new Promise<{ usage: { seconds: number } }>((resolve) => live.on('session.closed', (event) => resolve(event as unknown as { usage: { seconds: number } })))
  live.send({ type: 'session.close' } as never)
  const final = await closedEvent
  await until(() => summaries.length === 1, 'the summary')
  t.ok(types.includes('session.input_transcript.delta') && types.includes('session.output_audio.delta'), 'audio and transcripts both ways')
  const billed = Math.round(records.reduce((sum, r) => sum + (r as { seconds: number }).seconds, 0) * 10) / 10
  t.equal(billed, final.usage.seconds, 'the records add up to the closing total, once')
  t.match(summaries[0], { provider: 'sim', model: 'gpt-live-1', usageFinal: true })
  t.notOk(JSON.stringify(proxy.logs.lines).includes('provider-key-0000'), 'the provider key never logged')
})
