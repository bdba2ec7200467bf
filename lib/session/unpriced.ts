// Budgets count what is priced: a session on a model without a price would spend without counting, the budget
// bug gateways are best known for. With a budget for the caller, such a session is refused before any dial.
import { UnpricedModelError } from '../errors.js'
import type { BudgetSettings } from '../limits/budget.js'
import type { Slots } from '../limits/slots.js'
import type { Resolution } from '../providers/registry.js'
import { deploymentKey } from '../upstream/failover.js'
import { priceFor, type Pricing } from '../usage/pricing.js'

/**
 * Throws FST_REALTIME_UNPRICED_MODEL (and gives the slots back) when the caller has a budget, the app did not set
 * `budgets.allowUnpriced`, and a target of `order` has no price.
 */
export function refuseUnpriced (options: { pricing?: Pricing, budgets?: BudgetSettings }, order: readonly Resolution[], slots: Slots): void {
  // An account exists only with budgets on.
  if (slots.account === undefined || (options.budgets as BudgetSettings).allowUnpriced === true) return
  const unpriced = order.find((r) => priceFor(options.pricing, r.provider.name, [r.model, r.requestedModel]) === undefined)
  if (unpriced === undefined) return
  slots.release()
  throw new UnpricedModelError(deploymentKey(unpriced.provider.name, unpriced.model))
}
