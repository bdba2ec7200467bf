// The client's audio as a 16 kHz provider takes it (Gemini Live, Nova Sonic): OpenAI's 24 kHz PCM16, base64 in
// each input_audio_buffer.append, resampled with state kept between frames (resample.ts).
import { Resampler } from './resample.js'

/** OpenAI's PCM16 rate, both ways. */
export const CLIENT_RATE = 24_000
export const PROVIDER_INPUT_RATE = 16_000

/**
 * Whether `pcm` is all that `base64` holds: padded base64 decodes to exactly 3/4 of its length less the padding,
 * and Buffer.from skips what is not base64 (it would decode anything into garbage). No second pass over the audio.
 */
function wholeBase64 (base64: string, pcm: Buffer): boolean {
  const padding = base64.endsWith('==') ? 2 : base64.endsWith('=') ? 1 : 0
  return base64.length % 4 === 0 && pcm.length === base64.length / 4 * 3 - padding
}

export class InputAudio {
  #resampler: Resampler | undefined

  /** A client's base64 audio at 16 kHz, or undefined when it is not whole base64. */
  input (base64: unknown): Buffer | undefined {
    const pcm = typeof base64 === 'string' ? Buffer.from(base64, 'base64') : undefined
    if (pcm === undefined || !wholeBase64(base64 as string, pcm)) return undefined
    return (this.#resampler ??= new Resampler(CLIENT_RATE, PROVIDER_INPUT_RATE)).process(pcm)
  }

  /** The samples the resampler still holds: the audio so far ends here (a commit, a new setup). */
  flush (): Buffer | undefined {
    return this.#resampler?.flush()
  }

  /** Frees the resampler (WebAssembly memory). */
  close (): void {
    this.#resampler?.destroy()
  }
}
