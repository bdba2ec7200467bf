// Optional prices (USD) per model. None applies on its own: the app fills in what its contract says, or
// spreads the list prices of `defaultPricing` (prices.ts) and overrides them.
import { InvalidOptionError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import { roundUSD, type TokenUsage } from './records.js'

/** USD per 1M tokens, per minute of session, per second of transcribed audio. Missing rates cost 0. */
export interface ModelPricing {
  /** `cached` is the rate of cached input tokens; `cachedAudio`, when set, that of the cached audio ones. */
  input?: { text?: number, audio?: number, image?: number, cached?: number, cachedAudio?: number }
  output?: { text?: number, audio?: number }
  /** Per minute of session time, for providers billed by duration (xAI). */
  perMinute?: number
  /** Input-audio transcription billed by tokens (USD per 1M) or by seconds. */
  transcription?: { input?: number, output?: number, perSecond?: number }
}

/** Keyed by `provider/model` or by model; the upstream model name is tried before the one the client asked for. */
export type Pricing = Record<string, ModelPricing>

const PER_TOKEN = 1e-6

/** The rates a pricing entry may name, by group (null: a number, not a group). */
const RATES = {
  input: ['text', 'audio', 'image', 'cached', 'cachedAudio'],
  output: ['text', 'audio'],
  perMinute: null,
  transcription: ['input', 'output', 'perSecond']
} as const satisfies Record<keyof ModelPricing, readonly string[] | null>

const ownEntry = <T>(map: Record<string, T>, key: string): T | undefined => Object.hasOwn(map, key) ? map[key] : undefined

export function pricingSettings (pricing: unknown): Pricing | undefined {
  if (pricing === undefined) return undefined
  const bad = (path: string): never => {
    throw new InvalidOptionError(`pricing${path} must be a non-negative number of USD (per 1M tokens, per minute or per second)`)
  }
  if (pricing === null || typeof pricing !== 'object') bad('')
  const rate = (value: unknown, path: string): void => {
    if (typeof value !== 'number' || !(value >= 0) || value === Infinity) bad(path)
  }
  function group (value: unknown, path: string): asserts value is object {
    if (value === null || typeof value !== 'object') bad(path)
  }
  // A misspelt rate (`input: { txt: 4 }`) would bill that modality at 0: refused by name, like any option.
  for (const [model, price] of Object.entries(pricing as object)) {
    const at = `["${model}"]`
    group(price, at)
    refuseUnknownKeys(price, Object.keys(RATES), `pricing${at}.`)
    for (const [name, value] of Object.entries(price)) {
      const names = RATES[name as keyof typeof RATES]
      if (names === null) {
        rate(value, `${at}.${name}`)
        continue
      }
      group(value, `${at}.${name}`)
      refuseUnknownKeys(value, names, `pricing${at}.${name}.`)
      for (const [k, v] of Object.entries(value)) rate(v, `${at}.${name}.${k}`)
    }
  }
  return pricing as Pricing
}

export function priceFor (pricing: Pricing | undefined, provider: string, models: ReadonlyArray<string | undefined>): ModelPricing | undefined {
  if (pricing === undefined) return undefined
  for (const model of models) {
    if (model === undefined) continue
    // Own entries only: a model named "constructor" or "__proto__" must not find Object.prototype's.
    const price = ownEntry(pricing, `${provider}/${model}`) ?? ownEntry(pricing, model)
    if (price !== undefined) return price
  }
  return undefined
}

/**
 * Cached input tokens are part of input tokens: they are charged at the cached rate (the audio ones at
 * `input.cachedAudio` when set) instead of the text or audio rate. `cachedAudio` says how many of them were
 * audio; unknown, they are taken from text first.
 */
export function tokenCost (price: ModelPricing, usage: TokenUsage, cachedAudio?: number): number {
  const { input = {}, output = {} } = price
  // Without a breakdown, totals are charged at the text rate.
  const inText = usage.input.text + usage.input.audio + usage.input.image === 0 ? usage.inputTokens : usage.input.text
  const outText = usage.output.text + usage.output.audio === 0 ? usage.outputTokens : usage.output.text
  const cached = Math.min(usage.input.cached, inText + usage.input.audio)
  const audioPart = Math.min(cachedAudio ?? Math.max(0, cached - inText), usage.input.audio, cached)
  const cachedText = cached - audioPart
  return roundUSD(PER_TOKEN * (
    (inText - cachedText) * (input.text ?? 0) +
    (usage.input.audio - audioPart) * (input.audio ?? 0) +
    usage.input.image * (input.image ?? 0) +
    cachedText * (input.cached ?? 0) +
    audioPart * (input.cachedAudio ?? input.cached ?? 0) +
    outText * (output.text ?? 0) +
    usage.output.audio * (output.audio ?? 0)))
}

export function transcriptionCost (price: ModelPricing, usage: { inputTokens?: number, outputTokens?: number, seconds?: number }): number {
  const rates = price.transcription ?? {}
  return roundUSD(PER_TOKEN * ((usage.inputTokens ?? 0) * (rates.input ?? 0) + (usage.outputTokens ?? 0) * (rates.output ?? 0)) +
    (usage.seconds ?? 0) * (rates.perSecond ?? 0))
}

export function durationCost (price: ModelPricing, seconds: number): number {
  return roundUSD(seconds / 60 * (price.perMinute ?? 0))
}
