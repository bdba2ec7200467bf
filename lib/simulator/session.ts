// One simulated realtime session: OpenAI's GA client events in, its server events out. It cannot understand
// speech, so it answers by speaking back the audio it heard (or a tone) and saying how long it was.
import type WebSocket from 'ws'
import { BYTES_PER_SECOND, rms, seconds, SPEECH_RMS, tone } from './audio.js'
import { defaultSession, errorEvent, id, merge, TURN_DETECTION, type Json } from './events.js'

export interface SimulatedSessionOptions {
  model: string
  /** `transcription` opens a transcription session. */
  intent?: string
  /** 1 streams audio in real time; 0 as fast as the socket takes it. */
  pace: number
}

const CHUNK = BYTES_PER_SECOND / 10 // 100 ms of PCM16 per output_audio.delta
const MAX_ECHO = 10 * BYTES_PER_SECOND

interface Item { id: string, role: 'user' | 'assistant', audio?: Buffer, text?: string }

interface ActiveResponse {
  id: string
  cancelled: boolean
  timer?: NodeJS.Timeout
  cancel?: () => void
}

const tokens = (text: string): number => Math.ceil(text.length / 4)

export class SimulatedSession {
  readonly #ws: WebSocket
  readonly #options: SimulatedSessionOptions
  readonly #session: Json
  #buffer: Buffer[] = []
  #bufferBytes = 0
  #items: Item[] = []
  #response: ActiveResponse | undefined
  // server VAD state, in audio time
  #speaking = false
  #silentBytes = 0
  #audioMs = 0
  #speechItem: string | undefined

