/// <reference lib="dom" />
// End to end in headless Chromium: the demo page, a fake microphone, the examples server on the simulator.
// Audio flows both ways, the transcript and usage appear, and a screenshot is kept in test-artifacts/.
import t from 'tap'
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Page } from 'playwright-core'
import { buildServer } from '../examples/server.js'
import type { RealtimeSession } from '../lib/index.js'
import { tone } from '../lib/simulator/audio.js'
import { until } from './helpers.js'

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

/** A WAV the fake microphone loops: 1 s of "speech", then 1.5 s of silence, so server VAD takes turns. */
function speechWav (): string {
  const pcm = Buffer.concat([tone(1, 300), Buffer.alloc(1.5 * 48000)])
  const header = Buffer.alloc(44)
  header.write('RIFF', 0)
  header.writeUInt32LE(36 + pcm.length, 4)
  header.write('WAVEfmt ', 8)
  header.writeUInt32LE(16, 16)
  header.writeUInt16LE(1, 20) // PCM
  header.writeUInt16LE(1, 22) // mono
  header.writeUInt32LE(24000, 24)
  header.writeUInt32LE(48000, 28)
  header.writeUInt16LE(2, 32)
  header.writeUInt16LE(16, 34)
  header.write('data', 36)
  header.writeUInt32LE(pcm.length, 40)
  const file = join(tmpdir(), `fastify-realtime-proxy-speech-${process.pid}.wav`)
  writeFileSync(file, Buffer.concat([header, pcm]))
  return file
}

/** Headless Debian Chromium with a fake microphone (from `audio`, a WAV, when given; else a tone), closed at teardown. */
async function launch (t: { teardown: (fn: () => unknown) => void }, ...audio: string[]): Promise<import('playwright-core').Browser> {
  const { chromium } = await import('playwright-core')
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required',
      '--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream', ...audio
    ]
  })
  t.teardown(() => browser.close())
  return browser
}

/** The examples server on port 0 and the page at `path` in headless Chromium, its model list loaded. */
async function demoPage (t: { teardown: (fn: () => unknown) => void }, token: string, path = '/', ...audio: string[]): Promise<{ app: FastifyInstance, page: Page, errors: string[] }> {
  const { app } = await buildServer({ DEMO_TOKEN: token }, false)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = (app.server.address() as AddressInfo).port
  const browser = await launch(t, ...audio)
  const page = await browser.newPage({ viewport: { width: 900, height: 640 } })
  const errors: string[] = []
  page.on('pageerror', (err) => errors.push(err.message))
  await page.goto(`http://127.0.0.1:${port}${path}#token=${token}`)
  await page.waitForSelector('[data-testid=model] option', { state: 'attached' })
  return { app, page, errors }
}

/** Picks `label` in the page, without the microphone, connects, and resolves with the server's session. */
async function connectChoice (app: FastifyInstance, page: Page, label: string): Promise<RealtimeSession | undefined> {
  await page.selectOption('[data-testid=model]', { label })
  await page.uncheck('[data-testid=mic]')
  await page.click('[data-testid=connect]')
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'connected', undefined, { timeout: 15_000 })
  await until(() => app.realtime.sessions.size === 1, `the ${label} session`)
  return [...app.realtime.sessions.values()][0]
}

