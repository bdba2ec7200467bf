// The contract between the registry and a provider module: a pure function from config and request to a target.
import { bearer, httpURL, withQuery, wsURL } from './url.js'

/** What a session asks of a provider, after resolution. */
export interface TargetRequest {
  /** Upstream model (or Azure deployment); absent for transcription or sideband sessions where allowed. */
  model?: string
  /** `transcription` for transcription-only sessions. */
  intent?: string
  /** Attach to an existing WebRTC/SIP call (sideband). */
  callId?: string
  /** The route family: `realtime` (default), `live` (GPT-Live, `/live/sessions`) or `translation` (`/realtime/translations`). */
  protocol?: RouteProtocol
}

/** The session protocols a route serves; every provider speaks `realtime`, some also the others. */
export type RouteProtocol = 'realtime' | 'live' | 'translation'

/** A provider's own schema, spoken through a codec. */
export interface CodecSettings {
  /** Gemini Live's BidiGenerateContent. */
  schema: 'gemini'
  /** Function responses carry the call's `id` (the Gemini API requires it, Vertex refuses it). */
  functionResponseIds: boolean
}

/** Where and how to dial the provider. */
export interface UpstreamTarget {
  url: string
  headers: Record<string, string>
  protocols: string[]
}

/** The REST endpoints of WebRTC signaling, under `<realtime path>/`. */
export type Endpoint = 'client_secrets' | 'calls' | 'translations/client_secrets' | 'translations/calls'

export const REALTIME_ENDPOINTS: readonly Endpoint[] = ['client_secrets', 'calls']
export const ALL_ENDPOINTS: readonly Endpoint[] = [...REALTIME_ENDPOINTS, 'translations/client_secrets', 'translations/calls']

/** Where and how to call one of the provider's REST endpoints. */
export interface HttpTarget {
  url: string
  headers: Record<string, string>
}

/**
 * The options of their own that provider modules take, beyond type, apiKey, baseURL, headers and billing. A
 * module lists the ones it takes, each with its check (`ProviderModule.options`); any other is refused on it.
 */
export interface ModuleOptions {
  /** Azure only: selects the deprecated preview URL shape `/openai/realtime?api-version=...&deployment=...`. */
  apiVersion?: string
  /** Azure only: send the key as `api-key` (default) or as `Authorization: Bearer` (Entra ID tokens). */
  auth?: 'api-key' | 'bearer'
  /** Vertex only: the Google Cloud project id. */
  project?: string
  /** Vertex only: the location (`us-central1`, `europe-west4`, `global`); the default `baseURL` is built from it. */
  location?: string
  /**
   * Gemini and Vertex only: milliseconds Gemini's `setup` waits for the client's first `session.update` (it is
   * built from it) before it is sent with defaults. Default 5000.
   */
  startTimeout?: number
}

/** A provider's configuration after validation, as the module sees it. */
export interface ProviderSettings extends ModuleOptions {
  baseURL: string
  apiKey?: string
}

/** How a provider bills a session: by the tokens its events report, or by the minute of session. */
export type Billing = 'tokens' | 'duration'

/** Options a provider entry may carry beyond type, apiKey, baseURL, headers and billing. */
export type ModuleOption = keyof ModuleOptions

/** Checks one of a module's options; throws FST_REALTIME_INVALID_OPTION naming `where` (`providers.<name>.<option>`). */
export type OptionCheck = (value: unknown, where: string) => void

/**
 * Everything about one provider type: its URLs, auth, intents, billing, the subprotocols and key shapes that
 * carry its credentials, its signaling endpoints and its own options. Nothing outside its module names it.
 */
