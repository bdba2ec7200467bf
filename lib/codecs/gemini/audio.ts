// A Gemini session's audio rates: the client's 24 kHz PCM16 in, resampled to Gemini's 16 kHz; Gemini's output at
// whatever rate its mimeType says, resampled to the 24 kHz OpenAI clients play. The resamplers keep state between
// frames (resample.ts), so there is one per direction and rate, freed with the session.
import { InputAudio, CLIENT_RATE, PROVIDER_INPUT_RATE } from '../realtime/input-audio.js'
import { Resampler } from '../realtime/resample.js'

/** What Gemini's realtimeInput.audio is labelled. */
export const GEMINI_AUDIO = `audio/pcm;rate=${PROVIDER_INPUT_RATE}`
const OUTPUT_RATE = /rate=(\d+)/
/** Output rates converted to 24 kHz: anything else is no real audio (rate=1 turned 480 bytes into 8 MiB). */
export const MIN_RATE = 8000
export const MAX_RATE = 48_000

export class GeminiAudio {
  readonly #input = new InputAudio()
  readonly #output = new Map<number, Resampler>()

  /** A client's base64 audio as Gemini takes it (16 kHz), or undefined when it is not whole base64. */
  input (base64: unknown): Buffer | undefined {
    return this.#input.input(base64)
  }

  /** The samples the input resampler still holds: the audio so far ends here (a commit, a new setup). */
  flushInput (): Buffer | undefined {
    return this.#input.flush()
  }

  /** The rate Gemini's output audio is at, from its mimeType (24 kHz when it names none). */
  outputRate (mimeType: unknown): number {
    return Number(OUTPUT_RATE.exec(String(mimeType))?.[1] ?? CLIENT_RATE)
  }

  /** Gemini's base64 output at `rate` (MIN_RATE to MAX_RATE), as base64 at 24 kHz. */
  output (base64: string, rate: number): string {
    if (rate === CLIENT_RATE) return base64
    let resampler = this.#output.get(rate)
    if (resampler === undefined) this.#output.set(rate, resampler = new Resampler(rate, CLIENT_RATE))
    return resampler.process(Buffer.from(base64, 'base64')).toString('base64')
  }

  /** Frees the resamplers (WebAssembly memory). */
  close (): void {
    this.#input.close()
    for (const resampler of this.#output.values()) resampler.destroy()
  }
}
