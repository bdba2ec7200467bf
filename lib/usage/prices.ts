// List prices the providers publish, as a starting point for `pricing`. Never applied on its own: an app
// spreads it (`pricing: { ...defaultPricing, 'gpt-realtime': myContractRate }`). Prices change; every entry
// says where it was read and when, so a stale one can be checked against its page.
import type { ModelPricing, Pricing } from './pricing.js'

/** Where a list price was read, and the day it was read (YYYY-MM-DD). */
export interface PriceSource { url: string, checked: string }

const OPENAI = (model: string): string => `https://developers.openai.com/api/docs/models/${model}`
const GEMINI = 'https://ai.google.dev/gemini-api/docs/pricing'
const XAI = 'https://docs.x.ai/developers/models/voice-agent-api'
const CHECKED = '2026-12-02'

// OpenAI's flagship and mini realtime rates (USD per 1M tokens). Mini caches audio at its own rate.
const REALTIME = { input: { text: 4, audio: 32, image: 5, cached: 0.4 }, output: { text: 16, audio: 64 } }
const REALTIME_2 = { input: REALTIME.input, output: { text: 24, audio: 64 } }
const REALTIME_MINI = { input: { text: 0.6, audio: 10, image: 0.8, cached: 0.06, cachedAudio: 0.3 }, output: { text: 2.4, audio: 20 } }
// Billed by audio duration: $0.017 a minute of transcribed audio.
const TRANSCRIBE = { transcription: { perSecond: 0.017 / 60 } }
// Gemini Live prices audio, image and video input alike.
const GEMINI_31 = { input: { text: 0.75, audio: 3, image: 3 }, output: { text: 4.5, audio: 12 } }
const GEMINI_25 = { input: { text: 0.5, audio: 3, image: 3 }, output: { text: 2, audio: 12 } }
// GPT-Live bills active seconds at $0.05/min; its standby rate ($0.02/min, WebRTC while inference is paused)
// needs the provider to report standby seconds apart, which it does not yet.
const LIVE = { perMinute: 0.05 }
// xAI's Voice Agent API is a flat rate per minute of connection, whatever the model.
const GROK = { perMinute: 0.05 }

const LIST: ReadonlyArray<[model: string, price: ModelPricing, url: string]> = [
  ['gpt-realtime', REALTIME, OPENAI('gpt-realtime')],
  ['gpt-realtime-1.5', REALTIME, OPENAI('gpt-realtime-1.5')],
  ['gpt-realtime-2', REALTIME_2, OPENAI('gpt-realtime-2')],
  ['gpt-realtime-2.1', REALTIME_2, OPENAI('gpt-realtime-2.1')],
  ['gpt-realtime-mini', REALTIME_MINI, OPENAI('gpt-realtime-mini')],
  ['gpt-realtime-2.1-mini', REALTIME_MINI, OPENAI('gpt-realtime-2.1-mini')],
  ['gpt-realtime-translate', { perMinute: 0.034 }, OPENAI('gpt-realtime-translate')],
  ['gpt-realtime-whisper', TRANSCRIBE, OPENAI('gpt-realtime-whisper')],
  ['gpt-live-transcribe', TRANSCRIBE, OPENAI('gpt-live-transcribe')],
  ['gpt-live-1', LIVE, OPENAI('gpt-live-1')],
  ['gpt-live-1.1', LIVE, OPENAI('gpt-live-1.1')],
  ['gemini-3.1-flash-live-preview', GEMINI_31, GEMINI],
  ['gemini-2.5-flash-native-audio-preview-12-2025', GEMINI_25, GEMINI],
  ['grok-voice-think-fast-2.0', GROK, XAI],
  ['grok-voice-latest', GROK, XAI],
  ['grok-voice-think-fast-1.0', GROK, XAI]
]

function frozen<T extends object> (value: T): Readonly<T> {
  for (const inner of Object.values(value)) if (typeof inner === 'object') frozen(inner)
  return Object.freeze(value)
}

/**
 * Published list prices (USD per 1M tokens, per minute, per second), keyed by model. Frozen: spread it into
 * `pricing` and override what your contract says. Gemini 3.8 Live is not listed: its audio rates were not
 * on the pages this table was read from.
 */
export const defaultPricing: Readonly<Pricing> = frozen(Object.fromEntries(LIST.map(([model, price]) => [model, structuredClone(price)])))

/** Where and when each `defaultPricing` entry was read. */
export const defaultPricingSources: Readonly<Record<string, Readonly<PriceSource>>> =
  frozen(Object.fromEntries(LIST.map(([model, , url]) => [model, { url, checked: CHECKED }])))
