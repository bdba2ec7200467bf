// Z.ai (api.z.ai) and Zhipu BigModel (open.bigmodel.cn) GLM realtime. The path is fixed from the host so the
// Coding Plan base (/api/coding/paas/v4) still reaches /api/paas/v4/realtime.
import { bearer, withQuery, wsURL } from './url.js'
import { modelRequired, type ProviderModule } from './types.js'

export const zai: ProviderModule = {
  defaultBaseURL: 'https://api.z.ai/api/paas/v4',
  modelOptional: modelRequired,
  target (settings, req) {
    const url = wsURL(settings.baseURL, '/api/paas/v4/realtime', false)
    return { url: withQuery(url, { model: req.model }), headers: bearer(settings.apiKey), protocols: [] }
  }
}
