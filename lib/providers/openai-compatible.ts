// Any vendor that speaks OpenAI's realtime schema at <base>/realtime (StepFun, Inworld, self-hosted).
import { openai } from './openai.js'
import type { ProviderModule } from './types.js'

export const openaiCompatible: ProviderModule = {
  modelOptional: openai.modelOptional,
  target: openai.target
}
