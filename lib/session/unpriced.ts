// Budgets count what is priced: a session on a model without a price would spend without counting, the budget
// bug gateways are best known for. With a budget for the caller, such a session is refused before any dial.
import { UnpricedModelError } from '../errors.js'
import type { Slots } from '../limits/slots.js'
import type { Resolution } from '../providers/registry.js'
import { priceFor, type Pricing } from '../usage/pricing.js'

/** Throws FST_REALTIME_UNPRICED_MODEL (and gives the slots back) when the caller has a budget and a target has no price. */
export function refuseUnpriced (pricing: Pricing | undefined, order: readonly Resolution[], slots: Slots, allowUnpriced: boolean): void {
  if (slots.account === undefined || allowUnpriced) return
  const unpriced = order.find((r) => priceFor(pricing, r.provider.name, [r.model, r.requestedModel]) === undefined)
  if (unpriced === undefined) return
  slots.release()
  throw new UnpricedModelError(unpriced.model ?? unpriced.requestedModel ?? '', unpriced.provider.name)
}
