// Shapes of OpenAI GA realtime server events, as the simulator sends them.
import { defaultRealtimeSession, newId as id, TURN_DETECTION } from '../protocols/realtime.js'

export type Json = Record<string, unknown>

export { errorEvent, newId as id } from '../protocols/realtime.js'
export { merge } from '../json.js'

/** The JSON body of OpenAI's HTTP errors (a refused handshake, a bad client_secrets request). */
export function errorBody (message: string, code: string | null): string {
  return JSON.stringify({ error: { message, type: 'invalid_request_error', code, param: null } })
}

export { TURN_DETECTION } from '../protocols/realtime.js'

export function defaultSession (model: string, transcription: boolean): Json {
  if (transcription) {
    return {
      type: 'transcription',
      object: 'realtime.transcription_session',
      id: id('sess'),
      audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-transcribe', language: null, prompt: '' }, noise_reduction: null, turn_detection: { ...TURN_DETECTION } } },
      include: null
    }
  }
  return { ...defaultRealtimeSession(id('sess'), model), expires_at: Math.floor(Date.now() / 1000) + 3600 }
}
