// What the translator maps and what it cannot: OpenAI client events with no Gemini equivalent, and the Gemini
// messages and fields that are the leg's own or carry nothing an OpenAI client has a place for.

/** Client events with no Gemini equivalent, and why. */
export const UNSUPPORTED: Readonly<Record<string, string>> = {
  'response.cancel': 'Gemini Live cannot cancel a response; speaking over it interrupts it',
  'input_audio_buffer.clear': 'Gemini Live consumes audio as it arrives; there is no buffer to clear',
  'conversation.item.truncate': 'Gemini Live keeps no truncatable audio items',
  'conversation.item.delete': 'Gemini Live cannot delete conversation items',
  'conversation.item.retrieve': 'Gemini Live cannot return conversation items',
  'output_audio_buffer.clear': 'output_audio_buffer.clear is for WebRTC sessions'
}

/** Server messages the leg handles itself (connections and resumption). */
export const CONNECTION_MESSAGES: ReadonlySet<string> = new Set(['setupComplete', 'goAway', 'sessionResumptionUpdate'])
/** Server fields that carry nothing an OpenAI client has a place for. */
export const METADATA = new Set(['groundingMetadata', 'turnCompleteReason', 'waitingForInput', 'interactionStatus', 'interimInputTranscription', 'urlContextMetadata'])

/** The serverContent fields the translator maps. */
export const CONTENT_KEYS = new Set(['interrupted', 'inputTranscription', 'outputTranscription', 'modelTurn', 'generationComplete', 'turnComplete'])
