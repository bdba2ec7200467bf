// The contract between the registry and a provider module: a pure function from config and request to a target.
import { bearer, withQuery, wsURL } from './url.js'

/** What a session asks of a provider, after resolution. */
export interface TargetRequest {
  /** Upstream model (or Azure deployment); absent for transcription or sideband sessions where allowed. */
  model?: string
  /** `transcription` for transcription-only sessions. */
  intent?: string
  /** Attach to an existing WebRTC/SIP call (sideband). */
  callId?: string
}

/** Where and how to dial the provider. */
export interface UpstreamTarget {
  url: string
  headers: Record<string, string>
  protocols: string[]
}

/** A provider's configuration after validation, as the module sees it. */
export interface ProviderSettings {
  baseURL: string
  apiKey?: string
  apiVersion?: string
  auth?: 'api-key' | 'bearer'
}

export interface ProviderModule {
  /** Used when the provider entry has no `baseURL`; absent means `baseURL` is required. */
  defaultBaseURL?: string
  /** Whether a request may go without a model. */
  modelOptional (req: TargetRequest, settings: ProviderSettings): boolean
  target (settings: ProviderSettings, req: TargetRequest): UpstreamTarget
}

/** Transcription and sideband sessions name no model on OpenAI-style endpoints. */
export function transcriptionOrSideband (req: TargetRequest): boolean {
  return req.intent === 'transcription' || req.callId !== undefined
}

export const modelRequired = (): boolean => false

/** A provider that dials `path` on its base with `?model=` and a Bearer key; `keepPath` appends, else replaces the base path. */
export function bearerProvider (defaultBaseURL: string, path: string, keepPath: boolean): ProviderModule {
  return {
    defaultBaseURL,
    modelOptional: modelRequired,
    target (settings, req) {
      const url = wsURL(settings.baseURL, path, keepPath)
      return { url: withQuery(url, { model: req.model }), headers: bearer(settings.apiKey), protocols: [] }
    }
  }
}
