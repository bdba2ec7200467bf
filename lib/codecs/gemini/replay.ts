// The client messages a Gemini session may have to send again: each is kept, with its index on the connection
// that carried it, until a resumption handle covers it (`lastConsumedClientMessageIndex`), then dropped. A new
// connection sends what is left, in order, before anything newer.
import type { FastifyBaseLogger } from 'fastify'

/** A client message kept until a resumption handle covers it: its index on the connection that carried it. */
export interface Entry {
  text: string
  index: number | undefined
}

/** Client messages kept for a resend: about 100 s of 16 kHz audio, base64. Older ones go first past it. */
const MAX_REPLAY_BYTES = 4 * 1024 * 1024

export class ReplayLog {
  #entries: Entry[] = []
  #bytes = 0
  #trimmed = false
  readonly #log: FastifyBaseLogger

  constructor (log: FastifyBaseLogger) {
    this.#log = log
  }

  /** What is kept, oldest first: what a new connection sends again. */
  get entries (): readonly Entry[] {
    return this.#entries
  }

  /** Keeps a message, not yet sent. */
  keep (message: unknown): Entry {
    const entry: Entry = { text: JSON.stringify(message), index: undefined }
    this.#entries.push(entry)
    this.#bytes += entry.text.length
    if (this.#bytes > MAX_REPLAY_BYTES) this.#trim()
    return entry
  }

  /** Gemini has consumed every message up to index `last` on the current connection: they are dropped. */
  consumed (last: number): void {
    const entries = this.#entries
    let drop = 0
    while (drop < entries.length && (entries[drop] as Entry).index !== undefined && ((entries[drop] as Entry).index as number) <= last) {
      this.#bytes -= (entries[drop] as Entry).text.length
      drop++
    }
    if (drop > 0) this.#entries = entries.slice(drop)
  }

  /** Without handles coming, the oldest messages sent are taken as consumed rather than kept without bound. */
  #trim (): void {
    while (this.#bytes > MAX_REPLAY_BYTES && this.#entries[0]?.index !== undefined) {
      this.#bytes -= (this.#entries.shift() as Entry).text.length
    }
    if (this.#trimmed) return
    this.#trimmed = true
    this.#log.warn({ maxReplayBytes: MAX_REPLAY_BYTES }, 'Gemini sent no resumption handle for a long time; older client messages will not be resent on a reconnect')
  }
}
