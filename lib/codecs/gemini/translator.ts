// The Gemini codec's translation, both ways, with the state one session needs: the OpenAI session the client
// configured (Gemini's setup is built from it), call id -> function name, the user's input item and the model
// turn in progress. It knows nothing of sockets: a client frame is returned translated (the Gemini messages, the
// answers for the client, whether the setup changed); what Gemini sends becomes OpenAI events for its sink.
// Mapping: shared/protocols/gemini-live.md § 6.
import { randomUUID } from 'node:crypto'
import { isObject, parseObject, type Json } from '../../json.js'
import { defaultRealtimeSession, errorEvent, newId } from '../../protocols/realtime.js'
import { answersInAudio, applyUpdate, buildSetup, contextUpdate, sameSetup, serverDetectsTurns } from './config.js'
import { GeminiAudio, GEMINI_AUDIO, MAX_RATE, MIN_RATE } from './audio.js'
import { Conversation } from '../realtime/conversation.js'
import { CONNECTION_MESSAGES, CONTENT_KEYS, METADATA, UNSUPPORTED } from './mapping.js'
import { ResponseBuilder } from '../realtime/response.js'
import { openaiUsage } from './usage.js'

/** Where the translator sends what Gemini's messages become: OpenAI server events for the client. */
export type TranslatorSink = (event: Json) => void

/** A client frame, translated. */
export interface ClientTranslation {
  /** Messages for Gemini, in order (kept for replay until a resumption handle covers them). */
  gemini: Json[]
  /** The translator's own answers for the client (an error, session.updated, the input item). */
  answers: Json[]
  /** The setup changed: resume on a new connection with it, at the next quiet moment. */
  reconfigure: boolean
}

export interface TranslatorOptions {
  /** The model as `setup.model` carries it (`models/...`, or Vertex's resource name). */
  setupModel: string
  /** The model names a client's session.update may repeat (as asked, as routed). */
  models: ReadonlyArray<string | undefined>
  /** Vertex refuses `id` in function responses; the Gemini API requires it. */
  functionResponseIds: boolean
}

const refusal = (code: string, message: string, clientEventId?: unknown, param?: string): Json =>
  errorEvent(code, message, clientEventId, param ?? null) as Json

const reply = (out: ClientTranslation, event: Json): void => { out.answers.push(event) }

export class GeminiTranslator {
  readonly #sink: TranslatorSink
  readonly #options: TranslatorOptions
  /** The session as the client sees it, and the setup built from it for the current connection. */
  #session: Json
  #setup: Json | undefined
  /** session.updated events owed once the connection with the new setup is up. */
  #updated: Json[] = []
  /** Whether the setup may be sent: the client's first session.update came, or the wait for it ended. */
  configured = false
  readonly #conversation = new Conversation()
  readonly #audio = new GeminiAudio()
  /** Manual turns (no VAD): activityStart was sent for the audio being appended. */
  #activity = false
  #response: ResponseBuilder | undefined
  #cancelled = false
  /** The turn's usage, the last Gemini reported (a turn with several reports counts once). */
  #usage: Json | undefined
  /** Gemini will answer on its own (a user turn ended, a tool answered): response.create adds nothing. */
  #expecting = false
  readonly #unmapped = new Set<string>()

  constructor (sink: TranslatorSink, options: TranslatorOptions, requestedModel: string | undefined) {
    this.#sink = sink
    this.#options = options
    this.#session = defaultRealtimeSession(`sess_${randomUUID().replaceAll('-', '').slice(0, 24)}`, requestedModel)
  }

  /** Whether a model turn is in progress (a new connection would cut it). */
  get turnOpen (): boolean {
    return this.#response !== undefined
  }

  /** session.created, sent as soon as the client is connected (OpenAI sends it first). */
  created (): void {
    this.#sink({ type: 'session.created', session: this.#session })
  }

