// The plugin's live state, shared by its routes, the call sideband and the shutdown hook.
import type { ProviderRegistry } from './providers/registry.js'
import type { SessionHub } from './session/hub.js'
import type { ProviderDialer } from './upstream/provider-dial.js'
import type { DeploymentHealth } from './upstream/failover.js'

export interface PluginState {
  readonly registry: ProviderRegistry
  readonly hub: SessionHub
  readonly dialer: ProviderDialer
  /** Deployments that failed recently, tried last until their cooldown ends (this replica's view). */
  readonly health: DeploymentHealth
  /** Set by app.close(): new sessions and signaling requests are refused with 503. */
  closing: boolean
  /** Upgraded clients not yet in a session (a GPT-Live client before its session.start): closed with 1001 on shutdown. */
  readonly pending: Set<() => void>
}
