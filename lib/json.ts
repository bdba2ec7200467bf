// JSON objects as the plugin reads them from clients and providers.

export type Json = Record<string, unknown>

/** A plain JSON object: not null, not an array. */
export const isObject = (value: unknown): value is Json => value !== null && typeof value === 'object' && !Array.isArray(value)
