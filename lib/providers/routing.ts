// Model routing: what a client asked for (the query), the `models` entries that map a model to its deployments,
// and what a request resolves to. The registry (registry.ts) keeps the routes and resolves against them.
import { InvalidOptionError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import type { Provider } from './provider.js'
import type { RouteProtocol, TargetRequest } from './types.js'

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
export interface Route {
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

const STRATEGIES: readonly RouteStrategy[] = ['fallback', 'weighted', 'least-busy']

/**
 * A `models` entry, validated: its deployments and strategy. `checkProvider` refuses a target naming a provider
 * that is not registered.
 */
export function parseRoute (model: string, route: ModelRoute, checkProvider: (option: string, name: string) => void): Route {
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
    checkProvider(at, target.provider)
    const { weight = 1 } = target as ModelTarget
    if (typeof weight !== 'number' || !(weight > 0) || !Number.isFinite(weight)) throw new InvalidOptionError(`${at}.weight must be a positive number`)
    return { provider: target.provider, model: target.model ?? model, weight }
  })
  return { targets, strategy: ('targets' in entry ? entry.strategy : undefined) ?? 'fallback' }
}
