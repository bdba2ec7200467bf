// A real redis-server for the tests (Debian's package; .ci/run installs it when missing), on a free loopback
// port, persistence off; stopped at teardown. `stop()` and `start()` again on the same port simulate an outage,
// `pause()` and `resume()` (SIGSTOP, SIGCONT) a stall. `redisCluster()`: three such servers made a Redis
// Cluster with redis-cli (the same package's tools), every slot covered.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { once } from 'node:events'
import { promisify } from 'node:util'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'

export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server'
export const REDIS_CLI = process.env.REDIS_CLI_PATH ?? '/usr/bin/redis-cli'

/** A reason to skip the Redis tests, or false when redis-server is installed. */
export const noRedis: string | false = existsSync(REDIS_SERVER) ? false : `redis-server not found at ${REDIS_SERVER}: install Debian's redis-server package (.ci/run does) to run the Redis tests`
/** A reason to skip the Redis Cluster tests, or false when redis-server and redis-cli are installed. */
export const noCluster: string | false = noRedis !== false ? noRedis : existsSync(REDIS_CLI) ? false : `redis-cli not found at ${REDIS_CLI}: install Debian's redis-tools package (redis-server's dependency) to run the Redis Cluster tests`

async function freePort (): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

export interface RedisServer {
  port: number
  url: string
  /** Stops the server (SIGKILL: an outage, not a shutdown). */
  stop (): Promise<void>
  /** Starts it again on the same port, empty. */
  start (): Promise<void>
  /** Stops the process answering (SIGSTOP): connections stay open, commands queue. */
  pause (): void
  /** Lets it run again (SIGCONT): what queued runs then. */
  resume (): void
}

export async function redisServer (t: { teardown: (fn: () => unknown) => void }, extra: string[] = [], start = true): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const run = async (): Promise<void> => {
    const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no', ...extra], { stdio: ['ignore', 'pipe', 'inherit'] })
    child = proc
    let out = ''
    await new Promise<void>((resolve, reject) => {
      proc.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString()
        if (out.includes('Ready to accept connections')) resolve()
      })
      proc.once('exit', (code) => reject(new Error(`redis-server exited with ${String(code)}: ${out}`)))
    })
    proc.stdout?.resume()
  }
  const stop = async (): Promise<void> => {
    const proc = child
    child = undefined
    if (proc === undefined || proc.exitCode !== null) return
    const exited = once(proc, 'exit')
    proc.kill('SIGKILL')
    await exited
  }
  if (start) await run()
  t.teardown(stop)
  return { port, url: `redis://127.0.0.1:${port}`, stop, start: run, pause: () => child?.kill('SIGSTOP'), resume: () => child?.kill('SIGCONT') }
}

/** A three-node Redis Cluster (no replicas) on loopback; its nodes, for ioredis's `new Cluster(nodes)`. */
export async function redisCluster (t: { teardown: (fn: () => unknown) => void }): Promise<Array<{ host: string, port: number }>> {
  const dir = mkdtempSync(join(tmpdir(), 'redis-cluster-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const servers = await Promise.all([0, 1, 2].map(async (i) => await redisServer(t, ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${i}.conf`), '--dir', dir])))
  const nodes = servers.map(({ port }) => ({ host: '127.0.0.1', port }))
  const cli = promisify(execFile)
  await cli(REDIS_CLI, ['--cluster', 'create', ...nodes.map(({ host, port }) => `${host}:${port}`), '--cluster-replicas', '0', '--cluster-yes'])
  // Each node learns the others over the cluster bus: wait until every one says the cluster is ok.
  for (let tries = 0; ; tries++) {
    const states = await Promise.all(nodes.map(async ({ port }) => (await cli(REDIS_CLI, ['-p', String(port), 'CLUSTER', 'INFO'])).stdout))
    if (states.every((info) => info.includes('cluster_state:ok'))) break
    if (tries > 100) throw new Error(`the cluster did not come up: ${states.join(' | ')}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return nodes
}

export interface Partition {
  /** Where clients connect instead of the server. */
  port: number
  /** Drops every connection through it and refuses new ones: the clients behind it are cut off. */
  cut (): Promise<void>
  /** Accepts connections again on the same port. */
  heal (): Promise<void>
}

/** A TCP relay in front of a Redis server, to cut one replica off from Redis while the others still reach it. */
export async function partition (t: { teardown: (fn: () => unknown) => void }, target: number): Promise<Partition> {
  const port = await freePort()
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    const upstream = connect(target, '127.0.0.1')
    for (const [from, to] of [[socket, upstream], [upstream, socket]] as const) {
      sockets.add(from)
      from.on('error', () => {})
      from.on('close', () => { sockets.delete(from); to.destroy() })
      from.pipe(to)
    }
  })
  const listen = async (): Promise<void> => {
    server.listen(port, '127.0.0.1')
    await once(server, 'listening')
  }
  const cut = async (): Promise<void> => {
    const closing = new Promise((resolve) => server.close(resolve))
    for (const socket of sockets) socket.destroy()
    await closing
  }
  await listen()
  t.teardown(async () => { if (server.listening) await cut() })
  return { port, cut, heal: listen }
}

/**
 * Budget windows are aligned to the epoch: a test whose debits must all fall in one `window` starts them at least
 * `margin` ms before it ends (CI once split twenty concurrent debits 14 / 6 across a minute boundary).
 */
export async function clearOfWindowEnd (window = 60_000, margin = 2000): Promise<void> {
  const left = window - Date.now() % window
  if (left < margin) await new Promise((resolve) => setTimeout(resolve, left + 5))
}
