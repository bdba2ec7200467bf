// The built package resolves by name, as a user's app and tests outside this repo import it.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'

const root = new URL('..', import.meta.url)

t.test('import realtimeProxy from "fastify-realtime-proxy" resolves to dist with types', async (t) => {
  t.ok(existsSync(new URL('dist/index.js', root)), 'npm run build produced dist/index.js')
  t.ok(existsSync(new URL('dist/index.d.ts', root)), 'and its types')
  const script = `
    import realtimeProxy, { realtimeProxy as named, ProviderRegistry, DEFAULT_PATH } from 'fastify-realtime-proxy'
    import Fastify from 'fastify'
    const app = Fastify()
    await app.register(realtimeProxy, { providers: { openai: { apiKey: 'k' } } })
    await app.ready()
    console.log(JSON.stringify({ same: realtimeProxy === named, registry: typeof ProviderRegistry, path: DEFAULT_PATH,
      route: app.hasRoute({ method: 'GET', url: DEFAULT_PATH }), providers: app.realtime.providers.names() }))
    await app.close()
  `
  const env = { PATH: process.env.PATH }
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8' })
  t.same(JSON.parse(out), { same: true, registry: 'function', path: '/v1/realtime', route: true, providers: ['openai'] })
})
