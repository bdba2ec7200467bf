// The examples server: every provider with a key in the environment, the embedded simulator always (OpenAI's
// schema, GPT-Live, and Gemini Live through the codec), one token protecting the routes (realtime and
// GPT-Live), usage logged per record, the browser voice demo at / and WebRTC at /webrtc.
//   npm start                      # simulator only: no key needed
//   OPENAI_API_KEY=sk-... npm start
//   GEMINI_API_KEY=AIza... npm start
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import Fastify, { type FastifyInstance } from 'fastify'
import realtimeProxy, { type Pricing, type ProviderConfig, type UsageRecord } from '../lib/index.js'
import { RealtimeSimulator } from '../lib/simulator/index.js'

type Env = Record<string, string | undefined>

/** One choice in the demo page: a provider and the model it is asked for; `live` for a GPT-Live session. */
export interface DemoModel { provider: string, model: string, label: string, protocol?: 'live' }

/**
 * Providers with keys in the environment, each with the model the demo offers; `geminiSimulator`, the base URL of
 * a simulator that speaks Gemini Live, adds it as a Gemini provider (no key).
 */
export function providersFrom (env: Env, geminiSimulator?: string): { providers: Record<string, ProviderConfig>, models: DemoModel[] } {
  const providers: Record<string, ProviderConfig> = {}
  const models: DemoModel[] = []
  const add = (name: string, config: ProviderConfig, model: string, label: string): void => {
    providers[name] = config
    models.push({ provider: name, model, label })
  }
  if (env.OPENAI_API_KEY !== undefined) {
    add('openai', { apiKey: env.OPENAI_API_KEY, baseURL: env.OPENAI_BASE_URL }, env.OPENAI_REALTIME_MODEL ?? 'gpt-realtime', 'OpenAI')
  }
  if (env.AZURE_OPENAI_API_KEY !== undefined && env.AZURE_OPENAI_ENDPOINT !== undefined) {
    add('azure', { apiKey: env.AZURE_OPENAI_API_KEY, baseURL: env.AZURE_OPENAI_ENDPOINT, apiVersion: env.AZURE_OPENAI_API_VERSION },
      env.AZURE_OPENAI_DEPLOYMENT ?? 'gpt-realtime', 'Azure OpenAI')
  }
  if (env.XAI_API_KEY !== undefined) {
    add('xai', { apiKey: env.XAI_API_KEY, baseURL: env.XAI_BASE_URL }, env.XAI_REALTIME_MODEL ?? 'grok-voice', 'xAI')
  }
  if (env.DASHSCOPE_API_KEY !== undefined) {
    const host = env.DASHSCOPE_REGION === 'cn' ? 'https://dashscope.aliyuncs.com' : 'https://dashscope-intl.aliyuncs.com'
    add('bailian', { apiKey: env.DASHSCOPE_API_KEY, baseURL: env.DASHSCOPE_BASE_URL ?? host }, env.DASHSCOPE_REALTIME_MODEL ?? 'qwen3-omni-flash-realtime', 'Alibaba Bailian')
  }
  if (env.ZAI_API_KEY !== undefined) {
    const base = env.ZAI_REGION === 'cn' ? 'https://open.bigmodel.cn/api/paas/v4' : 'https://api.z.ai/api/paas/v4'
    add('zai', { apiKey: env.ZAI_API_KEY, baseURL: env.ZAI_BASE_URL ?? base }, env.ZAI_REALTIME_MODEL ?? 'glm-realtime', 'Z.ai GLM')
  }
  // Gemini Live: Google's own schema, which the plugin translates; the page talks OpenAI to it like to the others.
  if (env.GEMINI_API_KEY !== undefined) {
    add('gemini', { apiKey: env.GEMINI_API_KEY, baseURL: env.GEMINI_BASE_URL }, env.GEMINI_LIVE_MODEL ?? 'gemini-3.8-live', 'Google Gemini Live')
  }
  add('simulator', { type: 'simulator' }, 'simulator', 'Simulator (no key)')
  if (geminiSimulator !== undefined) add('simulator-gemini', { type: 'gemini', baseURL: geminiSimulator, apiKey: null }, 'gemini-3.8-live', 'Simulator Gemini Live (no key)')
  // GPT-Live (/v1/live/sessions): routed by its first frame, session.start, whose model names the provider.
  if (env.OPENAI_API_KEY !== undefined) models.push({ provider: 'openai', model: env.OPENAI_LIVE_MODEL ?? 'gpt-live-1', label: 'OpenAI GPT-Live', protocol: 'live' })
  models.push({ provider: 'simulator', model: 'gpt-live-1', label: 'Simulator GPT-Live (no key)', protocol: 'live' })
  return { providers, models }
}

// Example prices only, to show the cost columns: fill these from your own contract.
export const EXAMPLE_PRICING: Pricing = {
  'gpt-realtime': { input: { text: 4, audio: 32, image: 5, cached: 0.4 }, output: { text: 16, audio: 64 }, transcription: { perSecond: 0.0001 } },
  simulator: { input: { text: 4, audio: 32, cached: 0.4 }, output: { text: 16, audio: 64 }, transcription: { perSecond: 0.0001 } },
  'xai/grok-voice': { perMinute: 0.05 },
  'gpt-live-1': { perMinute: 0.05 },
  'gemini-3.8-live': { input: { text: 0.5, audio: 3, cached: 0.05 }, output: { text: 2, audio: 12 } }
}

