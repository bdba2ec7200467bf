// A token bucket per session for client frames: `perSecond` refill, `burst` capacity.

export interface FrameRate {
  /** Frames per second a client may send on average. */
  perSecond: number
  /** Frames a client may send at once. Default 2 x perSecond. */
  burst?: number
}

export class TokenBucket {
  readonly #rate: number
  readonly #burst: number
  #tokens: number
  #last: number

  constructor ({ perSecond, burst = perSecond * 2 }: FrameRate) {
    this.#rate = perSecond / 1000
    this.#burst = burst
    this.#tokens = burst
    this.#last = performance.now()
  }

  take (): boolean {
    const now = performance.now()
    this.#tokens = Math.min(this.#burst, this.#tokens + (now - this.#last) * this.#rate)
    this.#last = now
    if (this.#tokens < 1) return false
    this.#tokens--
    return true
  }
}
