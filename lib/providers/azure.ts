// Azure OpenAI. GA: <resource>/openai/v1/realtime?model=<deployment>. The deprecated preview shape
// (/openai/realtime?api-version=V&deployment=D) is used only when the user sets a dated apiVersion ('v1', 'latest'
// and 'preview' are the v1 API's own values, and mean GA). WebRTC signaling
// is GA only: /openai/v1/realtime/client_secrets and /openai/v1/realtime/calls.
import { InvalidOptionError } from '../errors.js'
import { bearer, httpURL, withQuery, wsURL } from './url.js'
import { REALTIME_ENDPOINTS, TRANSCRIPTION, transcriptionOrSideband, type ProviderModule, type ProviderSettings } from './types.js'

// The v1 API's own api-version values: they name the GA /openai/v1 surface, not the legacy preview shape.
const GA_VERSIONS: ReadonlySet<string> = new Set(['v1', 'latest', 'preview'])
/** Whether `apiVersion` asks for the deprecated preview shape (a dated version such as 2025-04-01-preview). */
const legacy = (settings: ProviderSettings): boolean => settings.apiVersion !== undefined && !GA_VERSIONS.has(settings.apiVersion)

// Users paste whatever base their SDK used: the resource, .../openai, .../openai/v1 or a deployment URL.
const OPENAI_SUFFIX = /\/openai(?:\/v1|\/deployments(?:\/.*)?)?\/*$/

function resourceRoot (baseURL: string): string {
  const url = new URL(baseURL)
  url.pathname = url.pathname.replace(OPENAI_SUFFIX, '')
  return url.href
}

function authHeaders (settings: ProviderSettings): Record<string, string> {
  if (settings.auth === 'bearer') return bearer(settings.apiKey)
  return settings.apiKey === undefined ? {} : { 'api-key': settings.apiKey }
}

export const azure: ProviderModule = {
  baseURLHint: 'set it to your resource endpoint, such as https://my-resource.openai.azure.com',
  options: {
    apiVersion (value, where) {
      if (value !== undefined && (typeof value !== 'string' || value === '')) throw new InvalidOptionError(`${where} must be a non-empty string such as "2025-04-01-preview"`)
    },
    auth (value, where) {
      if (value !== undefined && value !== 'api-key' && value !== 'bearer') throw new InvalidOptionError(`${where} must be "api-key" or "bearer"`)
    }
  },
  privateHeaders: ['api-key'],
  // The preview shape has no transcription sessions; a sideband attach always uses the GA surface.
  modelOptional: (req, settings) => req.callId !== undefined || (!legacy(settings) && transcriptionOrSideband(req)),
  intents: (settings) => legacy(settings) ? [] : TRANSCRIPTION,
  target (settings, req) {
    const root = resourceRoot(settings.baseURL)
    const headers = authHeaders(settings)
    if (legacy(settings) && req.callId === undefined) {
      const url = wsURL(root, '/openai/realtime', true)
      return { url: withQuery(url, { 'api-version': settings.apiVersion, deployment: req.model }), headers, protocols: [] }
    }
    const url = wsURL(root, '/openai/v1/realtime', true)
    // A transcription session names only its intent, as on OpenAI; the routed model is pinned in its session.update.
    const query = req.callId !== undefined
      ? { call_id: req.callId }
      : req.intent !== undefined ? { intent: req.intent } : { model: req.model }
    return { url: withQuery(url, query), headers, protocols: [] }
  },
  // GPT-Live on Azure Foundry: the v1 surface, Authorization: Bearer (a key or an Entra token)
  live: (settings) => ({ url: wsURL(resourceRoot(settings.baseURL), '/openai/v1/live/sessions', true).href, headers: bearer(settings.apiKey), protocols: [] }),
  endpoint (settings, endpoint) {
    if (legacy(settings) || !REALTIME_ENDPOINTS.includes(endpoint)) return undefined
    return { url: httpURL(resourceRoot(settings.baseURL), `/openai/v1/realtime/${endpoint}`, true), headers: authHeaders(settings) }
  }
}
