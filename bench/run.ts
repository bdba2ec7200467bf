// npm run bench [-- --json results.json] [-- --quick] [-- --only stream]
// Starts the fake provider, then for each scenario measures, in one run: a direct connection (the physical
// limit), this plugin with metering, with metering off, with metering and an event-policy hook, and
// @fastify/http-proxy with websocket: true. Provider, proxies and load client are separate processes.
// Every figure is the median of 3 repetitions (1 with --quick).
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, totalmem } from 'node:os'

const here = new URL('.', import.meta.url)
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const jsonOut = args.includes('--json') ? args[args.indexOf('--json') + 1] ?? 'bench-results.json' : undefined
const REPS = quick ? 1 : 3
const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined // a scenario name substring

type Target = 'direct' | 'plugin' | 'nometer' | 'policy' | 'gemini' | 'http-proxy'
const TARGETS: Target[] = ['direct', 'plugin', 'nometer', 'policy', 'gemini', 'http-proxy']

function start (file: string, argv: string[] = []): Promise<{ child: ChildProcess, port: number }> {
  const child = fork(new URL(file, here), argv, { execArgv: ['--import', 'tsx', '--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  return new Promise((resolve, reject) => {
    child.once('message', (m) => resolve({ child, port: (m as { port: number }).port }))
    child.once('exit', (code) => reject(new Error(`${file} exited with ${code}`)))
  })
}

function client (task: object): Record<string, number> {
  const out = execFileSync(process.execPath, ['--import', 'tsx', new URL('client.ts', here).pathname, JSON.stringify(task)], { encoding: 'utf8', timeout: 120_000 })
  return JSON.parse(out) as Record<string, number>
}

const SETTLE_MS = 500
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number

// `codec`: the Gemini codec path runs it too (the client speaks OpenAI Realtime; the echo speaks Gemini Live).
interface Scenario { name: string, scenario: string, sessions: number, seconds: number, metrics: string[], proxyOnly?: boolean, lowerIsBetter?: boolean, reps?: number, path?: string, codec?: boolean }
const SCENARIOS: Scenario[] = [
  { name: 'downstream stream, 1 session', scenario: 'stream', sessions: 1, seconds: 3, metrics: ['framesPerSec', 'mbPerSec', 'cpuUsPerFrame', 'machineUsPerFrame'] },
  { name: 'downstream stream, 50 sessions', scenario: 'stream', sessions: 50, seconds: 3, metrics: ['framesPerSec', 'mbPerSec', 'cpuUsPerFrame', 'machineUsPerFrame'] },
  { name: 'upstream append, 50 sessions', scenario: 'append', sessions: 50, seconds: 3, metrics: ['framesPerSec', 'cpuUsPerFrame', 'machineUsPerFrame'] },
  { name: 'latency, 100 sessions x 50 frames/s', scenario: 'latency', sessions: 100, seconds: 5, metrics: ['p50', 'p99'], lowerIsBetter: true, reps: 5 }, // p99 here is mostly the VM's scheduling: 5 repetitions
  // Voice pace: every session sends a 20 ms frame each 20 ms that the provider echoes, so frames flow both ways at speaking pace.
  { name: 'voice pace, 200 sessions', scenario: 'latency', sessions: 200, seconds: 5, metrics: ['p50', 'p99', 'framesPerSec', 'cpuUsPerSessionSecond'], lowerIsBetter: true, codec: true },
  { name: 'voice pace, 600 sessions', scenario: 'latency', sessions: 600, seconds: 5, metrics: ['p50', 'p99', 'framesPerSec', 'cpuUsPerSessionSecond'], lowerIsBetter: true, codec: true },
  { name: 'idle memory, 1000 sessions', scenario: 'idleMemory', sessions: 1000, seconds: 0, metrics: ['bytesPerSession', 'heapPerSession'], proxyOnly: true, lowerIsBetter: true },
  { name: 'stalled reader, 5 s of streaming', scenario: 'stalled', sessions: 1, seconds: 5, metrics: ['peakGrowthMB'], proxyOnly: true, lowerIsBetter: true },
  { name: 'handshakes (auth + dial + upgrade)', scenario: 'handshake', sessions: 10, seconds: 3, metrics: ['setupsPerSec'] },
  // GPT-Live: the same relay behind /v1/live/sessions, and set-ups routed by the first frame (session.start)
  { name: 'GPT-Live stream, 50 sessions', scenario: 'liveStream', sessions: 50, seconds: 3, metrics: ['framesPerSec', 'cpuUsPerFrame', 'machineUsPerFrame'], path: '/v1/live/sessions' },
  { name: 'GPT-Live set-ups (upgrade, session.start, route, dial, session.started)', scenario: 'liveStart', sessions: 10, seconds: 3, metrics: ['setupsPerSec', 'startMs'], path: '/v1/live/sessions' }
]

const upstream = await start('upstream.ts')
// Every run gets a fresh proxy process and the only one: a long-lived process of identical code can run
// 1.5x more CPU per frame than another for its whole life, and idle proxies beside the one measured
// doubled its RSS per session in some runs (21-25 KB instead of 8-9 KB measured alone).
async function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const gone = new Promise((resolve) => child.once('exit', resolve))
  child.kill()
  await gone
}

