// An embedded realtime server speaking OpenAI's GA event schema: the examples run on it with no API key,
// our tests use it as the provider, and so can yours.
//   const sim = await RealtimeSimulator.start()
//   app.register(realtimeProxy, { providers: { openai: { baseURL: sim.url } } })
import { once } from 'node:events'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { WebSocketServer } from 'ws'
import { ClientSecrets, invalid } from './client-secrets.js'
import { errorBody } from './events.js'
import { SimulatedSession } from './session.js'
import { SimulatedLiveSession } from './live.js'
import { SimulatedTranslationSession } from './translation.js'
import { SimulatedGeminiSession, type ResumableState } from './gemini.js'

export interface SimulatorOptions {
  /** Default 0 (any free port). */
  port?: number
  /** Host to listen on, as it may stand in a URL. Default 127.0.0.1. */
  host?: string
  /** 1 streams answers in real time (100 ms of audio per 100 ms); 0 as fast as possible. Default 1. */
  pace?: number
  /**
   * When set, handshakes and client_secrets requests must carry `Authorization: Bearer <apiKey>`; else 401.
   * A key minted at `POST /v1/realtime/client_secrets` (`ek_...`) opens a websocket until it expires, set or not.
   */
  apiKey?: string
  /** Milliseconds between a GPT-Live session's session.usage.updated events. Default 60 000 (about OpenAI's). */
  usageInterval?: number
  /** The clock minted keys expire by (milliseconds since the epoch). Default `Date.now`; tests pass their own. */
  now?: () => number
  /** Gemini Live: milliseconds a connection lives before `goAway` (about 10 minutes at Google). Default 600 000. */
  connectionLifetime?: number
  /** Gemini Live: milliseconds from `goAway` to the close. Default 60 000. */
  goAwayGrace?: number
}

function refuse (socket: Socket, status: number, message: string, code: string): void {
  const body = errorBody(message, code)
  socket.end(`HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`)
}

/** An `ek_` key from the Authorization header or, for browsers, the `openai-insecure-api-key.` subprotocol. */
function ephemeralKey (req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization?.replace(/^Bearer\s+/i, '')
  if (auth?.startsWith('ek_') === true) return auth
  const offered = String(req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim())
  const key = offered.find((p) => p.startsWith('openai-insecure-api-key.ek_'))
  return key?.slice('openai-insecure-api-key.'.length)
}

export class RealtimeSimulator {
  /** Base URL to give a provider: `http://host:port/v1` (the websocket is at `/v1/realtime`). */
  readonly url: string
  /**
   * Gemini Live's websocket URL on this simulator (`ws://host:port/ws/google.ai.generativelanguage.v1beta.
   * GenerativeService.BidiGenerateContent`), as the Gemini API serves it.
   */
  readonly geminiURL: string
  readonly port: number
  readonly #server: Server
  readonly #wss: WebSocketServer

  private constructor (server: Server, wss: WebSocketServer, host: string) {
    this.#server = server
    this.#wss = wss
    const { port } = server.address() as AddressInfo
    this.port = port
    this.url = `http://${host}:${port}/v1`
    this.geminiURL = `ws://${host}:${port}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent`
  }

  static async start (options: SimulatorOptions = {}): Promise<RealtimeSimulator> {
    const pace = options.pace ?? 1
    const secrets = new ClientSecrets(options.now ?? Date.now)
    const resumable = new Map<string, ResumableState>()
    const authorized = (req: IncomingMessage): boolean => options.apiKey === undefined || req.headers.authorization === `Bearer ${options.apiKey}`
    const server = createServer((req, res) => {
      const path = new URL(req.url as string, 'http://simulator').pathname
      if (req.method === 'POST' && path.endsWith('/realtime/client_secrets')) {
        if (!authorized(req)) return invalid(res, 401, 'Incorrect API key provided.', 'invalid_api_key')
        return secrets.mint(req, res)
      }
      if (req.method === 'POST' && path.endsWith('/realtime/calls')) return invalid(res, 501, 'The simulator does not speak WebRTC; connect with a websocket.', 'unsupported')
      invalid(res, 426, 'Connect with a websocket', null)
    })
    const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 * 1024 })
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
      const url = new URL(req.url as string, 'http://simulator')
      if (url.pathname.endsWith('/live/sessions')) {
        if (!authorized(req)) return refuse(socket, 401, 'Incorrect API key provided.', 'invalid_api_key')
        return wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => {})
          // eslint-disable-next-line no-new -- the session lives as long as its socket
          new SimulatedLiveSession(ws, { usageInterval: options.usageInterval ?? 60_000, pace })
        })
      }
      // Gemini Live: the key in x-goog-api-key, never in the URL (a key in the query is refused, to catch leaks).
      if (url.pathname.endsWith('GenerativeService.BidiGenerateContent')) {
        if (url.searchParams.has('key')) return refuse(socket, 400, 'Send the API key in the x-goog-api-key header, not in the URL.', 'key_in_url')
        if (options.apiKey !== undefined && req.headers['x-goog-api-key'] !== options.apiKey) return refuse(socket, 401, 'API key not valid.', 'invalid_api_key')
        return wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => {})
          // eslint-disable-next-line no-new -- the session lives as long as its socket
          new SimulatedGeminiSession(ws, { pace, connectionLifetime: options.connectionLifetime ?? 600_000, goAwayGrace: options.goAwayGrace ?? 60_000, resumable })
        })
      }
      if (url.pathname.endsWith('/realtime/translations')) {
        if (!authorized(req)) return refuse(socket, 401, 'Incorrect API key provided.', 'invalid_api_key')
        const model = url.searchParams.get('model')
        if (model === null) return refuse(socket, 400, 'Missing required parameter: \'model\'.', 'missing_model')
        return wss.handleUpgrade(req, socket, head, (ws) => {
          ws.on('error', () => {})
          // eslint-disable-next-line no-new -- the session lives as long as its socket
          new SimulatedTranslationSession(ws, model)
        })
      }
      if (!url.pathname.endsWith('/realtime')) return refuse(socket, 400, `Unknown path ${url.pathname}: connect to /v1/realtime, /v1/realtime/translations or /v1/live/sessions`, 'invalid_path')
      const key = ephemeralKey(req)
      const minted = key === undefined ? undefined : secrets.check(key)
      if (key !== undefined ? minted === undefined : !authorized(req)) {
        return refuse(socket, 401, key !== undefined ? 'Invalid or expired ephemeral key.' : 'Incorrect API key provided.', 'invalid_api_key')
      }
      const intent = url.searchParams.get('intent') ?? minted?.intent
      const model = url.searchParams.get('model') ?? minted?.model
      if (model === undefined && intent !== 'transcription') return refuse(socket, 400, 'Missing required parameter: \'model\'.', 'missing_model')
      wss.handleUpgrade(req, socket, head, (ws) => {
        ws.on('error', () => {})
        // eslint-disable-next-line no-new -- the session lives as long as its socket
        new SimulatedSession(ws, { model: model ?? 'gpt-4o-transcribe', intent, pace })
      })
    })
    const host = options.host ?? '127.0.0.1'
    server.listen(options.port ?? 0, host)
    await once(server, 'listening')
    return new RealtimeSimulator(server, wss, host)
  }

  /** Open simulated sessions. */
  get sessions (): number {
    return this.#wss.clients.size
  }

  async close (): Promise<void> {
    for (const ws of this.#wss.clients) ws.terminate()
    this.#server.closeAllConnections()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}
