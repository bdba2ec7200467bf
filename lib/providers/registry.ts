// The provider registry: named providers, the model routing table, and resolution of a request to a provider.
// Lives on `fastify.realtime.providers`; changes at runtime apply to the next session.
import { InvalidOptionError, ModelRequiredError, UnknownProviderError, UnroutableModelError, UnsupportedIntentError, UnsupportedProtocolError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import { isProviderType, providerTypes, typesTaking, type ProviderType } from './index.js'
import type { Billing, CodecSettings, Endpoint, HttpTarget, ModuleOption, ProviderModule, ProviderSettings, RouteProtocol, TargetRequest, UpstreamTarget } from './types.js'
import { parseBaseURL } from './url.js'

export type { ProviderType } from './index.js'
export type { Billing, CodecSettings, Endpoint, HttpTarget, RouteProtocol, TargetRequest, UpstreamTarget } from './types.js'

/** A key, or a function returning one (rotating tokens such as Entra ID), read at every session start. */
export type ApiKey = string | (() => string | Promise<string>)

/** One entry of the `providers` option. */
export interface ProviderConfig {
  /** Defaults to the entry's name when that is a built-in type, else `openai-compatible`. */
  type?: ProviderType
  /**
   * Sent upstream only, never to the client. No key: no auth header, and a warning at registration; `null`
   * says the provider takes none on purpose (a self-hosted endpoint on a private network).
   */
  apiKey?: ApiKey | null
  /** Defaults per type; required for `azure` and `openai-compatible`. */
  baseURL?: string
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

/** One deployment a model may be served by: a provider and the upstream model name (default: the model as asked). */
export interface ModelTarget {
  provider: string
  model?: string
  /** `weighted` strategy: the share of first attempts this target gets. Default 1. */
  weight?: number
}

/**
 * How the targets of a model are tried: `fallback` in order (the default); `weighted` the first at random by
 * weight, then the rest in order; `least-busy` the target with the fewest live sessions on this replica first.
 */
export type RouteStrategy = 'fallback' | 'weighted' | 'least-busy'

/**
 * A `models` entry: a provider name (model passed as is), a provider and the upstream model name, or several
 * deployments tried in turn when one refuses (`failover`).
 */
export type ModelRoute = string | { provider: string, model?: string } | { targets: ModelTarget[], strategy?: RouteStrategy }

/** A model's deployments as the registry keeps them. */
interface Route {
  targets: Array<{ provider: string, model: string, weight: number }>
  strategy: RouteStrategy
}

/** Every deployment that may serve a request, in the route's own order, and how to order them for an attempt. */
export interface Plan {
  /** The first is what `resolve()` returns. */
  resolutions: Resolution[]
  strategy: RouteStrategy
  /** Weights, by index into `resolutions`. */
  weights: number[]
}

const STRATEGIES: readonly RouteStrategy[] = ['fallback', 'weighted', 'least-busy']

/** What the client asked for, from the query string. */
export interface RouteQuery {
  model?: string
  provider?: string
  intent?: string
  callId?: string
  /** `live` for the GPT-Live route, `translation` for translations: only providers that serve it. */
  protocol?: RouteProtocol
}

/** A request resolved to a provider and the model it knows. */
export interface Resolution extends TargetRequest {
  provider: Provider
  /** The model the client asked for, before mapping. */
  requestedModel?: string
}

export interface RegistryOptions {
  providers: Record<string, ProviderConfig>
  models?: Record<string, ModelRoute>
  defaultProvider?: string
}

const PROVIDER_OPTION_NAMES = ['type', 'apiKey', 'baseURL', 'apiVersion', 'auth', 'project', 'location', 'startTimeout', 'headers', 'billing'] as const satisfies ReadonlyArray<keyof ProviderConfig>

const MODULE_OPTIONS = ['apiVersion', 'auth', 'project', 'location', 'startTimeout'] as const satisfies readonly ModuleOption[]

/** Milliseconds Gemini's setup waits for the client's first session.update. */
export const DEFAULT_GEMINI_START_TIMEOUT = 5000

const PROTOCOL_NAMES: Record<RouteProtocol, string> = { realtime: 'realtime', live: 'GPT-Live', translation: 'realtime translation' }

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** An entry's type: `type`, else its name when that is a built-in type, else `openai-compatible`. */
export function providerTypeOf (name: string, config: Pick<ProviderConfig, 'type'>): string {
  return config.type ?? (isProviderType(name) ? name : 'openai-compatible')
}

function createProvider (name: string, config: ProviderConfig): Provider {
  if (config === null || typeof config !== 'object') {
    throw new InvalidOptionError(`providers.${name} must be an object such as { apiKey: '...' }`)
  }
  refuseUnknownKeys(config, PROVIDER_OPTION_NAMES, `providers.${name}.`)
  const type = providerTypeOf(name, config)
  if (!isProviderType(type)) {
    throw new InvalidOptionError(`providers.${name}.type "${String(type)}" is unknown; use one of ${Object.keys(providerTypes).join(', ')}`)
  }
  const module: ProviderModule = providerTypes[type]
  const { apiKey, apiVersion, auth, project, location, startTimeout, headers = {} } = config
  for (const option of MODULE_OPTIONS) {
    if (config[option] !== undefined && module.options?.includes(option) !== true) {
      throw new InvalidOptionError(`providers.${name}.${option} only applies to type "${typesTaking(option).join('", "')}"`)
    }
  }
  const own: Omit<ProviderSettings, 'baseURL'> = { apiVersion, auth, project, location, startTimeout }
  // Checked before a default base URL is built from them (Vertex's location).
  module.validate?.(name, { ...own, baseURL: '' })
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
    apiVersion,
    auth,
    billing,
    codec: module.codec,
    startTimeout: startTimeout ?? DEFAULT_GEMINI_START_TIMEOUT,
    setupModel: (model) => module.setupModel?.(settings, model) ?? model,
    keyless: apiKey === null || module.keyless === true,
    headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])),
    apiKey: async () => typeof apiKey === 'function' ? await apiKey() : apiKey ?? undefined,
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

