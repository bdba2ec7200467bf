// A client session's own limits in time: maxSessionDuration, and idleTimeout (no frame either way). A call's
// sideband has neither: it lasts as long as the call.
import type { FastifyBaseLogger } from 'fastify'
import { CLOSE } from '../close-codes.js'
import type { Legs } from './relay.js'

/** What the timers act on. */
export interface TimedSession {
  readonly log: FastifyBaseLogger
  sendError (code: string, message: string): void
}

export interface TimerOptions {
  /** Milliseconds; 0 for no limit. */
  maxSessionDuration: number
  /** Milliseconds without a frame either way; 0 for no limit. */
  idleTimeout: number
}

export class SessionTimers {
  readonly #expire: NodeJS.Timeout | undefined
  readonly #idle: NodeJS.Timeout | undefined

  constructor (session: TimedSession, legs: Legs, { maxSessionDuration, idleTimeout }: TimerOptions) {
    if (maxSessionDuration > 0) {
      this.#expire = setTimeout(() => {
        session.log.info('realtime session reached maxSessionDuration')
        session.sendError('session_expired', `The session reached its maximum duration of ${maxSessionDuration / 1000} seconds`)
        legs.close(CLOSE.goingAway, 'maximum session duration reached')
      }, maxSessionDuration)
    }
    if (idleTimeout > 0) {
      let seen = -1
      let quietSince = 0
      // Counters, not a timestamp per frame: the check costs nothing on the hot path.
      this.#idle = setInterval(() => {
        const { client, upstream } = legs.stats
        const frames = client.frames + upstream.frames
        const now = Date.now()
        if (frames !== seen) {
          seen = frames
          quietSince = now
        } else if (now - quietSince >= idleTimeout) {
          session.log.info('realtime session idle; closing')
          legs.close(CLOSE.normal, 'idle timeout')
        }
      }, Math.max(10, idleTimeout / 4))
    }
  }

  /** Both legs closed. */
  stop (): void {
    clearTimeout(this.#expire)
    clearInterval(this.#idle)
  }
}
