// The part of the Speex resampler's WebAssembly build (@echogarden/speex-resampler-wasm, which ships no types)
// that resample.ts calls: SpeexDSP's C API over the module's heap.
declare module '@echogarden/speex-resampler-wasm/simd' {
  export interface SpeexModule {
    HEAPU8: Uint8Array
    HEAP32: Int32Array
    _malloc (bytes: number): number
    _free (pointer: number): void
    _speex_resampler_init (channels: number, inRate: number, outRate: number, quality: number, err: number): number
    _speex_resampler_skip_zeros (state: number): number
    _speex_resampler_process_int (state: number, channel: number, input: number, inLength: number, output: number, outLength: number): number
    _speex_resampler_destroy (state: number): void
    _speex_resampler_get_input_latency (state: number): number
    _speex_resampler_reset_mem (state: number): number
  }
  const factory: () => Promise<SpeexModule>
  export default factory
}
