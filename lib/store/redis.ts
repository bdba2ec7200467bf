// The store for several replicas: session leases, the call registry, budgets and fleet-wide messages in Redis,
// through the app's own ioredis client (one duplicate of it for pub/sub). Every script touches one key, whose
// name is hash-tagged, so it works on Redis Cluster too. Time is the Redis server's (TIME), not each replica's.
import { randomUUID } from 'node:crypto'
import { StoreUnavailableError } from '../errors.js'
import type { BudgetStore, CallRecord, CallStore, FleetBus, FleetMessage, Lease, SessionStore } from './types.js'

/** The part of an ioredis client the store uses (`new Redis(...)` from ioredis 5 is one). */
export interface RedisClient {
  /** ioredis's connection state: commands are sent only when `ready`. */
  readonly status: string
  call (command: string, ...args: Array<string | number>): Promise<unknown>
  duplicate (): RedisSubscriber
}

/** The pub/sub connection: a duplicate of the app's client, closed by the store. */
export interface RedisSubscriber {
  subscribe (...channels: string[]): Promise<unknown>
  on (event: 'message', listener: (channel: string, message: string) => void): unknown
  on (event: 'error', listener: (err: Error) => void): unknown
  quit (): Promise<unknown>
}

export interface RedisStoreOptions {
  /** The app's ioredis client. The store never closes it (the app does); it closes its own pub/sub duplicate. */
  client: RedisClient
  /** Prepended to every key and to the fleet channel. Default `realtime-proxy:`. */
  prefix?: string
  /**
   * Milliseconds a slot lives unless renewed; overrides the plugin's (three heartbeat intervals). A replica
   * that dies (SIGKILL) gives its slots back this long after its last renewal.
   */
  leaseTTL?: number
  /** Milliseconds a command may take before the store is taken as unreachable (503). Default 2000. */
  commandTimeout?: number
}

// Leases: a sorted set per key, member = lease id, score = expiry in ms of Redis's clock (inf: never).
const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`
// The set lives as long as its longest lease; a set holding a lease that never expires never does.
const KEEP = `local function keep (key, ttl, existed)
  if ttl <= 0 then redis.call('PERSIST', key) return end
  local left = redis.call('PTTL', key)
  if existed == 0 or (left ~= -1 and left < ttl) then redis.call('PEXPIRE', key, ttl) end
