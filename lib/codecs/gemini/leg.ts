// A Gemini Live session's provider leg, as the relay sees it: one websocket that speaks OpenAI's schema and
// outlives Gemini's connections. Behind it, the translator turns frames both ways, and Gemini connections come
// and go: the setup waits for the client's first session.update (or `startTimeout`); on `goAway`, on a change
// of setup, or when a connection drops while the session is resumable, a new connection is dialled with the
// latest resumption handle, and the client messages Gemini had not consumed (`lastConsumedClientMessageIndex`)
// are sent again, in order. The relay, heartbeat and session drive it as they drive any Leg (upstream/leg.ts).
import WebSocket from 'ws'
import { isObject, type Json } from '../../json.js'
import { errorEvent, newId } from '../../protocols/realtime.js'
import { redact } from '../../upstream/redact.js'
import { Leg, LEG_CLOSED, LEG_CLOSING, LEG_OPEN, type SendOptions } from '../../upstream/leg.js'
import type { LegInit } from '../types.js'
import { ReplayLog, type Entry } from './replay.js'
import { GeminiTranslator, type TranslatorOptions } from './translator.js'
import { CLOSE } from '../../close-codes.js'

export interface GeminiLegOptions extends TranslatorOptions, Pick<LegInit, 'apiKey' | 'redial' | 'setupTimeout' | 'log'> {
  /** The model the client asked for, echoed in its session. */
  requestedModel: string | undefined
  /** Milliseconds the setup waits for the client's first session.update. */
  startTimeout: number
}

type Phase = 'waiting' | 'opening' | 'open' | 'redialing' | 'closed'

/** Dials of a resumption before the session gives up, and the wait before each retry. */
const REDIAL_DELAYS = [0, 250, 1000]
/** Connections that may drop in a row (no turn finished between) before the session is given up. */
const MAX_DROPS = 3
/**
 * The wait before each new connection since the last finished turn: a Gemini that sends goAway after every setup
 * (or a client that changes its setup as fast as it can) is paced, and past the last the session ends.
 */
export const RESUME_DELAYS = [0, 0, 100, 250, 500, 1000, 2000, 4000]
/** A close code Gemini sends for a request it will refuse again (a bad argument, an unknown session). */
const FINAL_CODES = new Set<number>([CLOSE.invalidPayload, CLOSE.policyViolation])

const ignore = (): void => {}

/** A toolCall that names a function: it ends the model's turn (an empty one changes nothing). */
const callsTools = (call: unknown): boolean => isObject(call) && Array.isArray(call.functionCalls) && call.functionCalls.length > 0

export class GeminiLeg extends Leg {
  /** Connections opened to resume the session (goAway, a new setup, a dropped connection). */
  override reconnects = 0
  #state = LEG_OPEN
  readonly #options: GeminiLegOptions
  readonly #translator: GeminiTranslator
  #ws: WebSocket
  #phase: Phase = 'waiting'
  /** Client messages not known to be consumed, in order. */
  readonly #replay: ReplayLog
  /** Bytes queued while no connection can take them. */
  #pending = 0
  /** Messages sent on the current connection; the setup is 0, as Gemini counts. */
  #sent = 0
  #handle: string | undefined
  /** No turn has ended since the latest handle (or none has ended at all): resuming loses nothing. */
  #fresh = true
  #turns = 0
  /** Connections dropped since the last finished turn. */
  #drops = 0
  /** Why a new connection is wanted, until it is dialled. */
  #migrate: string | undefined
  #paused = true
  #started = false
  #waiters: Array<() => void> = []
  /** New connections since the last finished turn (RESUME_DELAYS). */
  #resumes = 0
  /** Keys the connections carried, redacted from everything logged or sent on. */
  readonly #secrets = new Set<string | undefined>()
  /** Gemini's setupComplete is awaited within setupTimeout. */
  #setupTimer: NodeJS.Timeout | undefined
  /** Causes already logged (junk frames): one line each per session. */
  readonly #logged = new Set<string>()
  readonly #startTimer: NodeJS.Timeout
  readonly #listeners = new WeakMap<WebSocket, { message: (data: Buffer) => void, close: (code: number, reason: Buffer) => void, pong: () => void }>()

