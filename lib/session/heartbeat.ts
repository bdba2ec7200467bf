// One timer for every session: each `interval` the open legs are pinged, and a leg that has not answered
// `timeout` later is reported to its session. A timer, a set and three closures per session would cost
// about 1 KB each for thousands of quiet sessions. A leg we stopped reading (backpressure) cannot have its
// pong read, so it is not judged.
//
// The sessions are pinged in groups spread over the interval: pinging (and renewing the leases of) thousands
// of sessions in one tick stalls every session's audio for that long, a burst each interval.
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

/** Groups a session's pings are spread over, at most: one step of the interval each. */
const GROUPS = 10
/** A step is no shorter than this: short intervals (tests) get fewer groups. */
const MIN_STEP = 50

export class Heartbeat {
  /** Every session, in the group that is pinged at its step of the interval. */
  readonly #groups: Array<Set<Beating>>
  /** Legs pinged and not answered yet. */
  readonly #waiting = new Set<Leg>()
  /** Each group's pending judgement (pongTimeout < heartbeatInterval: one at a time per group). */
  readonly #deadlines: Array<NodeJS.Timeout | undefined>
  readonly #onPong: (this: Leg) => void
  readonly #step: number
  readonly #timeout: number
  #next = 0
  #tick: NodeJS.Timeout | undefined

  constructor (interval: number, timeout: number) {
    const groups = Math.max(1, Math.min(GROUPS, Math.floor(interval / MIN_STEP)))
    this.#groups = Array.from({ length: groups }, () => new Set<Beating>())
    this.#deadlines = new Array(groups).fill(undefined)
    this.#step = interval / groups
    this.#timeout = timeout
    const waiting = this.#waiting
    this.#onPong = function (this: Leg) { waiting.delete(this) }
  }

  /** A new session joins the smallest group, so the groups stay even as sessions come and go. */
  add (member: Beating): void {
    for (const leg of member.legs) leg.on('pong', this.#onPong)
    let smallest = this.#groups[0] as Set<Beating>
    for (const group of this.#groups) if (group.size < smallest.size) smallest = group
    smallest.add(member)
    this.#tick ??= setInterval(() => this.#ping(), this.#step)
  }

  /** The timers run only while there are sessions. */
  delete (member: Beating): void {
    for (const group of this.#groups) group.delete(member) // the hub deletes only what it added
    for (const leg of member.legs) this.#waiting.delete(leg)
    if (this.#groups.some((group) => group.size > 0)) return
    clearInterval(this.#tick)
    for (const deadline of this.#deadlines) clearTimeout(deadline)
    this.#tick = undefined
  }

  #ping (): void {
    const at = this.#next
    this.#next = (at + 1) % this.#groups.length
    const group = this.#groups[at] as Set<Beating>
    if (group.size === 0) return
    for (const member of group) {
      member.renew()
      for (const leg of member.legs) {
        leg.ping()
        this.#waiting.add(leg)
      }
    }
    this.#deadlines[at] = setTimeout(() => this.#judge(group), this.#timeout)
  }

  #judge (group: Set<Beating>): void {
    for (const member of group) {
      const dead = member.legs.find((leg) => this.#waiting.has(leg) && !leg.isPaused)
      if (dead !== undefined) member.missedPong(dead)
    }
  }
}
