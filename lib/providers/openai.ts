// OpenAI GA realtime: <base>/realtime?model=M | ?intent=transcription | ?call_id=ID, Bearer key, no OpenAI-Beta
// header. WebRTC signaling beside it: <base>/realtime/client_secrets and <base>/realtime/calls, and the same two
// under <base>/realtime/translations/ for translation sessions (<base>/realtime/translations?model=M).
import { bearer, withQuery, wsURL } from './url.js'
import { ALL_ENDPOINTS, bearerEndpoints, TRANSCRIPTION, transcriptionOrSideband, type ProviderModule } from './types.js'

export const openai: ProviderModule = {
  defaultBaseURL: 'https://api.openai.com/v1',
  // Browsers cannot set headers on a websocket: the openai SDKs send the key (and account) as subprotocols.
  credentialProtocols: ['openai-insecure-api-key.'],
  privateProtocols: ['openai-organization.', 'openai-project.'],
  // sk- keys, ek_ client secrets, rk- restricted keys (providers echo masked keys such as sk-proj-****abcd)
  keyPrefixes: ['sk', 'ek', 'rk'],
  // GA rejects the beta shape: a client's OpenAI-Beta: realtime=v1 must not reach it
  privateHeaders: ['openai-beta'],
  modelOptional: transcriptionOrSideband,
  intents: () => TRANSCRIPTION,
  target (settings, req) {
    const url = wsURL(settings.baseURL, '/realtime', true)
    // A sideband attach names only the call, a transcription session only its intent (OpenAI refuses a model
    // there: the transcription model is set by session.update, which the session pins to the routed model).
    const query = req.callId !== undefined
      ? { call_id: req.callId }
      : req.intent !== undefined ? { intent: req.intent } : { model: req.model }
    return { url: withQuery(url, query), headers: bearer(settings.apiKey), protocols: [] }
  },
  endpoint: bearerEndpoints('/realtime', true, ALL_ENDPOINTS),
  translation: (settings, req) => ({ url: withQuery(wsURL(settings.baseURL, '/realtime/translations', true), { model: req.model }), headers: bearer(settings.apiKey), protocols: [] }),
  // GPT-Live: <base>/live/sessions, no query, Bearer
  live: (settings) => ({ url: wsURL(settings.baseURL, '/live/sessions', true).href, headers: bearer(settings.apiKey), protocols: [] })
}