  /** Gemini's setup for a new connection, resuming `handle`. */
  setup (handle: string | undefined): Json {
    this.#setup = buildSetup(this.#session, this.#options.setupModel, handle)
    return { setup: this.#setup }
  }

  /** A connection's setupComplete: the client hears of the settings it carries. */
  connected (): void {
    for (const event of this.#updated.splice(0)) this.#sink(event)
  }

  /** The connection ended in the middle of a turn: the turn is cut, as an interruption would. */
  connectionLost (): void {
    if (this.#response !== undefined) this.#endTurn('incomplete')
  }

  #error (code: string, message: string, clientEventId?: unknown, param?: string): void {
    this.#sink(refusal(code, message, clientEventId, param))
  }

  // ---- client -> Gemini ----

  fromClient (data: Buffer | string): ClientTranslation {
    const out: ClientTranslation = { gemini: [], answers: [], reconfigure: false }
    const event = parseObject(data)
    if (event === undefined || typeof event.type !== 'string') {
      out.answers.push(refusal('invalid_event', 'The event must be a JSON object with a string "type"'))
      return out
    }
    const id = event.event_id
    switch (event.type) {
      case 'session.update': this.#update(out, event, id); break
      case 'input_audio_buffer.append': this.#append(out, event, id); break
      case 'input_audio_buffer.commit': this.#commit(out, id); break
      case 'conversation.item.create': this.#item(out, event, id); break
      case 'response.create': this.#respond(out, event, id); break
      default: {
        const why = UNSUPPORTED[event.type] ?? 'Gemini Live has no equivalent'
        out.answers.push(refusal('unsupported_event', `${event.type} is not available through Gemini Live: ${why}; the event was ignored`, id))
      }
    }
    return out
  }

  #update (out: ClientTranslation, event: Json, id: unknown): void {
    if (!isObject(event.session)) return reply(out, refusal('invalid_value', 'session.update needs a "session" object', id, 'session'))
    const applied = applyUpdate(this.#session, event.session, this.#options.models)
    if ('refused' in applied) return reply(out, refusal('invalid_value', `${applied.refused}; the update was not applied`, id, applied.param))
    for (const note of applied.notes) out.answers.push(refusal('unsupported_setting', note, id))
    this.#session = applied.session
    const updated = { type: 'session.updated', session: this.#session }
    if (!this.configured) {
      // The first: the connection's setup is built from it now, and the client hears back at setupComplete.
      this.configured = true
      this.#updated.push(updated)
      out.reconfigure = true
      return
    }
    if (this.#setup !== undefined) {
      const setup = buildSetup(this.#session, this.#options.setupModel, undefined)
      if (sameSetup(setup, this.#setup)) return reply(out, updated)
      // Instructions and tools change on the open connection, in order with the audio: no resumption, no gap.
      const context = contextUpdate(this.#setup, setup)
      if (context !== undefined) {
        this.#setup = { ...setup, sessionResumption: this.#setup.sessionResumption }
        out.gemini.push({ contextUpdate: context })
        return reply(out, updated)
      }
    }
    this.#updated.push(updated)
    // The audio so far goes out whole on this connection: the new one starts a new stream.
    this.#flushAudio(out)
    out.reconfigure = true
  }

  /** No session.update came in time: the setup goes with OpenAI's defaults. */
  useDefaults (): void {
    this.configured = true
  }

  #append (out: ClientTranslation, event: Json, id: unknown): void {
    const resampled = this.#audio.input(event.audio)
    if (resampled === undefined) return reply(out, refusal('invalid_value', 'input_audio_buffer.append needs base64 "audio"', id, 'audio'))
    this.#conversation.inputItem()
    if (!serverDetectsTurns(this.#session) && !this.#activity) {
      this.#activity = true
      out.gemini.push({ realtimeInput: { activityStart: {} } })
    }
    if (resampled.length > 0) out.gemini.push({ realtimeInput: { audio: { data: resampled.toString('base64'), mimeType: GEMINI_AUDIO } } })
  }

  #commit (out: ClientTranslation, id: unknown): void {
    if (!this.#conversation.inputPending) {
      return reply(out, refusal('input_audio_buffer_commit_empty', 'Error committing input audio buffer: the buffer is empty', id))
    }
    this.#flushAudio(out)
    if (this.#activity) {
      this.#activity = false
      out.gemini.push({ realtimeInput: { activityEnd: {} } })
    } else {
      out.gemini.push({ realtimeInput: { audioStreamEnd: true } })
    }
    this.#expecting = true
    this.#conversation.announceInput((event) => out.answers.push(event))
  }

  /** The samples the resampler still holds, to Gemini: the audio so far ends here (a commit, a new setup). */
  #flushAudio (out: ClientTranslation): void {
    const tail = this.#audio.flushInput()
    if (tail !== undefined && tail.length > 0) out.gemini.push({ realtimeInput: { audio: { data: tail.toString('base64'), mimeType: GEMINI_AUDIO } } })
  }

  #item (out: ClientTranslation, event: Json, id: unknown): void {
    const item = event.item
    if (!isObject(item)) return reply(out, refusal('invalid_value', 'conversation.item.create needs an "item" object', id, 'item'))
    if (item.type === 'function_call_output') return this.#toolOutput(out, item, id)
    if (item.type !== 'message' || (item.role !== 'user' && item.role !== 'assistant')) {
      const what = item.type === 'message' ? `${String(item.role)} messages` : `${String(item.type)} items`
      return reply(out, refusal('unsupported_event', `${what} cannot be added to a Gemini Live conversation (user and assistant messages and function_call_output can); set session.instructions for system guidance`, id, 'item'))
    }
    const parts = Array.isArray(item.content) ? item.content : []
    const texts = parts.filter((part): part is Json => isObject(part) && typeof part.text === 'string')
    if (texts.length === 0 || texts.length !== parts.length) {
      return reply(out, refusal('unsupported_event', 'Only text content can be added to a Gemini Live conversation', id, 'item.content'))
    }
    const user = item.role === 'user'
    out.gemini.push({ clientContent: { turns: [{ role: user ? 'user' : 'model', parts: texts.map((part) => ({ text: part.text })) }], turnComplete: user } })
    if (user) this.#expecting = true
    this.#conversation.added((event) => out.answers.push(event), item)
  }

  #toolOutput (out: ClientTranslation, item: Json, id: unknown): void {
    const callId = item.call_id
    const { calls } = this.#conversation
    const name = typeof callId === 'string' ? calls.get(callId) : undefined
    if (name === undefined) return reply(out, refusal('invalid_value', `No function call with call_id ${JSON.stringify(callId)} is waiting in this session`, id, 'item.call_id'))
    calls.delete(callId as string)
    let response: unknown
    try {
      response = JSON.parse(String(item.output))
    } catch {}
    // Gemini takes an object: a plain string (or other JSON) output is wrapped.
    const answer: Json = { name, response: isObject(response) ? response : { output: item.output } }
    if (this.#options.functionResponseIds) answer.id = callId
    out.gemini.push({ toolResponse: { functionResponses: [answer] } })
    this.#expecting = true
    this.#conversation.added((event) => out.answers.push(event), item)
  }

  #respond (out: ClientTranslation, event: Json, id: unknown): void {
    if (isObject(event.response) && Object.keys(event.response).length > 0) {
      out.answers.push(refusal('unsupported_setting', 'Per-response settings (response.create "response") have no Gemini Live equivalent; the session\'s settings apply', id, 'response'))
    }
    // Gemini answers a finished user turn or a tool's output by itself; otherwise it is asked to speak now.
    if (this.#expecting || this.#response !== undefined) return
    this.#expecting = true
    out.gemini.push({ clientContent: { turns: [], turnComplete: true } })
  }

  // ---- Gemini -> client ----

  /** A Gemini server message; the connection's own parts (setupComplete, goAway, resumption) are the leg's. */
  fromGemini (message: Json): void {
    // First: a message may carry its turn's usage beside the turnComplete or toolCall that ends the turn.
    if (isObject(message.usageMetadata)) this.#usage = message.usageMetadata
    for (const [key, value] of Object.entries(message)) {
      if (CONNECTION_MESSAGES.has(key)) continue
      if (!isObject(value)) {
        this.#unmappedMessage(key)
        continue
      }
      switch (key) {
        case 'serverContent': this.#content(value); break
        case 'toolCall': this.#toolCall(value); break
        case 'usageMetadata': break
        case 'toolCallCancellation':
          this.#error('function_call_cancelled', `Gemini cancelled function call(s) ${[value.ids].flat().join(', ')}; OpenAI's protocol has no such event, so their results will be ignored`)
          break
        case 'voiceActivity': this.#voiceActivity(value); break
        default: this.#unmappedMessage(key)
      }
    }
    if (isObject(message.serverContent) && message.serverContent.turnComplete === true) this.#endTurn(this.#cancelled ? 'cancelled' : 'completed')
    // Usage that came when no turn is under way (after its turnComplete: Gemini may send it on any message)
    // belongs to the turn that ended: billed now, as a response of its own, never left for the next to overwrite.
    else if (this.#usage !== undefined && this.#response === undefined) this.#endTurn('completed')
  }

  #unmappedMessage (key: string): void {
    if (this.#unmapped.has(key)) return
    this.#unmapped.add(key)
    this.#error('unmapped_provider_event', `Gemini sent "${key}", which has no OpenAI equivalent; it was not relayed`)
  }

  #turn (): ResponseBuilder {
    if (this.#response !== undefined) return this.#response
    this.#expecting = false
    this.#conversation.announceInput(this.#sink)
    const audio = answersInAudio(this.#session)
    const voice = (this.#session.audio as Json).output as Json
    this.#response = new ResponseBuilder(this.#sink, audio, voice.voice, this.#conversation.lastItemId)
    return this.#response
  }

  #content (content: Json): void {
    if (content.interrupted === true) {
      this.#cancelled = true
      this.#response?.endMessage('cancelled')
      this.#sink({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: newId('item') })
    }
    if (isObject(content.inputTranscription) && typeof content.inputTranscription.text === 'string') {
      const input = this.#conversation.inputItem()
      this.#conversation.announceInput(this.#sink)
      input.transcript += content.inputTranscription.text
      this.#sink({ type: 'conversation.item.input_audio_transcription.delta', item_id: input.id, content_index: 0, delta: content.inputTranscription.text })
    }
    if (isObject(content.modelTurn) && Array.isArray(content.modelTurn.parts)) {
      for (const part of content.modelTurn.parts) {
        if (!isObject(part) || part.thought === true) continue
        if (isObject(part.inlineData) && typeof part.inlineData.data === 'string') this.#audioOut(part.inlineData)
        else if (typeof part.text === 'string' && !answersInAudio(this.#session)) this.#turn().text(part.text)
      }
    }
    if (isObject(content.outputTranscription) && typeof content.outputTranscription.text === 'string') this.#turn().transcript(content.outputTranscription.text)
    if (content.generationComplete === true) this.#response?.endMessage()
    for (const key of Object.keys(content)) {
      if (!CONTENT_KEYS.has(key) && !METADATA.has(key)) this.#unmappedMessage(`serverContent.${key}`)
    }
  }

  #audioOut (data: Json): void {
    const rate = this.#audio.outputRate(data.mimeType)
    if (!(rate >= MIN_RATE && rate <= MAX_RATE)) {
      if (this.#unmapped.has(`rate ${rate}`)) return
      this.#unmapped.add(`rate ${rate}`)
      return this.#error('invalid_provider_audio', `Gemini sent audio at ${rate} Hz; only ${MIN_RATE}-${MAX_RATE} Hz is converted to 24 kHz, so it was dropped`)
    }
    // OpenAI clients play 24 kHz: another rate is converted.
    this.#turn().audio(this.#audio.output(data.data as string, rate))
  }

  #toolCall (call: Json): void {
    const calls = Array.isArray(call.functionCalls) ? call.functionCalls.filter(isObject) : []
    if (calls.length === 0) return // a toolCall with no call changes nothing: the turn under way goes on
    const response = this.#turn()
    for (const fn of calls) {
      const callId = typeof fn.id === 'string' && fn.id !== '' ? fn.id : newId('call')
      const name = String(fn.name)
      this.#conversation.calls.set(callId, name)
      response.functionCall(callId, name, JSON.stringify(isObject(fn.args) ? fn.args : {}))
    }
    // OpenAI clients run tools when the response is done, then send their output.
    this.#endTurn('completed')
  }

  #voiceActivity (activity: Json): void {
    const type = activity.type === 'ACTIVITY_START' ? 'input_audio_buffer.speech_started' : activity.type === 'ACTIVITY_END' ? 'input_audio_buffer.speech_stopped' : undefined
    if (type === undefined) return this.#unmappedMessage(`voiceActivity ${String(activity.type)}`)
    const input = this.#conversation.inputItem()
    this.#sink(type === 'input_audio_buffer.speech_started' ? { type, audio_start_ms: 0, item_id: input.id } : { type, audio_end_ms: 0, item_id: input.id })
  }

  /** The model's turn is over: the user's transcript, then response.done with the turn's usage. */
  #endTurn (status: 'completed' | 'cancelled' | 'incomplete'): void {
    const input = (this.#session.audio as Json).input
    this.#conversation.endInput(this.#sink, isObject(input) && isObject(input.transcription))
    const usage = this.#usage
    this.#usage = undefined
    this.#cancelled = false
    // A turn that produced nothing still reports its usage, so it is billed.
    const response = this.#response ?? (usage === undefined ? undefined : this.#turn())
    this.#response = undefined
    if (response === undefined) return
    response.end(status, usage === undefined ? null : openaiUsage(usage))
    this.#conversation.lastItemId = response.lastItemId
  }

  /** Frees the resamplers (WebAssembly memory). */
  close (): void {
    this.#audio.close()
  }
}
