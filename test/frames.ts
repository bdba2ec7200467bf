// Raw client frames and a settle wait, for tests that drive the proxy below the ws client (a deaf client).
import { until } from './helpers.js'

/** `count` masked text frames of `payload` (under 126 bytes) in one buffer. */
export function maskedFrames (payload: string, count: number): Buffer {
  const body = Buffer.from(payload)
  const mask = [0x11, 0x22, 0x33, 0x44]
  const one = Buffer.concat([Buffer.from([0x81, 0x80 | body.length, ...mask]), Buffer.from(body.map((b, i) => b ^ (mask[i % 4] as number)))])
  return Buffer.concat(Array.from({ length: count }, () => one))
}

/** Resolves with `read()` once it has not changed for `quiet` ms. */
export async function settled (read: () => number, quiet = 300): Promise<number> {
  let last = -1
  let since = Date.now()
  await until(() => {
    const now = read()
    if (now !== last) {
      last = now
      since = Date.now()
    }
    return Date.now() - since >= quiet
  }, 'the counter to settle', 20_000)
  return last
}
