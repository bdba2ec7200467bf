// A real redis-server for the tests (Debian's package; .ci/run installs it when missing), on a free loopback
// port, persistence off; stopped at teardown. `stop()` and `start()` again on the same port simulate an outage.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { once } from 'node:events'
import { createServer, type AddressInfo } from 'node:net'

export const REDIS_SERVER = process.env.REDIS_SERVER_PATH ?? '/usr/bin/redis-server'

/** A reason to skip the Redis tests, or false when redis-server is installed. */
export const noRedis: string | false = existsSync(REDIS_SERVER) ? false : `redis-server not found at ${REDIS_SERVER}: install Debian's redis-server package (.ci/run does) to run the Redis tests`

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
}

export async function redisServer (t: { teardown: (fn: () => unknown) => void }): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined
  const start = async (): Promise<void> => {
    const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] })
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
  await start()
  t.teardown(stop)
  return { port, url: `redis://127.0.0.1:${port}`, stop, start }
}
