// OpenAI's Realtime protocol (GA), spoken by every provider here: routed by its upgrade request (`?model=`),
// usage in `response.done` and in input-audio transcription `completed` events, errors as `error` events.
import { randomFillSync, randomUUID } from 'node:crypto'
import { isObject, parseObject, type Json } from '../json.js'
import type { Protocol, UsageReport } from './types.js'

// Base64 audio cannot contain '.' or '"', so these needles never match inside an audio payload.
const RESPONSE_DONE = Buffer.from('"response.done"')
const TRANSCRIPTION_DONE = Buffer.from('.input_audio_transcription.completed"')
// The common case, audio and transcript deltas, leads with its type: no response.output_* event carries usage.
const DELTA_PREFIX = Buffer.from('{"type":"response.output_')

export type UsageEventType = 'response.done' | 'conversation.item.input_audio_transcription.completed'

/** The usage event `data` may be, found by a byte search (no parse); undefined for the rest, audio included. */
export function usageEventType (data: Buffer): UsageEventType | undefined {
  if (data.length > DELTA_PREFIX.length && DELTA_PREFIX.compare(data, 0, DELTA_PREFIX.length) === 0) return undefined
  if (data.indexOf(RESPONSE_DONE) !== -1) return 'response.done'
  if (data.indexOf(TRANSCRIPTION_DONE) !== -1) return 'conversation.item.input_audio_transcription.completed'
  return undefined
}

/** The usage a frame reports: parsed only here, and only for the two event types that carry it. */
function readUsage (data: Buffer): UsageReport | undefined {
  const type = usageEventType(data)
  if (type === undefined) return undefined
  const event = parseObject(data) // not JSON: not ours to judge; the client gets the frame as it was
  if (event?.type !== type) return undefined
  if (type === 'response.done') {
    const response = isObject(event.response) ? event.response : {}
    return isObject(response.usage) ? { kind: 'response', responseId: response.id as string | undefined, usage: response.usage } : undefined
  }
  return isObject(event.usage) ? { kind: 'transcription', itemId: event.item_id as string | undefined, usage: event.usage } : undefined
}

// A codec names every event it translates (an audio delta every 20 ms per session): one call into the system's
// random source per id was 4% of the Gemini codec's CPU, so ids take their bytes from a pool filled 372 at a time.
const ID_BYTES = 11
const idPool = Buffer.alloc(ID_BYTES * 372)
let idAt = idPool.length

/** An id in OpenAI's shape (`item_...`, `resp_...`, `event_...`): the prefix and 15 random letters and digits. */
export function newId (prefix: string): string {
  if (idAt === idPool.length) {
    randomFillSync(idPool)
    idAt = 0
  }
  const random = idPool.toString('base64url', idAt, idAt += ID_BYTES)
  return `${prefix}_${random.replaceAll(/[-_]/g, 'x')}`
}

/** An `error` server event as OpenAI sends it. */
export function errorEvent (code: string, message: string, clientEventId: unknown = null, param: string | null = null): Json {
  return {
    type: 'error',
    event_id: `event_${randomUUID().replaceAll('-', '').slice(0, 22)}`,
    error: { type: 'invalid_request_error', code, message, param, event_id: clientEventId ?? null }
  }
}

export const realtime: Protocol = {
  name: 'realtime',
  routing: 'request',
  readUsage,
  errorEvent,
  meterInputAudio: (intent) => intent === 'transcription'
}

/** Server VAD settings a session starts with (OpenAI's defaults); a partial turn_detection is filled from these. */
export const TURN_DETECTION = Object.freeze({ type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true, idle_timeout_ms: null })

/** A realtime (conversation) session with OpenAI's defaults, as session.created shows it. */
export function defaultRealtimeSession (id: string, model: string | undefined): Json {
  // Fresh objects throughout: an update merged into one format must not change the other.
  const format = (): Json => ({ type: 'audio/pcm', rate: 24000 })
  return {
    type: 'realtime',
    object: 'realtime.session',
    id,
    model,
    output_modalities: ['audio'],
    instructions: '',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    prompt: null,
    audio: {
      input: { format: format(), transcription: null, noise_reduction: null, turn_detection: { ...TURN_DETECTION } },
      output: { format: format(), voice: 'alloy', speed: 1 }
    },
    include: null
  }
}
