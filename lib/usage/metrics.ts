// Prometheus metrics through prom-client. Frame and byte counters are read from the sessions when scraped,
// so the relay's hot path never touches a metric.
import { Counter, Gauge, Histogram, Registry } from 'prom-client'
import { InvalidOptionError } from '../errors.js'
import { refuseUnknownKeys } from '../validate.js'
import type { UsageRecord } from './records.js'

/** Frames and bytes received from each side. */
export interface Traffic {
  frames: { client: number, upstream: number }
  bytes: { client: number, upstream: number }
}

/** What the metrics read when scraped: the live sessions and the traffic so far (the session hub). */
export interface MetricsSource {
  readonly live: ReadonlyMap<string, { readonly provider: string }>
  trafficByProvider (): Map<string, Traffic>
}

export interface MetricsOptions {
  /** Register into this registry (for example the app's `prom-client` default). Default: a registry of the plugin's own. */
  registry?: Registry
  /** Metric name prefix. Default `realtime_proxy_`. */
  prefix?: string
  /** Serve the registry at this path. Default `/metrics` with the plugin's own registry, none with yours. */
  route?: string | false
}

export interface Metrics {
  registry: Registry
  route: string | false
  usage (record: UsageRecord): void
  ended (summary: { provider: string, by: string }): void
  dialed (provider: string, seconds: number, outcome: string): void
  attempted (provider: string, outcome: string): void
  /** A session that never opened (every attempt failed, or the client left), counted once whatever the attempts. */
  unopened (provider: string, outcome: string): void
}

const METRICS_OPTION_NAMES = ['registry', 'prefix', 'route'] as const satisfies ReadonlyArray<keyof MetricsOptions>

export function metricsSettings (value: unknown): MetricsOptions | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return {}
  const options = value as MetricsOptions
  if (typeof value !== 'object' || value === null ||
    (options.prefix !== undefined && !/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(options.prefix)) ||
    (options.route !== undefined && options.route !== false && (typeof options.route !== 'string' || !options.route.startsWith('/'))) ||
    (options.registry !== undefined && !(options.registry instanceof Registry))) {
    throw new InvalidOptionError('"metrics" must be true or { registry?: prom-client Registry, prefix?: "name_", route?: "/metrics" | false }')
  }
  refuseUnknownKeys(options, METRICS_OPTION_NAMES, 'metrics.')
  return options
}

export function createMetrics (options: MetricsOptions, hub: MetricsSource): Metrics {
  const registry = options.registry ?? new Registry()
  const prefix = options.prefix ?? 'realtime_proxy_'
  const route = options.route ?? (options.registry === undefined ? '/metrics' : false)
  const registers = [registry]

  new Gauge({ // eslint-disable-line no-new
    name: `${prefix}sessions_active`,
    help: 'Realtime sessions open now',
    labelNames: ['provider'],
    registers,
    collect () {
      this.reset()
      for (const session of hub.live.values()) this.inc({ provider: session.provider })
    }
  })
  const sessions = new Counter({ name: `${prefix}sessions_total`, help: 'Realtime sessions by how they ended or why they never opened', labelNames: ['provider', 'outcome'], registers })
  const dial = new Histogram({
    name: `${prefix}upstream_dial_duration_seconds`,
    help: 'Time to open the provider websocket',
    labelNames: ['provider', 'outcome'],
    buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers
  })
  const trafficCounter = (what: 'frames' | 'bytes'): void => {
    new Counter({ // eslint-disable-line no-new
      name: `${prefix}${what}_total`,
      help: `Websocket ${what} relayed, by the side that sent them`,
      labelNames: ['provider', 'from'],
      registers,
      collect () {
        this.reset()
        for (const [provider, traffic] of hub.trafficByProvider()) {
          const t = traffic[what]
          this.inc({ provider, from: 'client' }, t.client)
          this.inc({ provider, from: 'upstream' }, t.upstream)
        }
      }
    })
  }
  trafficCounter('frames')
  trafficCounter('bytes')
  const attempts = new Counter({ name: `${prefix}upstream_attempts_total`, help: 'Attempts to open a session at a provider (failover included), by outcome', labelNames: ['provider', 'outcome'], registers })
  const tokens = new Counter({ name: `${prefix}tokens_total`, help: 'Tokens reported by providers', labelNames: ['provider', 'model', 'direction'], registers })
  const seconds = new Counter({ name: `${prefix}billed_seconds_total`, help: 'Seconds billed by duration (per-minute sessions, transcription seconds)', labelNames: ['provider', 'model', 'kind'], registers })
  const cost = new Counter({ name: `${prefix}cost_usd_total`, help: 'Cost in USD computed from the pricing option', labelNames: ['provider', 'model'], registers })

  return {
    registry,
    route,
    usage (record) {
      const labels = { provider: record.provider, model: record.model ?? '' }
      if (record.kind === 'response') {
        tokens.inc({ ...labels, direction: 'input' }, record.inputTokens)
        tokens.inc({ ...labels, direction: 'output' }, record.outputTokens)
      } else if (record.kind === 'duration') {
        seconds.inc({ ...labels, kind: record.kind }, record.seconds)
      } else if (record.seconds !== undefined) {
        seconds.inc({ ...labels, kind: record.kind }, record.seconds)
      } else {
        // a token-billed transcription always carries both counts
        tokens.inc({ ...labels, direction: 'input' }, record.inputTokens as number)
        tokens.inc({ ...labels, direction: 'output' }, record.outputTokens as number)
      }
      if (record.costUSD !== undefined) cost.inc(labels, record.costUSD)
    },
    ended (summary) {
      sessions.inc({ provider: summary.provider, outcome: `${summary.by}_closed` })
    },
    dialed (provider, took, outcome) {
      dial.observe({ provider, outcome }, took)
    },
    unopened (provider, outcome) {
      sessions.inc({ provider, outcome })
    },
    attempted (provider, outcome) {
      attempts.inc({ provider, outcome })
    }
  }
}
