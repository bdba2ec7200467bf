// A GPT-Live session as the simulator plays it (shared/protocols/gpt-live.md): the first frame must be a strict
// session.start; then session.started, input audio appended (a turn ends after speech and then 500 ms of
// silence in the audio, after 500 ms without audio, or on response.create), an answer as output transcript and audio deltas, session.usage.updated with the cumulative
// seconds every `usageInterval`, a Responses delegation that reports its backend tokens in response.event, and
// session.close -> session.closed.
import type WebSocket from 'ws'
import { BYTES_PER_SECOND, rms, seconds, SPEECH_RMS, tone } from './audio.js'
import { errorEvent } from '../protocols/live.js'
import { id, type Json } from './events.js'
import { CLOSE } from '../close-codes.js'

export interface LiveSessionOptions {
  /** Milliseconds between session.usage.updated events. */
  usageInterval: number
  /** 1: answers at speaking pace; 0: at once. */
  pace: number
}

// session.start's session is strict: the server refuses unknown fields.
const START_FIELDS = new Set(['type', 'model', 'instructions', 'audio', 'delegation', 'input', 'store', 'client'])
const TURN_GAP_MS = 500
const CHUNK = BYTES_PER_SECOND / 10 // 100 ms of PCM16 24 kHz

export class SimulatedLiveSession {
  readonly #ws: WebSocket
  readonly #options: LiveSessionOptions
  #session: Json | undefined
  readonly #startedAt = Date.now()
  #heard = 0
  /** Speech was heard this turn; then the bytes of silence since. */
  #speaking = false
  #silent = 0
  #turn: NodeJS.Timeout | undefined
  #usage: NodeJS.Timeout | undefined

  constructor (ws: WebSocket, options: LiveSessionOptions) {
    this.#ws = ws
    this.#options = options
    ws.on('message', (data: Buffer) => this.#receive(data))
    ws.on('close', () => this.#stop())
  }

  #send (event: Json): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify({ event_id: id('evt'), ...event }))
  }

  #seconds (): number {
    return Math.round((Date.now() - this.#startedAt) / 100) / 10
  }

  #receive (data: Buffer): void {
    let event: Json
    try {
      event = JSON.parse(data.toString()) as Json
    } catch {
      return this.#send(errorEvent('invalid_json', 'The event is not valid JSON.'))
    }
    if (this.#session === undefined) return this.#start(event)
    switch (event.type) {
      case 'session.input_audio.append': return this.#append(event)
      case 'response.create': return this.#answer()
      case 'session.close': return this.#close()
      case 'session.start': return this.#send(errorEvent('session_already_started', 'The session has already started.', event.event_id))
      default: this.#send(errorEvent('unknown_event', `Unknown event type '${String(event.type)}'.`, event.event_id, 'type'))
    }
  }

  #start (event: Json): void {
    const session = event.session as Json | undefined
    if (event.type !== 'session.start' || session === null || typeof session !== 'object') {
      this.#send(errorEvent('session_not_started', 'The first event must be session.start.', event.event_id, 'type'))
      return this.#ws.close(CLOSE.policyViolation, 'session.start required')
    }
    const unknown = Object.keys(session).find((key) => !START_FIELDS.has(key))
    if (unknown !== undefined) {
      this.#send(errorEvent('unknown_parameter', `Unknown parameter: 'session.${unknown}'.`, event.event_id, `session.${unknown}`))
      return this.#ws.close(CLOSE.policyViolation, 'invalid session.start')
    }
    const delegation = session.delegation as Json | null | undefined
    if (delegation?.type === 'responses' && typeof (delegation.responses as Json | undefined)?.model !== 'string') {
      this.#send(errorEvent('missing_required_parameter', "Missing required parameter: 'session.delegation.responses.model'.", event.event_id, 'session.delegation.responses.model'))
      return this.#ws.close(CLOSE.policyViolation, 'invalid session.start')
    }
    this.#session = { ...session, id: id('live'), expires_at: Math.floor(Date.now() / 1000) + 3600, status: 'active' }
    this.#send({ type: 'session.started', session: this.#session })
    this.#usage = setInterval(() => this.#send({ type: 'session.usage.updated', usage: { seconds: this.#seconds() } }), this.#options.usageInterval)
  }

  #append (event: Json): void {
    if (typeof event.audio !== 'string') return this.#send(errorEvent('invalid_audio', "Invalid 'audio'. Expected base64-encoded PCM16 audio.", event.event_id, 'audio'))
    const pcm = Buffer.from(event.audio, 'base64')
    this.#heard += pcm.length
    clearTimeout(this.#turn)
    if (rms(pcm) >= SPEECH_RMS) {
      this.#speaking = true
      this.#silent = 0
    } else if (this.#speaking && (this.#silent += pcm.length) >= BYTES_PER_SECOND * TURN_GAP_MS / 1000) {
      return this.#answer() // a microphone never stops sending: the silence after speech ends the turn
    }
    this.#turn = setTimeout(() => this.#answer(), TURN_GAP_MS)
  }

  #answer (): void {
    clearTimeout(this.#turn)
    this.#speaking = false
    this.#silent = 0
    const heard = seconds(this.#heard)
    this.#heard = 0
    if (heard > 0) this.#send({ type: 'session.input_transcript.delta', delta: `[${heard.toFixed(1)} seconds of audio]` })
    const delegation = (this.#session as Json).delegation as Json | null | undefined
    if (delegation?.type === 'responses') {
      const model = (delegation.responses as Json).model as string // checked by #start
      const delegationId = id('item')
      this.#send({ type: 'session.delegation.created', offset_ms: 0, delegation: { id: delegationId, type: 'delegation', target: 'responses' } })
      this.#send({ type: 'response.event', delegation_id: delegationId, event: { type: 'response.completed', response: { id: id('resp'), model, status: 'completed', usage: { input_tokens: 120, output_tokens: 30, total_tokens: 150 } } } })
    }
    const text = heard > 0 ? `I heard ${heard.toFixed(1)} seconds of audio.` : 'Hello from the GPT-Live simulator.'
    this.#send({ type: 'session.output_transcript.delta', delta: text })
    const audio = tone(0.5)
    const chunks: Buffer[] = []
    for (let at = 0; at < audio.length; at += CHUNK) chunks.push(audio.subarray(at, at + CHUNK))
    const step = (): void => {
      const chunk = chunks.shift()
      if (chunk === undefined) return
      this.#send({ type: 'session.output_audio.delta', delta: chunk.toString('base64') })
      if (this.#options.pace === 0) step()
      else setTimeout(step, 100 / this.#options.pace)
    }
    step()
  }

  #close (): void {
    this.#send({ type: 'session.closed', reason: 'close_requested', session: this.#session, usage: { seconds: this.#seconds() } })
    this.#stop()
    this.#ws.close(CLOSE.normal)
  }

  #stop (): void {
    clearTimeout(this.#turn)
    clearInterval(this.#usage)
  }
}
