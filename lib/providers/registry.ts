// The provider registry: named providers, the model routing table, and resolution of a request to a provider.
// Lives on `fastify.realtime.providers`; changes at runtime apply to the next session.
import { InvalidOptionError, ModelRequiredError, UnknownProviderError, UnroutableModelError, UnsupportedIntentError, UnsupportedProtocolError } from '../errors.js'
import { createProvider, type Provider, type ProviderConfig } from './provider.js'
import { parseRoute, type ModelRoute, type Plan, type Resolution, type Route, type RouteQuery, type RouteStrategy } from './routing.js'
import type { RouteProtocol } from './types.js'

export type { ProviderType } from './index.js'
export type { Billing, CodecSettings, Endpoint, HttpTarget, ModuleOptions, RouteProtocol, TargetRequest, UpstreamTarget } from './types.js'
export { DEFAULT_GEMINI_START_TIMEOUT, providerTypeOf, type ApiKey, type Provider, type ProviderConfig } from './provider.js'
export type { ModelRoute, ModelTarget, Plan, Resolution, RouteQuery, RouteStrategy } from './routing.js'

export interface RegistryOptions {
  providers: Record<string, ProviderConfig>
  models?: Record<string, ModelRoute>
  defaultProvider?: string
}

const PROTOCOL_NAMES: Record<RouteProtocol, string> = { realtime: 'realtime', live: 'GPT-Live', translation: 'realtime translation' }

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
    this.#models.set(model, parseRoute(model, route, (option, name) => this.#checkProvider(option, name)))
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
   * provider the rules pick. Each is checked as `resolve` checks one; a deployment that cannot serve the request
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