  constructor (ws: WebSocket, options: SimulatedSessionOptions) {
    this.#ws = ws
    this.#options = options
    this.#session = defaultSession(options.model, options.intent === 'transcription')
    ws.on('message', (data: Buffer, isBinary) => this.#receive(data, isBinary))
    ws.on('close', () => this.#cancel())
    this.#send({ type: 'session.created', event_id: id('event'), session: this.#session })
  }

  #send (event: Json): void {
    // type first, as OpenAI sends it (the proxy's meter skips audio deltas by their leading type)
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(JSON.stringify({ type: event.type, event_id: id('event'), ...event }))
  }

  #receive (data: Buffer, isBinary: boolean): void {
    let event: Json
    try {
      if (isBinary) throw new Error('binary')
      event = JSON.parse(data.toString()) as Json
      if (event === null || typeof event !== 'object' || Array.isArray(event)) throw new Error('not an object')
    } catch {
      this.#send(errorEvent('invalid_json', 'The server could not parse the event: expected a JSON object.'))
      return
    }
    const eventId = event.event_id
    switch (event.type) {
      case 'session.update': return this.#update(event, eventId)
      case 'input_audio_buffer.append': return this.#append(event, eventId)
      case 'input_audio_buffer.commit': return this.#commit(eventId)
      case 'input_audio_buffer.clear':
        this.#clearBuffer()
        return this.#send({ type: 'input_audio_buffer.cleared' })
      case 'conversation.item.create': return this.#createItem(event, eventId)
      case 'response.create':
        if (this.#session.type !== 'realtime') return this.#send(errorEvent('invalid_request_error', 'Transcription sessions do not create responses.', eventId))
        return this.#respond(event.response as Json | undefined)
      case 'response.cancel':
        if (this.#response === undefined) return this.#send(errorEvent('response_cancel_not_active', 'Cancellation failed: no active response found.', eventId))
        return this.#cancel()
      default:
        this.#send(errorEvent('invalid_value', `Invalid value: '${String(event.type)}'. Supported values are: 'session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear', 'conversation.item.create', 'response.create', and 'response.cancel'.`, eventId, 'type'))
    }
  }

  #update (event: Json, eventId: unknown): void {
    const session = event.session as Json | undefined
    if (session === null || typeof session !== 'object') {
      return this.#send(errorEvent('missing_required_parameter', "Missing required parameter: 'session'.", eventId, 'session'))
    }
    if (session.type !== undefined && session.type !== this.#session.type) {
      return this.#send(errorEvent('invalid_value', `Cannot change the session type from '${String(this.#session.type)}'.`, eventId, 'session.type'))
    }
    merge(this.#session, session)
    const input = (this.#session.audio as { input: Json }).input
    if (input.turn_detection !== null) input.turn_detection = { ...TURN_DETECTION, ...input.turn_detection as Json }
    this.#send({ type: 'session.updated', session: this.#session })
  }

  #append (event: Json, eventId: unknown): void {
    const audio = event.audio
    if (typeof audio !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(audio)) {
      return this.#send(errorEvent('invalid_value', "Invalid 'audio'. Expected base64-encoded PCM16 audio.", eventId, 'audio'))
    }
    const pcm = Buffer.from(audio, 'base64')
    this.#buffer.push(pcm)
    this.#bufferBytes += pcm.length
    this.#vad(pcm)
  }

  /** Server VAD on loudness, in audio time: speech_started, then after enough silence speech_stopped and a commit. */
  #vad (pcm: Buffer): void {
    const turn = (this.#session.audio as { input: { turn_detection: Json | null } }).input.turn_detection
    const startMs = this.#audioMs
    this.#audioMs += pcm.length / BYTES_PER_SECOND * 1000
    if (turn === null || turn.type !== 'server_vad') return
    if (rms(pcm) >= SPEECH_RMS) {
      this.#silentBytes = 0
      if (!this.#speaking) {
        this.#speaking = true
        this.#speechItem = id('item')
        this.#send({ type: 'input_audio_buffer.speech_started', audio_start_ms: Math.round(startMs), item_id: this.#speechItem })
        if (turn.interrupt_response !== false) this.#cancel()
      }
      return
    }
    if (!this.#speaking) return
    this.#silentBytes += pcm.length
    const silentMs = this.#silentBytes / BYTES_PER_SECOND * 1000
    if (silentMs < Number(turn.silence_duration_ms)) return
    this.#speaking = false
    this.#send({ type: 'input_audio_buffer.speech_stopped', audio_end_ms: Math.round(this.#audioMs - silentMs), item_id: this.#speechItem })
    this.#commit(undefined, this.#speechItem)
    if (turn.create_response !== false && this.#session.type === 'realtime') this.#respond(undefined)
  }

  #clearBuffer (): void {
    this.#buffer = []
    this.#bufferBytes = 0
  }

  #commit (eventId: unknown, itemId = id('item')): void {
    if (this.#bufferBytes < BYTES_PER_SECOND / 10) {
      return this.#send(errorEvent('input_audio_buffer_commit_empty', `Error committing input audio buffer: buffer too small. Expected at least 100ms of audio, but buffer only has ${(seconds(this.#bufferBytes) * 1000).toFixed(2)}ms of audio.`, eventId))
    }
    const audio = Buffer.concat(this.#buffer)
    this.#clearBuffer()
    const previous = this.#items.at(-1)?.id ?? null
    const item: Item = { id: itemId, role: 'user', audio }
    this.#items.push(item)
    this.#send({ type: 'input_audio_buffer.committed', previous_item_id: previous, item_id: item.id })
    const wire = { id: item.id, type: 'message', object: 'realtime.item', status: 'completed', role: 'user', content: [{ type: 'input_audio', transcript: null }] }
    this.#send({ type: 'conversation.item.added', previous_item_id: previous, item: wire })
    this.#send({ type: 'conversation.item.done', previous_item_id: previous, item: wire })
    const transcription = (this.#session.audio as { input: { transcription: Json | null } }).input.transcription
    if (transcription !== null) {
      const duration = Math.round(seconds(audio.length) * 100) / 100
      this.#send({
        type: 'conversation.item.input_audio_transcription.completed',
        item_id: item.id,
        content_index: 0,
        transcript: `[${duration.toFixed(1)} seconds of audio]`,
        usage: { type: 'duration', seconds: duration }
      })
    }
  }

  #createItem (event: Json, eventId: unknown): void {
    const item = event.item as Json | undefined
    if (item === null || typeof item !== 'object') {
      return this.#send(errorEvent('missing_required_parameter', "Missing required parameter: 'item'.", eventId, 'item'))
    }
    const content = Array.isArray(item.content) ? item.content as Json[] : []
    const text = content.map((c) => typeof c.text === 'string' ? c.text : '').join(' ').trim()
    const stored: Item = { id: typeof item.id === 'string' ? item.id : id('item'), role: item.role === 'assistant' ? 'assistant' : 'user', text }
    const previous = this.#items.at(-1)?.id ?? null
    this.#items.push(stored)
    const wire = { object: 'realtime.item', status: 'completed', ...item, id: stored.id }
    this.#send({ type: 'conversation.item.added', previous_item_id: previous, item: wire })
    this.#send({ type: 'conversation.item.done', previous_item_id: previous, item: wire })
  }

  /** What the simulator says back, and the audio it says it with. */
  #answer (): { transcript: string, audio: Buffer, inputAudio: number, inputText: number } {
    const heard = [...this.#items].reverse().find((i) => i.role === 'user')
    const inputAudio = this.#items.reduce((n, i) => n + (i.audio === undefined ? 0 : seconds(i.audio.length)), 0)
    const inputText = tokens(String(this.#session.instructions)) + this.#items.reduce((n, i) => n + tokens(i.text ?? ''), 0)
    if (heard?.audio !== undefined) {
      const s = seconds(heard.audio.length).toFixed(1)
      return { transcript: `I heard ${s} seconds of audio. Here it is back.`, audio: heard.audio.subarray(0, MAX_ECHO), inputAudio, inputText }
    }
    const transcript = heard?.text !== undefined && heard.text !== '' ? `You said: ${heard.text}` : 'Hello from the realtime simulator.'
    return { transcript, audio: tone(Math.min(3, 0.4 + transcript.length * 0.03)), inputAudio, inputText }
  }

  #respond (overrides: Json | undefined): void {
    if (this.#response !== undefined) {
      return this.#send(errorEvent('conversation_already_has_active_response', 'Conversation already has an active response in progress.'))
    }
    const response: ActiveResponse = { id: id('resp'), cancelled: false }
    this.#response = response
    const modalities = (overrides?.output_modalities ?? this.#session.output_modalities) as string[]
    const audioOut = modalities.includes('audio')
    const { transcript, audio, inputAudio, inputText } = this.#answer()
    const item = { id: id('item'), type: 'message', object: 'realtime.item', status: 'in_progress', role: 'assistant', content: [] as Json[] }
    const where = { response_id: response.id, item_id: item.id, output_index: 0, content_index: 0 }
    const base = { object: 'realtime.response', id: response.id, conversation_id: id('conv'), output_modalities: modalities, max_output_tokens: 'inf', metadata: overrides?.metadata ?? null }
    this.#send({ type: 'response.created', response: { ...base, status: 'in_progress', status_details: null, output: [], usage: null } })
    this.#send({ type: 'response.output_item.added', response_id: response.id, output_index: 0, item })
    this.#send({ type: 'conversation.item.added', previous_item_id: this.#items.at(-1)?.id ?? null, item })
    this.#send({ type: 'response.content_part.added', ...where, part: audioOut ? { type: 'audio', transcript: '' } : { type: 'text', text: '' } })

    const words = transcript.split(' ')
    const chunks = audioOut ? Math.max(1, Math.ceil(audio.length / CHUNK)) : words.length
    let sent = 0
    const finish = (status: 'completed' | 'cancelled'): void => {
      this.#response = undefined
      const said = status === 'completed' ? transcript : words.slice(0, Math.ceil(words.length * sent / chunks)).join(' ')
      const part = audioOut ? { type: 'audio', transcript: said } : { type: 'text', text: said }
      if (status === 'completed') {
        if (audioOut) {
          this.#send({ type: 'response.output_audio.done', ...where })
          this.#send({ type: 'response.output_audio_transcript.done', ...where, transcript: said })
        } else {
          this.#send({ type: 'response.output_text.done', ...where, text: said })
        }
        this.#send({ type: 'response.content_part.done', ...where, part })
      }
      const done = { ...item, status: status === 'completed' ? 'completed' : 'incomplete', content: [audioOut ? { type: 'output_audio', transcript: said } : { type: 'output_text', text: said }] }
      this.#send({ type: 'response.output_item.done', response_id: response.id, output_index: 0, item: done })
      this.#items.push({ id: item.id, role: 'assistant', text: said })
      const outAudio = audioOut ? Math.ceil(seconds(Math.min(audio.length, sent * CHUNK)) * 20) : 0
      const outText = tokens(said)
      const inAudio = Math.ceil(inputAudio * 10)
      this.#send({
        type: 'response.done',
        response: {
          ...base,
          status,
          status_details: status === 'cancelled' ? { type: 'cancelled', reason: 'client_cancelled' } : null,
          output: [done],
          usage: {
            total_tokens: inAudio + inputText + outAudio + outText,
            input_tokens: inAudio + inputText,
            output_tokens: outAudio + outText,
            input_token_details: { text_tokens: inputText, audio_tokens: inAudio, image_tokens: 0, cached_tokens: 0, cached_tokens_details: { text_tokens: 0, audio_tokens: 0, image_tokens: 0 } },
            output_token_details: { text_tokens: outText, audio_tokens: outAudio }
          }
        }
      })
    }
    response.cancel = () => finish('cancelled')
    const step = (): void => {
      if (sent === chunks) return finish('completed')
      const words0 = Math.floor(words.length * sent / chunks)
      const words1 = Math.floor(words.length * (sent + 1) / chunks)
      const text = words.slice(words0, words1).map((w, i) => (words0 + i === 0 ? '' : ' ') + w).join('')
      if (audioOut) {
        this.#send({ type: 'response.output_audio.delta', ...where, delta: audio.subarray(sent * CHUNK, (sent + 1) * CHUNK).toString('base64') })
        if (text !== '') this.#send({ type: 'response.output_audio_transcript.delta', ...where, delta: text })
      } else {
        this.#send({ type: 'response.output_text.delta', ...where, delta: text })
      }
      sent++
      response.timer = this.#options.pace > 0 ? setTimeout(step, 100 * this.#options.pace) : setImmediate(step) as unknown as NodeJS.Timeout
    }
    step()
  }

  #cancel (): void {
    const response = this.#response
    if (response === undefined) return
    response.cancelled = true
    clearTimeout(response.timer)
    clearImmediate(response.timer as unknown as NodeJS.Immediate)
    response.cancel?.()
  }
}
