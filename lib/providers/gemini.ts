// Gemini Live, on the Gemini API (`gemini`) and on Vertex AI (`vertex`): BidiGenerateContent over a websocket,
// in Google's own schema, so its sessions go through the Gemini codec (codecs/gemini). Facts:
// shared/protocols/gemini-live.md.
// - gemini: wss://generativelanguage.googleapis.com/ws/google.ai.generativelanguage.v1beta.GenerativeService.
//   BidiGenerateContent; `baseURL` replaces scheme and host only; the key in `x-goog-api-key`, never in the URL
//   (a URL ends up in access logs); the model in `setup` as `models/{m}`.
// - vertex: wss://{location}-aiplatform.googleapis.com/ws/google.cloud.aiplatform.v1.LlmBidiService/
//   BidiGenerateContent (`global`: aiplatform.googleapis.com), `Authorization: Bearer` with an OAuth access
//   token (an `apiKey` function, read again at every reconnect), the model as
//   `projects/{p}/locations/{l}/publishers/google/models/{m}`.
import { InvalidOptionError } from '../errors.js'
import { bearer, wsURL } from './url.js'
import { modelRequired, type ProviderModule } from './types.js'

const GEMINI_PATH = '/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent'
const VERTEX_PATH = '/ws/google.cloud.aiplatform.v1.LlmBidiService/BidiGenerateContent'
// Project ids: 6-30 lower-case letters, digits, hyphens; locations: a region (us-central1) or global.
const PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/
const LOCATION = /^[a-z]+(?:-[a-z]+\d*)*$/

/** Google API keys (`AIza` + 35) and OAuth access tokens (`ya29.`), which have no `prefix-` form. */
const GOOGLE_KEYS = ['AIza[\\w-]{35}', 'ya29\\.[\\w.-]{10,}']

function startTimeout (value: unknown, where: string): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < 1)) {
    throw new InvalidOptionError(`${where} must be a positive integer (milliseconds to wait for the client's first session.update)`)
  }
}

const shared = {
  keyShapes: GOOGLE_KEYS,
  modelOptional: modelRequired,
  // Gemini Live has no WebRTC signaling, GPT-Live or translation endpoints.
  endpoint: () => undefined
} as const satisfies Partial<ProviderModule>

export const gemini: ProviderModule = {
  ...shared,
  codec: { schema: 'gemini', functionResponseIds: true },
  defaultBaseURL: 'https://generativelanguage.googleapis.com',
  options: { startTimeout },
  // A client's own Google key must never reach the provider beside the app's.
  privateHeaders: ['x-goog-api-key'],
  target (settings) {
    const headers: Record<string, string> = settings.apiKey === undefined ? {} : { 'x-goog-api-key': settings.apiKey }
    return { url: wsURL(settings.baseURL, GEMINI_PATH, false).href, headers, protocols: [] }
  },
  setupModel: (_settings, model) => model.startsWith('models/') ? model : `models/${model}`
}

export const vertex: ProviderModule = {
  ...shared,
  // Vertex refuses an `id` in a function response (LiteLLM's finding); the call is matched by name there.
  codec: { schema: 'gemini', functionResponseIds: false },
  defaultBaseURL: ({ location }) => location === 'global' ? 'https://aiplatform.googleapis.com' : `https://${location as string}-aiplatform.googleapis.com`,
  options: {
    project (value, where) {
      if (typeof value !== 'string' || !PROJECT.test(value)) throw new InvalidOptionError(`${where} must be your Google Cloud project id, such as "my-project-123"`)
    },
    location (value, where) {
      if (typeof value !== 'string' || !LOCATION.test(value)) throw new InvalidOptionError(`${where} must be a Vertex AI location such as "us-central1" or "global"`)
    },
    startTimeout
  },
  target (settings) {
    return { url: wsURL(settings.baseURL, VERTEX_PATH, false).href, headers: bearer(settings.apiKey), protocols: [] }
  },
  setupModel: ({ project, location }, model) => model.startsWith('projects/')
    ? model
    : `projects/${project as string}/locations/${location as string}/publishers/google/models/${model}`
}
