// The simulator's POST /v1/realtime/client_secrets: mints short-lived `ek_` keys, as OpenAI does, that its own
// websocket accepts until they expire. Kept in memory; expired keys are swept as new ones are minted.
import { randomBytes } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { defaultSession, errorBody, type Json } from './events.js'

const MAX_BODY = 64 * 1024
// OpenAI's bounds for expires_after.seconds, and its default.
const MIN_TTL = 10
const MAX_TTL = 7200
const DEFAULT_TTL = 600

export interface MintedSecret {
  model: string
  intent?: string
  expiresAt: number
}

function answer (res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(body)
}

export function invalid (res: ServerResponse, status: number, message: string, code: string | null): void {
  answer(res, status, errorBody(message, code))
}

async function readJson (req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new Error('body too large')
    chunks.push(chunk as Buffer)
  }
  return JSON.parse(Buffer.concat(chunks).toString() || '{}')
}

export class ClientSecrets {
  readonly #minted = new Map<string, MintedSecret>()
  readonly #now: () => number

  constructor (now: () => number) {
    this.#now = now
  }

  /** The key's session, while it is valid. */
  check (key: string): MintedSecret | undefined {
    const minted = this.#minted.get(key)
    return minted !== undefined && minted.expiresAt > this.#now() ? minted : undefined
  }

  async mint (req: IncomingMessage, res: ServerResponse): Promise<void> {
    let body: Json
    try {
      body = await readJson(req) as Json
    } catch {
      return invalid(res, 400, 'The body must be a JSON object of at most 64 KiB.', 'invalid_json')
    }
    const session = (body?.session ?? {}) as Json
    const transcription = session.type === 'transcription'
    const seconds = (body?.expires_after as Json | undefined)?.seconds ?? DEFAULT_TTL
    if (typeof seconds !== 'number' || seconds < MIN_TTL || seconds > MAX_TTL) {
      return invalid(res, 400, `expires_after.seconds must be between ${MIN_TTL} and ${MAX_TTL}.`, 'invalid_value')
    }
    const model = typeof session.model === 'string' ? session.model : transcription ? 'gpt-4o-transcribe' : 'gpt-realtime'
    const now = this.#now()
    for (const [key, minted] of this.#minted) if (minted.expiresAt <= now) this.#minted.delete(key)
    const value = `ek_${randomBytes(24).toString('hex')}`
    const expiresAt = now + seconds * 1000
    this.#minted.set(value, { model, intent: transcription ? 'transcription' : undefined, expiresAt })
    answer(res, 200, JSON.stringify({ value, expires_at: Math.floor(expiresAt / 1000), session: { ...defaultSession(model, transcription), ...session, model } }))
  }
}
