// What a codec is to the plugin: readied once, then asked for each session's provider leg.
import type { FastifyBaseLogger } from 'fastify'
import type WebSocket from 'ws'
import type { Resolution } from '../providers/registry.js'
import type { Leg } from '../upstream/leg.js'

/** A session's first connection to the provider (dialled before the upgrade, open and paused), and how to open more. */
export interface LegInit {
  upstream: WebSocket
  /** The key it carries: redacted, like every later one's, from whatever is logged or sent on. */
  apiKey: string | undefined
  resolution: Resolution
  /** Dials a new connection (fresh credentials), paused, within dialTimeout. */
  redial: () => Promise<{ upstream: WebSocket, apiKey: string | undefined }>
  /** Milliseconds a new connection may take to complete the provider's own setup (dialTimeout). */
  setupTimeout: number
  log: FastifyBaseLogger
}

/** A provider schema spoken through translation: the client sees OpenAI's Realtime schema. */
export interface Codec {
  /** Readies what its sessions need (a resampler's WebAssembly); awaited before each session is dialled, cheap once done. */
  prepare (): Promise<void>
  /** The session's provider leg, translating both ways. */
  leg (init: LegInit): Leg
}