t.test('the demo page talks to the simulator through the proxy', { skip: existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}: install Debian's chromium package (.ci/run does) to run the browser test` }, async (t) => {
  const token = 'browser-test-token'
  const { app, page, errors } = await demoPage(t, token, '/', `--use-file-for-fake-audio-capture=${speechWav()}`)
  t.equal(await page.inputValue('[data-testid=token]'), token)
  t.match(await page.textContent('[data-testid=model]'), 'Simulator')

  await page.click('[data-testid=connect]')
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'connected', undefined, { timeout: 15_000 })
  await page.waitForSelector('[data-role=user]', { timeout: 20_000 })
  await page.waitForFunction(() => {
    const demo = (window as unknown as { demo: { responses: number, played: number, sent: number } }).demo
    return demo.responses > 0 && demo.played > 0.5 && document.querySelector('[data-role=assistant]')?.textContent?.includes('I heard') === true
  }, undefined, { timeout: 30_000 })
  const demo = await page.evaluate(() => (window as unknown as { demo: Record<string, number> }).demo)
  t.ok((demo.sent as number) > 1, `sent ${demo.sent} s of microphone audio`)
  t.ok((demo.played as number) > 0.5, `played ${demo.played} s of answer audio`)
  t.ok((demo.input as number) > 0 && (demo.output as number) > 0, 'usage shown')
  t.match(await page.textContent('[data-role=user]'), /you: \[\d+\.\d seconds of audio\]/)
  t.match(await page.textContent('[data-testid=cost]'), /^\$0\.\d{6}$/)
  t.not(await page.textContent('[data-testid=cost]'), '$0.000000')

  mkdirSync('test-artifacts', { recursive: true })
  await page.screenshot({ path: 'test-artifacts/demo.png' })
  t.ok(existsSync('test-artifacts/demo.png'), 'screenshot saved to test-artifacts/demo.png')

  await page.click('[data-testid=connect]')
  await page.waitForFunction(() => document.querySelector('[data-testid=closed]')?.textContent !== '')
  t.equal(await page.textContent('[data-testid=closed]'), 'closed: 1000 user hung up')
  t.same(errors, [], 'no page errors')
  const stats = app.realtime.stats()
  t.ok(stats.usage.responses > 0, `the server metered ${stats.usage.responses} responses`)
  t.ok(stats.usage.transcription.seconds > 0, 'and the transcription seconds')
})

t.test('the WebRTC page signals through the plugin: a client secret is minted, a call offer is relayed', { skip: existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}` }, async (t) => {
  const { page, errors } = await demoPage(t, 'webrtc-test-token', '/webrtc')
  await page.click('[data-testid=mint]')
  await page.waitForFunction(() => document.querySelector('[data-testid=log]')?.textContent?.includes('client secret ek_') === true)
  t.notMatch(await page.textContent('[data-testid=log]'), /ek_[0-9a-f]{8}/, 'the page does not print the whole key')
  await page.click('[data-testid=call]')
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'failed', undefined, { timeout: 15_000 })
  t.match(await page.textContent('[data-testid=log]'), 'call failed: 501: {"error":{"message":"The simulator does not speak WebRTC; connect with a websocket."')
  t.same(errors, [], 'no page errors')
})

t.test('without a microphone, the sample button speaks a bundled sentence; the sent counter moves while it is sent', { skip: existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}` }, async (t) => {
  const { page, errors } = await demoPage(t, 'sample-test-token') // its fake microphone never pauses: not used here
  t.equal(await page.isDisabled('[data-testid=sample]'), true, 'no sample before connecting')
  await page.uncheck('[data-testid=mic]')
  await page.click('[data-testid=connect]')
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.textContent === 'connected', undefined, { timeout: 15_000 })
  await page.click('[data-testid=sample]')
  // while the sample is still being sent (3.7 s of speech at speaking pace), the counter already moved
  await page.waitForFunction(() => Number.parseFloat(document.getElementById('sent')?.textContent ?? '0') >= 1, undefined, { timeout: 10_000 })
  t.equal(await page.isDisabled('[data-testid=sample]'), true, 'one sample at a time')
  await page.waitForSelector('[data-role=user]', { timeout: 20_000 })
  await page.waitForFunction(() => (window as unknown as { demo: { responses: number } }).demo.responses > 0, undefined, { timeout: 20_000 })
  t.match(await page.textContent('[data-role=user]'), /you: \[(3\.[5-9]|4\.\d) seconds of audio\]/, 'the server heard the sentence as one turn')
  const sent = await page.evaluate(() => (window as unknown as { demo: { sent: number } }).demo.sent)
  t.ok(sent >= 4.8 && sent < 5.1, `sent ${sent.toFixed(2)} s: the sentence and 1.2 s of silence`)
  t.same(errors, [], 'no page errors')
})