export class ProviderRegistry {
  readonly #providers = new Map<string, Provider>()
  readonly #models = new Map<string, Route>()
  #defaultProvider: string | undefined

  constructor (options: RegistryOptions) {
    const { providers, models = {}, defaultProvider } = options
    if (providers === null || typeof providers !== 'object' || Object.keys(providers).length === 0) {
      throw new InvalidOptionError('"providers" must name at least one provider, such as { openai: { apiKey: process.env.OPENAI_API_KEY } }')
    }
    for (const [name, config] of Object.entries(providers)) this.set(name, config)
    if (models === null || typeof models !== 'object') {
      throw new InvalidOptionError('"models" must map model names to a provider name or { provider, model }')
    }
    for (const [model, route] of Object.entries(models)) this.route(model, route)
    if (defaultProvider !== undefined) {
      this.#checkProvider('defaultProvider', defaultProvider)
      this.#defaultProvider = defaultProvider
    }
  }

  /** Adds or replaces a provider. Throws FST_REALTIME_INVALID_OPTION and leaves the registry unchanged on bad config. */
  set (name: string, config: ProviderConfig): Provider {
    if (typeof name !== 'string' || !/^[\w.-]+$/.test(name)) {
      throw new InvalidOptionError(`provider name "${String(name)}" may only use letters, digits, "_", "-" and "."`)
    }
    const provider = createProvider(name, config)
    this.#providers.set(name, provider)
    return provider
  }

  /** Removes a provider; sessions already open keep running. Returns whether it existed. */
  delete (name: string): boolean {
    return this.#providers.delete(name)
  }

  get (name: string): Provider | undefined {
    return this.#providers.get(name)
  }

  has (name: string): boolean {
    return this.#providers.has(name)
  }

  names (): string[] {
    return [...this.#providers.keys()]
  }

  /** Routes `model` to a provider (by name), optionally renaming it upstream, or to several deployments. */
  route (model: string, route: ModelRoute): void {
    const where = `models["${model}"]`
    const entry = typeof route === 'string' ? { provider: route, model } : route
    if (entry === null || typeof entry !== 'object') {
      throw new InvalidOptionError(`${where} must be a provider name, { provider, model } or { targets: [{ provider, model }, ...], strategy }`)
    }
    const list = 'targets' in entry ? entry.targets : [entry]
    if ('targets' in entry) {
      refuseUnknownKeys(entry, ['targets', 'strategy'], `${where}.`)
      if (!Array.isArray(list) || list.length === 0) throw new InvalidOptionError(`${where}.targets must list at least one { provider, model }`)
      if (entry.strategy !== undefined && !STRATEGIES.includes(entry.strategy)) {
        throw new InvalidOptionError(`${where}.strategy must be one of ${STRATEGIES.map((s) => `"${s}"`).join(', ')}`)
      }
    }
    const targets = list.map((target, i) => {
      const at = 'targets' in entry ? `${where}.targets[${i}]` : where
      if (target === null || typeof target !== 'object' || typeof target.provider !== 'string') {
        throw new InvalidOptionError(`${at} must be a provider name or { provider, model }`)
      }
      this.#checkProvider(at, target.provider)
      const { weight = 1 } = target as ModelTarget
      if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) throw new InvalidOptionError(`${at}.weight must be a positive number`)
      return { provider: target.provider, model: target.model ?? model, weight }
    })
    this.#models.set(model, { targets, strategy: ('targets' in entry ? entry.strategy : undefined) ?? 'fallback' })
  }

