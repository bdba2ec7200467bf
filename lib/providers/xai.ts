// xAI voice agent API: OpenAI GA-style events at wss://api.x.ai/v1/realtime?model=M, billed per minute.
import { bearer, withQuery, wsURL } from './url.js'
import { modelRequired, type ProviderModule } from './types.js'

export const xai: ProviderModule = {
  defaultBaseURL: 'https://api.x.ai/v1',
  modelOptional: modelRequired,
  target (settings, req) {
    const url = wsURL(settings.baseURL, '/realtime', true)
    return { url: withQuery(url, { model: req.model }), headers: bearer(settings.apiKey), protocols: [] }
  }
}
