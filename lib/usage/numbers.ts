// Every number a provider reports (tokens, seconds) passes here before the meter, a budget or a metric sees it.
// A provider is trusted with audio, not with arithmetic: 1e308 tokens priced is Infinity, and Infinity stops every
// sum after it (and prom-client throws on it). A count is finite and non-negative, and held at a bound no real
// report reaches.

/** Tokens in one report (a response, a transcription): far past any model's context window. */
export const MAX_TOKENS = 10_000_000
/** Seconds in one report (GPT-Live's cumulative total, a transcription): about 11.5 days. */
export const MAX_SECONDS = 1_000_000

/**
 * `value` as a count in [0, max]: absent or not a number counts 0; NaN and negatives count 0 and a value past
 * `max` (Infinity included) counts `max`, and both call `invalid` (for a log line).
 */
export function bounded (value: unknown, max: number, invalid?: () => void): number {
  if (typeof value !== 'number') return 0
  if (isCount(value, max)) return value
  invalid?.()
  return value > max ? max : 0
}

/** Whether `value` is a count in [0, max] (NaN is not). */
export const isCount = (value: number, max: number): boolean => value >= 0 && value <= max
