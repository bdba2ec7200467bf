// While the provider is dialed the client's socket is not yet a websocket and nobody reads it, so a client
// that leaves would go unnoticed until the dial ends. Read it meanwhile: notice the FIN, keep any bytes.
import type { Socket } from 'node:net'

export interface ClientWatch {
  /** Stop reading and put back what was read, before ws takes the socket; keep watching for 'close'. */
  release (): void
  /** Stop watching and let the socket flow again: ws has its own listeners by now, or the request is over. */
  stop (): void
}

export function watchClient (socket: Socket, onGone: () => void): ClientWatch {
  const held: Buffer[] = []
  const hold = (chunk: Buffer): void => { held.push(chunk) }
  const release = (): void => {
    socket.removeListener('data', hold)
    socket.removeListener('end', onGone)
    socket.pause()
    for (let i = held.length - 1; i >= 0; i--) socket.unshift(held[i] as Buffer)
    held.length = 0
  }
  socket.on('data', hold)
  socket.once('end', onGone)
  socket.once('close', onGone)
  return {
    release,
    stop () {
      release()
      socket.removeListener('close', onGone)
      socket.resume()
    }
  }
}
