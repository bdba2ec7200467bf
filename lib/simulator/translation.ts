// A realtime translation session as the simulator plays it (the openai SDK's translation types): session.created
// on connect, session.update of the audio settings -> session.updated, 24 kHz PCM16 appended with
// session.input_audio_buffer.append and "translated" in 200 ms frames (the frame echoed as output audio, a
// transcript delta per second), session.close -> what is buffered flushed, then session.closed and a 1000 close.
// Like the provider, it reports no usage.
import type WebSocket from 'ws'
import { BYTES_PER_SECOND } from './audio.js'
import { errorEvent, id, type Json } from './events.js'
import { CLOSE } from '../close-codes.js'

const FRAME = BYTES_PER_SECOND / 5 // 200 ms, the engine's frame
const FRAMES_PER_LINE = 5 // a transcript delta per second of audio

const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)

export class SimulatedTranslationSession {
  readonly #ws: WebSocket
  readonly #session: { id: string, type: 'translation', model: string, expires_at: number, audio: { input: Json, output: Json } }
  #pending = Buffer.alloc(0)
  #frames = 0

  constructor (ws: WebSocket, model: string) {
    this.#ws = ws
    this.#session = {
      id: id('sess'),
      type: 'translation',
      model,
      expires_at: Math.floor(Date.now() / 1000) + 3600,
      audio: { input: { transcription: null, noise_reduction: null }, output: { language: 'es' } }
    }
    ws.on('message', (data: Buffer) => this.#receive(data))
    this.#send({ type: 'session.created', session: this.#session })
  }

  #send (event: Json): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify({ event_id: id('event'), ...event }))
  }

  #receive (data: Buffer): void {
    let event: unknown
    try {
      event = JSON.parse(data.toString())
    } catch {}
    if (!isObject(event)) return this.#send(errorEvent('invalid_json', 'The event is not a JSON object.'))
    switch (event.type) {
      case 'session.input_audio_buffer.append': return this.#append(event)
      case 'session.update': return this.#update(event)
      case 'session.close': return this.#close()
      default: this.#send(errorEvent('invalid_event', `Unknown event type '${String(event.type)}'.`, event.event_id, 'type'))
    }
  }

  #update (event: Json): void {
    const audio = isObject(event.session) ? event.session.audio : undefined
    if (!isObject(audio)) return this.#send(errorEvent('invalid_value', 'session.update must set session.audio.', event.event_id, 'session.audio'))
    // Only the fields a translation session takes are read; type and model are fixed at creation.
    const { input, output } = audio
    if (isObject(input)) {
      if ('transcription' in input) this.#session.audio.input.transcription = input.transcription
      if ('noise_reduction' in input) this.#session.audio.input.noise_reduction = input.noise_reduction
    }
    if (isObject(output) && typeof output.language === 'string') this.#session.audio.output.language = output.language
    this.#send({ type: 'session.updated', session: this.#session })
  }

  #append (event: Json): void {
    const audio = typeof event.audio === 'string' ? Buffer.from(event.audio, 'base64') : undefined
    if (audio === undefined || audio.length % 2 !== 0) {
      return this.#send(errorEvent('invalid_audio', 'Expected base64-encoded 24 kHz PCM16 mono audio.', event.event_id, 'audio'))
    }
    this.#pending = Buffer.concat([this.#pending, audio])
    while (this.#pending.length >= FRAME) {
      this.#translate(this.#pending.subarray(0, FRAME))
      this.#pending = this.#pending.subarray(FRAME)
    }
  }

  /** One engine frame: its audio back as the "translation", and a transcript line each second. */
  #translate (frame: Buffer): void {
    const elapsed = this.#frames * 200
    this.#frames++
    this.#send({ type: 'session.output_audio.delta', delta: frame.toString('base64'), elapsed_ms: elapsed, format: 'pcm16', sample_rate: 24000, channels: 1 })
    if (this.#frames % FRAMES_PER_LINE !== 0) return
    const line = `${this.#frames / FRAMES_PER_LINE} s`
    if (this.#session.audio.input.transcription !== null) this.#send({ type: 'session.input_transcript.delta', delta: `[heard ${line}] `, elapsed_ms: elapsed })
    this.#send({ type: 'session.output_transcript.delta', delta: `[${String(this.#session.audio.output.language)} ${line}] `, elapsed_ms: elapsed })
  }

  #close (): void {
    if (this.#pending.length > 0) this.#translate(this.#pending)
    this.#pending = Buffer.alloc(0)
    this.#send({ type: 'session.closed' })
    this.#ws.close(CLOSE.normal)
  }
}
