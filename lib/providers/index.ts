// Built-in provider types by name.
import { azure } from './azure.js'
import { bailian } from './bailian.js'
import { openai } from './openai.js'
import { openaiCompatible } from './openai-compatible.js'
import type { ProviderModule } from './types.js'
import { xai } from './xai.js'
import { zai } from './zai.js'

export const providerTypes = {
  openai,
  azure,
  xai,
  bailian,
  zai,
  'openai-compatible': openaiCompatible,
  // the embedded simulator (fastify-realtime-proxy/simulator): the plugin starts one and fills in baseURL
  simulator: openaiCompatible
} satisfies Record<string, ProviderModule>

export type ProviderType = keyof typeof providerTypes

export function isProviderType (type: string): type is ProviderType {
  return Object.hasOwn(providerTypes, type)
}
