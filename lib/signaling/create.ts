// Creating a WebRTC session at the provider (a realtime call, a GPT-Live session): it is a session the app pays
// for, so it takes its slots first and holds them until its sideband (the session) ends; the created id goes
// into the call registry with its owner, and the plugin attaches to its sideband to meter it.
import type { FastifyReply, FastifyRequest } from 'fastify'
import { acquireSlots, type SlotOptions } from '../limits/slots.js'
import type { Protocol } from '../protocols/types.js'
import type { Resolution } from '../providers/registry.js'
import type { PluginState } from '../state.js'
import type { CallStore } from '../store/types.js'
import type { HttpAnswer } from '../upstream/http-client.js'
import { attachSideband, type SidebandOptions } from './sideband.js'
import type { Attempt } from '../upstream/failover.js'
import { refuseUnpriced } from '../session/unpriced.js'

/** The options creating a session reads. */
export interface CreateOptions extends SlotOptions, SidebandOptions {
  signaling?: { calls: CallStore, callTTL: number, sideband: boolean }
}

export interface Created {
  answer: HttpAnswer
  /** The key of the target that answered, to redact from what is relayed. */
  apiKey: string | undefined
  /** The id registered and metered; undefined when the provider refused or answered without a usable one. */
  id?: string
}

/** The answer to relay, the target that gave it, and the attempts (failover) it took. */
export interface CreateAnswer {
  answer: HttpAnswer
  resolution: Resolution
  apiKey: string | undefined
  attempts: Attempt[]
}

/** What the log lines call the session and the place of its id in the provider's answer. */
export interface Naming {
  /** `realtime call` */
  name: string
  /** `Location` */
  idIn: string
}

/**
 * Sends the create (`send`, which may fail over across the model's targets), reads the id from the answer
 * (`idOf`), registers it with the target that served and attaches the sideband, which `hangup(resolution, id)`
 * ends the call for when it is cut. Slots are given back on every other path.
 */
export async function createSession (
  state: PluginState, options: CreateOptions, request: FastifyRequest, reply: FastifyReply, protocol: Protocol, what: Naming, order: readonly Resolution[],
  send: () => Promise<CreateAnswer>, idOf: (answer: HttpAnswer) => string | undefined, hangup: (resolution: Resolution, id: string) => Promise<{ answer: HttpAnswer }>
): Promise<Created> {
  const signaling = options.signaling as NonNullable<CreateOptions['signaling']>
  const { credential } = request.realtime
  const slots = await acquireSlots(options, request, reply, credential)
  // Its sideband meters it like any session: with a budget, a model without a price is refused before it is created.
  refuseUnpriced(options, order, slots)
  let sent: CreateAnswer
  try {
    sent = await send()
  } catch (err) {
    slots.release()
    throw err
  }
  const { answer, resolution, apiKey, attempts } = sent
  const id = answer.statusCode < 300 ? idOf(answer) : undefined
  if (id === undefined) {
    slots.release()
    if (answer.statusCode < 300) request.log.warn(`the provider answered the ${what.name} without a usable ${what.idIn}; it is not metered`)
    return { answer, apiKey }
  }
  const end = async (): Promise<void> => {
    const { answer } = await hangup(resolution, id)
    if (answer.statusCode >= 300) throw new Error(`the provider answered the hangup with HTTP ${answer.statusCode}`)
  }
  const { provider, model, requestedModel } = resolution
  const call = { provider: provider.name, model, requestedModel, owner: slots.key, ...(protocol.name === 'live' ? { protocol: 'live' as const } : {}) }
  try {
    await signaling.calls.setCall(id, call, signaling.callTTL)
  } catch (err) {
    // Created but not registered (a full registry, a store down): it would run unowned and unmetered, so it ends.
    slots.release()
    await end().then(
      () => request.log.warn({ callId: id }, `the ${what.name} could not be registered; it was hung up at the provider`),
      (hangupErr: unknown) => request.log.error({ err: hangupErr, callId: id }, `the ${what.name} could not be registered nor hung up; it goes on unmetered`))
    throw err
  }
  request.log.info({ callId: id, provider: resolution.provider.name, model: resolution.model, ...(attempts.length > 1 ? { attempts } : {}) }, `${what.name} created`)
  if (signaling.sideband) attachSideband(state, options, request, { ...resolution, callId: id }, credential, slots, protocol, end, attempts)
  else slots.release()
  return { answer, apiKey, id }
}
