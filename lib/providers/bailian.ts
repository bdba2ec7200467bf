// Alibaba Model Studio (DashScope) Qwen-Omni realtime. Only scheme and host come from the base, because the
// base users already have is the chat one (/compatible-mode/v1); the realtime path is fixed.
import { bearer, withQuery, wsURL } from './url.js'
import { modelRequired, type ProviderModule } from './types.js'

export const bailian: ProviderModule = {
  defaultBaseURL: 'https://dashscope.aliyuncs.com',
  modelOptional: modelRequired,
  target (settings, req) {
    const url = wsURL(settings.baseURL, '/api-ws/v1/realtime', false)
    return { url: withQuery(url, { model: req.model }), headers: bearer(settings.apiKey), protocols: [] }
  }
}