  constructor (ws: WebSocket, options: GeminiLegOptions) {
    super()
    this.#options = options
    this.#secrets.add(options.apiKey)
    this.#replay = new ReplayLog(options.log)
    this.#translator = new GeminiTranslator((event) => this.emitMessage(this.#event(event), false), options, options.requestedModel)
    this.#ws = ws
    this.#attach(ws)
    this.#startTimer = setTimeout(() => {
      options.log.info({ startTimeout: options.startTimeout }, 'no session.update before startTimeout; Gemini setup sent with defaults')
      this.#translator.useDefaults()
      this.#reconfigure()
    }, options.startTimeout)
  }

  #attach (ws: WebSocket): void {
    // Removed when the connection is retired: only the current connection is ever heard.
    const listeners = {
      message: (data: Buffer) => this.#receive(data),
      close: (code: number, reason: Buffer) => this.#closed(code, reason.toString()),
      pong: () => this.emitPong()
    }
    this.#listeners.set(ws, listeners)
    ws.on('message', listeners.message)
    ws.on('close', listeners.close)
    ws.on('pong', listeners.pong)
    ws.on('error', ignore)
    if (!this.#paused) ws.resume()
  }

  /** A connection we are done with: nothing it says matters any more. `drop`: terminated, not closed. */
  #retire (ws: WebSocket, drop = false): void {
    const listeners = this.#listeners.get(ws)
    if (listeners !== undefined) {
      ws.removeListener('message', listeners.message)
      ws.removeListener('close', listeners.close)
      ws.removeListener('pong', listeners.pong)
    }
    ws.resume()
    if (drop) ws.terminate()
    else ws.close(CLOSE.normal, 'resumed on a new connection')
  }

  // ---- the Leg the relay drives ----

  get readyState (): number {
    return this.#state
  }

  get bufferedAmount (): number {
    return (this.#phase === 'open' ? this.#ws.bufferedAmount : 0) + this.#pending
  }

  get isPaused (): boolean {
    return this.#paused
  }

  /**
   * A client frame (OpenAI's schema): translated, sent or kept for the next connection. What the translator answers
   * it with at once (an error, session.updated, the input item) goes out as 'answer', not 'message': the relay
   * writes those under the client's own high-water mark, so a client that reads nothing cannot make the codec
   * queue more than it sent.
   */
  send (data: Buffer | string, _options: SendOptions, cb?: (err?: Error) => void): void {
    const { gemini, answers, reconfigure } = this.#translator.fromClient(data)
    for (const answer of answers) this.emitAnswer(this.#event(answer))
    if (reconfigure) this.#reconfigure()
    this.#transmit(gemini.map((message) => this.#replay.keep(message)), cb)
  }

  pause (): void {
    this.#paused = true
    this.#ws.pause()
  }

  resume (): void {
    this.#paused = false
    if (this.#phase !== 'closed' && this.#phase !== 'redialing') this.#ws.resume()
    if (this.#started) return
    // The relay listens now: the client hears of its session first, as OpenAI's first event.
    this.#started = true
    this.#translator.created()
  }

  ping (): void {
    if ((this.#phase === 'open' || this.#phase === 'waiting' || this.#phase === 'opening') && this.#ws.readyState === WebSocket.OPEN) this.#ws.ping()
    // Between connections there is nobody to ping; the redial has its own timeout.
    else process.nextTick(() => this.emitPong())
  }

  // Messages go out through whichever connection is current when they are translated: nothing to cork here.
  cork (): void {}
  uncork (): void {}

  close (code: number, reason: string | Buffer): void {
    this.#stop(code, reason.toString(), false)
  }

  /** Drops the connection (a missed pong, a close handshake that never finished). */
  terminate (): void {
    this.#stop(CLOSE.abnormal, '', true)
  }

  #stop (code: number, reason: string, drop: boolean): void {
    const redialing = this.#phase === 'redialing'
    this.#phase = 'closed'
    this.#state = LEG_CLOSING
    clearTimeout(this.#startTimer)
    clearTimeout(this.#setupTimer)
    // Between connections there is none to close: the dial in flight is dropped when it opens.
    if (redialing) return this.#finish(code, reason)
    this.#ws.resume()
    if (drop) this.#ws.terminate()
    else this.#ws.close(code, reason)
  }

  // ---- toward Gemini and the client ----

  #transmit (entries: readonly Entry[], cb: ((err?: Error) => void) | undefined): void {
    if (this.#phase !== 'open') {
      for (const entry of entries) this.#pending += entry.text.length
      if (cb !== undefined) this.#waiters.push(cb)
      return
    }
    const ws = this.#ws
    entries.forEach((entry, i) => {
      entry.index = ++this.#sent
      ws.send(entry.text, i === entries.length - 1 ? cb : undefined)
    })
    if (entries.length === 0 && cb !== undefined) process.nextTick(cb)
  }

  /** An OpenAI event as the client receives it: `type` first, as OpenAI writes it (the meter rules audio deltas out by their first bytes). */
  #event (event: Json): Buffer {
    const { type, ...rest } = event
    return Buffer.from(JSON.stringify({ type, event_id: newId('event'), ...rest }))
  }

  #reconfigure (): void {
    if (this.#phase === 'waiting') {
      clearTimeout(this.#startTimer)
      return this.#sendSetup()
    }
    this.#migrate ??= 'setup'
    this.#maybeResume()
  }

  #sendSetup (): void {
    this.#sent = 0
    this.#phase = 'opening'
    this.#ws.send(JSON.stringify(this.#translator.setup(this.#handle)))
    const { setupTimeout } = this.#options
    // A Gemini that never completes its setup would hold the session and its slots for ever.
    this.#setupTimer = setTimeout(() => {
      this.#retire(this.#ws, true)
      this.#end(CLOSE.internalError, 'Gemini Live did not complete its setup', `Gemini Live did not complete its setup within ${setupTimeout} ms`)
    }, setupTimeout)
  }

  #redact (text: string): string {
    return redact(text, [...this.#secrets])
  }

  #warnOnce (cause: string, fields: object, message: string): void {
    if (this.#logged.has(cause)) return
    this.#logged.add(cause)
    this.#options.log.warn(fields, message)
  }

  // ---- Gemini -> ----

  #receive (data: Buffer): void {
    let message: unknown
    try {
      message = JSON.parse(data.toString())
    } catch {}
    if (!isObject(message)) {
      this.#warnOnce('junk', { bytes: data.length }, 'Gemini sent a frame that is not a JSON object; ignored')
      return
    }
    if (isObject(message.setupComplete)) this.#setupComplete()
    if (isObject(message.sessionResumptionUpdate)) this.#resumption(message.sessionResumptionUpdate)
    if (isObject(message.goAway)) {
      this.#options.log.info({ timeLeft: message.goAway.timeLeft }, 'Gemini will close its connection (goAway); resuming on a new one')
      this.#migrate ??= 'goAway'
    }
    this.#translator.fromGemini(message)
    const content = message.serverContent
    if ((isObject(content) && content.turnComplete === true) || callsTools(message.toolCall)) {
      this.#turns++
      this.#drops = 0
      this.#resumes = 0
      this.#fresh = false
    }
    this.#maybeResume()
  }

  #setupComplete (): void {
    if (this.#phase !== 'opening') return
    clearTimeout(this.#setupTimer)
    this.#phase = 'open'
    this.#pending = 0
    // What Gemini had not consumed, again and in order, before anything newer.
    this.#transmit(this.#replay.entries, undefined)
    for (const cb of this.#waiters.splice(0)) process.nextTick(cb)
    this.#translator.connected()
    if (this.reconnects > 0) this.#options.log.debug({ resent: this.#replay.entries.length }, 'client messages resent on the new Gemini connection')
  }

  #resumption (update: Json): void {
    if (update.resumable !== true || typeof update.newHandle !== 'string' || update.newHandle === '') return
    this.#handle = update.newHandle
    this.#fresh = true
    const consumed = update.lastConsumedClientMessageIndex
    // Without an index (no transparent resumption), what was sent before the handle is taken as covered.
    this.#replay.consumed(consumed === undefined ? this.#sent : Number(consumed))
  }

  /** A new connection when one is wanted, at a moment it loses nothing: no model turn under way, a fresh handle. */
  #maybeResume (): void {
    if (this.#migrate === undefined || this.#phase !== 'open' || this.#translator.turnOpen) return
    // A handle covering every finished turn (or no turn yet, when a new session loses nothing).
    if (!this.#fresh) return
    const reason = this.#migrate
    this.#migrate = undefined
    this.#options.log.info({ reason }, 'resuming the Gemini session on a new connection')
    this.#retire(this.#ws)
    this.#resume()
  }

  /** A new connection, after the wait RESUME_DELAYS gives; past its last, the session ends. */
  #resume (): void {
    this.#phase = 'redialing'
    const delay = RESUME_DELAYS[this.#resumes++]
    if (delay === undefined) {
      return this.#end(CLOSE.internalError, 'Gemini Live kept ending its connections', `Gemini Live ended ${RESUME_DELAYS.length} connections in a row without finishing a turn; the session is closed`)
    }
    if (delay === 0) return this.#redial(0)
    setTimeout(() => { if (this.#phase === 'redialing') this.#redial(0) }, delay)
  }

  #redial (attempt: number): void {
    this.#options.redial().then(({ upstream: ws, apiKey }) => {
      this.#secrets.add(apiKey)
      if (this.#phase !== 'redialing') return ws.terminate() // the client left meanwhile
      this.#ws = ws
      this.#attach(ws)
      this.reconnects++
      this.#sendSetup()
    }, (err: Error) => {
      if (this.#phase !== 'redialing') return
      const delay = REDIAL_DELAYS[attempt + 1]
      this.#options.log.warn({ reason: this.#redact(err.message), code: (err as { code?: string }).code, attempt: attempt + 1 }, 'could not open a new Gemini connection')
      if (delay !== undefined) {
        setTimeout(() => this.#redial(attempt + 1), delay)
        return
      }
      this.#end(CLOSE.internalError, 'Gemini Live could not be reached to resume the session', `The session could not be resumed: ${this.#redact(err.message)}`)
    })
  }

  #closed (code: number, reason: string): void {
    if (this.#phase === 'closed') return this.#finish(code, reason)
    const resumable = this.#phase === 'open' && !FINAL_CODES.has(code) && (this.#handle !== undefined || this.#turns === 0)
    if (resumable && ++this.#drops <= MAX_DROPS) {
      this.#options.log.info({ code, reason: this.#redact(reason) }, 'Gemini connection closed; resuming the session on a new one')
      this.#translator.connectionLost()
      this.#migrate = undefined
      this.#resume()
      return
    }
    this.#end(code, reason, `Gemini closed the session (${code}${reason === '' ? '' : `: ${reason}`})`)
  }

  /** The session ends from Gemini's side: the client hears why, then the close. */
  #end (code: number, reason: string, message: string): void {
    clearTimeout(this.#setupTimer)
    this.#options.log.warn({ code, reason: this.#redact(reason) }, 'Gemini session ended')
    this.#translator.connectionLost()
    this.emitMessage(this.#event(errorEvent('provider_closed', this.#redact(message)) as Json), false)
    this.#phase = 'closed'
    this.#state = LEG_CLOSING
    this.#finish(code, this.#redact(reason))
  }

  #finish (code: number, reason: string): void {
    this.#state = LEG_CLOSED
    clearTimeout(this.#startTimer)
    this.#translator.close()
    for (const cb of this.#waiters.splice(0)) process.nextTick(cb)
    this.emitClose(code, Buffer.from(reason))
  }
}