end`
const ACQUIRE = `${NOW}
${KEEP}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
local ttl = tonumber(ARGV[2])
local existed = redis.call('EXISTS', KEYS[1])
redis.call('ZADD', KEYS[1], ttl > 0 and now + ttl or 'inf', ARGV[3])
keep(KEYS[1], ttl, existed)
return 1`
// A renewal adds the lease back if it expired meanwhile (Redis was unreachable longer than the TTL): the
// session is live, so the count says so again.
const RENEW = `${NOW}
${KEEP}
local ttl = tonumber(ARGV[1])
local existed = redis.call('EXISTS', KEYS[1])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[2])
keep(KEYS[1], ttl, existed)
return 1`
// Budgets: USD spent by a key in the current window; the key expires with its window.
const DEBIT = `local total = redis.call('INCRBYFLOAT', KEYS[1], ARGV[1])
if redis.call('PTTL', KEYS[1]) == -1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return total`

interface Script { lua: string, sha?: string }

export class RedisStore implements SessionStore, CallStore, BudgetStore, FleetBus {
  readonly #client: RedisClient
  readonly #prefix: string
  readonly #leaseTTL: number | undefined
  readonly #timeout: number
  readonly #scripts = { acquire: { lua: ACQUIRE } as Script, renew: { lua: RENEW } as Script, debit: { lua: DEBIT } as Script }
  #subscriber: RedisSubscriber | undefined

  constructor (options: RedisStoreOptions) {
    const { client, prefix = 'realtime-proxy:', leaseTTL, commandTimeout = 2000 } = options ?? {}
    if (client === null || typeof client !== 'object' || typeof client.call !== 'function' || typeof client.duplicate !== 'function') {
      throw new TypeError('RedisStore needs { client }: the app\'s ioredis client, such as new Redis(process.env.REDIS_URL)')
    }
    this.#client = client
    this.#prefix = prefix
    this.#leaseTTL = leaseTTL
    this.#timeout = commandTimeout
  }

  /** The Redis key for `name` under `kind`, hash-tagged so one key's scripts land on one Cluster slot. */
  #key (kind: string, name: string): string {
    return `${this.#prefix}${kind}:{${name}}`
  }

  /** A command, refused at once when the client is not connected and bounded by `commandTimeout`: fail closed. */
  async #call (command: string, ...args: Array<string | number>): Promise<unknown> {
    if (this.#client.status !== 'ready') throw new StoreUnavailableError(`Redis is ${this.#client.status}`)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`Redis did not answer within ${this.#timeout} ms`)), this.#timeout)
    })
    try {
      return await Promise.race([this.#client.call(command, ...args), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** EVALSHA, loading the script on first use and again after a Redis restart (NOSCRIPT). */
  async #run (script: Script, key: string, ...args: Array<string | number>): Promise<unknown> {
    if (script.sha !== undefined) {
      try {
        return await this.#call('EVALSHA', script.sha, 1, key, ...args)
      } catch (err) {
        if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
      }
    }
    script.sha = await this.#call('SCRIPT', 'LOAD', script.lua) as string
    return await this.#call('EVALSHA', script.sha, 1, key, ...args)
  }

  async acquire (key: string, limit: number, ttl: number): Promise<Lease | undefined> {
    const leaseTTL = this.#leaseTTL ?? ttl
    const redisKey = this.#key('slots', key)
    const id = randomUUID()
    if (await this.#run(this.#scripts.acquire, redisKey, limit, leaseTTL, id) !== 1) return undefined
    return {
      // While Redis is unreachable, renewals and releases are skipped: the lease expires on its own, and the
      // next renewal after it is back counts the session again.
      renew: async () => {
        if (leaseTTL > 0 && this.#client.status === 'ready') await this.#run(this.#scripts.renew, redisKey, leaseTTL, id)
      },
      release: async () => {
        if (this.#client.status === 'ready') await this.#call('ZREM', redisKey, id)
      }
    }
  }

  /** Unexpired slots held under `key` (for tests and introspection). */
  async count (key: string): Promise<number> {
    const [seconds, micros] = await this.#call('TIME') as [string, string]
    return Number(await this.#call('ZCOUNT', this.#key('slots', key), `(${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}`, '+inf'))
  }

  async setCall (callId: string, call: CallRecord, ttl: number): Promise<void> {
    await this.#call('SET', this.#key('call', callId), JSON.stringify({ ...call, expiresAt: Date.now() + ttl }), 'PX', ttl)
  }

  async getCall (callId: string): Promise<CallRecord | undefined> {
    const text = await this.#call('GET', this.#key('call', callId)) as string | null
    return text === null ? undefined : JSON.parse(text) as CallRecord
  }

  async deleteCall (callId: string): Promise<void> {
    await this.#call('DEL', this.#key('call', callId))
  }

  /** The budget key of `key` for the window of `window` ms that holds now. */
  #budgetKey (key: string, window: number): string {
    return this.#key('budget', `${key}:${window}:${Math.floor(Date.now() / window)}`)
  }

  async spent (key: string, window: number): Promise<number> {
    return Number(await this.#call('GET', this.#budgetKey(key, window)) ?? 0)
  }

  async debit (key: string, usd: number, window: number): Promise<number> {
    return Number(await this.#run(this.#scripts.debit, this.#budgetKey(key, window), usd, window))
  }

  async publish (message: FleetMessage): Promise<void> {
    await this.#call('PUBLISH', `${this.#prefix}fleet`, JSON.stringify(message))
  }

  async subscribe (handler: (message: FleetMessage) => void): Promise<void> {
    const channel = `${this.#prefix}fleet`
    const subscriber = this.#subscriber = this.#client.duplicate()
    // ioredis reconnects and subscribes again by itself; an outage is reported by the commands that fail.
    subscriber.on('error', () => {})
    subscriber.on('message', (_channel, text) => { // the duplicate is subscribed to the fleet channel only
      let message: FleetMessage | undefined
      try {
        message = JSON.parse(text) as FleetMessage
      } catch {}
      if (message !== undefined) handler(message)
    })
    await subscriber.subscribe(channel)
  }

  async close (): Promise<void> {
    await this.#subscriber?.quit().catch(() => {})
    this.#subscriber = undefined
  }
}
