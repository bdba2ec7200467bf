// Real servers for tests: a fake provider that records what it received, the plugin on port 0, and clients.
import { once } from 'node:events'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect as tcp, type AddressInfo, type Socket } from 'node:net'
import { Writable } from 'node:stream'
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import WebSocket, { WebSocketServer, type ClientOptions } from 'ws'
import realtimeProxy, { type RealtimeProxyOptions } from '../lib/index.js'

export interface Tap {
  teardown (fn: () => unknown): void
}

export interface Frame {
  data: Buffer
  isBinary: boolean
}

export interface UpstreamConnection {
  url: string
  headers: IncomingMessage['headers']
  /** Header names and values as sent, in order (a header named "__proto__" cannot live in `headers`). */
  rawHeaders: string[]
  protocol: string
  socket: WebSocket
  frames: Frame[]
  closed: Promise<{ code: number, reason: string }>
}

export interface FakeUpstreamOptions {
  /** Answer the handshake with this status and body instead of upgrading. */
  reject?: { status: number, body: string, headers?: Record<string, string> }
  /** Never answer the handshake. */
  hang?: boolean
  /** Answer the handshake after this many milliseconds. */
  delay?: number
  /** Called once the upstream socket is open (frames sent here travel with the 101). */
  onConnection?: (socket: WebSocket, req: IncomingMessage) => void
  maxPayload?: number
  autoPong?: boolean
  /** Answers plain HTTP requests (signaling endpoints); they are recorded in `posts` with their body. Default 404. */
  http?: (req: RecordedRequest, res: ServerResponse) => void
}

export interface RecordedRequest {
  method: string
  url: string
  headers: IncomingMessage['headers']
  body: Buffer
}

export interface FakeUpstream {
  url: string
  port: number
  connections: UpstreamConnection[]
  /** Resolves with the next connection. */
  next (): Promise<UpstreamConnection>
  requests: Array<{ url: string, headers: IncomingMessage['headers'] }>
  /** Plain HTTP requests, with their bodies. */
  posts: RecordedRequest[]
}

export async function fakeUpstream (t: Tap, options: FakeUpstreamOptions = {}): Promise<FakeUpstream> {
  const posts: RecordedRequest[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const recorded = { method: req.method as string, url: req.url as string, headers: req.headers, body: Buffer.concat(chunks) }
      posts.push(recorded)
      if (options.http === undefined) res.writeHead(404).end()
      else options.http(recorded, res)
    })
  })
  const wss = new WebSocketServer({ noServer: true, maxPayload: options.maxPayload ?? 64 * 1024 * 1024, autoPong: options.autoPong ?? true })
  const connections: UpstreamConnection[] = []
  const requests: FakeUpstream['requests'] = []
  const waiting: Array<(c: UpstreamConnection) => void> = []
  let claimed = 0
  server.on('upgrade', (req, socket, head) => {
    requests.push({ url: req.url as string, headers: req.headers })
    if (options.hang === true) return
    if (options.reject !== undefined) {
      const { status, body, headers = { 'content-type': 'application/json' } } = options.reject
      const lines = [`HTTP/1.1 ${status} Rejected`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        `content-length: ${Buffer.byteLength(body)}`, 'connection: close', '', body]
      socket.end(lines.join('\r\n'))
      return
    }
    setTimeout(() => wss.handleUpgrade(req, socket, head, (ws) => {
      const frames: Frame[] = []
      ws.on('message', (data: Buffer, isBinary) => frames.push({ data, isBinary }))
      ws.on('error', () => {})
      const closed = once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }))
      const connection = { url: req.url as string, headers: req.headers, rawHeaders: req.rawHeaders, protocol: ws.protocol, socket: ws, frames, closed }
      connections.push(connection)
      options.onConnection?.(ws, req)
      const waiter = waiting.shift()
      if (waiter !== undefined) {
        claimed++
        waiter(connection)
      }
    }), options.delay ?? 0)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.teardown(async () => {
    for (const ws of wss.clients) ws.terminate()
    server.closeAllConnections()
    server.close()
  })
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    connections,
    requests,
    posts,
    next: () => claimed < connections.length
      ? Promise.resolve(connections[claimed++] as UpstreamConnection)
      : new Promise((resolve) => waiting.push(resolve))
  }
}

/** Log lines captured from the app's pino logger. */
export class LogCapture extends Writable {
  readonly lines: Array<Record<string, unknown>> = []
  text = ''
  override _write (chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString()
    for (const line of chunk.toString().split('\n')) if (line !== '') this.lines.push(JSON.parse(line))
    done()
  }
}