  get defaultProvider (): string | undefined {
    return this.#defaultProvider
  }

  /**
   * Resolves a request: `provider` query, then a `provider/model` prefix, then the `models` map, then
   * `defaultProvider`, then the only provider. Throws a 400 error naming what was wrong. `requireModel: false`
   * leaves a missing model for the provider to judge (signaling bodies, where the provider has a default).
   * A `models` entry with several targets resolves to the first that can serve the request (see `plan`).
   */
  resolve (query: RouteQuery, requireModel = true): Resolution {
    return this.plan(query, requireModel).resolutions[0] as Resolution
  }

  /**
   * Every deployment that may serve the request, in the route's order: a `models` entry's targets, else the one
   * provider the rules pick. Each is checked as `resolve` checks one; a target that cannot serve the request
   * (a provider removed at runtime, another protocol, an intent it lacks) is left out, and when none is left the
   * first one's error is thrown.
   */
  plan (query: RouteQuery, requireModel = true): Plan {
    const { model } = query
    let candidates: Array<{ provider: string | undefined, model: string | undefined, weight: number }>
    let strategy: RouteStrategy = 'fallback'
    const slash = model === undefined ? -1 : model.indexOf('/')
    const prefix = slash > 0 ? (model as string).slice(0, slash) : undefined
    const routed = model === undefined ? undefined : this.#models.get(model)
    if (query.provider !== undefined) {
      const name = query.provider
      if (!this.has(name)) throw new UnknownProviderError(name, this.names().join(', '))
      const mapped = routed?.targets.find((target) => target.provider === name)
      // `provider/model` naming the same provider: the provider is named twice, the model once.
      const upstream = mapped !== undefined ? mapped.model : prefix === name ? (model as string).slice(slash + 1) : model
      candidates = [{ provider: name, model: upstream, weight: 1 }]
    } else if (prefix !== undefined && this.has(prefix)) {
      candidates = [{ provider: prefix, model: (model as string).slice(slash + 1), weight: 1 }]
    } else if (routed !== undefined) {
      candidates = routed.targets
      strategy = routed.strategy
    } else {
      const name = this.#defaultProvider ?? (this.#providers.size === 1 ? this.names()[0] : undefined)
      candidates = [{ provider: name, model, weight: 1 }]
    }
    const resolutions: Resolution[] = []
    const weights: number[] = []
    let firstError: unknown
    for (const candidate of candidates) {
      try {
        resolutions.push(this.#resolveTo(candidate.provider, candidate.model, query, requireModel))
        weights.push(candidate.weight)
      } catch (err) {
        firstError ??= err
      }
    }
    if (resolutions.length === 0) throw firstError
    return { resolutions, strategy, weights }
  }

  /** The request resolved to provider `name` and `upstreamModel`, checked: the provider exists and serves it. */
  #resolveTo (name: string | undefined, upstreamModel: string | undefined, query: RouteQuery, requireModel: boolean): Resolution {
    const { model, intent, callId } = query
    const provider = name === undefined ? undefined : this.get(name)
    if (provider === undefined) {
      if (model === undefined) throw new ModelRequiredError()
      // A route or default naming a provider removed at runtime also lands here.
      throw new UnroutableModelError(model, model)
    }
    // Refused before anything is dialed: a dropped intent would open an ordinary, billed conversation instead.
    const { protocol = 'realtime' } = query
    if (intent !== undefined && (protocol !== 'realtime' || !provider.supportsIntent(intent))) throw new UnsupportedIntentError(provider.name, provider.type, intent)
    if (!provider.serves(protocol)) throw new UnsupportedProtocolError(provider.name, provider.type, PROTOCOL_NAMES[protocol])
    const resolution: Resolution = { provider, model: upstreamModel === '' ? undefined : upstreamModel, intent, callId, requestedModel: model }
    if (protocol !== 'realtime') resolution.protocol = protocol
    if (requireModel && resolution.model === undefined && !provider.modelOptional(resolution)) throw new ModelRequiredError()
    return resolution
  }

  #checkProvider (option: string, name: string): void {
    if (!this.has(name)) {
      throw new InvalidOptionError(`${option} names provider "${name}", which is not in "providers" (${this.names().join(', ')}); add it there or fix the name`)
    }
  }
}
