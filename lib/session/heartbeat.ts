// One timer for every session: each `interval` the open legs are pinged, and a leg that has not answered
// `timeout` later is reported to its session. A timer, a set and three closures per session would cost
// about 1 KB each for thousands of quiet sessions. A leg we stopped reading (backpressure) cannot have its
// pong read, so it is not judged.
import type { Leg } from '../upstream/leg.js'

/** A session as the heartbeat sees it. */
export interface Beating {
  /** The legs to ping: client and provider, or a call sideband's provider leg. */
  readonly legs: readonly Leg[]
  /** `leg` missed its pong; reported once a round, for the first silent leg. */
  missedPong (leg: Leg): void
  /** Renews what the session holds in the store (its slot leases), once a round. */
  renew (): void
}

export class Heartbeat {
  readonly #members = new Set<Beating>()
  /** Legs pinged this round that have not answered yet. */
  readonly #waiting = new Set<Leg>()
  readonly #onPong: (this: Leg) => void
  readonly #interval: number
  readonly #timeout: number
  #tick: NodeJS.Timeout | undefined
  #deadline: NodeJS.Timeout | undefined

  constructor (interval: number, timeout: number) {
    this.#interval = interval
    this.#timeout = timeout
    const waiting = this.#waiting
    this.#onPong = function (this: Leg) { waiting.delete(this) }
  }

  add (member: Beating): void {
    for (const leg of member.legs) leg.on('pong', this.#onPong)
    this.#members.add(member)
    this.#tick ??= setInterval(() => this.#ping(), this.#interval)
  }

  /** The timers run only while there are sessions. */
  delete (member: Beating): void {
    this.#members.delete(member)
    for (const leg of member.legs) this.#waiting.delete(leg)
    if (this.#members.size > 0) return
    clearInterval(this.#tick)
    clearTimeout(this.#deadline)
    this.#tick = undefined
  }

  #ping (): void {
    this.#waiting.clear()
    for (const member of this.#members) {
      member.renew()
      for (const leg of member.legs) {
        leg.ping()
        this.#waiting.add(leg)
      }
    }
    this.#deadline = setTimeout(() => this.#judge(), this.#timeout)
  }

  #judge (): void {
    for (const member of this.#members) {
      const dead = member.legs.find((leg) => this.#waiting.has(leg) && !leg.isPaused)
      if (dead !== undefined) member.missedPong(dead)
    }
  }
}
