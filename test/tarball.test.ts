// The package as a user gets it: `npm pack` builds it, the tarball holds what an app needs and nothing else,
// and a fresh app with only fastify and typescript installs it, type-checks a server that uses every public
// option under --strict, and runs it as an ES module and as CommonJS.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const npm = (args: string[], cwd: string): string => execFileSync('npm', args, { cwd, encoding: 'utf8', env: { ...process.env, npm_config_loglevel: 'error' } })

const work = mkdtempSync(join(tmpdir(), 'realtime-proxy-pack-'))
t.teardown(() => rmSync(work, { recursive: true, force: true }))
const [packed] = JSON.parse(npm(['pack', '--json', '--pack-destination', work], root)) as Array<{ filename: string, files: Array<{ path: string }> }>
const files = (packed?.files ?? []).map((f) => f.path)

t.test('npm pack builds first and packs the build, the sources its maps name, and the docs', async (t) => {
  for (const file of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'dist/index.js', 'dist/index.d.ts', 'dist/simulator/index.js', 'dist/simulator/index.d.ts', 'lib/index.ts']) {
    t.ok(files.includes(file), file)
  }
  t.same(files.filter((f) => !/^(dist|lib)\//.test(f)).sort(), ['CHANGELOG.md', 'LICENSE', 'README.md', 'package.json'], 'nothing else at the top')
  t.same(files.filter((f) => /(^|\/)test\/|\.test\.|\.tgz$/.test(f)), [], 'no tests')
  // every source map names sources that are in the tarball
  const unpacked = join(work, 'unpacked')
  execFileSync('mkdir', ['-p', unpacked])
  execFileSync('tar', ['-xzf', join(work, packed?.filename as string), '-C', unpacked])
  const maps = files.filter((f) => f.endsWith('.map'))
  t.ok(maps.length > 10, `${maps.length} source maps`)
  const missing = maps.flatMap((map) => {
    const { sources } = JSON.parse(readFileSync(join(unpacked, 'package', map), 'utf8')) as { sources: string[] }
    const dir = map.slice(0, map.lastIndexOf('/'))
    return sources.map((s) => join(dir, s)).filter((s) => !files.includes(s))
  })
  t.same(missing, [], 'no source map points nowhere')
})

t.test('a fresh app with only fastify and typescript: strict types, ESM and CommonJS', async (t) => {
  const app = join(work, 'app')
  execFileSync('mkdir', ['-p', app])
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'fresh-app', private: true, type: 'module' }))
  const fixtures = new URL('fixtures/app/', import.meta.url).pathname
  for (const file of ['server.ts', 'esm.mjs', 'cjs.cjs']) copyFileSync(join(fixtures, file), join(app, file))
  const fastify = (JSON.parse(readFileSync(join(root, 'node_modules/fastify/package.json'), 'utf8')) as { version: string }).version
  const typescript = (JSON.parse(readFileSync(join(root, 'node_modules/typescript/package.json'), 'utf8')) as { version: string }).version
  npm(['install', '--no-audit', '--no-fund', '--prefer-offline', join(work, packed?.filename as string), `fastify@${fastify}`, `typescript@${typescript}`], app)
  const installed = JSON.parse(readFileSync(join(app, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }
  t.same(Object.keys(installed.dependencies).sort(), ['fastify', 'fastify-realtime-proxy', 'typescript'], 'no @types package added by hand')

  const tsc = join(app, 'node_modules/typescript/bin/tsc')
  let errors = ''
  try {
    execFileSync(process.execPath, [tsc, '--strict', '--noEmit', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--skipLibCheck', 'false', 'server.ts'], { cwd: app, encoding: 'utf8' })
  } catch (err) {
    errors = (err as { stdout: string }).stdout
  }
  t.equal(errors, '', 'tsc --strict: no errors (no TS7016 for ws, no missing declaration)')

  const run = (file: string): unknown => JSON.parse(execFileSync(process.execPath, [file], { cwd: app, encoding: 'utf8' }))
  t.same(run('esm.mjs'), { route: true, store: 'function', simulator: true }, 'as an ES module')
  t.same(run('cjs.cjs'), { route: true, named: 'function', store: 'function', simulator: true }, 'with require(), on ' + process.version)
})