const results: Record<string, Record<Target, Record<string, number>>> = {}
const chosen = SCENARIOS.filter((s) => only === undefined || s.name.includes(only))
for (const s of chosen) {
  const targets = TARGETS.filter((t) => (s.proxyOnly !== true || t !== 'direct') && (s.codec === true || t !== 'gemini'))
  const runs = new Map<Target, Array<Record<string, number>>>(targets.map((t) => [t, []]))
  // Repetitions interleave the targets: this VM's speed drifts over minutes, and running one target's
  // repetitions back to back would charge the drift to whichever target ran in the slow minute. Each
  // repetition also starts one target later, so no target always runs right after the same one (whose
  // sockets the provider may still be closing), and each run starts after a short pause for that.
  for (let rep = 0; rep < (quick ? 1 : s.reps ?? REPS); rep++) {
    for (const target of [...targets.slice(rep % targets.length), ...targets.slice(0, rep % targets.length)]) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
      const proxy = target === 'direct' ? undefined : await start('proxy.ts', [target, String(upstream.port)])
      const port = proxy?.port ?? upstream.port
      runs.get(target)?.push(client({
        scenario: s.scenario,
        url: `ws://127.0.0.1:${port}${s.path ?? '/v1/realtime'}`,
        rss: `http://127.0.0.1:${port}/__rss`,
        upstreamCpu: `http://127.0.0.1:${upstream.port}/__cpu`,
        proxy: target !== 'direct',
        gemini: target === 'gemini',
        sessions: s.sessions,
        seconds: s.seconds
      }))
      if (proxy !== undefined) await exited(proxy.child)
    }
  }
  results[s.name] = {} as Record<Target, Record<string, number>>
  for (const [target, list] of runs) {
    const row: Record<string, number> = {}
    for (const metric of s.metrics) if (list[0]?.[metric] !== undefined) row[metric] = median(list.map((r) => r[metric] as number))
    ;(results[s.name] as Record<Target, Record<string, number>>)[target] = row
    process.stderr.write(`${s.name} / ${target}: ${JSON.stringify(row)}\n`)
  }
}
// Capacity at voice pace, per proxy core: the plugin with its store in memory and in Redis, and http-proxy.
const CAPACITY_TARGETS = ['memory', 'redis', 'http-proxy'] as const
const capacity: Partial<Record<(typeof CAPACITY_TARGETS)[number], Record<string, number>>> = {}
if (only === undefined || 'capacity'.includes(only)) {
  let redisPort: number | undefined
  if (existsSync('/usr/bin/redis-server')) { // Debian's redis-server, on a port the OS has free
    const probe = createServer().listen(0, '127.0.0.1')
    await once(probe, 'listening')
    redisPort = (probe.address() as { port: number }).port
    probe.close()
  }
  const redis = redisPort === undefined ? undefined : spawn('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  if (redis !== undefined) await new Promise((resolve) => setTimeout(resolve, 300))
  for (const target of CAPACITY_TARGETS) {
    if (target === 'redis' && redis === undefined) continue
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
    const proxy = await start('proxy.ts', [target, String(upstream.port), String(redisPort)])
    capacity[target] = client({
      scenario: 'capacity',
      url: `ws://127.0.0.1:${proxy.port}/v1/realtime`,
      rss: `http://127.0.0.1:${proxy.port}/__rss`,
      upstreamCpu: `http://127.0.0.1:${upstream.port}/__cpu`,
      direct: `ws://127.0.0.1:${upstream.port}/v1/realtime`,
      proxy: true,
      sessions: quick ? 300 : 3000,
      seconds: 2
    })
    process.stderr.write(`capacity / ${target}: ${JSON.stringify(capacity[target])}\n`)
    await exited(proxy.child)
  }
  redis?.kill()
}
// Failover: handshakes when every session's first deployment refuses (503, never cooled down: the worst case)
// against the same plugin with one healthy deployment, interleaved, median of the repetitions.
const failoverRuns: Record<'plugin' | 'failover', number[]> = { plugin: [], failover: [] }
if (only === undefined || 'failover'.includes(only)) {
  for (let rep = 0; rep < REPS; rep++) {
    for (const kind of (rep % 2 === 0 ? ['plugin', 'failover'] : ['failover', 'plugin']) as Array<'plugin' | 'failover'>) {
      await new Promise((resolve) => setTimeout(resolve, SETTLE_MS))
      const proxy = await start('proxy.ts', [kind, String(upstream.port)])
      failoverRuns[kind].push(client({ scenario: 'handshake', url: `ws://127.0.0.1:${proxy.port}/v1/realtime`, proxy: true, sessions: 10, seconds: 3 }).setupsPerSec as number)
      await exited(proxy.child)
    }
  }
  process.stderr.write(`failover handshakes: ${JSON.stringify(failoverRuns)}\n`)
}
upstream.child.kill()

const fmt = (n: number | undefined): string => n === undefined ? 'n/a' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2)
const ratio = (a: number | undefined, b: number | undefined): string => a === undefined || b === undefined || b === 0 ? 'n/a' : `${(a / b).toFixed(2)}x`
const cells = (v: (t: Target) => number | undefined): string => [
  ...TARGETS.map((t) => fmt(v(t))),
  ratio(v('plugin'), v('direct')), ratio(v('plugin'), v('http-proxy')), ratio(v('plugin'), v('nometer')), ratio(v('policy'), v('plugin')), ratio(v('gemini'), v('http-proxy'))
].join(' | ')
const lines = [
  `machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; median of ${REPS} (latency: of ${quick ? 1 : 5})`,
  '',
  '| scenario | metric | direct | plugin | metering off | plugin + policy | Gemini codec | @fastify/http-proxy | plugin / direct | plugin / http-proxy | plugin / metering off | policy / plugin | Gemini codec / http-proxy |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|'
]
for (const s of chosen) {
  const r = results[s.name] as Record<Target, Record<string, number> | undefined>
  for (const metric of s.metrics) {
    const v = (t: Target): number | undefined => r[t]?.[metric]
    if (s.scenario === 'latency' && (metric === 'p50' || metric === 'p99')) {
      // latency is reported as what the proxy adds to a direct round trip
      const added = (t: Target): number | undefined => v(t) === undefined ? undefined : (v(t) as number) - (v('direct') as number)
      const codec = s.codec === true ? `, Gemini codec ${fmt(added('gemini'))}` : ''
      lines.push(`| ${s.name} | ${metric} ms (added: plugin ${fmt(added('plugin'))}${codec}, http-proxy ${fmt(added('http-proxy'))}) | ${cells(v)} |`)
    } else {
      lines.push(`| ${s.name} | ${metric} | ${cells(v)} |`)
    }
  }
}
// What this machine allows: when provider, proxy and client keep every core busy, frames/s is cores over the
// CPU all three spend per frame, so plugin / direct can be no better than direct's machine CPU per frame
// over the plugin's, however the proxy's own share is cut.
const busy = (row: Record<string, number> | undefined): string => fmt(((row?.framesPerSec ?? 0) * (row?.machineUsPerFrame ?? 0)) / 1e6)
const ceilings = chosen.filter((s) => results[s.name]?.direct?.machineUsPerFrame !== undefined).map((s) => {
  const r = results[s.name] as Record<Target, Record<string, number>>
  return `${s.name}: ${ratio(r.direct.machineUsPerFrame, r.plugin.machineUsPerFrame)} (cores busy: direct ${busy(r.direct)}, plugin ${busy(r.plugin)})`
})
if (ceilings.length > 0) lines.push('', `plugin / direct allowed by ${cpus().length} saturated cores (direct's machine CPU per frame over the plugin's): ${ceilings.join('; ')}`)
// The meter alone, against what the plugin spends relaying one streamed frame in the same run.
const meter = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', new URL('meter.ts', here).pathname], { encoding: 'utf8' })) as { deltaNs: number, responseDoneNs: number }
const relayUs = results['downstream stream, 1 session']?.plugin?.cpuUsPerFrame
lines.push('', `meter alone: ${meter.deltaNs.toFixed(0)} ns per audio delta, ${(meter.responseDoneNs / 1000).toFixed(1)} µs per response.done it parses` +
  (relayUs === undefined ? '' : `; a delta costs the plugin ${relayUs.toFixed(1)} µs of CPU to relay, so metering adds ${(meter.deltaNs / 10 / relayUs).toFixed(2)}% to it`))
