// The session as an OpenAI client configures it (GA `session.update`), and Gemini's `setup` built from it. Gemini
// takes its configuration once per connection, save the instructions and tools, which a `contextUpdate` replaces
// on the open connection; every other change is a new `setup` on a resumed connection. What has no Gemini
// equivalent is named back to the client (an error event each), never dropped silently.
import { isObject, merge, type Json } from '../../json.js'
import { geminiVoice } from './voices.js'

/** A client's session.update applied: the merged session, or why it cannot be. */
export type Applied = { session: Json, notes: string[] } | { refused: string, param: string }

const PCM_24K = (format: unknown): boolean => isObject(format) && format.type === 'audio/pcm' && (format.rate === undefined || format.rate === 24000)

/**
 * Merges `update` (the `session` of a session.update) into a copy of `current`. Refused as a whole when it asks
 * for what Gemini cannot do at all (another model, non-PCM audio); `notes` name the settings that have no
 * Gemini equivalent and are left out of the setup.
 */
export function applyUpdate (current: Json, update: Json, models: ReadonlyArray<string | undefined>): Applied {
  if (update.type !== undefined && update.type !== 'realtime') {
    return { refused: `Gemini Live sessions are "realtime" sessions; session.type "${String(update.type)}" is not available`, param: 'session.type' }
  }
  if (update.model !== undefined && !models.includes(update.model as string)) {
    return { refused: 'The model cannot change during a Gemini Live session', param: 'session.model' }
  }
  const session = merge(structuredClone(current), update)
  const audio = session.audio
  if (!isObject(audio) || !isObject(audio.input) || !isObject(audio.output)) {
    return { refused: 'session.audio, audio.input and audio.output must be objects', param: 'session.audio' }
  }
  const { input, output } = audio
  if (!PCM_24K(input.format)) return { refused: 'Gemini Live takes 24 kHz PCM16 input here (audio.input.format { type: "audio/pcm", rate: 24000 })', param: 'session.audio.input.format' }
  if (!PCM_24K(output.format)) return { refused: 'Gemini Live answers in 24 kHz PCM16 (audio.output.format { type: "audio/pcm", rate: 24000 })', param: 'session.audio.output.format' }
  const notes: string[] = []
  if (input.noise_reduction !== null && input.noise_reduction !== undefined) notes.push('audio.input.noise_reduction has no Gemini Live equivalent and is ignored')
  if (output.speed !== undefined && output.speed !== 1) notes.push('audio.output.speed has no Gemini Live equivalent; the voice speaks at its own speed')
  if (session.tool_choice !== undefined && session.tool_choice !== 'auto') notes.push('tool_choice other than "auto" has no Gemini Live equivalent; Gemini decides when to call tools')
  if (isObject(session.prompt)) notes.push('stored prompts (session.prompt) are OpenAI\'s; set instructions instead')
  const tools = Array.isArray(session.tools) ? session.tools : []
  if (tools.some((tool) => functionOf(tool) === undefined)) notes.push('only function tools reach Gemini Live; the others are left out')
  const detection = input.turn_detection
  if (isObject(detection) && detection.create_response === false) {
    notes.push('audio.input.turn_detection.create_response false has no Gemini Live equivalent: Gemini answers every turn it detects')
  }
  const transcription = input.transcription
  if (isObject(transcription) && typeof transcription.prompt === 'string' && transcription.prompt !== '') {
    notes.push('audio.input.transcription.prompt has no Gemini Live equivalent and is ignored')
  }
  return { session, notes }
}

/**
 * A function tool in either shape a client sends: OpenAI Realtime's (`{ type, name, description, parameters }`)
 * or Chat Completions' (`{ type, function: { name, description, parameters } }`, what Pipecat sends).
 */
function functionOf (tool: unknown): Json | undefined {
  if (!isObject(tool) || tool.type !== 'function') return undefined
  const fn = isObject(tool.function) ? tool.function : tool
  return typeof fn.name === 'string' ? fn : undefined
}

function vad (detection: unknown): Json {
  if (!isObject(detection)) return { automaticActivityDetection: { disabled: true } }
  const automatic: Json = { disabled: false }
  if (detection.type === 'semantic_vad') {
    // The closest Gemini has: its own detector, with how readily it ends a turn.
    if (detection.eagerness === 'high') automatic.endOfSpeechSensitivity = 'END_SENSITIVITY_HIGH'
    if (detection.eagerness === 'low') automatic.endOfSpeechSensitivity = 'END_SENSITIVITY_LOW'
  } else {
    if (typeof detection.prefix_padding_ms === 'number') automatic.prefixPaddingMs = detection.prefix_padding_ms
    if (typeof detection.silence_duration_ms === 'number') automatic.silenceDurationMs = detection.silence_duration_ms
  }
  const config: Json = { automaticActivityDetection: automatic }
  if (detection.interrupt_response === false) config.activityHandling = 'NO_INTERRUPTION'
  return config
}