export interface ProviderModule {
  /**
   * Used when the provider entry has no `baseURL` (a function: built from the entry's own options, such as
   * Vertex's location); absent means `baseURL` is required.
   */
  defaultBaseURL?: string | ((settings: Omit<ProviderSettings, 'baseURL'>) => string)
  /** Added to the "baseURL is required" message: what to set it to. Set whenever `defaultBaseURL` is not. */
  baseURLHint?: string
  /** Billing when the entry names none. Default `tokens`. */
  billing?: Billing
  /** Subprotocol prefixes that carry the caller's credential from a browser (read for the app's auth hooks). */
  credentialProtocols?: readonly string[]
  /** Other subprotocol prefixes that carry account details. None of these is ever echoed or forwarded. */
  privateProtocols?: readonly string[]
  /** Client headers that must never travel upstream to any provider (its auth header, its protocol switches). */
  privateHeaders?: readonly string[]
  /** Prefixes of this provider's key shapes (`sk` for `sk-...`), redacted from text that reaches a client or a log. */
  keyPrefixes?: readonly string[]
  /**
   * Regular expressions (source) for key shapes without a `prefix-` form (Google's `AIza...` keys), redacted
   * like the prefixes.
   */
  keyShapes?: readonly string[]
  /**
   * The provider speaks its own schema, not OpenAI's: its sessions go through this codec (`gemini`: Gemini
   * Live), which the client does not see. Absent: OpenAI's Realtime schema, relayed as is.
   */
  codec?: CodecSettings
  /** The model name the provider's own schema carries (Gemini's `setup.model`), from the routed model. */
  setupModel? (settings: ProviderSettings, model: string): string
  /**
   * The options of its own it takes, each with its check (called for an option left out too: a required one
   * refuses undefined), in the order they are checked.
   */
  options?: { readonly [K in ModuleOption]?: OptionCheck }
  /** Takes no key: no warning at registration when the entry has none. */
  keyless?: boolean
  /** Started by the plugin when the entry has no baseURL, closed with the app (the embedded simulator). */
  embedded? (): Promise<{ url: string, close (): Promise<void> }>
  /** Whether a request may go without a model. */
  modelOptional (req: TargetRequest, settings: ProviderSettings): boolean
  /**
   * Serves GPT-Live sessions: the websocket to dial for one (no query: the model travels in `session.start`).
   * Its WebRTC create (`POST`), sideband (`/{id}/attach`) and hangup (`/{id}/hangup`) are under the same URL.
   */
  live? (settings: ProviderSettings): UpstreamTarget
  /** Serves realtime translation sessions: the websocket to dial for one (`?model=`). */
  translation? (settings: ProviderSettings, req: TargetRequest): UpstreamTarget
  /** The `?intent=` values the provider takes (`transcription`); any other is refused before a dial. Default none. */
  intents?: (settings: ProviderSettings) => readonly string[]
  target (settings: ProviderSettings, req: TargetRequest): UpstreamTarget
  /** A signaling endpoint; undefined where the provider has none (answered 501). */
  endpoint (settings: ProviderSettings, endpoint: Endpoint): HttpTarget | undefined
  /** Narrows a client_secrets body for providers that take less than OpenAI's (xAI). */
  clientSecretBody?: (body: Record<string, unknown>) => Record<string, unknown>
}

/** Transcription and sideband sessions name no model on OpenAI-style endpoints. */
export function transcriptionOrSideband (req: TargetRequest): boolean {
  return req.intent === 'transcription' || req.callId !== undefined
}

export const TRANSCRIPTION: readonly string[] = Object.freeze(['transcription'])

export const modelRequired = (): boolean => false

/** Signaling endpoints at `<realtime path>/<endpoint>` with a Bearer key, for the endpoints the provider has. */
export function bearerEndpoints (path: string, keepPath: boolean, endpoints: readonly Endpoint[]): ProviderModule['endpoint'] {
  return (settings, endpoint) => endpoints.includes(endpoint)
    ? { url: httpURL(settings.baseURL, `${path}/${endpoint}`, keepPath), headers: bearer(settings.apiKey) }
    : undefined
}

/**
 * A provider that dials `path` on its base with `?model=` and a Bearer key; `keepPath` appends, else replaces
 * the base path. `endpoints` are the signaling endpoints it has beside the websocket.
 */
export function bearerProvider (defaultBaseURL: string, path: string, keepPath: boolean, endpoints: readonly Endpoint[] = []): ProviderModule {
  return {
    defaultBaseURL,
    modelOptional: modelRequired,
    target (settings, req) {
      const url = wsURL(settings.baseURL, path, keepPath)
      return { url: withQuery(url, { model: req.model }), headers: bearer(settings.apiKey), protocols: [] }
    },
    endpoint: bearerEndpoints(path, keepPath, endpoints)
  }
}
