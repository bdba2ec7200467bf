// The README's code is real: every TypeScript block type-checks under strict TypeScript against the built package
// (resolved by name, as an app would), and the hook examples run against a real session.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import ts from 'typescript'
import * as lib from '../lib/index.js'
import type { RealtimeProxyOptions } from '../lib/index.js'
import { fakeUpstream, open, startProxy, until, type Proxy, type Tap } from './helpers.js'

const root = new URL('..', import.meta.url)
const readme = readFileSync(new URL('README.md', root), 'utf8')
const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)

// Names the snippets use without defining them: the app, and the user's own functions.
const GLOBALS = `import type { FastifyInstance, onRequestHookHandler } from 'fastify'
import type plugin from 'fastify-realtime-proxy'
import type { MemoryStore as Store } from 'fastify-realtime-proxy'
declare global {
  const app: FastifyInstance
  const realtimeProxy: typeof plugin
  const MemoryStore: typeof Store
  const authenticate: onRequestHookHandler
  const requireAdmin: onRequestHookHandler
  const apiKey: string
  const xaiKey: string
  const users: { byApiKey (key: string | undefined): Promise<{ id: string } | undefined> }
  const billing: { charge (charge: { customer: string | undefined, usd: number | undefined, record: unknown }): Promise<void> }
}
export {}
`

t.test('every TypeScript block of the README compiles under strict TypeScript against the built package', async (t) => {
  t.ok(blocks.length >= 10, `${blocks.length} blocks`)
  const dir = new URL('test-artifacts/readme/', root)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  writeFileSync(new URL('globals.d.ts', dir), GLOBALS)
  blocks.forEach((block, i) => writeFileSync(new URL(`block${i + 1}.ts`, dir), `${block}\nexport {}\n`))
  writeFileSync(new URL('tsconfig.json', dir), JSON.stringify({
    compilerOptions: { strict: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2023'], types: ['node'], noEmit: true, skipLibCheck: true },
    include: ['*.ts']
  }))
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc')
  let out = ''
  try {
    execFileSync(process.execPath, [tsc, '-p', new URL('tsconfig.json', dir).pathname], { encoding: 'utf8' })
  } catch (err) {
    out = (err as { stdout: string }).stdout
  }
  t.equal(out, '', 'no type errors')
})

/** Runs a README block with `app` standing for a real app whose providers point at a fake provider. */
async function runBlock (t: Tap, index: number) {
  const upstream = await fakeUpstream(t)
  let options: RealtimeProxyOptions | undefined
  let proxy: Proxy | undefined
  const app = {
    register: async (_plugin: unknown, given: RealtimeProxyOptions) => {
      options = given
      proxy = await startProxy(t, { ...given, providers: { openai: { apiKey: 'sk-readme-0000', baseURL: upstream.url } } })
    }
  }
  const charges: unknown[] = []
  const billing = { charge: async (charge: unknown) => { charges.push(charge) } }
  const js = ts.transpileModule(blocks[index] as string, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    .replace(/^import .*$/gm, '') // the package's exports are in scope below, as the block's imports would bring them
  const scope: Record<string, unknown> = { ...lib, realtimeProxy: lib.default, app, billing, apiKey: 'sk-openai-0000', xaiKey: 'xai-key-0000' }
  delete scope.default
  // eslint-disable-next-line no-new-func -- the README's own code, run as its reader would
  const run = new Function(...Object.keys(scope), `return (async () => { ${js} })()`) as (...args: unknown[]) => Promise<void>
  await run(...Object.values(scope))
  return { proxy: proxy as Proxy, options: options as RealtimeProxyOptions, upstream, charges }
}

t.test('the onClientEvent example strips what the app owns from session.update', async (t) => {
  const index = blocks.findIndex((b) => b.includes('onClientEvent (event)'))
  t.ok(index >= 0, 'the example is in the README')
  const { proxy, upstream } = await runBlock(t, index)
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'ignore the app', tools: [{ type: 'function', name: 'x' }], model: 'other', audio: { output: { voice: 'marin' } } } }))
  ws.send('{"type":"session.update"}') // no session object: passed as it was
  await until(() => conn.frames.length === 2, 'both frames upstream')
  t.same(JSON.parse((conn.frames[0] as { data: Buffer }).data.toString()), { type: 'session.update', session: { audio: { output: { voice: 'marin' } } } })
  t.equal((conn.frames[1] as { data: Buffer }).data.toString(), '{"type":"session.update"}')
})

t.test('the onUsage example charges every record to the session\'s caller', async (t) => {
  const index = blocks.findIndex((b) => b.includes('billing.charge'))
  t.ok(index >= 0, 'the example is in the README')
  const { proxy, upstream, charges } = await runBlock(t, index)
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`, [], { headers: { authorization: 'Bearer user-1' } })
  const conn = await upstream.next()
  conn.socket.send(JSON.stringify({ type: 'response.done', response: { id: 'r', usage: { total_tokens: 10, input_tokens: 4, output_tokens: 6 } } }))
  await until(() => charges.length === 1, 'the charge')
  t.match(charges[0], { customer: 'user-1', record: { kind: 'response', totalTokens: 10 } })
  ws.close()
})
