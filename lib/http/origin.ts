// Cross-site websocket hijacking: a page on another site can open a websocket to your app with the user's
// cookies. Browsers always send Origin, so refusing unknown origins closes that door.
import type { FastifyRequest } from 'fastify'
import { InvalidOptionError } from '../errors.js'

export type AllowedOrigins = string[] | ((origin: string, request: FastifyRequest) => boolean | Promise<boolean>)

export type OriginCheck = (origin: string, request: FastifyRequest) => boolean | Promise<boolean>

export function originSettings (option: unknown): OriginCheck | undefined {
  if (option === undefined) return undefined
  if (typeof option === 'function') return option as OriginCheck
  if (!Array.isArray(option) || option.some((o) => typeof o !== 'string' || !/^https?:\/\/[^/]+$|^\*$/.test(o))) {
    throw new InvalidOptionError('"allowedOrigins" must be a list of origins such as ["https://app.example.com"] (scheme and host, no path) or a function (origin, request) => boolean')
  }
  const allowed = new Set(option.map((o: string) => o.toLowerCase()))
  return allowed.has('*') ? () => true : (origin) => allowed.has(origin.toLowerCase())
}
