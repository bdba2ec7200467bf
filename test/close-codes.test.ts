// Regression: a ws receive error reaches the other leg with the close code ws itself sent its peer, for every
// error code ws defines (a provider frame declaring a 2^63-1 byte payload reached the client as 1002, not 1009).
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { Socket } from 'node:net'
import { closed, fakeUpstream, open, startProxy, until } from './helpers.js'
import { errorCloseCode, WS_ERROR_CLOSE_CODES } from '../lib/close-codes.js'

t.test('the table holds every WS_ERR_* code of the installed ws, with the close code ws sends for it', async (t) => {
  const lib = join(dirname(createRequire(import.meta.url).resolve('ws')), 'lib')
  const found = new Map<string, number>()
  for (const file of readdirSync(lib)) {
    const source = readFileSync(join(lib, file), 'utf8')
    // receiver.js: createError(Type, 'message', prefix, 1002, 'WS_ERR_...')
    for (const m of source.matchAll(/(\d{4}),\s*'(WS_ERR_[A-Z0-9_]+)'/g)) found.set(m[2] as string, Number(m[1]))
    // permessage-deflate.js: err.code = 'WS_ERR_...'; err[kStatusCode] = 1009
    for (const m of source.matchAll(/code = '(WS_ERR_[A-Z0-9_]+)';\s*\S+\[kStatusCode\] = (\d{4})/g)) found.set(m[1] as string, Number(m[2]))
  }
  t.ok(found.size >= 12, `ws defines ${found.size} receive error codes`)
  t.same(new Map([...WS_ERROR_CLOSE_CODES].sort()), new Map([...found].sort()))
  for (const [code, close] of found) t.equal(errorCloseCode(Object.assign(new Error('x'), { code })), close, code)
  t.equal(errorCloseCode(new Error('no code')), 1002)
})

t.test('a provider frame declaring a 2^63-1 byte payload closes the client with 1009, as ws closes the provider', async (t) => {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } } })
  const ws = await open(t, `${proxy.url}/v1/realtime?model=gpt-realtime`)
  const conn = await upstream.next()
  const c = closed(ws)
  // FIN + text, 127 = 64-bit length follows, then 0x7fffffffffffffff: past what ws accepts (2^53 - 1)
  const header = Buffer.from([0x81, 0x7f, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
  ;(conn.socket as unknown as { _socket: Socket })._socket.write(header)
  t.equal((await conn.closed).code, 1009, 'ws closes the provider with 1009')
  t.equal((await c).code, 1009, 'and the client gets the same code')
  await until(() => proxy.app.realtime.sessions.size === 0, 'session ended')
  const end = proxy.logs.lines.find((l) => l.msg === 'realtime session ended') as { summary: Record<string, unknown> }
  t.match(end.summary, { by: 'upstream', code: 1009 })
})
