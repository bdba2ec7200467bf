// Replicas of an app as real child processes (test/fixtures/replica.ts) sharing one Redis through RedisStore:
// each reports its port, usage records and summaries over IPC, and closes at teardown.
import { fork, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import type { SessionSummary, UsageRecord } from '../lib/index.js'
import type { FakeUpstream } from './helpers.js'

export interface Replica {
  url: string
  http: string
  child: ChildProcess
  usage: UsageRecord[]
  ended: SessionSummary[]
}

/** A replica process on one Redis server (`port`) or a Redis Cluster (`nodes`), in front of `upstream`. */
export async function replica (t: { teardown: (fn: () => unknown) => void }, redis: { port: number } | Array<{ host: string, port: number }>, upstream: FakeUpstream, env: Record<string, string> = {}): Promise<Replica> {
  const child = fork(new URL('./fixtures/replica.ts', import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...(Array.isArray(redis) ? { REDIS_CLUSTER: JSON.stringify(redis) } : { REDIS_PORT: String(redis.port) }), UPSTREAM: upstream.url, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const usage: UsageRecord[] = []
  const ended: SessionSummary[] = []
  const port = await new Promise<number>((resolve, reject) => {
    child.on('message', (message: { port?: number, usage?: UsageRecord, ended?: SessionSummary }) => {
      if (message.port !== undefined) resolve(message.port)
      if (message.usage !== undefined) usage.push(message.usage)
      if (message.ended !== undefined) ended.push(message.ended)
    })
    child.once('exit', (code) => reject(new Error(`replica exited with ${String(code)}`)))
  })
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = once(child, 'exit')
    child.send('close')
    await exited
  })
  return { url: `ws://127.0.0.1:${port}/v1/realtime`, http: `http://127.0.0.1:${port}`, child, usage, ended }
}

export const as = (token: string): { headers: { authorization: string } } => ({ headers: { authorization: `Bearer ${token}` } })
/** $0.02 at the replica's prices. */
export const DONE = JSON.stringify({ type: 'response.done', response: { id: 'resp_1', usage: { input_tokens: 10, output_tokens: 10, total_tokens: 20 } } })
