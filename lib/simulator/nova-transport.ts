// Amazon Bedrock's InvokeModelWithBidirectionalStream as the Nova Sonic simulator serves it
// (shared/protocols/nova-sonic.md § 2 and § 11): HTTP/2; the request signed with SigV4 (service `bedrock`); then
// AWS event-stream frames both ways, each client frame signed in a chain from the request's signature and
// carrying one Nova event as `{ bytes: base64 }`. Signatures are checked with the AWS SDK's own signer and the
// frames read with its codec, against the simulator's credentials. What is wrong is answered as Bedrock does:
// an HTTP error with a JSON body before the stream, an exception frame within it. What a session does with its
// events is the caller's (`onStream`).
import http2 from 'node:http2'
import { once } from 'node:events'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { SignatureV4 } from '@smithy/signature-v4'
import { EventStreamCodec } from '@smithy/core/event-streams'
import { Sha256 } from '@smithy/core/checksum'
import { fromUtf8, toUtf8 } from '@smithy/core/serde'
import type { Json } from './events.js'

/** AWS credentials the simulator accepts (test values: never real ones). */
export interface NovaCredentials { accessKeyId: string, secretAccessKey: string, sessionToken?: string }

/** One open stream: Nova events from the client, and a way to answer. */
export interface NovaStream {
  readonly modelId: string
  readonly region: string
  /** Sends one Nova output event (`{ event: { ... } }`). */
  send: (event: Json) => void
  /** Sends an exception frame (`throttlingException`, `modelTimeoutException`, ...) and ends the stream. */
  fail: (type: string, message: string) => void
  /** Ends the response. */
  end: () => void
}

/** What a session does with its stream's input. */
export interface NovaHandlers {
  /** Called with each Nova input event, in order, once its frame's signature is verified. */
  onEvent: (event: Json) => void
  /** Called once when the client ends its input (the signed empty frame, then the end of the stream). */
  onEnd: () => void
}

export interface NovaTransportOptions {
  credentials: NovaCredentials
  /** Model ids served; another is a 400 ValidationException, as Bedrock answers it. */
  models: readonly string[]
  onStream: (stream: NovaStream) => NovaHandlers
  host?: string
}

const PATH = /^\/model\/([^/]+)\/invoke-with-bidirectional-stream$/
const CREDENTIAL = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/bedrock\/aws4_request, SignedHeaders=([a-z0-9;:-]+), Signature=([0-9a-f]{64})$/
/** A frame over this is refused: Bedrock's events are small (audio chunks of tens of KB). */
const MAX_FRAME = 1 << 20
const codec = new EventStreamCodec(toUtf8, fromUtf8)

/** Bedrock's error before the stream: its status, its type header and a JSON body with the message. */
function refuse (stream: http2.ServerHttp2Stream, status: number, type: string, message: string): void {
  stream.respond({ ':status': status, 'content-type': 'application/json', 'x-amzn-errortype': type })
  stream.end(JSON.stringify({ message }))
}

