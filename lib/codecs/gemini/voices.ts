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

/** Gemini's voice for an OpenAI or Gemini voice name (OpenAI's are lower-case, Gemini's capitalised). */
export function geminiVoice (voice: string): string {
  return Object.hasOwn(OPENAI_TO_GEMINI_VOICES, voice) ? OPENAI_TO_GEMINI_VOICES[voice] as string : voice
}
