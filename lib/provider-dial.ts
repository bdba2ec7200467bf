// Dialing a resolved provider, for a relayed session and for a call's sideband alike: the key, the target with
// the forwarded headers, the dial registered for shutdown to abort, and its outcome in the dial metrics.
import type { FastifyRequest } from 'fastify'
import type WebSocket from 'ws'
import { dial } from './dial.js'
import { upstreamHeaders } from './headers.js'
import type { Resolution } from './registry.js'
import type { RouteState } from './route.js'
import type { UpstreamTarget } from './providers/types.js'

export interface ProviderTarget {
  target: UpstreamTarget
  /** The key it carries, to redact from any error. */
  apiKey: string | undefined
}

/** Reads the provider key (calling it when it is a function) and builds where to dial, with the forwarded headers. */
export async function providerTarget (state: RouteState, request: FastifyRequest, resolution: Resolution): Promise<ProviderTarget> {
  const { provider } = resolution
  const apiKey = await provider.apiKey()
  const target = provider.target(resolution, apiKey)
  target.headers = upstreamHeaders(request.headers, state.settings.forwardHeaders, target.headers, request.id)
  return { target, apiKey }
}

/** The metrics label for a failed dial. */
function dialOutcome (err: { code?: string }, aborted: boolean): string {
  if (aborted) return 'aborted'
  if (err.code === 'FST_REALTIME_UPSTREAM_TIMEOUT') return 'timeout'
  return err.code === 'FST_REALTIME_UPSTREAM_REJECTED' ? 'rejected' : 'unavailable'
}

/** Dials `target`; `controller` aborts it (shutdown aborts every dial in `state.dials`). Resolves with the open, paused socket. */
export async function dialProvider (state: RouteState, provider: string, { target, apiKey }: ProviderTarget, controller: AbortController): Promise<WebSocket> {
  const { settings, hub } = state
  state.dials.add(controller)
  const dialStart = performance.now()
  const settle = (outcome: string): void => {
    state.dials.delete(controller)
    hub.dialed(provider, (performance.now() - dialStart) / 1000, outcome)
  }
  try {
    const upstream = await dial(target, { provider, timeout: settings.dialTimeout, maxPayload: settings.maxPayload, closeTimeout: settings.closeTimeout, secrets: [apiKey], signal: controller.signal })
    settle('ok')
    return upstream
  } catch (err) {
    settle(dialOutcome(err as { code?: string }, controller.signal.aborted))
    throw err
  }
}
