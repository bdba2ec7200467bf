// Seconds of input audio a client sent, for sessions whose provider reports no usage (realtime translations,
// some transcription sessions): counted from the base64 size of each `input_audio_buffer.append` (realtime)
// or `session.input_audio_buffer.append` (translations), at the input format the client's session.update set.
import { isObject, parseObject, type Json } from '../json.js'

// Base64 audio cannot contain '.' or '"': these needles never match inside an audio payload, and a JSON string
// holding them would escape the quote.
const APPEND = Buffer.from('input_audio_buffer.append"')
const UPDATE = Buffer.from('"session.update"')
const AUDIO_FIELD = Buffer.from('"audio":"')
const QUOTE = 0x22
const PAD = 0x3d // '='

/** Bytes per second of PCM16 at `rate`, or of G.711 (one byte a sample at 8 kHz). */
export const PCM16_24K = 48_000
const G711 = 8_000

/** The decoded size of a base64 string of `length` characters ending at `end` (exclusive) in `data`. */
function base64Bytes (data: Buffer, start: number, end: number): number {
  let pad = 0
  if (end > start && data[end - 1] === PAD) pad = data[end - 2] === PAD ? 2 : 1
  return Math.floor((end - start) * 3 / 4) - pad
}

/** Bytes of audio an append event carries: found by a byte search, parsed only when the JSON is spaced out. */
function appendedBytes (data: Buffer): number {
  const field = data.indexOf(AUDIO_FIELD)
  if (field !== -1) {
    const start = field + AUDIO_FIELD.length
    const end = data.indexOf(QUOTE, start)
    return end === -1 ? 0 : base64Bytes(data, start, end)
  }
  const event = parseObject(data)
  return typeof event?.audio === 'string' && event.type !== undefined && String(event.type).endsWith('input_audio_buffer.append')
    ? Buffer.byteLength(event.audio, 'base64')
    : 0
}

/** Bytes per second of the input format a session.update names (GA `audio.input.format`, beta `input_audio_format`). */
function formatRate (session: Json): number | undefined {
  const audio = isObject(session.audio) ? session.audio : undefined
  const input = isObject(audio?.input) ? audio.input : undefined
  const format = input?.format
  if (isObject(format)) {
    if (format.type === 'audio/pcmu' || format.type === 'audio/pcma') return G711
    if (format.type === 'audio/pcm') return typeof format.rate === 'number' && format.rate > 0 ? 2 * format.rate : PCM16_24K
    return undefined
  }
  const beta = session.input_audio_format
  if (beta === 'g711_ulaw' || beta === 'g711_alaw') return G711
  if (beta === 'pcm16') return PCM16_24K
  return undefined
}

export class InputAudio {
  /** Seconds of the audio sent at earlier formats; bytes at the current one (summed as integers: exact). */
  #before = 0
  #bytes = 0
  #rate: number

  /** `rate`: bytes per second until a session.update names a format (PCM16 24 kHz, OpenAI's default). */
  constructor (rate = PCM16_24K) {
    this.#rate = rate
  }

  get seconds (): number {
    return this.#before + this.#bytes / this.#rate
  }

  /** Each client text frame, as sent on to the provider. */
  observe (data: Buffer): void {
    if (data.indexOf(APPEND) !== -1) {
      this.#bytes += appendedBytes(data)
    } else if (data.indexOf(UPDATE) !== -1) {
      const event = parseObject(data)
      const rate = event?.type === 'session.update' && isObject(event.session) ? formatRate(event.session) : undefined
      if (rate !== undefined && rate !== this.#rate) {
        this.#before = this.seconds
        this.#bytes = 0
        this.#rate = rate
      }
    }
  }
}
