// The store for several replicas: session leases, the call registry, budgets and fleet-wide messages in Redis,
// through the app's own ioredis client (one duplicate of it for pub/sub). Every script touches one key, whose
// name is hash-tagged, and runs on the node that owns it (EVALSHA, else EVAL on the same connection: never a
// SCRIPT LOAD on a random node), so Redis Cluster works. Time is the Redis server's (TIME), not each replica's.
import { randomUUID } from 'node:crypto'
import { InvalidOptionError, StoreUnavailableError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import type { BudgetStore, CallRecord, CallStore, FleetBus, FleetMessage, Lease, SessionStore } from './types.js'
import { SCRIPTS, type Script } from './redis-scripts.js'

/** The part of an ioredis client the store uses (`new Redis(...)` and `new Cluster(...)` from ioredis 5 are). */
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
  on (event: 'ready', listener: () => void): unknown
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
  /**
   * Milliseconds a fleet message (`terminate()`, a spent budget) is kept in Redis for the replicas that did not
   * hear it (cut off from Redis when it was sent): they read it when they reconnect and as they renew leases.
   * Default 600 000 (10 minutes).
   */
  fleetLogTTL?: number
}

export const DEFAULT_FLEET_LOG_TTL = 600_000
/** The most fleet messages read back at once, and kept while they cannot be sent. */
const FLEET_BATCH = 1000
/** Renewals check the fleet log at most this often (ms). */
const CATCH_UP_EVERY = 1000

/** A fleet message as it travels: with an id (heard once per replica, by pub/sub or from the log) and when it was sent. */
interface Envelope { message: FleetMessage, id: string, at: number, late?: true }

function positive (value: unknown, name: string, zero = false): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < (zero ? 0 : 1))) {
    throw new InvalidOptionError(`RedisStore "${name}" must be a ${zero ? 'non-negative' : 'positive'} whole number of milliseconds`)
  }
}

export class RedisStore implements SessionStore, CallStore, BudgetStore, FleetBus {
  readonly #client: RedisClient
  readonly #prefix: string
  readonly #leaseTTL: number | undefined
  readonly #timeout: number
  readonly #logTTL: number
  /** Commands that timed out: they may still run when Redis answers again. */
  readonly #timedOut = new WeakSet<Error>()
  #subscriber: RedisSubscriber | undefined
  #handler: ((message: FleetMessage) => void) | undefined
  /** Ids of the fleet messages this replica has heard, with when they can be forgotten (local ms). */
  readonly #heard = new Map<string, number>()
  /** Messages this replica could not send: sent (late) once Redis answers. */
  readonly #unsent: Envelope[] = []
  /** The Redis time of the newest fleet message read from the log. */
  #cursor = 0
  #catchingUp: Promise<void> | undefined
  /** A catch-up was asked for now while one ran. */
  #again = false
  #lastCatchUp = 0
  #retry: NodeJS.Timeout | undefined

  constructor (options: RedisStoreOptions) {
    if (options === null || typeof options !== 'object') throw new InvalidOptionError('RedisStore takes { client }: the app\'s ioredis client, such as new Redis(process.env.REDIS_URL)')
    refuseUnknownKeys(options, ['client', 'prefix', 'leaseTTL', 'commandTimeout', 'fleetLogTTL'], 'RedisStore ')
    const { client, prefix = 'realtime-proxy:', leaseTTL, commandTimeout = 2000, fleetLogTTL = DEFAULT_FLEET_LOG_TTL } = options
    if (client === null || typeof client !== 'object' || typeof client.call !== 'function' || typeof client.duplicate !== 'function') {
      throw new InvalidOptionError('RedisStore needs { client }: the app\'s ioredis client, such as new Redis(process.env.REDIS_URL)')
    }
    if (typeof prefix !== 'string') throw new InvalidOptionError('RedisStore "prefix" must be a string, such as "realtime-proxy:"')
    positive(leaseTTL, 'leaseTTL', true)
    positive(commandTimeout, 'commandTimeout')
    positive(fleetLogTTL, 'fleetLogTTL')
    this.#client = client
    this.#prefix = prefix
    this.#leaseTTL = leaseTTL
    this.#timeout = commandTimeout
    this.#logTTL = fleetLogTTL
  }

