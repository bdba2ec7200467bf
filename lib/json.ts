// JSON objects as the plugin reads them from clients and providers.

export type Json = Record<string, unknown>

/** A plain JSON object: not null, not an array. */
export const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)

/** A frame's JSON object, or undefined for anything else (not JSON, or JSON that is not an object): never throws. */
export function parseObject (data: Buffer | string): Json | undefined {
  try {
    const value: unknown = JSON.parse(data.toString())
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** Merges `update` into `into` (a session.update into a session): objects merge key by key, the rest replaces. */
export function merge (into: Json, update: Json): Json {
  for (const [key, value] of Object.entries(update)) {
    // JSON.parse makes "__proto__" an own key; merging into it would reach Object.prototype.
    if (key === '__proto__') continue
    const current = Object.hasOwn(into, key) ? into[key] : undefined
    if (isObject(value) && isObject(current)) merge(current, value)
    else into[key] = value
  }
  return into
}
