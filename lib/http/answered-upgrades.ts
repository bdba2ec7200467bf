// An upgrade answered with HTTP instead of 101 (an app hook's refusal, the plugin's own, or the router's 400 or
// 414 before any hook runs) leaves a raw socket nobody reads: Node parses no further request on it and ws never
// takes it, so a client that stays is never noticed and app.close() waits for it forever. Whoever wrote the
// answer, the socket is dropped once the answer is sent. An upgraded socket's response never finishes.
import type { Server, ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'

export function dropAnsweredUpgrades (server: Server): () => void {
  const onUpgrade = (_request: unknown, socket: Duplex): void => {
    // @fastify/websocket's own listener, added before this one, routed the request on a response it assigned to
    // the socket (ServerResponse#assignSocket keeps it there).
    const response = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage
    response?.once('finish', () => socket.destroy())
  }
  server.on('upgrade', onUpgrade)
  return () => { server.removeListener('upgrade', onUpgrade) }
}
