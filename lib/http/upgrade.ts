// What every websocket route does before its session: check the upgrade and the caller, pick the targets to try,
// and dial the provider while the client still waits for its HTTP answer, so every failure is still one.
import type { ServerResponse } from 'node:http'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type WebSocket from 'ws'
import { watchClient, type ClientWatch } from './client-watch.js'
import { BadUpgradeError, ProviderRejectedError, ShuttingDownError, UpgradeRequiredError } from '../errors.js'
import type { Slots } from '../limits/slots.js'
import { readQuery } from './query.js'
import type { Resolution, RouteQuery } from '../providers/registry.js'
import type { PluginState } from '../state.js'
import type { Opened } from '../upstream/provider-dial.js'
import { attemptOrder, type FailoverSettings, type Unserved } from '../upstream/failover.js'
import { parseProtocols, selectProtocol } from './subprotocols.js'

// ws refuses these in handleUpgrade, after we would already have dialed; refuse them first.
const WS_KEY = /^[+/0-9A-Za-z]{22}==$/
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

function checkUpgrade (request: FastifyRequest): void {
  if (!request.ws) throw new UpgradeRequiredError()
  if (String(request.headers.upgrade).toLowerCase() !== 'websocket') throw new BadUpgradeError('Upgrade header must be "websocket"')
  const key = request.headers['sec-websocket-key']
  const version = request.headers['sec-websocket-version']
  if (key === undefined || !WS_KEY.test(key)) throw new BadUpgradeError('missing or malformed Sec-WebSocket-Key')
  if (version !== '13' && version !== '8') throw new BadUpgradeError('Sec-WebSocket-Version must be 13')
}

/** Echo only a non-credential subprotocol: ws echoes whatever this header holds when it upgrades. */
function pinProtocol (request: FastifyRequest): void {
  const offered = parseProtocols(request.headers['sec-websocket-protocol'])
  if (!offered.every((p) => TOKEN.test(p))) throw new BadUpgradeError('malformed Sec-WebSocket-Protocol')
  const protocol = selectProtocol(offered)
  if (protocol === undefined) delete request.raw.headers['sec-websocket-protocol']
  else request.raw.headers['sec-websocket-protocol'] = protocol
}

function relayRejection (reply: FastifyReply, err: ProviderRejectedError): void {
  reply.log.warn({ statusCode: err.statusCode }, 'provider refused the realtime session')
  if (err.retryAfter !== undefined) reply.header('retry-after', err.retryAfter)
  reply.code(err.statusCode).type('application/json; charset=utf-8').send(err.body)
}

/** What every websocket route checks first: a valid upgrade, the caller's credential, not shutting down, the query. */
export function acceptUpgrade (state: PluginState, request: FastifyRequest): { credential: string | undefined, query: RouteQuery } {
  checkUpgrade(request)
  const { credential } = request.realtime // before pinProtocol drops credential subprotocols
  pinProtocol(request)
  if (state.closing) throw new ShuttingDownError()
  return { credential, query: readQuery(request.query) }
}

/** The targets to try for `query`, in the order the route's strategy and the targets' health give. */
export function attempts (state: PluginState, failover: FailoverSettings, query: RouteQuery, requireModel = true): Resolution[] {
  return attemptOrder(state.registry.plan(query, requireModel), state.health, failover.maxAttempts, (r) => state.hub.busy(r.provider.name, r.model))
}

/**
 * Dials the provider before the client is upgraded, so every failure is still an HTTP answer: `order`'s targets
 * in turn while they fail in a retryable way (failover). Resolves with the open, paused upstream, the target that
 * served and the watch on the client (stop it once upgraded), or with undefined when the reply is already taken
 * care of: the provider's refusal sent, or a client that left meanwhile. (Not the reply itself: a reply is a
 * thenable, which an async function would wait for.) The slots are released on any failure.
 */
export async function dialBeforeUpgrade (
  state: PluginState, request: FastifyRequest, reply: FastifyReply, order: readonly Resolution[], slots: Slots, failover: FailoverSettings
): Promise<(Opened & { watch: ClientWatch }) | undefined> {
  const controller = new AbortController()
  let upstream: WebSocket | undefined
  // Until the relay owns both sockets, a client that leaves takes the upstream with it.
  const onClientGone = (): void => {
    controller.abort(new Error('client went away'))
    upstream?.terminate()
    slots.release()
  }
  const watch = watchClient(request.raw.socket, onClientGone)
  let opened: Opened | Unserved
  try {
    opened = await state.dialer.dialAny(request, order, controller, failover, state.health)
    if ('upstream' in opened) upstream = opened.upstream
  } catch {
    // Only an abort rejects: the client left, or the server is shutting down.
    watch.stop()
    slots.release()
    if (state.closing) throw new ShuttingDownError()
    request.log.info('client left while the provider was dialed')
    reply.hijack()
    request.raw.socket.destroy()
    return undefined
  }
  if ('error' in opened) {
    watch.stop()
    slots.release()
    if (opened.attempts.length > 1) request.log.warn({ attempts: opened.attempts }, 'no target could serve the session')
    if (!(opened.error instanceof ProviderRejectedError) || opened.error.body === undefined) throw opened.error
    relayRejection(reply, opened.error)
    return undefined
  }
  watch.release()
  return { ...opened, watch }
}

/** Lets the request and reply of an upgraded request go; the session's own error handling replaces ws's. */
export function detach (client: WebSocket, request: FastifyRequest, response: ServerResponse): void {
  // The socket is ws's now, and the session outlives the request: let the request and reply go (3 KB of
  // an idle session's 10). The HTTP response never finishes, yet its 'finish' listener holds the reply,
  // and @fastify/websocket's 'error' listener holds both; the session's own error handling replaces it.
  response.detachSocket(request.raw.socket)
  client.removeAllListeners('error')
}