export interface Proxy {
  app: FastifyInstance
  url: string
  logs: LogCapture
}

export async function startProxy (
  t: Tap,
  options: RealtimeProxyOptions,
  setup?: (app: FastifyInstance) => void | Promise<void>,
  fastifyOptions: FastifyServerOptions & { https?: { key: Buffer, cert: Buffer } } = {}
): Promise<Proxy> {
  const logs = new LogCapture()
  const app = Fastify({ logger: { level: 'trace', stream: logs }, ...fastifyOptions }) as unknown as FastifyInstance
  t.teardown(() => app.close())
  await setup?.(app)
  await app.register(realtimeProxy, options)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as AddressInfo
  return { app, url: `ws://127.0.0.1:${port}`, logs }
}

export interface Refused {
  status: number
  headers: IncomingMessage['headers']
  body: string
}

/** Opens a client; resolves with the open socket, or with the HTTP answer when the upgrade is refused. */
export async function connect (t: Tap, url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<WebSocket | Refused> {
  const ws = new WebSocket(url, protocols, options)
  t.teardown(() => ws.terminate())
  queue(ws)
  return await new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => {
        ws.terminate() // a refused browser handshake drops its connection too
        resolve({ status: res.statusCode as number, headers: res.headers, body })
      })
    })
  })
}

export async function open (t: Tap, url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<WebSocket> {
  const ws = await connect(t, url, protocols, options)
  if (!(ws instanceof WebSocket)) throw new Error(`expected an upgrade, got ${ws.status} ${ws.body}`)
  return ws
}

export async function refused (t: Tap, url: string, protocols: string[] = [], options: ClientOptions = {}): Promise<Refused> {
  const res = await connect(t, url, protocols, options)
  if (res instanceof WebSocket) throw new Error('expected the upgrade to be refused')
  return res
}

const queues = new WeakMap<WebSocket, { frames: Frame[], waiting: Array<(f: Frame) => void> }>()

/** Queues a socket's frames from the start: a provider speaks first, before any await can attach a listener. */
export function queue (ws: WebSocket): void {
  const q = { frames: [] as Frame[], waiting: [] as Array<(f: Frame) => void> }
  queues.set(ws, q)
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    const frame = { data, isBinary }
    const waiter = q.waiting.shift()
    if (waiter !== undefined) waiter(frame)
    else q.frames.push(frame)
  })
}

export function nextMessage (ws: WebSocket): Promise<Frame> {
  const q = queues.get(ws)
  if (q === undefined) throw new Error('nextMessage needs a socket from connect()')
  const frame = q.frames.shift()
  return frame !== undefined ? Promise.resolve(frame) : new Promise((resolve) => q.waiting.push(resolve))
}

export function closed (ws: WebSocket): Promise<{ code: number, reason: string }> {
  return once(ws, 'close').then(([code, reason]) => ({ code: code as number, reason: String(reason) }))
}

/**
 * A raw TCP client that completes the upgrade, then never reads again (so it never answers a close): the 101
 * is checked, and the socket, paused, is destroyed at teardown.
 */
export async function deafClient (t: Tap, proxy: Proxy, path = '/v1/realtime?model=m'): Promise<Socket> {
  const socket = tcp(Number(new URL(proxy.url).port), '127.0.0.1')
  t.teardown(() => socket.destroy())
  socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n')
  const [first] = await once(socket, 'data') as [Buffer]
  if (!first.toString().startsWith('HTTP/1.1 101 ')) throw new Error(`expected 101 Switching Protocols, got ${first.toString().split('\r\n')[0] as string}`)
  socket.pause()
  return socket
}

/** Resolves once `predicate` holds, polling the event loop (for counters that change without an event). */
export async function until (predicate: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms
  while (!await predicate()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

/** A connected ws pair on its own server: the client end and the server's end. */
export async function wsPair (t: Tap): Promise<[client: WebSocket, server: WebSocket]> {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  t.teardown(() => server.close())
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
  await once(client, 'open')
  return [client, (await accepted)[0]]
}

/** Sends `texts` from `ws` in one write, so its peer reads them in one go. */
export function sendInOneWrite (ws: WebSocket, texts: string[]): void {
  const socket = (ws as unknown as { _socket: Socket })._socket
  socket.cork()
  for (const text of texts) ws.send(text)
  socket.uncork()
}