t.test('the demo page holds a GPT-Live session on the simulator: session.start routed by its model, the sample answered, usage shown', { skip: existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}` }, async (t) => {
  const { app, page, errors } = await demoPage(t, 'live-test-token')
  const ended: Array<{ model?: string, usageFinal?: boolean, usage: { durationSeconds: number } }> = []
  const session = await connectChoice(app, page, 'Simulator GPT-Live (no key) · gpt-live-1')
  session?.ended.then((s) => ended.push(s), () => {})
  t.same([session?.provider, session?.model, session?.requestedModel], ['simulator', 'gpt-live-1', 'simulator/gpt-live-1'], 'routed by session.start\'s simulator/gpt-live-1')
  await page.click('[data-testid=sample]')
  await page.waitForFunction(() => document.querySelector('[data-role=assistant]')?.textContent?.includes('I heard') === true, undefined, { timeout: 20_000 })
  t.match(await page.textContent('[data-role=user]'), /you: \[(3\.[5-9]|4\.\d) seconds of audio\]/, 'the speech, then silence, ended the turn')
  await page.waitForFunction(() => (window as unknown as { demo: { played: number } }).demo.played >= 0.5, undefined, { timeout: 10_000 })
  await page.click('[data-testid=connect]') // session.close: the server answers session.closed with the total, then closes
  await page.waitForFunction(() => document.querySelector('[data-testid=closed]')?.textContent !== '', undefined, { timeout: 10_000 })
  t.equal(await page.textContent('[data-testid=closed]'), 'closed: 1000')
  await until(() => ended.length === 1, 'the summary')
  const seconds = await page.evaluate(() => (window as unknown as { demo: { seconds: number } }).demo.seconds)
  t.ok(seconds > 1, `the page shows ${seconds} s from session.closed`)
  t.equal(ended[0]?.usage.durationSeconds, seconds, 'the server metered the same total')
  t.equal(ended[0]?.usageFinal, true)
  t.not(await page.textContent('[data-testid=cost]'), '$0.000000')
  t.same(errors, [], 'no page errors')
})

t.test('the demo page picks Gemini Live (the simulator, through the codec): the sample is heard at 16 kHz, answered, and billed as the server meters it', { skip: existsSync(CHROMIUM) ? false : `Chromium not found at ${CHROMIUM}` }, async (t) => {
  const { app, page, errors } = await demoPage(t, 'gemini-test-token')
  const session = await connectChoice(app, page, 'Simulator Gemini Live (no key) · gemini-3.8-live')
  t.same([session?.provider, session?.model], ['simulator-gemini', 'gemini-3.8-live'])
  await page.click('[data-testid=sample]')
  await page.waitForFunction(() => document.querySelector('[data-role=assistant]')?.textContent?.includes('I heard') === true, undefined, { timeout: 20_000 })
  t.match(await page.textContent('[data-role=user]'), /you: \[(3\.[5-9]|4\.\d) seconds of audio\]/, 'Gemini heard the sentence as one turn, resampled to 16 kHz')
  await page.waitForFunction(() => (window as unknown as { demo: { responses: number, played: number } }).demo.responses > 0, undefined, { timeout: 10_000 })
  const demo = await page.evaluate(() => (window as unknown as { demo: Record<string, number> }).demo)
  t.ok((demo.played as number) > 0.2, `played ${demo.played} s of Gemini's 24 kHz audio`)
  t.equal(demo.input, session?.usage.inputTokens, 'the page shows the tokens the server metered')
  t.equal(demo.output, session?.usage.outputTokens)
  t.not(await page.textContent('[data-testid=cost]'), '$0.000000')
  await page.click('[data-testid=connect]')
  await page.waitForFunction(() => document.querySelector('[data-testid=closed]')?.textContent !== '', undefined, { timeout: 10_000 })
  t.equal(await page.textContent('[data-testid=closed]'), 'closed: 1000 user hung up')
  t.same(errors, [], 'no page errors')
})
