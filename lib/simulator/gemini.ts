// A Gemini Live (BidiGenerateContent) session as the simulator plays it, faithful to
// shared/protocols/gemini-live.md: `setup` first and once (a second is 1007), `setupComplete`; 16 kHz PCM16 in
// (`audio/pcm;rate=16000`, anything else is 1007) and 24 kHz out; a turn ends on speech then 500 ms of silence,
// on `audioStreamEnd`/`activityEnd`, or on `clientContent` with `turnComplete`; input and output transcriptions
// when asked; a function call when a declared tool is named in the text; `usageMetadata` once per turn;
// `contextUpdate` replacing instructions and tools mid-connection; resumption handles with
// `lastConsumedClientMessageIndex` (transparent); `goAway` after the connection's
// lifetime. Every server message is JSON in a binary frame, as Gemini sends some. Not simulated: video, and
// realtimeInput.text (refused with 1007 here).
import type WebSocket from 'ws'
import { rms, SPEECH_RMS, tone } from './audio.js'
import { id, type Json } from './events.js'
import { CLOSE } from '../close-codes.js'

export interface GeminiSessionOptions {
  /** 1: answers at speaking pace; 0: at once. */
  pace: number
  /** Milliseconds a connection lives: `goAway` then, and the close `goAwayGrace` later. Default 600 000. */
  connectionLifetime: number
  goAwayGrace: number
  /** Resumable sessions by handle, shared by every connection of one simulator. */
  resumable: Map<string, ResumableState>
}

/** What a handle resumes: the session as it was when the handle was issued (a checkpoint, not a live view). */
export interface ResumableState {
  turns: number
  model: string
  /** Bytes of the user's audio turn so far, and whether it has started and how much silence has followed. */
  heard: number
  speaking: boolean
  silent: number
  /** A function call the model is waiting on: its answer may come on a resumed connection. */
  pendingCall?: { id: string, name: string }
}

const INPUT_RATE = 16_000
const INPUT_BYTES_PER_SECOND = INPUT_RATE * 2
const SILENCE_MS = 500
const OUT_CHUNK = 4800 // 100 ms of 24 kHz PCM16
const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)

export class SimulatedGeminiSession {
  readonly #ws: WebSocket
  readonly #options: GeminiSessionOptions
  #setup: Json | undefined
  #state: ResumableState | undefined
  /** Index of the last client message consumed (setup is 0). */
  #consumed = -1
  #received = -1
  readonly #timers: NodeJS.Timeout[] = []

