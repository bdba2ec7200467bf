// Microphone capture in the audio thread: Float32 at the context's rate (24 kHz) to PCM16, in 20 ms frames.
declare const sampleRate: number
declare function registerProcessor (name: string, processor: unknown): void
declare class AudioWorkletProcessor { readonly port: MessagePort }

class PcmCapture extends AudioWorkletProcessor {
  #frame = new Int16Array(Math.round(sampleRate / 50))
  #filled = 0

  process (inputs: Float32Array[][]): boolean {
    const channel = inputs[0]?.[0]
    if (channel === undefined) return true
    for (let i = 0; i < channel.length; i++) {
      const s = Math.max(-1, Math.min(1, channel[i] as number))
      this.#frame[this.#filled++] = s < 0 ? s * 0x8000 : s * 0x7fff
      if (this.#filled === this.#frame.length) {
        this.port.postMessage(this.#frame.buffer.slice(0))
        this.#filled = 0
      }
    }
    return true
  }
}

registerProcessor('pcm-capture', PcmCapture)
