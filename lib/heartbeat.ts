// Pings both legs every `interval`; a leg that has not answered within `timeout` is reported dead.
// A leg we stopped reading (backpressure) cannot have its pong read, so it is not judged.
import type WebSocket from 'ws'

export function heartbeat (
  legs: readonly WebSocket[],
  interval: number,
  timeout: number,
  onDead: (leg: WebSocket) => void
): () => void {
  const answered = new Set<WebSocket>()
  let deadline: NodeJS.Timeout | undefined
  const onPong = function (this: WebSocket): void { answered.add(this) }
  for (const leg of legs) leg.on('pong', onPong)
  const tick = setInterval(() => {
    answered.clear()
    for (const leg of legs) leg.ping()
    deadline = setTimeout(() => {
      const dead = legs.find((leg) => !answered.has(leg) && !leg.isPaused)
      if (dead !== undefined) onDead(dead)
    }, timeout)
  }, interval)
  return () => {
    clearInterval(tick)
    clearTimeout(deadline)
  }
}