/** Whether client audio turns are detected by Gemini (else the client commits them: activityStart/End). */
export function serverDetectsTurns (session: Json): boolean {
  const audio = session.audio as Json
  return isObject((audio.input as Json).turn_detection)
}

/** Whether the session answers in audio (else text). */
export function answersInAudio (session: Json): boolean {
  return !Array.isArray(session.output_modalities) || session.output_modalities.includes('audio')
}

/**
 * Gemini's `setup` for `session`, resuming `handle` when there is one. Resumption is always asked for (with
 * `transparent`, so Gemini says which client messages a handle covers); transcriptions of the model's audio
 * always, since OpenAI clients show them; a sliding context window, so the session is not capped at 15 minutes;
 * and whatever `session.gemini` holds.
 */
export function buildSetup (session: Json, model: string, handle: string | undefined): Json {
  const audio = session.audio as Json
  const input = audio.input as Json
  const output = audio.output as Json
  const generationConfig: Json = { responseModalities: answersInAudio(session) ? ['AUDIO'] : ['TEXT'] }
  if (answersInAudio(session) && typeof output.voice === 'string') {
    generationConfig.speechConfig = { voiceConfig: { prebuiltVoiceConfig: { voiceName: geminiVoice(output.voice) } } }
  }
  if (typeof session.max_output_tokens === 'number') generationConfig.maxOutputTokens = session.max_output_tokens
  const setup: Json = { model, generationConfig }
  if (typeof session.instructions === 'string' && session.instructions !== '') setup.systemInstruction = { parts: [{ text: session.instructions }] }
  const functions = (Array.isArray(session.tools) ? session.tools : [])
    .map(functionOf)
    .filter((fn): fn is Json => fn !== undefined)
    .map(({ name, description, parameters }) => {
      const declaration: Json = { name }
      if (typeof description === 'string') declaration.description = description
      if (isObject(parameters)) declaration.parameters = parameters
      return declaration
    })
  if (functions.length > 0) setup.tools = [{ functionDeclarations: functions }]
  setup.realtimeInputConfig = vad(input.turn_detection)
  // A transcription language is a hint Gemini takes (BCP-47 codes); a prompt is named back in applyUpdate.
  if (isObject(input.transcription)) {
    const { language } = input.transcription
    setup.inputAudioTranscription = typeof language === 'string' && language !== '' ? { languageCodes: [language] } : {}
  }
  if (answersInAudio(session)) setup.outputAudioTranscription = {}
  setup.sessionResumption = handle === undefined ? { transparent: true } : { handle, transparent: true }
  // Without it Gemini ends an audio session at 15 minutes whatever the connections: older turns are summarised
  // out of the context window instead.
  setup.contextWindowCompression = { slidingWindow: {} }
  // Gemini's own settings that OpenAI has no word for (a live-translate model's translationConfig, thinking,
  // proactivity, affective dialog) come as `session.gemini`, merged in; the model and resumption stay the codec's.
  if (isObject(session.gemini)) {
    const { model: _model, sessionResumption: _resumption, ...own } = session.gemini
    merge(setup, structuredClone(own))
  }
  return setup
}

/** Whether two setups differ in more than the resumption handle. */
export function sameSetup (a: Json, b: Json): boolean {
  return JSON.stringify({ ...a, sessionResumption: undefined }) === JSON.stringify({ ...b, sessionResumption: undefined })
}

/**
 * The `contextUpdate` that takes the connection from setup `from` to `to`, when they differ only in what one can
 * replace (the instructions, the tools: js-genai `LiveClientContextUpdate`); undefined when `to` needs a new
 * connection. Instructions removed are such a change: a contextUpdate can only set them.
 */
export function contextUpdate (from: Json, to: Json): Json | undefined {
  const fixed = (setup: Json): string => JSON.stringify({ ...setup, systemInstruction: undefined, tools: undefined, sessionResumption: undefined })
  if (fixed(from) !== fixed(to) || (to.systemInstruction === undefined && from.systemInstruction !== undefined)) return undefined
  const update: Json = {}
  if (JSON.stringify(from.systemInstruction) !== JSON.stringify(to.systemInstruction)) update.systemInstruction = to.systemInstruction
  // Set, even to an empty list, the tools replace the connection's; that is how they are cleared.
  if (JSON.stringify(from.tools) !== JSON.stringify(to.tools)) update.tools = { tools: to.tools ?? [] }
  return update
}
