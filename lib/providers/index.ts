// Built-in provider types by name.
import { azure } from './azure.js'
import { bailian } from './bailian.js'
import { gemini, vertex } from './gemini.js'
import { openai } from './openai.js'
import { openaiCompatible } from './openai-compatible.js'
import { simulator } from './simulator.js'
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
  gemini,
  vertex,
  simulator
} satisfies Record<string, ProviderModule>

export type ProviderType = keyof typeof providerTypes

export function isProviderType (type: string): type is ProviderType {
  return Object.hasOwn(providerTypes, type)
}

const modules: readonly ProviderModule[] = Object.values(providerTypes)
const every = (pick: (m: ProviderModule) => readonly string[] | undefined): readonly string[] => [...new Set(modules.flatMap((m) => pick(m) ?? []))]

/** Subprotocol prefixes that carry a caller's credential, in the order they are read. */
export const CREDENTIAL_PROTOCOLS = every((m) => m.credentialProtocols)

/** Every subprotocol prefix never echoed to the client nor forwarded upstream: credentials and account details. */
export const PRIVATE_PROTOCOLS = [...CREDENTIAL_PROTOCOLS, ...every((m) => m.privateProtocols)]

/** Client headers no provider may receive (auth headers, protocol switches), lower-case. */
export const PROVIDER_HEADERS = every((m) => m.privateHeaders)

/** Prefixes of the key shapes of every provider, for redaction. */
export const KEY_PREFIXES = every((m) => m.keyPrefixes)

/** Key shapes without a prefix form (regular expression sources), for redaction. */
export const KEY_SHAPES = every((m) => m.keyShapes)

/** Every option some module takes (`ModuleOptions`), from the modules themselves. */
export const MODULE_OPTIONS = every((m) => Object.keys(m.options ?? {}))

/** The types that take `option`, for "only applies to type ..." messages. */
export function typesTaking (option: string): string[] {
  return Object.entries(providerTypes).filter(([, m]: [string, ProviderModule]) => Object.hasOwn(m.options ?? {}, option)).map(([type]) => type)
}
