// A call created through the signaling routes, looked up for a sideband attach or a hangup: only its creator
// may reach it, and it is routed to the provider that holds it without the client restating the model.
import type { FastifyRequest } from 'fastify'
import { CallForbiddenError, UnknownProviderError } from '../errors.js'
import type { ProviderRegistry, Resolution } from '../providers/registry.js'
import { callerKey, type CallerKeyOptions } from '../limits/slots.js'
import type { CallRecord, CallStore } from '../store/types.js'

/** A call found in the registry: how to reach it, and its record (its owner, what it was billed so far). */
export type CallResolution = Resolution & { record: CallRecord }

/** The options a call lookup reads: who the caller is, and the call registry (absent without signaling). */
export interface CallLookupOptions extends CallerKeyOptions {
  signaling?: { calls: CallStore }
}

/**
 * The call's resolution, or undefined when the registry does not hold it (or signaling is off), or holds it as
 * a session of the other protocol (a GPT-Live session is not a realtime call, nor the reverse). A call another
 * caller created is refused (403) whichever protocol it is.
 */
export async function lookupCall (
  options: CallLookupOptions, registry: ProviderRegistry, request: FastifyRequest, callId: string, credential: string | undefined,
  protocol: 'realtime' | 'live' = 'realtime'
): Promise<CallResolution | undefined> {
  const call = await options.signaling?.calls.getCall(callId)
  if (call === undefined) return undefined
  // Owner first, whichever route names it: another caller's GPT-Live session is no unregistered realtime call.
  if (call.owner !== callerKey(options, request, credential)) throw new CallForbiddenError(callId)
  if ((call.protocol ?? 'realtime') !== protocol) return undefined
  const provider = registry.get(call.provider)
  if (provider === undefined) throw new UnknownProviderError(call.provider, registry.names().join(', '))
  const resolution: CallResolution = { provider, model: call.model, requestedModel: call.requestedModel, callId, record: call }
  if (protocol === 'live') resolution.protocol = 'live'
  return resolution
}
