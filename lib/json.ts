// JSON objects as the plugin reads them from clients and providers.

export type Json = Record<string, unknown>

/** A plain JSON object: not null, not an array. */
export const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)

/** A frame's JSON object, or undefined for anything else (not JSON, or JSON that is not an object): never throws. */
export function parseObject (data: Buffer): Json | undefined {
  try {
    const value: unknown = JSON.parse(data.toString())
    return isObject(value) ? value : undefined
  } catch {
    return undefined
  }
}
