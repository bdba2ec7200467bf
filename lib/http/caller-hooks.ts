// What every route of the plugin runs before its own work: the origin check and the app's route-level auth
// hooks, and a request log line without a query credential.
import type { FastifyRequest, onRequestHookHandler, preHandlerHookHandler, RouteOptions } from 'fastify'
import { redactQueryParam } from './credentials.js'
import { OriginForbiddenError } from '../errors.js'
import type { OriginCheck } from './origin.js'

export type CallerHooks = Pick<RouteOptions, 'logSerializers'> & { onRequest: onRequestHookHandler[], preHandler: preHandlerHookHandler[] }

/** The options the caller hooks read. */
export interface CallerOptions {
  onRequest: onRequestHookHandler[]
  preHandler: preHandlerHookHandler[]
  allowedOrigins?: OriginCheck
  credentialQuery?: string
}

export function callerHooks (options: CallerOptions): CallerHooks {
  const { allowedOrigins, credentialQuery } = options
  const checkOrigin = async (request: FastifyRequest): Promise<void> => {
    const origin = request.headers.origin
    if (origin !== undefined && !(await (allowedOrigins as NonNullable<typeof allowedOrigins>)(origin, request))) {
      throw new OriginForbiddenError(origin)
    }
  }
  const onRequest: onRequestHookHandler[] = allowedOrigins === undefined ? [...options.onRequest] : [checkOrigin as onRequestHookHandler, ...options.onRequest]
  const logSerializers = credentialQuery === undefined
    ? undefined
    : {
        req: (req: FastifyRequest) => ({
          method: req.method,
          url: redactQueryParam(req.url, credentialQuery),
          host: req.host,
          remoteAddress: req.ip,
          remotePort: req.socket?.remotePort
        })
      }
  return { onRequest, preHandler: [...options.preHandler], logSerializers }
}
