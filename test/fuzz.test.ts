// Bad input never hurts anyone else: junk frames, bad URLs, vanishing clients and connection storms at one
// process; afterwards a normal session works, nothing leaked, and no secret was ever printed or sent.
import t from 'tap'
import { connect as tcp, type Socket } from 'node:net'
import { once } from 'node:events'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import WebSocket from 'ws'
import { closed, fakeUpstream, nextMessage, open, startProxy, until } from './helpers.js'

const PROVIDER_KEY = 'sk-fuzz-PROVIDERSECRET-0001'
const CLIENT_KEY = 'client-FUZZSECRET-0002'

// Deterministic junk.
let seed = 42
const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
const junk = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)))

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const heap = (): number => { gc(); gc(); return process.memoryUsage().heapUsed }

const HANDSHAKE = 'GET /v1/realtime?model=m HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
  `Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${CLIENT_KEY}\r\n\r\n`

t.test('one process survives everything, then serves a normal session', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: (ws) => ws.send('{"type":"session.created"}') })
  const proxy = await startProxy(t, { providers: { openai: { apiKey: PROVIDER_KEY, baseURL: upstream.url } }, heartbeatInterval: 1000, pongTimeout: 500 }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (request.realtime.credential !== CLIENT_KEY) return reply.code(401).send({ error: 'unauthorized' })
    })
  })
  const port = Number(new URL(proxy.url).port)
  const url = `${proxy.url}/v1/realtime?model=m`
  const auth = { headers: { authorization: `Bearer ${CLIENT_KEY}` } }
  const received: string[] = []
  const baselineTimers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
  const baselineHeap = heap()

  await t.test('junk frames: invalid UTF-8 text closes with 1007, binary junk is relayed, sessions stay apart', async (t) => {
    const bystander = await open(t, url, [], auth)
    const codes: number[] = []
    for (let i = 0; i < 20; i++) {
      const ws = await open(t, url, [], auth)
      ws.on('message', (d: Buffer) => received.push(d.toString()))
      const c = closed(ws)
      ws.send(junk(64), { binary: true })
      ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
      codes.push((await c).code)
    }
    t.same([...new Set(codes)], [1007])
    bystander.send('{"type":"response.create"}')
    t.equal(bystander.readyState, WebSocket.OPEN)
  })

  await t.test('bad URLs and names: typed 4xx before any dial', async (t) => {
    const before = upstream.requests.length
    const bodies: string[] = []
    for (const query of [
      'model=a&model=b', 'model=a&provider=openai&provider=x', `model=${'m'.repeat(5000)}`, 'model=%00evil', 'model=%E2%98%83',
      'model=a%20b', 'model=', 'intent=nope', 'call_id=%2F..%2F'
    ]) {
      const ws = new WebSocket(`${proxy.url}/v1/realtime?${query}`, auth)
      ws.on('error', () => {})
      t.teardown(() => ws.terminate())
      const [, res] = await once(ws, 'unexpected-response') as [unknown, import('node:http').IncomingMessage]
      let body = ''
      for await (const chunk of res) body += String(chunk)
      ws.terminate()
      bodies.push(body)
      t.ok(res.statusCode === 400, `${query.slice(0, 40)}: ${res.statusCode}`)
    }
    t.equal(upstream.requests.length, before, 'nothing dialed')
    t.notOk(bodies.join('').includes('SECRET'))
    // 500 unknown parameters are ignored, not forwarded
    const many = await open(t, `${url}&${Array.from({ length: 500 }, (_, i) => `p${i}=${i}`).join('&')}`, [], auth)
    t.equal(upstream.connections.at(-1)?.url, '/realtime?model=m')
    many.close()
  })

  await t.test('clients that vanish mid-handshake, half-close, or die mid-frame', async (t) => {
    const sockets: Socket[] = []
    const raw = (): Socket => {
      const s = tcp(port, '127.0.0.1')
      s.on('error', () => {})
      sockets.push(s)
      return s
    }
    for (let i = 0; i < 20; i++) {
      raw().end(HANDSHAKE.slice(0, 30 + i)) // half a request line or header block, then FIN
      raw().end(HANDSHAKE) // a full handshake and an immediate half-close
      const s = raw()
      s.write(HANDSHAKE)
      s.once('data', () => {
        // a masked text frame announcing 100 bytes, 10 of them sent, then gone
        s.write(Buffer.concat([Buffer.from([0x81, 0x80 | 100, 1, 2, 3, 4]), junk(10)]))
        s.destroy()
      })
      raw().destroy()
    }
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const s of sockets) s.destroy()
    await until(() => proxy.app.realtime.sessions.size === 0, 'no session left', 10_000)
    t.equal(proxy.app.realtime.sessions.size, 0)
  })

  await t.test('2000 rapid connect/disconnect cycles', async (t) => {
    let refused = 0
    let opened = 0
    const cycle = async (i: number): Promise<void> => {
      const ws = new WebSocket(url, auth)
      const done = new Promise((resolve) => ws.once('close', resolve))
      ws.on('error', () => {})
      ws.on('unexpected-response', (_req, res) => { refused++; res.resume(); ws.terminate() })
      if (i % 3 === 0) {
        // gone before the provider even answered
        setImmediate(() => ws.terminate())
      } else {
        await new Promise((resolve) => { ws.once('open', resolve); ws.once('close', resolve) })
        if (ws.readyState === WebSocket.OPEN) opened++
        if (i % 3 === 1) ws.close(1000)
        else ws.terminate()
      }
      await done
    }
    for (let i = 0; i < 2000; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => cycle(i + j)))
    }
    t.equal(refused, 0)
    t.ok(opened > 1000, `${opened} sessions opened`)
    await until(() => proxy.app.realtime.sessions.size === 0, 'all sessions ended', 20_000)
  })

  await t.test('afterwards: a normal session, no leaks, no secrets', async (t) => {
    const ws = await open(t, url, [], auth)
    t.equal((await nextMessage(ws)).data.toString(), '{"type":"session.created"}')
    ws.send('{"type":"response.create"}')
    const conn = upstream.connections.at(-1)
    await until(() => conn?.frames.length === 1, 'frame relayed')
    ws.close()
    await until(() => proxy.app.realtime.sessions.size === 0, 'session ended')
    await until(() => upstream.connections.every((c) => c.socket.readyState === WebSocket.CLOSED), 'every provider socket closed', 20_000)
    const connections = await new Promise<number>((resolve, reject) => proxy.app.server.getConnections((err, n) => err ? reject(err) : resolve(n)))
    t.equal(connections, 0, 'no client socket left open')
    await until(() => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= baselineTimers, 'timers back to baseline', 10_000)
    const grown = heap() - baselineHeap
    t.ok(grown < 32 * 1024 * 1024, `heap grew ${(grown / 1024 / 1024).toFixed(1)} MiB`)
    t.equal(proxy.app.realtime.stats().activeSessions, 0)
    for (const secret of ['PROVIDERSECRET', 'FUZZSECRET']) {
      t.notOk(proxy.logs.text.includes(secret), `${secret} never logged`)
      t.notOk(received.some((f) => f.includes(secret)), `${secret} never sent to a client`)
    }
    t.ok(proxy.logs.lines.length > 1000, `${proxy.logs.lines.length} log lines checked`)
  })
})
