// Gemini's usageMetadata in OpenAI's usage shape, so the meter prices a Gemini turn like any response. Gemini
// reports per turn (the prompt grows each turn as history is re-read), so each turn is one response.done;
// Vertex spells the output `candidatesTokenCount` / `candidatesTokensDetails`; thinking tokens are billed as
// output, tool-use prompt tokens as input.
import { isObject, type Json } from '../../json.js'
import { bounded, MAX_TOKENS } from '../../usage/numbers.js'

const count = (value: unknown): number => bounded(value, MAX_TOKENS)

/** Tokens by modality (`TEXT`, `AUDIO`, `IMAGE`, `VIDEO`) from a `*TokensDetails` list. */
function byModality (details: unknown): Record<string, number> {
  const out: Record<string, number> = {}
  if (!Array.isArray(details)) return out
  for (const entry of details) {
    if (!isObject(entry) || typeof entry.modality !== 'string') continue
    out[entry.modality] = (out[entry.modality] ?? 0) + count(entry.tokenCount)
  }
  return out
}

/** OpenAI's `response.usage` for one Gemini turn. */
export function openaiUsage (metadata: Json): Json {
  const prompt = count(metadata.promptTokenCount) + count(metadata.toolUsePromptTokenCount)
  const thoughts = count(metadata.thoughtsTokenCount)
  const response = count(metadata.responseTokenCount ?? metadata.candidatesTokenCount) + thoughts
  const cached = count(metadata.cachedContentTokenCount)
  const input = byModality(metadata.promptTokensDetails)
  const output = byModality(metadata.responseTokensDetails ?? metadata.candidatesTokensDetails)
  const inputAudio = input.AUDIO ?? 0
  const outputAudio = output.AUDIO ?? 0
  return {
    total_tokens: prompt + response,
    input_tokens: prompt,
    output_tokens: response,
    // What is not audio (or image) is text: tool-use prompts and thoughts carry no modality detail.
    input_token_details: { text_tokens: prompt - inputAudio - (input.IMAGE ?? 0), audio_tokens: inputAudio, image_tokens: input.IMAGE ?? 0, cached_tokens: cached },
    output_token_details: { text_tokens: response - outputAudio, audio_tokens: outputAudio }
  }
}
