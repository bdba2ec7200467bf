// A provider entry: its configuration, validated once (the module's own options by the module's own checks), and
// the Provider it becomes, which builds the targets to dial with the key in place.
import { InvalidOptionError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import { isProviderType, MODULE_OPTIONS, providerTypes, typesTaking, type ProviderType } from './index.js'
import type { Billing, CodecSettings, Endpoint, HttpTarget, ModuleOption, ModuleOptions, OptionCheck, ProviderModule, ProviderSettings, RouteProtocol, TargetRequest, UpstreamTarget } from './types.js'
import { parseBaseURL } from './url.js'

/** A key, or a function returning one (rotating tokens such as Entra ID), read at every session start. */
export type ApiKey = string | (() => string | Promise<string>)

/** One entry of the `providers` option; the options of a type's own are in ModuleOptions. */
export interface ProviderConfig extends ModuleOptions {
  /** Defaults to the entry's name when that is a built-in type, else `openai-compatible`. */
  type?: ProviderType
  /**
   * Sent upstream only, never to the client. No key: no auth header, and a warning at registration; `null`
   * says the provider takes none on purpose (a self-hosted endpoint on a private network).
   */
  apiKey?: ApiKey | null
  /** Defaults per type; required for `azure` and `openai-compatible`. */
  baseURL?: string
  /** Extra headers sent upstream (for example `OpenAI-Organization`). */
  headers?: Record<string, string>
  /** `duration` reports session seconds at close (for per-minute pricing). Default `duration` for xAI, else `tokens`. */
  billing?: Billing
}

/** A validated registry entry. */
export interface Provider {
  readonly name: string
  readonly type: ProviderType
  readonly baseURL: string
  readonly apiVersion?: string
  readonly auth?: 'api-key' | 'bearer'
  readonly headers: Readonly<Record<string, string>>
  readonly billing: Billing
  /** The provider's own schema, spoken through a codec (Gemini Live); absent for OpenAI's. */
  readonly codec?: CodecSettings
  /** Gemini: milliseconds `setup` waits for the client's first session.update. */
  readonly startTimeout: number
  /** The model as the provider's own schema names it (Gemini's `setup.model`). */
  setupModel (model: string): string
  /** Takes no key on purpose (`apiKey: null`, or a keyless type such as the simulator). */
  readonly keyless: boolean
  /** Resolves the key (calling it when it is a function). */
  apiKey (): Promise<string | undefined>
  /** The key is a function, which may be slow or never settle: its reading is timed and abortable. */
  readonly keyFunction: boolean
  modelOptional (req: TargetRequest): boolean
  /** Whether the provider takes this `?intent=` value. */
  supportsIntent (intent: string): boolean
  /** Whether it serves sessions of this protocol (every provider serves `realtime`). */
  serves (protocol: RouteProtocol): boolean
  /**
   * Where and how to dial for this request, with the key in place. Pure apart from reading the key. A GPT-Live
   * request with a `callId` is the sideband of that WebRTC session (`.../live/sessions/{id}/attach`).
   */
  target (req: TargetRequest, apiKey: string | undefined): UpstreamTarget
  /** A WebRTC signaling endpoint with the key in place; undefined where the provider has none. */
  endpoint (endpoint: Endpoint, apiKey: string | undefined): HttpTarget | undefined
  /**
   * GPT-Live's REST URL (`.../live/sessions`, `POST` creates a WebRTC session), with `suffix` appended
   * (`/{id}/hangup`); undefined where the provider serves no GPT-Live.
   */
  liveEndpoint (suffix: string, apiKey: string | undefined): HttpTarget | undefined
  /** The client_secrets body this provider takes (xAI takes only expires_after.seconds). */
  clientSecretBody (body: Record<string, unknown>): Record<string, unknown>
}

const COMMON_OPTIONS = ['type', 'apiKey', 'baseURL', 'headers', 'billing'] as const satisfies ReadonlyArray<keyof ProviderConfig>
const PROVIDER_OPTION_NAMES: readonly string[] = [...COMMON_OPTIONS.slice(0, 3), ...MODULE_OPTIONS, ...COMMON_OPTIONS.slice(3)]

/** Milliseconds Gemini's setup waits for the client's first session.update. */
export const DEFAULT_GEMINI_START_TIMEOUT = 5000

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** An entry's type: `type`, else its name when that is a built-in type, else `openai-compatible`. */
export function providerTypeOf (name: string, config: Pick<ProviderConfig, 'type'>): string {
  return config.type ?? (isProviderType(name) ? name : 'openai-compatible')
}

/** A `providers` entry, validated: throws FST_REALTIME_INVALID_OPTION naming what to fix. */
export function createProvider (name: string, config: ProviderConfig): Provider {
  if (config === null || typeof config !== 'object') {
    throw new InvalidOptionError(`providers.${name} must be an object such as { apiKey: '...' }`)
  }
  refuseUnknownKeys(config, PROVIDER_OPTION_NAMES, `providers.${name}.`)
  const type = providerTypeOf(name, config)
  if (!isProviderType(type)) {
    throw new InvalidOptionError(`providers.${name}.type "${String(type)}" is unknown; use one of ${Object.keys(providerTypes).join(', ')}`)
  }
  const module: ProviderModule = providerTypes[type]
  const { apiKey, headers = {} } = config
  const checks: Partial<Record<string, OptionCheck>> = module.options ?? {}
  for (const option of MODULE_OPTIONS) {
    if (config[option as ModuleOption] !== undefined && checks[option] === undefined) {
      throw new InvalidOptionError(`providers.${name}.${option} only applies to type "${typesTaking(option).join('", "')}"`)
    }
  }
  // Checked before a default base URL is built from them (Vertex's location).
  for (const [option, check] of Object.entries(checks)) check?.(config[option as ModuleOption], `providers.${name}.${option}`)
  const own: ModuleOptions = Object.fromEntries(Object.keys(checks).map((option) => [option, config[option as ModuleOption]]))
  const { defaultBaseURL } = module
  const baseURL = config.baseURL ?? (typeof defaultBaseURL === 'function' ? defaultBaseURL(own) : defaultBaseURL)
  if (baseURL === undefined) {
    throw new InvalidOptionError(`providers.${name}.baseURL is required for type "${type}"; ${module.baseURLHint as string}`)
  }
  parseBaseURL(name, baseURL)
  if (apiKey !== undefined && apiKey !== null && typeof apiKey !== 'string' && typeof apiKey !== 'function') {
    throw new InvalidOptionError(`providers.${name}.apiKey must be a string, a function returning one, or null for a provider that takes no key`)
  }
  if (headers === null || typeof headers !== 'object' ||
      Object.entries(headers).some(([k, v]) => !HEADER_NAME.test(k) || typeof v !== 'string')) {
    throw new InvalidOptionError(`providers.${name}.headers must map header names to string values`)
  }
  const billing = config.billing ?? module.billing ?? 'tokens'
  if (billing !== 'tokens' && billing !== 'duration') {
    throw new InvalidOptionError(`providers.${name}.billing must be "tokens" or "duration"`)
  }
  const settings: ProviderSettings = { ...own, baseURL }
  return {
    name,
    type,
    baseURL,
    apiVersion: own.apiVersion,
    auth: own.auth,
    billing,
    codec: module.codec,
    startTimeout: own.startTimeout ?? DEFAULT_GEMINI_START_TIMEOUT,
    setupModel: (model) => module.setupModel?.(settings, model) ?? model,
    keyless: apiKey === null || module.keyless === true,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    apiKey: async () => typeof apiKey === 'function' ? await apiKey() : apiKey ?? undefined,
    keyFunction: typeof apiKey === 'function',
    modelOptional: (req) => module.modelOptional(req, settings),
    supportsIntent: (intent) => module.intents?.(settings).includes(intent) ?? false,
    serves: (protocol) => protocol === 'realtime' || module[protocol] !== undefined,
    target (req, key) {
      const keyed = { ...settings, apiKey: key }
      let target: UpstreamTarget
      if (req.protocol === 'live') {
        target = (module.live as NonNullable<typeof module.live>)(keyed)
        if (req.callId !== undefined) target.url += `/${encodeURIComponent(req.callId)}/attach`
      } else if (req.protocol === 'translation') {
        target = (module.translation as NonNullable<typeof module.translation>)(keyed, req)
      } else {
        target = module.target(keyed, req)
      }
      target.headers = { ...this.headers, ...target.headers }
      return target
    },
    liveEndpoint (suffix, key) {
      if (module.live === undefined) return undefined
      const target = module.live({ ...settings, apiKey: key })
      const url = new URL(target.url + suffix)
      url.protocol = url.protocol === 'wss:' ? 'https:' : 'http:'
      return { url: url.href, headers: { ...this.headers, ...target.headers } }
    },
    endpoint (endpoint, key) {
      const target = module.endpoint({ ...settings, apiKey: key }, endpoint)
      if (target !== undefined) target.headers = { ...this.headers, ...target.headers }
      return target
    },
    clientSecretBody: module.clientSecretBody ?? ((body) => body)
  }
}