// The Gemini codec, against the same relay figure: what translating one 20 ms microphone frame costs.
const codec = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', new URL('codec.ts', here).pathname], { encoding: 'utf8' })) as { resampleNs: number, appendNs: number }
lines.push('', `Gemini codec alone: ${(codec.resampleNs / 1000).toFixed(1)} µs to resample a 20 ms frame (24 -> 16 kHz, Speex quality 7), ${(codec.appendNs / 1000).toFixed(1)} µs to translate the input_audio_buffer.append carrying it` +
  (relayUs === undefined ? '' : `; relaying a frame costs the plugin ${relayUs.toFixed(1)} µs`))
if (failoverRuns.plugin.length > 0) {
  const healthy = median(failoverRuns.plugin)
  const failing = median(failoverRuns.failover)
  lines.push('', `failover: ${fmt(failing)} handshakes/s when each session's first deployment answers 503 (then the second serves), against ${fmt(healthy)} with one healthy deployment: ${ratio(failing, healthy)}`)
}
if (Object.keys(capacity).length > 0) {
  const row = (label: string, pick: (r: Record<string, number>) => string): string => `| ${label} | ${CAPACITY_TARGETS.map((t) => capacity[t] === undefined ? 'n/a' : pick(capacity[t])).join(' | ')} |`
  lines.push('', 'capacity at voice pace (20 ms frames both ways; until the added p99 passes 10 ms or the proxy uses 95% of a core):', '',
    '| | plugin, MemoryStore | plugin, RedisStore | @fastify/http-proxy |', '|---|---|---|---|',
    row('sessions reached', (r) => String(r.sessions)), row('proxy cores used', (r) => fmt(r.cores)),
    row('added p99, ms', (r) => fmt(r.addedP99)), row('sessions per proxy core', (r) => fmt(r.sessionsPerCore)))
}
process.stdout.write(lines.join('\n') + '\n')
if (jsonOut !== undefined) writeFileSync(jsonOut, JSON.stringify({ reps: REPS, node: process.version, cpus: cpus().length, results, meter, codec, failover: failoverRuns, capacity }, null, 2))