function amzDate (value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  return m === null ? undefined : new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`)
}

export class NovaTransport {
  readonly #server: http2.Http2Server
  readonly #options: NovaTransportOptions
  readonly #streams = new Set<http2.ServerHttp2Stream>()
  url = ''

  private constructor (options: NovaTransportOptions) {
    this.#options = options
    this.#server = http2.createServer()
    this.#server.on('stream', (stream, headers) => { this.#accept(stream, headers).catch(() => stream.destroy()) })
  }

  static async start (options: NovaTransportOptions): Promise<NovaTransport> {
    const transport = new NovaTransport(options)
    const host = options.host ?? '127.0.0.1'
    transport.#server.listen(0, host)
    await once(transport.#server, 'listening')
    transport.url = `http://${host}:${(transport.#server.address() as AddressInfo).port}`
    return transport
  }

  async close (): Promise<void> {
    for (const stream of this.#streams) stream.close(http2.constants.NGHTTP2_CANCEL)
    await new Promise((resolve) => this.#server.close(resolve))
  }

  async #accept (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): Promise<void> {
    stream.on('error', () => {})
    const path = PATH.exec(String(headers[':path']))
    if (headers[':method'] !== 'POST' || path === null) return refuse(stream, 404, 'UnknownOperationException', 'The requested operation is not supported.')
    const auth = CREDENTIAL.exec(headers.authorization ?? '')
    const { credentials } = this.#options
    if (auth === null) return refuse(stream, 403, 'MissingAuthenticationTokenException', 'Missing Authentication Token')
    const [, keyId, day, region, signedHeaders, signature] = auth as unknown as string[]
    if (keyId !== credentials.accessKeyId || (credentials.sessionToken !== undefined && headers['x-amz-security-token'] !== credentials.sessionToken)) {
      return refuse(stream, 403, 'UnrecognizedClientException', 'The security token included in the request is invalid.')
    }
    const date = amzDate(String(headers['x-amz-date']))
    if (date === undefined || !date.toISOString().replaceAll('-', '').startsWith(day as string)) {
      return refuse(stream, 403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.')
    }
    const signer = new SignatureV4({ credentials, region: region as string, service: 'bedrock', sha256: Sha256 })
    const signed: Record<string, string> = {}
    // Over HTTP/2 the host is the :authority pseudo-header; the SDK signs it as `host`.
    for (const name of (signedHeaders as string).split(';')) signed[name] = String(name === 'host' ? headers[':authority'] : headers[name])
    const expected = await signer.sign({
      method: 'POST', protocol: 'http:', hostname: String(headers[':authority']).replace(/:\d+$/, ''), path: headers[':path'] as string, query: {}, headers: signed
    }, { signingDate: date, unsignableHeaders: new Set(), signableHeaders: new Set(Object.keys(signed)) })
    if (!String(expected.headers.authorization).endsWith(`Signature=${signature as string}`)) {
      return refuse(stream, 403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.')
    }
    const modelId = decodeURIComponent(path[1] as string)
    if (!this.#options.models.includes(modelId)) return refuse(stream, 400, 'ValidationException', 'The provided model identifier is invalid.')
    if (headers['content-type'] !== 'application/vnd.amazon.eventstream' || headers['x-amz-content-sha256'] !== 'STREAMING-AWS4-HMAC-SHA256-EVENTS') {
      return refuse(stream, 400, 'ValidationException', 'The request must be an AWS event stream (content-type application/vnd.amazon.eventstream).')
    }
    this.#open(stream, signer, signature as string, modelId, region as string)
  }

  #open (stream: http2.ServerHttp2Stream, signer: SignatureV4, requestSignature: string, modelId: string, region: string): void {
    this.#streams.add(stream)
    stream.once('close', () => this.#streams.delete(stream))
    stream.respond({ ':status': 200, 'content-type': 'application/vnd.amazon.eventstream', 'x-amzn-requestid': randomUUID() })
    let ended = false
    const frame = (headers: Record<string, string>, body: Json): void => {
      if (ended || stream.writableEnded || stream.destroyed) return
      const encoded = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, { type: 'string' as const, value: v }]))
      stream.write(Buffer.from(codec.encode({ headers: encoded, body: fromUtf8(JSON.stringify(body)) })))
    }
    const end = (): void => {
      if (ended) return
      ended = true
      if (!stream.writableEnded && !stream.destroyed) stream.end()
    }
    const nova: NovaStream = {
      modelId,
      region,
      send: (event) => frame({ ':event-type': 'chunk', ':message-type': 'event', ':content-type': 'application/json' }, { bytes: Buffer.from(JSON.stringify(event)).toString('base64') }),
      fail: (type, message) => {
        frame({ ':exception-type': type, ':message-type': 'exception', ':content-type': 'application/json' }, { message })
        end()
      },
      end
    }
    const handlers = this.#options.onStream(nova)
    // Frames are verified one at a time, in order: each signature chains from the one before.
    let prior = requestSignature
    let pending: Buffer = Buffer.alloc(0)
    let chain = Promise.resolve()
    let inputEnded = false
    const verify = async (bytes: Buffer): Promise<void> => {
      if (ended || inputEnded) return
      const outer = codec.decode(bytes)
      const date = outer.headers[':date']
      const chunkSignature = outer.headers[':chunk-signature']
      if (date?.type !== 'timestamp' || chunkSignature?.type !== 'binary') return nova.fail('validationException', 'Invalid event bytes: a frame without :date and :chunk-signature')
      const { signature } = await signer.sign({ message: { headers: { ':date': date }, body: outer.body }, priorSignature: prior }, { signingDate: date.value })
      if (signature !== Buffer.from(chunkSignature.value).toString('hex')) return nova.fail('validationException', 'The event signature does not match (signed out of order, or with other credentials).')
      prior = signature
      if (outer.body.length === 0) {
        inputEnded = true
        return handlers.onEnd()
      }
      let event: unknown
      try {
        const inner = codec.decode(outer.body)
        event = JSON.parse(Buffer.from(JSON.parse(toUtf8(inner.body)).bytes, 'base64').toString('utf8'))
      } catch {}
      if (event === null || typeof event !== 'object' || Array.isArray(event)) return nova.fail('validationException', 'Invalid event bytes')
      handlers.onEvent(event as Json)
    }
    stream.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      while (pending.length >= 4) {
        const length = pending.readUInt32BE(0)
        if (length > MAX_FRAME || length < 16) {
          pending = Buffer.alloc(0)
          return nova.fail('validationException', 'Invalid event bytes: a frame over 1 MiB or shorter than its prelude')
        }
        if (pending.length < length) break
        const bytes = pending.subarray(0, length)
        pending = pending.subarray(length)
        chain = chain.then(async () => await verify(bytes)).catch(() => nova.fail('validationException', 'Invalid event bytes'))
      }
    })
    stream.on('end', () => {
      chain = chain.then(() => { if (!inputEnded) { inputEnded = true; handlers.onEnd() } })
    })
  }
}
