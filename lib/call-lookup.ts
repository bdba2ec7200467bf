// A call created through the signaling routes, looked up for a sideband attach or a hangup: only its creator
// may reach it, and it is routed to the provider that holds it without the client restating the model.
import type { FastifyRequest } from 'fastify'
import { CallForbiddenError, UnknownProviderError } from './errors.js'
import type { Settings } from './options.js'
import type { ProviderRegistry, Resolution } from './registry.js'
import { callerKey } from './slots.js'

/** The call's resolution, or undefined when the registry does not hold it (or signaling is off). */
export async function lookupCall (
  settings: Settings, registry: ProviderRegistry, request: FastifyRequest, callId: string, credential: string | undefined
): Promise<Resolution | undefined> {
  const call = await settings.signaling?.calls.getCall(callId)
  if (call === undefined) return undefined
  if (call.owner !== callerKey(settings, request, credential)) throw new CallForbiddenError(callId)
  const provider = registry.get(call.provider)
  if (provider === undefined) throw new UnknownProviderError(call.provider, registry.names().join(', '))
  return { provider, model: call.model, requestedModel: call.requestedModel, callId }
}