  constructor (ws: WebSocket, options: GeminiSessionOptions) {
    this.#ws = ws
    this.#options = options
    ws.on('message', (data: Buffer) => this.#receive(data))
    ws.on('close', () => { for (const timer of this.#timers) clearTimeout(timer) })
  }

  #send (message: Json): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.send(Buffer.from(JSON.stringify(message)), { binary: true })
  }

  #close (code: number, reason: string): void {
    if (this.#ws.readyState === this.#ws.OPEN) this.#ws.close(code, reason)
  }

  #receive (data: Buffer): void {
    this.#received++
    let message: unknown
    try {
      message = JSON.parse(data.toString())
    } catch {}
    if (!isObject(message)) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    const keys = Object.keys(message)
    if (keys.length !== 1) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    if (this.#setup === undefined && keys[0] !== 'setup') return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument: setup must be first.')
    switch (keys[0]) {
      case 'setup': return this.#start(message.setup)
      case 'realtimeInput': return this.#realtimeInput(message.realtimeInput)
      case 'clientContent': return this.#clientContent(message.clientContent)
      case 'toolResponse': return this.#toolResponse(message.toolResponse)
      case 'contextUpdate': return this.#contextUpdate(message.contextUpdate)
      default: this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    }
  }

  #start (setup: unknown): void {
    if (this.#setup !== undefined || !isObject(setup) || typeof setup.model !== 'string' || !setup.model.startsWith('models/')) {
      return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    }
    const resumption = isObject(setup.sessionResumption) ? setup.sessionResumption : undefined
    const handle = resumption?.handle
    if (typeof handle === 'string') {
      const state = this.#options.resumable.get(handle)
      if (state === undefined) return this.#close(CLOSE.policyViolation, 'session not found')
      if (state.model !== setup.model) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument: the model cannot change on resumption.')
      this.#state = structuredClone(state)
    } else {
      this.#state = { turns: 0, model: setup.model, heard: 0, speaking: false, silent: 0 }
    }
    this.#setup = setup
    this.#consumed = this.#received
    this.#send({ setupComplete: {} })
    const { connectionLifetime, goAwayGrace } = this.#options
    this.#timers.push(setTimeout(() => {
      this.#send({ goAway: { timeLeft: `${goAwayGrace / 1000}s` } })
      this.#timers.push(setTimeout(() => this.#close(CLOSE.normal, 'connection lifetime reached'), goAwayGrace))
    }, connectionLifetime))
  }

  #config (name: string): Json | undefined {
    const value = (this.#setup as Json)[name]
    return isObject(value) ? value : undefined
  }

  #realtimeInput (input: unknown): void {
    if (!isObject(input)) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    if (input.audioStreamEnd === true || isObject(input.activityEnd)) {
      this.#consumed = this.#received
      return this.#turn(undefined)
    }
    const audio = isObject(input.audio) ? input.audio : undefined
    if (audio === undefined || typeof audio.data !== 'string') return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    if (audio.mimeType !== `audio/pcm;rate=${INPUT_RATE}`) return this.#close(CLOSE.invalidPayload, `Request contains an invalid argument: audio must be audio/pcm;rate=${INPUT_RATE}.`)
    const pcm = Buffer.from(audio.data, 'base64')
    this.#consumed = this.#received
    const state = this.#state as ResumableState
    state.heard += pcm.length
    if (rms(pcm) >= SPEECH_RMS) {
      state.speaking = true
      state.silent = 0
    } else if (state.speaking && (state.silent += pcm.length) >= INPUT_BYTES_PER_SECOND * SILENCE_MS / 1000) {
      this.#turn(undefined)
    }
  }

  #clientContent (content: unknown): void {
    if (!isObject(content) || !Array.isArray(content.turns)) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument.')
    this.#consumed = this.#received
    const text = content.turns.flatMap((turn: unknown) => isObject(turn) && Array.isArray(turn.parts) ? turn.parts : [])
      .map((part: unknown) => isObject(part) && typeof part.text === 'string' ? part.text : '').join(' ')
    if (content.turnComplete === true) this.#turn(text)
  }

  #toolResponse (response: unknown): void {
    const responses = isObject(response) && Array.isArray(response.functionResponses) ? response.functionResponses as unknown[] : []
    const state = this.#state as ResumableState
    const answer = responses.find((r) => isObject(r) && r.id === state.pendingCall?.id)
    if (!isObject(answer) || !isObject(answer.response)) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument: functionResponses[].id and an object response are required.')
    this.#consumed = this.#received
    state.pendingCall = undefined
    this.#answer(`The tool said ${JSON.stringify(answer.response)}.`, 0)
  }

  /** New instructions and/or tools for the turns to come, on this connection (a later resumption carries its own setup). */
  #contextUpdate (update: unknown): void {
    const valid = isObject(update) && (update.systemInstruction !== undefined || update.tools !== undefined) &&
      (update.systemInstruction === undefined || (isObject(update.systemInstruction) && Array.isArray(update.systemInstruction.parts))) &&
      (update.tools === undefined || (isObject(update.tools) && Array.isArray(update.tools.tools)))
    if (!valid) return this.#close(CLOSE.invalidPayload, 'Request contains an invalid argument: contextUpdate needs systemInstruction { parts } and/or tools { tools }.')
    this.#consumed = this.#received
    const setup = { ...this.#setup }
    if (update.systemInstruction !== undefined) setup.systemInstruction = update.systemInstruction
    if (isObject(update.tools)) setup.tools = update.tools.tools
    this.#setup = setup
  }

  /** A user turn ended: transcription of what was heard, then a function call or the answer. */
  #turn (text: string | undefined): void {
    const state = this.#state as ResumableState
    const seconds = state.heard / INPUT_BYTES_PER_SECOND
    state.heard = 0
    state.speaking = false
    state.silent = 0
    if (text === undefined && this.#config('inputAudioTranscription') !== undefined) {
      this.#send({ serverContent: { inputTranscription: { text: `[${seconds.toFixed(1)} seconds of audio]` } } })
    }
    const tools = Array.isArray((this.#setup as Json).tools) ? (this.#setup as Json).tools as unknown[] : []
    const declared = tools.flatMap((tool) => isObject(tool) && Array.isArray(tool.functionDeclarations) ? tool.functionDeclarations : [])
      .map((d: unknown) => isObject(d) && typeof d.name === 'string' ? d.name : undefined)
    const called = text === undefined ? undefined : declared.find((name) => name !== undefined && text.includes(name))
    if (called !== undefined) {
      const call = { id: id('call'), name: called }
      state.pendingCall = call
      this.#send({ toolCall: { functionCalls: [{ id: call.id, name: called, args: { text } }] } })
      const update = this.#resumptionUpdate()
      if (update !== undefined) this.#send(update)
      return
    }
    this.#answer(text === undefined ? `I heard ${seconds.toFixed(1)} seconds of audio.` : `You said: ${text}`, seconds)
  }

  /** A new handle for the session as it is now, when the setup asked for resumption. */
  #resumptionUpdate (): Json | undefined {
    const resumption = this.#config('sessionResumption')
    if (resumption === undefined) return undefined
    const handle = id('handle')
    this.#options.resumable.set(handle, structuredClone(this.#state as ResumableState))
    const update: Json = { newHandle: handle, resumable: true }
    if (resumption.transparent === true) update.lastConsumedClientMessageIndex = String(this.#consumed)
    return { sessionResumptionUpdate: update }
  }

  /** The model's turn: audio (or text) with output transcription, generationComplete, turnComplete, usage, a handle. */
  #answer (text: string, heardSeconds: number): void {
    const modalities = (this.#config('generationConfig') ?? {}).responseModalities
    const audio = !Array.isArray(modalities) || modalities.includes('AUDIO')
    const steps: Json[] = []
    if (audio) {
      // Transcript fragments interleaved with the audio chunks, as Gemini sends them (unordered relative to it).
      const pcm = tone(0.3)
      const words = this.#config('outputAudioTranscription') === undefined ? [] : text.split(' ')
      for (let at = 0, i = 0; at < pcm.length || i < words.length; at += OUT_CHUNK, i++) {
        if (at < pcm.length) steps.push({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=24000', data: pcm.subarray(at, at + OUT_CHUNK).toString('base64') } }] } } })
        if (i < words.length) steps.push({ serverContent: { outputTranscription: { text: `${words[i] as string} ` } } })
      }
    } else {
      steps.push({ serverContent: { modelTurn: { parts: [{ text }] } } })
    }
    const state = this.#state as ResumableState
    state.turns++
    const prompt = 20 * state.turns + Math.round(heardSeconds * 25)
    const response = audio ? 8 : Math.ceil(text.length / 4)
    steps.push({ serverContent: { generationComplete: true } })
    steps.push({
      serverContent: { turnComplete: true },
      usageMetadata: {
        promptTokenCount: prompt,
        responseTokenCount: response,
        totalTokenCount: prompt + response,
        promptTokensDetails: [{ modality: heardSeconds > 0 ? 'AUDIO' : 'TEXT', tokenCount: prompt }],
        responseTokensDetails: [{ modality: audio ? 'AUDIO' : 'TEXT', tokenCount: response }]
      }
    })
    const update = this.#resumptionUpdate()
    if (update !== undefined) steps.push(update)
    const step = (): void => {
      const next = steps.shift()
      if (next === undefined) return
      this.#send(next)
      if (this.#options.pace === 0) step()
      else this.#timers.push(setTimeout(step, 100 / this.#options.pace))
    }
    step()
  }
}
