// Any vendor that speaks OpenAI's realtime schema at <base>/realtime (StepFun, Inworld, self-hosted). Its
// signaling endpoints are assumed at OpenAI's paths; a vendor without them answers 404, which is relayed.
import { openai } from './openai.js'
import type { ProviderModule } from './types.js'

export const openaiCompatible: ProviderModule = {
  baseURLHint: 'set it to the base that ends before /realtime',
  modelOptional: openai.modelOptional,
  intents: openai.intents,
  target: openai.target,
  endpoint: openai.endpoint,
  live: openai.live,
  translation: openai.translation
}
