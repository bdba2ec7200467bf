// The examples server: providers from the environment, the token, the page's config, and the openai SDK
// holding a conversation with the simulator through it.
import t from 'tap'
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import OpenAI from 'openai'
import { OpenAIRealtimeWS } from 'openai/realtime/ws'
import { buildServer, providersFrom } from '../examples/server.js'
import { refused } from './helpers.js'

t.test('providers come from the environment, the simulator always', async (t) => {
  t.same(providersFrom({}).models, [
    { provider: 'simulator', model: 'simulator', label: 'Simulator (no key)' },
    { provider: 'simulator', model: 'gpt-live-1', label: 'Simulator GPT-Live (no key)', protocol: 'live' }
  ])
  t.same(providersFrom({}, 'http://127.0.0.1:1/v1').providers['simulator-gemini'], { type: 'gemini', baseURL: 'http://127.0.0.1:1/v1', apiKey: null })
  const { providers, models } = providersFrom({
    GEMINI_API_KEY: 'AIza-1',
    OPENAI_API_KEY: 'sk-1',
    AZURE_OPENAI_API_KEY: 'az-1',
    AZURE_OPENAI_ENDPOINT: 'https://res.openai.azure.com',
    XAI_API_KEY: 'xai-1',
    DASHSCOPE_API_KEY: 'ds-1',
    DASHSCOPE_REGION: 'cn',
    ZAI_API_KEY: 'z-1',
    ZAI_REGION: 'cn'
  })
  t.same(models.map((m) => `${m.provider}/${m.model}`), ['openai/gpt-realtime', 'azure/gpt-realtime', 'xai/grok-voice', 'bailian/qwen3-omni-flash-realtime', 'zai/glm-realtime', 'gemini/gemini-3.8-live', 'simulator/simulator', 'openai/gpt-live-1', 'simulator/gpt-live-1'])
  t.same(providers.gemini, { apiKey: 'AIza-1', baseURL: undefined })
  t.equal(providers.bailian?.baseURL, 'https://dashscope.aliyuncs.com')
  t.equal(providers.zai?.baseURL, 'https://open.bigmodel.cn/api/paas/v4')
  const intl = providersFrom({ DASHSCOPE_API_KEY: 'ds', ZAI_API_KEY: 'z' }).providers
  t.equal(intl.bailian?.baseURL, 'https://dashscope-intl.aliyuncs.com')
  t.equal(intl.zai?.baseURL, 'https://api.z.ai/api/paas/v4')
})

t.test('the token guards the route; the page and its config are served', async (t) => {
  const { app, token, models } = await buildServer({ OPENAI_API_KEY: 'sk-test' }, false)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `127.0.0.1:${(app.server.address() as AddressInfo).port}`
  t.equal(models[0]?.provider, 'openai', 'a key puts its provider first')
  t.match(token, /^[\w-]{16}$/)
  const res = await refused(t, `ws://${base}/v1/realtime?model=simulator/simulator`, ['realtime', 'openai-insecure-api-key.wrong'])
  t.equal(res.status, 401)
  const config = await (await fetch(`http://${base}/config`)).json() as { models: unknown[] }
  t.same(config.models, models)
  const page = await fetch(`http://${base}/`)
  t.match(page.headers.get('content-type'), 'text/html')
  t.match(await page.text(), '<script type="module" src="/app.js"></script>')
  t.match((await fetch(`http://${base}/app.js`)).headers.get('content-type'), 'text/javascript')
  const css = await fetch(`http://${base}/demo.css`)
  t.equal(css.headers.get('content-type'), 'text/css; charset=utf-8')
  t.match(await css.text(), '.bar {')
})

t.test('OpenAIRealtimeWS holds a conversation with the simulator through the examples server', async (t) => {
  const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
  const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))
  const { app, token } = await buildServer({ DEMO_TOKEN: 'sdk-token' }, false, { key, cert })
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new OpenAI({ apiKey: token, baseURL: `https://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1` })
  const rt = new OpenAIRealtimeWS({ model: 'simulator/simulator', options: { ca: cert } }, client)
  t.teardown(() => rt.close())
  await new Promise((resolve) => rt.socket.once('open', resolve))
  const answers: string[] = []
  for (const text of ['hello', 'how are you']) {
    const done = new Promise<string>((resolve) => {
      let said = ''
      const onDelta = (e: { delta: string }): void => { said += e.delta }
      rt.on('response.output_audio_transcript.delta', onDelta)
      rt.once('response.done', () => { rt.off('response.output_audio_transcript.delta', onDelta); resolve(said) })
    })
    rt.send({ type: 'conversation.item.create', item: { type: 'message', role: 'user', content: [{ type: 'input_text', text }] } })
    rt.send({ type: 'response.create' })
    answers.push(await done)
  }
  t.same(answers, ['You said: hello', 'You said: how are you'])
  t.ok(app.realtime.stats().usage.responses === 2)
})

t.test('the examples server serves the signaling routes behind the same token', async (t) => {
  const { app, token } = await buildServer({ DEMO_TOKEN: 'signal-token' }, false)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const mint = async (auth: string): Promise<Response> => await fetch(`${base}/v1/realtime/client_secrets`, {
    method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body: '{"session":{"type":"realtime","model":"simulator/simulator"}}'
  })
  t.equal((await mint('wrong')).status, 401)
  const minted = await (await mint(token)).json() as { value: string, session: { model: string } }
  t.match(minted.value, /^ek_/)
  t.equal(minted.session.model, 'simulator', 'the model was rewritten for the provider')
  const page = await fetch(`${base}/webrtc`)
  t.match(await page.text(), '<script type="module" src="/webrtc.js"></script>')
  t.match((await fetch(`${base}/webrtc.js`)).headers.get('content-type'), 'text/javascript')
})