export interface ExampleServer {
  app: FastifyInstance
  token: string
  models: DemoModel[]
}

const PUBLIC = new URL('./public/', import.meta.url)
const ASSETS: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'dist/app.js',
  '/worklet.js': 'dist/worklet.js',
  '/webrtc': 'webrtc.html',
  '/webrtc.js': 'dist/webrtc.js',
  '/demo.css': 'demo.css',
  // "Hello! What is the weather like in Paris today?" spoken by espeak-ng, as PCM16 24 kHz mono
  '/sample.pcm': 'sample.pcm'
}
const TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8', pcm: 'application/octet-stream' }

export async function buildServer (env: Env = process.env, logger: boolean | object = true, https?: { key: Buffer, cert: Buffer }): Promise<ExampleServer> {
  const token = env.DEMO_TOKEN ?? randomBytes(12).toString('base64url')
  // A simulator of Gemini Live for the Gemini choice without a key (the embedded one speaks OpenAI's schema).
  const geminiSimulator = await RealtimeSimulator.start()
  const { providers, models } = providersFrom(env, geminiSimulator.url)
  // The page offers the first model: a real provider when a key is set, else the simulator.
  const app = Fastify({ logger, ...(https === undefined ? {} : { https }) }) as unknown as FastifyInstance
  app.addHook('onClose', async () => { await geminiSimulator.close() })
  await app.register(realtimeProxy, {
    providers,
    pricing: EXAMPLE_PRICING,
    // The page sends the token as the subprotocol openai-insecure-api-key.<token>; servers as a Bearer header.
    onRequest: async (request, reply) => {
      if (request.realtime.credential !== token) return reply.code(401).send({ error: 'unauthorized: use the token printed at start-up' })
    },
    onUsage: (record: UsageRecord, session) => {
      session.log.info({ usage: record }, `usage: ${record.kind}${record.costUSD === undefined ? '' : ` $${record.costUSD.toFixed(6)}`}`)
    },
    metrics: true,
    // GPT-Live at /v1/live/sessions, beside the realtime route, same token and hooks.
    live: true,
    // POST /v1/realtime/client_secrets and /v1/realtime/calls for the WebRTC page (/webrtc), same token, and
    // each call metered on its sideband into the same onUsage records.
    signaling: true
  })
  app.get('/config', async () => ({ models, pricing: EXAMPLE_PRICING }))
  for (const [path, file] of Object.entries(ASSETS)) {
    app.get(path, async (_request, reply) => {
      const body = await readFile(new URL(file, PUBLIC)).catch(() => undefined)
      if (body === undefined) return reply.code(500).send({ error: 'demo page not built: run npm run build' })
      return reply.type(TYPES[file.split('.').pop() as string] as string).send(body)
    })
  }
  return { app, token, models }
}

/** Compiles the demo page's scripts when a source is newer than its build (a fresh clone, or an edit). */
export function buildDemoIfStale (log: (message: string) => void): void {
  const sources = ['app.ts', 'worklet.ts', 'webrtc.ts'].map((f) => new URL(f, PUBLIC))
  const built = sources.map((f) => new URL(`dist/${f.pathname.split('/').pop()?.replace(/\.ts$/, '.js') as string}`, PUBLIC))
  const mtime = (f: URL): number => existsSync(f) ? statSync(f).mtimeMs : -1
  const newest = Math.max(...sources.map(mtime), mtime(new URL('../tsconfig.demo.json', import.meta.url)))
  if (built.every((f) => mtime(f) >= newest)) return
  log('building the demo page (tsc -p tsconfig.demo.json): examples/public/*.ts -> examples/public/dist')
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  execFileSync(process.execPath, [tsc, '-p', new URL('../tsconfig.demo.json', import.meta.url).pathname], { stdio: 'inherit' })
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const pretty = process.stdout.isTTY ? { transport: { target: 'pino-pretty', options: { ignore: 'pid,hostname' } } } : true
  const started = performance.now()
  buildDemoIfStale((message) => process.stdout.write(`${message}\n`))
  const { app, token, models } = await buildServer(process.env, pretty)
  // Ctrl-C, or the orchestrator's SIGTERM: close every session with 1001, then exit.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.log.info(`${signal}: closing sessions and the server`)
      app.close().then(() => process.exit(0), () => process.exit(1))
    })
  }
  const port = Number(process.env.PORT ?? 3000)
  await app.listen({ port, host: process.env.HOST ?? '127.0.0.1' })
  const live = models.filter((m) => !m.provider.startsWith('simulator')).map((m) => m.label)
  app.log.info(live.length === 0
    ? 'no provider key set: the demo runs on the embedded simulator (set OPENAI_API_KEY and restart to talk to OpenAI)'
    : `live providers: ${live.join(', ')} (and the simulator)`)
  app.log.info(`open http://localhost:${port}/#token=${token} (websocket token: ${token}); up in ${Math.round(performance.now() - started)} ms`)
}
