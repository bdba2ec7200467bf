// Event policy: the app may rewrite or drop client events and observe server events. Parsing costs only
// when a hook is set, and only for frames that may be of a type it asked for: a byte search for the quoted
// type, or any frame with a \u escape (the only JSON escape that could disguise a type name).
import { InvalidOptionError } from '../errors.js'
import { isObject, parseObject, type Json } from '../json.js'

/** A realtime event as JSON: at least a `type`. */
export interface RealtimeEvent {
  type: string
  event_id?: string
  [key: string]: unknown
}

/** A session configuration as `session.update` carries it (OpenAI GA); every field optional, others kept. */
export interface SessionConfig {
  type?: 'realtime' | 'transcription'
  model?: string
  instructions?: string
  output_modalities?: string[]
  tools?: Array<Record<string, unknown>>
  tool_choice?: unknown
  max_output_tokens?: number | 'inf'
  audio?: {
    input?: {
      format?: { type: string, rate?: number }
      transcription?: { model?: string, language?: string, prompt?: string } | null
      turn_detection?: Record<string, unknown> | null
      noise_reduction?: Record<string, unknown> | null
      [key: string]: unknown
    }
    output?: { format?: { type: string, rate?: number }, voice?: string, speed?: number, [key: string]: unknown }
  }
  [key: string]: unknown
}

/** A client's `session.update`, narrowed by `isSessionUpdate`. */
export interface SessionUpdateEvent extends RealtimeEvent {
  type: 'session.update'
  session: SessionConfig
}

/** Narrows a client event to a `session.update` with a session object, so a hook can edit it without casts. */
export function isSessionUpdate (event: RealtimeEvent): event is SessionUpdateEvent {
  return event.type === 'session.update' && isObject(event.session)
}

/** What the policy hooks see of a session. */
export interface PolicySession {
  readonly id: string
  readonly provider: string
  readonly model: string | undefined
  readonly intent: string | undefined
  /** The caller's credential, when the request carried one. */
  readonly credential: string | undefined
  /** Sends the client an `error` event in OpenAI's shape. */
  sendError (code: string, message: string, eventId?: string): void
}

type MaybePromise<T> = T | Promise<T>

export interface EventPolicyOptions {
  /**
   * Sees each client event of the `clientEvents` types before it goes upstream. Return nothing to send the
   * frame as it was, an event to send that event instead, or `null` to drop it.
   */
  onClientEvent?: (event: RealtimeEvent, session: PolicySession) => MaybePromise<RealtimeEvent | null | undefined | void>
  /** Client event types `onClientEvent` sees; `'*'` for all. Default `['session.update']`. */
  clientEvents?: string[] | '*'
  /** Observes each server event of the `serverEvents` types after it was relayed. */
  onServerEvent?: (event: RealtimeEvent, session: PolicySession) => MaybePromise<void>
  /** Server event types `onServerEvent` sees; `'*'` for all (every audio delta is then parsed). Default `'*'`. */
  serverEvents?: string[] | '*'
}

const ESCAPE = Buffer.from('\\u')

/** Decides cheaply whether a frame may be of one of `types`. */
export function typeFilter (types: string[] | '*', option: string): (data: Buffer) => boolean {
  if (types === '*') return () => true
  if (!Array.isArray(types) || types.length === 0 || types.some((t) => typeof t !== 'string' || t === '')) {
    throw new InvalidOptionError(`"${option}" must be a non-empty list of event types such as ["session.update"], or "*"`)
  }
  const needles = types.map((t) => Buffer.from(JSON.stringify(t)))
  return (data) => data.indexOf(ESCAPE) !== -1 || needles.some((n) => data.indexOf(n) !== -1)
}

const SESSION_UPDATE = typeFilter(['session.update'], 'clientEvents')

/**
 * Writes `model` into a session.update's `session.audio.input.transcription.model` (creating the objects it
 * lacks), so a transcription session cannot switch to a model it was not routed to. Other frames, and a
 * transcription explicitly turned off (null), pass as they were.
 */
export function pinTranscriptionModel (data: Buffer, model: string): Buffer {
  if (!SESSION_UPDATE(data)) return data
  const event = parseEvent(data)
  if (event?.type !== 'session.update' || !isObject(event.session)) return data
  let holder: Json = event.session
  for (const key of ['audio', 'input', 'transcription']) {
    const next = Object.hasOwn(holder, key) ? holder[key] : (holder[key] = {})
    if (!isObject(next)) return data // null (off) or malformed: not ours to change
    holder = next
  }
  if (holder.model === model) return data
  holder.model = model
  return Buffer.from(JSON.stringify(event))
}

export function parseEvent (data: Buffer): RealtimeEvent | undefined {
  const event = parseObject(data)
  return typeof event?.type === 'string' ? event as RealtimeEvent : undefined
}