  /** The Redis key for `name` under `kind`, hash-tagged so one key's scripts land on one Cluster slot. */
  #key (kind: string, name: string): string {
    return `${this.#prefix}${kind}:{${name}}`
  }

  /**
   * A command, refused at once when the client is not connected and bounded by `commandTimeout`: fail closed.
   * `bounded: false` waits for Redis's answer however long it takes (a debit must not be retried while it may
   * still run).
   */
  async #call (bounded: boolean, command: string, ...args: Array<string | number>): Promise<unknown> {
    if (this.#client.status !== 'ready') throw new StoreUnavailableError(`Redis is ${this.#client.status}`)
    if (!bounded) return await this.#client.call(command, ...args)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        const err = new StoreUnavailableError(`Redis did not answer within ${this.#timeout} ms`)
        this.#timedOut.add(err)
        reject(err)
      }, this.#timeout)
    })
    try {
      return await Promise.race([this.#client.call(command, ...args), timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  /** EVALSHA on the key's node; after a flush or a restart (NOSCRIPT), EVAL there, which caches it again. */
  async #run (bounded: boolean, { lua, sha }: Script, key: string, ...args: Array<string | number>): Promise<unknown> {
    try {
      return await this.#call(bounded, 'EVALSHA', sha, 1, key, ...args)
    } catch (err) {
      if (!String((err as Error).message).startsWith('NOSCRIPT')) throw err
    }
    return await this.#call(bounded, 'EVAL', lua, 1, key, ...args)
  }

  async acquire (key: string, limit: number, ttl: number): Promise<Lease | undefined> {
    const leaseTTL = this.#leaseTTL ?? ttl
    const redisKey = this.#key('slots', key)
    const id = randomUUID()
    let taken: unknown
    try {
      taken = await this.#run(true, SCRIPTS.acquire, redisKey, limit, leaseTTL, id)
    } catch (err) {
      // The script is still queued and takes its slot when Redis answers (a stall): give it back right behind
      // it, on the same connection, so a refused session never holds a slot.
      if (this.#timedOut.has(err as Error)) this.#client.call('ZREM', redisKey, id).catch(() => {})
      throw err
    }
    if (taken !== 1) return undefined
    return {
      // While Redis is unreachable, renewals and releases are skipped: the lease expires on its own, and the
      // next renewal after it is back counts the session again.
      renew: async () => {
        this.#checkFleet()
        if (leaseTTL > 0 && this.#client.status === 'ready') await this.#run(true, SCRIPTS.renew, redisKey, leaseTTL, id)
      },
      release: async () => {
        if (this.#client.status === 'ready') await this.#call(true, 'ZREM', redisKey, id)
      }
    }
  }

  /** Unexpired slots held under `key` (for tests and introspection). */
  async count (key: string): Promise<number> {
    const [seconds, micros] = await this.#call(true, 'TIME') as [string, string]
    return Number(await this.#call(true, 'ZCOUNT', this.#key('slots', key), `(${Number(seconds) * 1000 + Math.floor(Number(micros) / 1000)}`, '+inf'))
  }

  async setCall (callId: string, call: CallRecord, ttl: number): Promise<void> {
    await this.#call(true, 'SET', this.#key('call', callId), JSON.stringify({ ...call, expiresAt: Date.now() + ttl }), 'PX', ttl)
  }

  async getCall (callId: string): Promise<CallRecord | undefined> {
    const text = await this.#call(true, 'GET', this.#key('call', callId)) as string | null
    return text === null ? undefined : JSON.parse(text) as CallRecord
  }

  async deleteCall (callId: string): Promise<void> {
    await this.#call(true, 'DEL', this.#key('call', callId))
  }

  /** The budget key of `key` for the window of `window` ms that holds now. */
  #budgetKey (key: string, window: number): string {
    return this.#key('budget', `${key}:${window}:${Math.floor(Date.now() / window)}`)
  }

  async spent (key: string, window: number): Promise<number> {
    return Number(await this.#call(true, 'GET', this.#budgetKey(key, window)) ?? 0)
  }

  /**
   * Not bounded by `commandTimeout`: a debit Redis has not answered (a stall) still counts when it runs, so it
   * is awaited, never retried. Refused at once while the client is not connected (it was not sent).
   */
  async debit (key: string, usd: number, window: number): Promise<number> {
    return Number(await this.#run(false, SCRIPTS.debit, this.#budgetKey(key, window), usd, window))
  }

  /** Raises `key`'s window total to `usd` if it is lower (a spent key re-asserted after a flush); the new total. */
  async raise (key: string, usd: number, window: number): Promise<number> {
    return Number(await this.#run(true, SCRIPTS.raise, this.#budgetKey(key, window), usd, window))
  }

  /**
   * Kept in the fleet log for `fleetLogTTL`, then published. A message that cannot be sent now is kept here and
   * sent once Redis answers (the promise still rejects: the caller logs that it could not tell the fleet now).
   */
  async publish (message: FleetMessage): Promise<void> {
    const envelope: Envelope = { message, id: randomUUID(), at: Date.now() }
    try {
      await this.#send(envelope)
    } catch (err) {
      if (this.#unsent.push({ ...envelope, late: true }) > FLEET_BATCH) this.#unsent.shift()
      this.#retryLater()
      throw err
    }
  }

  async #send (envelope: Envelope): Promise<void> {
    await this.#run(true, SCRIPTS.record, this.#key('fleet', 'log'), this.#logTTL, `${this.#prefix}fleet`, JSON.stringify(envelope))
  }

  async subscribe (handler: (message: FleetMessage) => void): Promise<void> {
    this.#handler = handler
    const channel = `${this.#prefix}fleet`
    const subscriber = this.#subscriber = this.#client.duplicate()
    // ioredis reconnects by itself; an outage is reported by the commands that fail. What was sent meanwhile
    // is read from the fleet log once it is back.
    subscriber.on('error', () => {})
    subscriber.on('message', (_channel, text) => { this.#hear(text, false) }) // subscribed to the fleet channel only
    // The log is read once the subscription is confirmed: what was published before it is in the log, what comes
    // after is heard (ids dedupe the overlap). ioredis emits 'ready' before it resubscribes, so a catch-up on
    // 'ready' alone could read the log, then miss what was published before the SUBSCRIBE took effect. A second
    // SUBSCRIBE of the same channel is answered like the first.
    const join = async (): Promise<void> => {
      await subscriber.subscribe(channel).then(() => this.#checkFleet(true), () => {})
    }
    subscriber.on('ready', () => { join().catch(() => {}) })
    // Redis down at start: the replica starts anyway (new sessions get 503 until it is back) and joins on
    // 'ready'. Waited for at most commandTimeout, whatever the client's retry options.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([join(), new Promise((resolve) => { timer = setTimeout(resolve, this.#timeout) })])
    clearTimeout(timer)
  }

  /** A message heard on the channel or read from the log: acted on once; `fromLog`: it comes late. */
  #hear (text: string, fromLog: boolean): void {
    let envelope: Partial<Envelope> | undefined
    try {
      envelope = JSON.parse(text) as Partial<Envelope>
    } catch {}
    const message = envelope?.message
    if (message === undefined || message === null || typeof message !== 'object' || typeof envelope?.id !== 'string' || this.#heard.has(envelope.id)) return
    this.#heard.set(envelope.id, Date.now() + this.#logTTL)
    const late = fromLog || envelope.late === true
    this.#handler?.(late && typeof envelope.at === 'number' ? { ...message, at: envelope.at } : message)
  }

  /** Sends what could not be sent and reads what this replica missed: on reconnect, and with renewals (throttled). */
  #checkFleet (now = false): void {
    if (this.#handler === undefined) return
    // One at a time; one asked for now while another runs (a subscription just confirmed) runs after it, since
    // the one running may have read the log too early.
    if (this.#catchingUp !== undefined) {
      if (now) this.#again = true
      return
    }
    if (!now && Date.now() - this.#lastCatchUp < CATCH_UP_EVERY) return
    this.#lastCatchUp = Date.now()
    this.#catchingUp = this.#catchUp().catch(() => { this.#retryLater() }).finally(() => {
      this.#catchingUp = undefined
      if (!this.#again) return
      this.#again = false
      this.#checkFleet(true)
    })
  }

  #retryLater (): void {
    if (this.#retry !== undefined || this.#handler === undefined) return
    this.#retry = setTimeout(() => {
      this.#retry = undefined
      this.#checkFleet(true)
    }, CATCH_UP_EVERY).unref()
  }

  async #catchUp (): Promise<void> {
    while (this.#unsent.length > 0) {
      await this.#send(this.#unsent[0] as Envelope)
      this.#unsent.shift()
    }
    const rows = await this.#call(true, 'ZRANGEBYSCORE', this.#key('fleet', 'log'), this.#cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, FLEET_BATCH) as string[]
    for (let i = 0; i < rows.length; i += 2) {
      this.#hear(rows[i] as string, true)
      this.#cursor = Math.max(this.#cursor, Number(rows[i + 1]))
    }
    const now = Date.now()
    for (const [id, until] of this.#heard) if (until < now) this.#heard.delete(id)
    if (rows.length === 2 * FLEET_BATCH) this.#retryLater() // more to read
  }

  async close (): Promise<void> {
    this.#handler = undefined
    clearTimeout(this.#retry)
    await this.#catchingUp
    await this.#subscriber?.quit().catch(() => {})
    this.#subscriber = undefined
  }
}
