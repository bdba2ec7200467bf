// The Gemini codec's own cost, measured alone like the meter: the Speex resampler on one 20 ms frame of
// 24 kHz PCM16 (480 samples -> 320), and the whole translation of the client's input_audio_buffer.append
// carrying it (parse, base64 decode, resample, encode, Gemini's JSON). Prints JSON.
import { loadResampler, Resampler } from '../dist/codecs/realtime/resample.js'
import { GeminiTranslator } from '../dist/codecs/gemini/translator.js'

await loadResampler()
const pcm = Buffer.alloc(960)
for (let i = 0; i < 480; i++) pcm.writeInt16LE(Math.round(Math.sin(i / 8) * 8000), i * 2)
const append = Buffer.from(JSON.stringify({ type: 'input_audio_buffer.append', audio: pcm.toString('base64') }))

function nsPer (n: number, work: () => void): number {
  for (let i = 0; i < n / 10; i++) work() // warm up
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) work()
  return Number(process.hrtime.bigint() - start) / n
}

const resampler = new Resampler(24_000, 16_000)
const resampleNs = nsPer(100_000, () => resampler.process(pcm))
resampler.destroy()
let sent = 0
const translator = new GeminiTranslator(() => {}, { setupModel: 'models/m', models: [], functionResponseIds: true }, 'm')
const appendNs = nsPer(100_000, () => { sent += translator.fromClient(append).gemini.length })
translator.close()
if (sent === 0) throw new Error('the translator sent nothing')
process.stdout.write(JSON.stringify({ resampleNs, appendNs }))
