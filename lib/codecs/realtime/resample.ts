// PCM16 rate conversion for the 16 kHz input of Gemini Live and Nova Sonic: the Speex resampler (SpeexDSP, compiled to WebAssembly by
// @echogarden/speex-resampler-wasm), a windowed-sinc filter that low-passes below the new Nyquist before it
// decimates, so 24 kHz speech does not alias into 16 kHz. One instance per session, because the filter keeps
// the last samples of each 20 ms frame to filter the next one (a stateless call per frame would click at every
// frame edge). Chosen over libsamplerate-js (a 25 MB WebAssembly instance per converter, ~60 µs a frame) and
// speex-resampler (no way to free an instance): one module for the process, ~6 µs a frame, freed per session.
import type { SpeexModule } from '@echogarden/speex-resampler-wasm/simd'

/** Speex quality 0-10: 7 keeps the passband flat to ~7 kHz and rejects everything above 8 kHz. */
const QUALITY = 7
/** Samples a frame may carry; a longer frame is converted in pieces. */
const MAX_SAMPLES = 16_384

let speex: SpeexModule | undefined
let loading: Promise<SpeexModule> | undefined

/** Loads the WebAssembly module once (a few ms); resamplers can be made once it has resolved. */
export async function loadResampler (): Promise<void> {
  if (speex !== undefined) return
  loading ??= import('@echogarden/speex-resampler-wasm/simd').then(async ({ default: factory }) => await factory())
  speex = await loading
}

/** A mono PCM16 stream converted from one rate to another, frame by frame. */
export class Resampler {
  readonly #speex: SpeexModule
  readonly #state: number
  readonly #input: number
  readonly #output: number
  /** Two int32 in the module's heap: samples in, samples out (in/out parameters of the C API). */
  readonly #lengths: number
  /** An odd byte left over from the last frame (a client may split a sample across frames). */
  #odd: Buffer | undefined
  /** Samples taken in and given out since the stream began (or was last flushed). */
  #in = 0
  #out = 0

  constructor (readonly inRate: number, readonly outRate: number) {
    // loadResampler() has resolved: the route awaits it before a codec's session is made.
    const s = this.#speex = speex as SpeexModule
    const err = s._malloc(4)
    this.#state = s._speex_resampler_init(1, inRate, outRate, QUALITY, err)
    s._free(err)
    // Without this the output starts with the filter's delay (a few ms of silence) on top of the audio.
    s._speex_resampler_skip_zeros(this.#state)
    this.#input = s._malloc(MAX_SAMPLES * 2)
    this.#output = s._malloc(Math.ceil(MAX_SAMPLES * outRate / inRate + 16) * 2)
    this.#lengths = s._malloc(8)
  }

  /** Converts the next piece of the stream (little-endian PCM16). */
  process (pcm: Buffer): Buffer {
    let data = this.#odd === undefined ? pcm : Buffer.concat([this.#odd, pcm])
    this.#odd = undefined
    if (data.length % 2 === 1) {
      this.#odd = Buffer.from(data.subarray(data.length - 1))
      data = data.subarray(0, data.length - 1)
    }
    this.#in += data.length / 2
    if (data.length <= MAX_SAMPLES * 2) return this.#convert(data)
    const pieces: Buffer[] = []
    for (let at = 0; at < data.length; at += MAX_SAMPLES * 2) pieces.push(this.#convert(data.subarray(at, at + MAX_SAMPLES * 2)))
    return Buffer.concat(pieces)
  }

  #convert (data: Buffer): Buffer {
    const s = this.#speex
    const lengths = this.#lengths >> 2
    s.HEAPU8.set(data, this.#input)
    s.HEAP32[lengths] = data.length / 2
    s.HEAP32[lengths + 1] = Math.ceil(MAX_SAMPLES * this.outRate / this.inRate + 16)
    s._speex_resampler_process_int(this.#state, 0, this.#input, this.#lengths, this.#output, this.#lengths + 4)
    const written = s.HEAP32[lengths + 1] as number
    this.#out += written
    // A copy: the heap is reused by the next frame (and may move when the module's memory grows).
    return Buffer.from(s.HEAPU8.subarray(this.#output, this.#output + written * 2))
  }

  /**
   * Ends the stream: the samples the filter still holds (its delay, 64 at 24 -> 16 kHz) come out, so the output is
   * as long as the input at the new rate, and the next piece starts a new stream.
   */
  flush (): Buffer {
    const s = this.#speex
    this.#odd = undefined
    const owed = Math.floor(this.#in * this.outRate / this.inRate) - this.#out
    let tail: Buffer = Buffer.alloc(0)
    if (owed > 0) {
      // Silence past the filter's delay pushes the held samples out; what it adds beyond them is cut.
      const samples = Math.min(MAX_SAMPLES, s._speex_resampler_get_input_latency(this.#state) + Math.ceil(owed * this.inRate / this.outRate) + 16)
      tail = this.#convert(Buffer.alloc(samples * 2)).subarray(0, owed * 2)
    }
    s._speex_resampler_reset_mem(this.#state)
    s._speex_resampler_skip_zeros(this.#state)
    this.#in = 0
    this.#out = 0
    return tail
  }

  /** Frees its memory in the module (once); the instance must not be used after. */
  destroy (): void {
    const s = this.#speex
    s._speex_resampler_destroy(this.#state)
    s._free(this.#input)
    s._free(this.#output)
    s._free(this.#lengths)
  }
}
