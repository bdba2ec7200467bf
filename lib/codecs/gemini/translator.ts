// The Gemini codec's translation, both ways, with the state one session needs: the OpenAI session the client
// configured (Gemini's setup is built from it), call id -> function name, the user's input item and the model
// turn in progress. It knows nothing of sockets: it hands Gemini messages and OpenAI events to its sink, and
// asks the sink for a new connection when the setup changes. Mapping: shared/protocols/gemini-live.md § 6.
import { randomUUID } from 'node:crypto'
import { isObject, parseObject, type Json } from '../../json.js'
import { defaultRealtimeSession, errorEvent, newId } from '../../protocols/realtime.js'
import { answersInAudio, applyUpdate, buildSetup, sameSetup, serverDetectsTurns } from './config.js'
import { Resampler } from './resample.js'
import { ResponseBuilder } from './response.js'
import { openaiUsage } from './usage.js'

/** What the translator drives: the connection (leg) that carries its messages. */
export interface TranslatorSink {
  /** A client message for Gemini (kept for replay until a resumption handle covers it). */
  toGemini (message: Json): void
  /** An OpenAI server event for the client. */
  toClient (event: Json): void
  /** The setup changed: resume on a new connection with it, at the next quiet moment. */
  reconfigure (): void
}

export interface TranslatorOptions {
  /** The model as `setup.model` carries it (`models/...`, or Vertex's resource name). */
  setupModel: string
  /** The model names a client's session.update may repeat (as asked, as routed). */
  models: ReadonlyArray<string | undefined>
  /** Vertex refuses `id` in function responses; the Gemini API requires it. */
  functionResponseIds: boolean
}

const INPUT_RATE = 24_000
const GEMINI_INPUT_RATE = 16_000
const GEMINI_AUDIO = `audio/pcm;rate=${GEMINI_INPUT_RATE}`
const OUTPUT_RATE = /rate=(\d+)/
/** Output rates converted to 24 kHz: anything else is no real audio (rate=1 turned 480 bytes into 8 MiB). */
const MIN_RATE = 8000
const MAX_RATE = 48_000
/**
 * Whether `pcm` is all that `base64` holds: padded base64 decodes to exactly 3/4 of its length less the padding,
 * and Buffer.from skips what is not base64 (it would decode anything into garbage). No second pass over the audio.
 */
function wholeBase64 (base64: string, pcm: Buffer): boolean {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0
  return base64.length % 4 === 0 && pcm.length === base64.length / 4 * 3 - padding
}

/** Client events with no Gemini equivalent, and why. */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  'response.cancel': 'Gemini Live cannot cancel a response; speaking over it interrupts it',
  'input_audio_buffer.clear': 'Gemini Live consumes audio as it arrives; there is no buffer to clear',
  'conversation.item.truncate': 'Gemini Live keeps no truncatable audio items',
  'conversation.item.delete': 'Gemini Live cannot delete conversation items',
  'conversation.item.retrieve': 'Gemini Live cannot return conversation items',
  'output_audio_buffer.clear': 'output_audio_buffer.clear is for WebRTC sessions'
}

