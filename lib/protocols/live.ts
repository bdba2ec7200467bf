// OpenAI's GPT-Live protocol (`/v1/live/sessions`, OpenAI and Azure Foundry): routed by its first client frame
// (`session.start` names the model), usage as a cumulative `usage.seconds` in `session.usage.updated` and
// `session.closed`, backend tokens of a delegation in `response.event` wrapping `response.completed`, and its
// own error envelope (`client_event_id`). Facts: shared/protocols/gpt-live.md.
import { randomUUID } from 'node:crypto'
import { isObject, parseObject, type Json } from '../json.js'
import type { Protocol, UsageReport } from './types.js'

// Base64 audio cannot contain '.' or '"': these needles never match inside an audio payload.
const USAGE_UPDATED = Buffer.from('"session.usage.updated"')
const CLOSED = Buffer.from('"session.closed"')
const RESPONSE_EVENT = Buffer.from('"response.event"')
const COMPLETED = Buffer.from('"response.completed"')
// The common case, output audio and transcript deltas, leads with its type and carries no usage.
const DELTA_PREFIX = Buffer.from('{"type":"session.output_')

function readUsage (data: Buffer): UsageReport | undefined {
  if (data.length > DELTA_PREFIX.length && DELTA_PREFIX.compare(data, 0, DELTA_PREFIX.length) === 0) return undefined
  if (data.indexOf(USAGE_UPDATED) !== -1 || data.indexOf(CLOSED) !== -1) {
    const event = parseObject(data)
    if (event?.type !== 'session.usage.updated' && event?.type !== 'session.closed') return undefined
    const seconds = isObject(event.usage) ? event.usage.seconds : undefined
    return typeof seconds === 'number' && seconds >= 0 ? { kind: 'seconds', totalSeconds: seconds, final: event.type === 'session.closed' } : undefined
  }
  if (data.indexOf(RESPONSE_EVENT) === -1 || data.indexOf(COMPLETED) === -1) return undefined
  const event = parseObject(data)
  const inner = event?.type === 'response.event' && isObject(event.event) ? event.event : undefined
  const response = inner?.type === 'response.completed' && isObject(inner.response) ? inner.response : undefined
  if (response === undefined || !isObject(response.usage)) return undefined
  return { kind: 'response', responseId: response.id as string | undefined, usage: response.usage, model: typeof response.model === 'string' ? response.model : undefined }
}

/** An `error` server event in GPT-Live's envelope (the proxy's own, and the simulator's). */
export function errorEvent (code: string, message: string, clientEventId?: unknown, param?: string): Json {
  const error: Json = { type: 'invalid_request_error', code, message }
  if (param !== undefined) error.param = param
  if (typeof clientEventId === 'string') error.client_event_id = clientEventId
  return { type: 'error', event_id: `evt_${randomUUID().replaceAll('-', '').slice(0, 22)}`, error }
}

const SESSION_START = Buffer.from('"session.start"')
// A type spelt with a \u escape matches no needle; base64 audio has no backslash, so such frames are rare.
const ESCAPE = Buffer.from('\\u')

/** A session.start after the first: the session runs, and only the first was routed and shown to the app's policy. */
function refuseClient (data: Buffer): { code: string, message: string, eventId?: string } | undefined {
  if (data.indexOf(SESSION_START) === -1 && data.indexOf(ESCAPE) === -1) return undefined
  const event = parseObject(data)
  if (event?.type !== 'session.start') return undefined
  const eventId = typeof event.event_id === 'string' ? event.event_id : undefined
  return { code: 'session_already_started', message: 'The session has started; session.start is sent once, and this one was not sent on', eventId }
}

export const live: Protocol = {
  name: 'live',
  routing: 'first-frame',
  readUsage,
  errorEvent,
  meterInputAudio: () => false, // GPT-Live reports its own seconds
  refuseClient
}
