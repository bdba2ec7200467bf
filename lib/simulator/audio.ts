// PCM16 24 kHz mono helpers for the simulator: durations, loudness, a tone.
export const SAMPLE_RATE = 24_000
export const BYTES_PER_SECOND = SAMPLE_RATE * 2
/** Loudness (RMS) at or above which a chunk is speech for the simulators' turn detection: about -36 dBFS. */
export const SPEECH_RMS = 500

export function seconds (bytes: number): number {
  return bytes / BYTES_PER_SECOND
}

/** Root mean square of little-endian 16-bit samples, 0..32768. */
export function rms (pcm: Buffer): number {
  const samples = Math.floor(pcm.length / 2)
  if (samples === 0) return 0
  let sum = 0
  for (let i = 0; i < samples; i++) {
    const s = pcm.readInt16LE(i * 2)
    sum += s * s
  }
  return Math.sqrt(sum / samples)
}

/** A soft 440 Hz tone with short fades, so the answer is audible when there is nothing to echo. */
export function tone (durationSeconds: number, frequency = 440): Buffer {
  const samples = Math.round(durationSeconds * SAMPLE_RATE)
  const out = Buffer.alloc(samples * 2)
  const fade = Math.min(samples / 2, SAMPLE_RATE * 0.02)
  for (let i = 0; i < samples; i++) {
    const envelope = Math.min(1, i / fade, (samples - i) / fade)
    out.writeInt16LE(Math.round(Math.sin(2 * Math.PI * frequency * i / SAMPLE_RATE) * 6000 * envelope), i * 2)
  }
  return out
}
