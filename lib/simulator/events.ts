// Shapes of OpenAI GA realtime server events, as the simulator sends them.
import { randomBytes } from 'node:crypto'

export const id = (prefix: string): string => `${prefix}_${randomBytes(11).toString('base64url').replace(/[-_]/g, 'x')}`

export type Json = Record<string, unknown>

export { errorEvent } from '../protocols/realtime.js'

/** The JSON body of OpenAI's HTTP errors (a refused handshake, a bad client_secrets request). */
export function errorBody (message: string, code: string | null): string {
  return JSON.stringify({ error: { message, type: 'invalid_request_error', code, param: null } })
}

/** Server VAD settings a session starts with; a partial turn_detection is filled from these. */
export const TURN_DETECTION = { type: 'server_vad', threshold: 0.5, prefix_padding_ms: 300, silence_duration_ms: 500, create_response: true, interrupt_response: true, idle_timeout_ms: null }

export function defaultSession (model: string, transcription: boolean): Json {
  const format = { type: 'audio/pcm', rate: 24000 }
  const turnDetection = { ...TURN_DETECTION }
  if (transcription) {
    return {
      type: 'transcription',
      object: 'realtime.transcription_session',
      id: id('sess'),
      audio: { input: { format, transcription: { model: 'gpt-4o-transcribe', language: null, prompt: '' }, noise_reduction: null, turn_detection: turnDetection } },
      include: null
    }
  }
  return {
    type: 'realtime',
    object: 'realtime.session',
    id: id('sess'),
    model,
    output_modalities: ['audio'],
    instructions: '',
    tools: [],
    tool_choice: 'auto',
    max_output_tokens: 'inf',
    tracing: null,
    prompt: null,
    expires_at: Math.floor(Date.now() / 1000) + 3600,
    audio: {
      input: { format, transcription: null, noise_reduction: null, turn_detection: turnDetection },
      output: { format, voice: 'alloy', speed: 1 }
    },
    include: null
  }
}

/** Merges a session.update into the session: objects merge key by key, everything else replaces. */
export function merge (into: Json, update: Json): Json {
  for (const [key, value] of Object.entries(update)) {
    // JSON.parse makes "__proto__" an own key; merging into it would reach Object.prototype.
    if (key === '__proto__') continue
    const current = Object.hasOwn(into, key) ? into[key] : undefined
    if (value !== null && typeof value === 'object' && !Array.isArray(value) && current !== null && typeof current === 'object' && !Array.isArray(current)) {
      merge(current as Json, value as Json)
    } else {
      into[key] = value
    }
  }
  return into
}
