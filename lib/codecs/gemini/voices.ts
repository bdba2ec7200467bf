// OpenAI's voice names -> Gemini's prebuilt voices, so a client written for OpenAI keeps a similar voice. The
// pairs follow the voices' character (pitch, warmth); a Gemini voice name passes through as it is.

export const OPENAI_TO_GEMINI_VOICES: Readonly<Record<string, string>> = Object.freeze({
  alloy: 'Zephyr',
  ash: 'Charon',
  ballad: 'Fenrir',
  cedar: 'Charon',
  coral: 'Aoede',
  echo: 'Puck',
  marin: 'Aoede',
  sage: 'Kore',
  shimmer: 'Leda',
  verse: 'Orus'
})

/** Gemini's voice for an OpenAI or Gemini voice name, whatever its case (`Alloy`, `kore`): Gemini's are capitalised. */
export function geminiVoice (voice: string): string {
  const lower = voice.toLowerCase()
  if (Object.hasOwn(OPENAI_TO_GEMINI_VOICES, lower)) return OPENAI_TO_GEMINI_VOICES[lower] as string
  return lower.charAt(0).toUpperCase() + lower.slice(1)
}