/** Server messages the leg handles itself (connections and resumption). */
const CONNECTION_MESSAGES: ReadonlySet<string> = new Set(['setupComplete', 'goAway', 'sessionResumptionUpdate'])
/** Server fields that carry nothing an OpenAI client has a place for. */
const METADATA = new Set(['groundingMetadata', 'turnCompleteReason', 'waitingForInput', 'interactionStatus', 'interimInputTranscription', 'urlContextMetadata'])

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
  readonly #calls = new Map<string, string>()
  #resampler: Resampler | undefined
  readonly #outputResamplers = new Map<number, Resampler>()
  /** The user's input item: audio sent since the last one began, with its transcript so far. */
  #input: { id: string, transcript: string, announced: boolean } | undefined
  /** Manual turns (no VAD): activityStart was sent for the audio being appended. */
  #activity = false
  #response: ResponseBuilder | undefined
  #cancelled = false
  /** The turn's usage, the last Gemini reported (a turn with several reports counts once). */
  #usage: Json | undefined
  /** Gemini will answer on its own (a user turn ended, a tool answered): response.create adds nothing. */
  #expecting = false
  #lastItemId: string | null = null
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
    this.#sink.toClient({ type: 'session.created', session: this.#session })
  }

  /** Gemini's setup for a new connection, resuming `handle`. */
  setup (handle: string | undefined): Json {
    this.#setup = buildSetup(this.#session, this.#options.setupModel, handle)
    return { setup: this.#setup }
  }

  /** A connection's setupComplete: the client hears of the settings it carries. */
  connected (): void {
    for (const event of this.#updated.splice(0)) this.#sink.toClient(event)
  }

  /** The connection ended in the middle of a turn: the turn is cut, as an interruption would. */
  connectionLost (): void {
    if (this.#response !== undefined) this.#endTurn('incomplete')
  }

  #error (code: string, message: string, clientEventId?: unknown, param?: string): void {
    this.#sink.toClient(errorEvent(code, message, clientEventId, param ?? null))
  }

  // ---- client -> Gemini ----

  fromClient (data: Buffer): void {
    const event = parseObject(data)
    if (event === undefined || typeof event.type !== 'string') return this.#error('invalid_event', 'The event must be a JSON object with a string "type"')
    const id = event.event_id
    switch (event.type) {
      case 'session.update': return this.#update(event, id)
      case 'input_audio_buffer.append': return this.#append(event, id)
      case 'input_audio_buffer.commit': return this.#commit(id)
      case 'conversation.item.create': return this.#item(event, id)
      case 'response.create': return this.#respond(event, id)
      default: {
        const why = UNSUPPORTED[event.type] ?? 'Gemini Live has no equivalent'
        this.#error('unsupported_event', `${event.type} is not available through Gemini Live: ${why}; the event was ignored`, id)
      }
    }
  }

  #update (event: Json, id: unknown): void {
    if (!isObject(event.session)) return this.#error('invalid_value', 'session.update needs a "session" object', id, 'session')
    const applied = applyUpdate(this.#session, event.session, this.#options.models)
    if ('refused' in applied) return this.#error('invalid_value', `${applied.refused}; the update was not applied`, id, applied.param)
    for (const note of applied.notes) this.#error('unsupported_setting', note, id)
    this.#session = applied.session
    const updated = { type: 'session.updated', session: this.#session }
    if (!this.configured) {
      // The first: the connection's setup is built from it now, and the client hears back at setupComplete.
      this.configured = true
      this.#updated.push(updated)
      return this.#sink.reconfigure()
    }
    if (this.#setup !== undefined && sameSetup(buildSetup(this.#session, this.#options.setupModel, undefined), this.#setup)) {
      return this.#sink.toClient(updated)
    }
    this.#updated.push(updated)
    // The audio so far goes out whole on this connection: the new one starts a new stream.
    this.#flushAudio()
    this.#sink.reconfigure()
  }

  /** No session.update came in time: the setup goes with OpenAI's defaults. */
  useDefaults (): void {
    this.configured = true
  }

  #append (event: Json, id: unknown): void {
    const pcm = typeof event.audio === 'string' ? Buffer.from(event.audio, 'base64') : undefined
    if (pcm === undefined || !wholeBase64(event.audio as string, pcm)) return this.#error('invalid_value', 'input_audio_buffer.append needs base64 "audio"', id, 'audio')
    const resampled = (this.#resampler ??= new Resampler(INPUT_RATE, GEMINI_INPUT_RATE)).process(pcm)
    this.#inputItem()
    if (!serverDetectsTurns(this.#session) && !this.#activity) {
      this.#activity = true
      this.#sink.toGemini({ realtimeInput: { activityStart: {} } })
    }
    if (resampled.length > 0) this.#sink.toGemini({ realtimeInput: { audio: { data: resampled.toString('base64'), mimeType: GEMINI_AUDIO } } })
  }

  #commit (id: unknown): void {
    if (this.#input === undefined || this.#input.announced) {
      return this.#error('input_audio_buffer_commit_empty', 'Error committing input audio buffer: the buffer is empty', id)
    }
    this.#flushAudio()
    if (this.#activity) {
      this.#activity = false
      this.#sink.toGemini({ realtimeInput: { activityEnd: {} } })
    } else {
      this.#sink.toGemini({ realtimeInput: { audioStreamEnd: true } })
    }
    this.#expecting = true
    this.#announceInput()
  }

  /** The samples the resampler still holds, to Gemini: the audio so far ends here (a commit, a new setup). */
  #flushAudio (): void {
    const tail = this.#resampler?.flush()
    if (tail !== undefined && tail.length > 0) this.#sink.toGemini({ realtimeInput: { audio: { data: tail.toString('base64'), mimeType: GEMINI_AUDIO } } })
  }

  /** The user's audio turn as OpenAI shows it: committed, and an item in the conversation. */
  #announceInput (): void {
    const input = this.#input
    if (input === undefined || input.announced) return
    input.announced = true
    this.#sink.toClient({ type: 'input_audio_buffer.committed', previous_item_id: this.#lastItemId, item_id: input.id })
    this.#added({ id: input.id, type: 'message', role: 'user', content: [{ type: 'input_audio', transcript: null }] })
  }

  /** The user's input item under way, made when its first sign (audio, a transcript, voice activity) comes. */
  #inputItem (): { id: string, transcript: string, announced: boolean } {
    return (this.#input ??= { id: newId('item'), transcript: '', announced: false })
  }

  #item (event: Json, id: unknown): void {
    const item = event.item
    if (!isObject(item)) return this.#error('invalid_value', 'conversation.item.create needs an "item" object', id, 'item')
    if (item.type === 'function_call_output') return this.#toolOutput(item, id)
    if (item.type !== 'message' || (item.role !== 'user' && item.role !== 'assistant')) {
      const what = item.type === 'message' ? `${String(item.role)} messages` : `${String(item.type)} items`
      return this.#error('unsupported_event', `${what} cannot be added to a Gemini Live conversation (user and assistant messages and function_call_output can); set session.instructions for system guidance`, id, 'item')
    }
    const parts = Array.isArray(item.content) ? item.content : []
    const texts = parts.filter((part): part is Json => isObject(part) && typeof part.text === 'string')
    if (texts.length === 0 || texts.length !== parts.length) {
      return this.#error('unsupported_event', 'Only text content can be added to a Gemini Live conversation', id, 'item.content')
    }
    const user = item.role === 'user'
    this.#sink.toGemini({ clientContent: { turns: [{ role: user ? 'user' : 'model', parts: texts.map((part) => ({ text: part.text })) }], turnComplete: user } })
    if (user) this.#expecting = true
    this.#added(item)
  }

  /** An item in the conversation, as the client gave it (its id, else one of ours) and as complete. */
  #added (given: Json): void {
    const item = { ...given, id: typeof given.id === 'string' ? given.id : newId('item'), object: 'realtime.item', status: 'completed' }
    this.#sink.toClient({ type: 'conversation.item.added', previous_item_id: this.#lastItemId, item })
    this.#sink.toClient({ type: 'conversation.item.done', previous_item_id: this.#lastItemId, item })
    this.#lastItemId = item.id
  }

  #toolOutput (item: Json, id: unknown): void {
    const callId = item.call_id
    const name = typeof callId === 'string' ? this.#calls.get(callId) : undefined
    if (name === undefined) return this.#error('invalid_value', `No function call with call_id ${JSON.stringify(callId)} is waiting in this session`, id, 'item.call_id')
    this.#calls.delete(callId as string)
    let response: unknown
    try {
      response = JSON.parse(String(item.output))
    } catch {}
    // Gemini takes an object: a plain string (or other JSON) output is wrapped.
    const answer: Json = { name, response: isObject(response) ? response : { output: item.output } }
    if (this.#options.functionResponseIds) answer.id = callId
    this.#sink.toGemini({ toolResponse: { functionResponses: [answer] } })
    this.#expecting = true
    this.#added(item)
  }

  #respond (event: Json, id: unknown): void {
    if (isObject(event.response) && Object.keys(event.response).length > 0) {
      this.#error('unsupported_setting', 'Per-response settings (response.create "response") have no Gemini Live equivalent; the session\'s settings apply', id, 'response')
    }
    // Gemini answers a finished user turn or a tool's output by itself; otherwise it is asked to speak now.
    if (this.#expecting || this.#response !== undefined) return
    this.#expecting = true
    this.#sink.toGemini({ clientContent: { turns: [], turnComplete: true } })
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
    this.#announceInput()
    const audio = answersInAudio(this.#session)
    const voice = (this.#session.audio as Json).output as Json
    this.#response = new ResponseBuilder((event) => this.#sink.toClient(event), audio, voice.voice, this.#lastItemId)
    return this.#response
  }

  #content (content: Json): void {
    if (content.interrupted === true) {
      this.#cancelled = true
      this.#response?.endMessage('cancelled')
      this.#sink.toClient({ type: 'input_audio_buffer.speech_started', audio_start_ms: 0, item_id: newId('item') })
    }
    if (isObject(content.inputTranscription) && typeof content.inputTranscription.text === 'string') {
      const input = this.#inputItem()
      this.#announceInput()
      input.transcript += content.inputTranscription.text
      this.#sink.toClient({ type: 'conversation.item.input_audio_transcription.delta', item_id: input.id, content_index: 0, delta: content.inputTranscription.text })
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
    const rate = Number(OUTPUT_RATE.exec(String(data.mimeType))?.[1] ?? INPUT_RATE)
    if (rate === INPUT_RATE) return this.#turn().audio(data.data as string)
    if (!(rate >= MIN_RATE && rate <= MAX_RATE)) {
      if (this.#unmapped.has(`rate ${rate}`)) return
      this.#unmapped.add(`rate ${rate}`)
      return this.#error('invalid_provider_audio', `Gemini sent audio at ${rate} Hz; only ${MIN_RATE}-${MAX_RATE} Hz is converted to 24 kHz, so it was dropped`)
    }
    // OpenAI clients play 24 kHz: another rate is converted.
    let resampler = this.#outputResamplers.get(rate)
    if (resampler === undefined) this.#outputResamplers.set(rate, resampler = new Resampler(rate, INPUT_RATE))
    this.#turn().audio(resampler.process(Buffer.from(data.data as string, 'base64')).toString('base64'))
  }

  #toolCall (call: Json): void {
    const calls = Array.isArray(call.functionCalls) ? call.functionCalls.filter(isObject) : []
    if (calls.length === 0) return // a toolCall with no call changes nothing: the turn under way goes on
    const response = this.#turn()
    for (const fn of calls) {
      const callId = typeof fn.id === 'string' && fn.id !== '' ? fn.id : newId('call')
      const name = String(fn.name)
      this.#calls.set(callId, name)
      response.functionCall(callId, name, JSON.stringify(isObject(fn.args) ? fn.args : {}))
    }
    // OpenAI clients run tools when the response is done, then send their output.
    this.#endTurn('completed')
  }

  #voiceActivity (activity: Json): void {
    const type = activity.type === 'ACTIVITY_START' ? 'input_audio_buffer.speech_started' : activity.type === 'ACTIVITY_END' ? 'input_audio_buffer.speech_stopped' : undefined
    if (type === undefined) return this.#unmappedMessage(`voiceActivity ${String(activity.type)}`)
    const input = this.#inputItem()
    this.#sink.toClient(type === 'input_audio_buffer.speech_started' ? { type, audio_start_ms: 0, item_id: input.id } : { type, audio_end_ms: 0, item_id: input.id })
  }

  /** The model's turn is over: the user's transcript, then response.done with the turn's usage. */
  #endTurn (status: 'completed' | 'cancelled' | 'incomplete'): void {
    const input = this.#input
    if (input?.announced === true) {
      if (isObject((this.#session.audio as Json).input) && isObject(((this.#session.audio as Json).input as Json).transcription)) {
        this.#sink.toClient({ type: 'conversation.item.input_audio_transcription.completed', item_id: input.id, content_index: 0, transcript: input.transcript })
      }
      this.#input = undefined
    }
    const usage = this.#usage
    this.#usage = undefined
    this.#cancelled = false
    // A turn that produced nothing still reports its usage, so it is billed.
    const response = this.#response ?? (usage === undefined ? undefined : this.#turn())
    this.#response = undefined
    if (response === undefined) return
    response.end(status, usage === undefined ? null : openaiUsage(usage))
    this.#lastItemId = response.lastItemId
  }

  /** Frees the resamplers (WebAssembly memory). */
  close (): void {
    this.#resampler?.destroy()
    for (const resampler of this.#outputResamplers.values()) resampler.destroy()
  }
}

const CONTENT_KEYS = new Set(['interrupted', 'inputTranscription', 'outputTranscription', 'modelTurn', 'generationComplete', 'turnComplete'])
