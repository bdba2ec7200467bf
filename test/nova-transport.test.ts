// The Nova Sonic simulator's transport (#27): the real @aws-sdk/client-bedrock-runtime holds a signed
// bidirectional stream with it (events both ways, in order; the end of input; exceptions thrown where the SDK
// throws them), and what Bedrock refuses is refused the same way: a wrong key, secret, session token or model
// before the stream; a frame signed out of chain, oversized or not an event within it.
import t from 'tap'
import http2 from 'node:http2'
import { BedrockRuntimeClient, InvokeModelWithBidirectionalStreamCommand } from '@aws-sdk/client-bedrock-runtime'
import { SignatureV4 } from '@smithy/signature-v4'
import { EventStreamCodec } from '@smithy/core/event-streams'
import { Sha256 } from '@smithy/core/checksum'
import { fromUtf8, toUtf8 } from '@smithy/core/serde'
import { NovaTransport, type NovaCredentials, type NovaStream } from '../lib/simulator/nova-transport.js'
import type { Tap } from './helpers.js'

type Json = Record<string, any>
const CREDENTIALS: NovaCredentials = { accessKeyId: 'AKIDNOVASIM00000000', secretAccessKey: 'nova-simulator-secret-0000000000000000000' }
const MODEL = 'amazon.nova-2-sonic-v1:0'
const codec = new EventStreamCodec(toUtf8, fromUtf8)
const silent = { debug () {}, info () {}, warn () {}, error () {} }

async function transport (t: Tap, credentials: NovaCredentials = CREDENTIALS): Promise<{ url: string, streams: NovaStream[], events: Json[], ended: () => number }> {
  const streams: NovaStream[] = []
  const events: Json[] = []
  let ends = 0
  const server = await NovaTransport.start({
    credentials,
    models: [MODEL],
    onStream: (stream) => {
      streams.push(stream)
      return { onEvent: (event) => events.push(event), onEnd: () => { ends++ } }
    }
  })
  t.teardown(async () => await server.close())
  return { url: server.url, streams, events, ended: () => ends }
}

function client (t: Tap, url: string, credentials: NovaCredentials = CREDENTIALS): BedrockRuntimeClient {
  const c = new BedrockRuntimeClient({ region: 'us-east-1', endpoint: url, credentials, logger: silent })
  t.teardown(() => c.destroy())
  return c
}

/** A request body the test feeds: push an event, or end the input. */
function input (): { body: AsyncIterable<{ chunk: { bytes: Uint8Array } }>, push: (event: Json) => void, end: () => void } {
  const queue: Array<Json | null> = []
  let wake: () => void = () => {}
  async function * body (): AsyncGenerator<{ chunk: { bytes: Uint8Array } }> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => { wake = resolve })
      const next = queue.shift()
      if (next === null || next === undefined) return
      yield { chunk: { bytes: fromUtf8(JSON.stringify(next)) } }
    }
  }
  return { body: body(), push: (event) => { queue.push(event); wake() }, end: () => { queue.push(null); wake() } }
}

async function until (predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
  if (!predicate()) throw new Error('timed out')
}

t.test('the SDK holds a signed stream: its events arrive verified and in order, ours reach it, the end of input is seen', async (t) => {
  const { url, streams, events, ended } = await transport(t)
  const { body, push, end } = input()
  push({ event: { sessionStart: { inferenceConfiguration: { maxTokens: 1024 } } } })
  push({ event: { promptStart: { promptName: 'p1' } } })
  const sent = client(t, url).send(new InvokeModelWithBidirectionalStreamCommand({ modelId: MODEL, body }))
  await until(() => events.length === 2)
  t.same(events, [{ event: { sessionStart: { inferenceConfiguration: { maxTokens: 1024 } } } }, { event: { promptStart: { promptName: 'p1' } } }])
  t.match(streams[0], { modelId: MODEL, region: 'us-east-1' })
  streams[0]?.send({ event: { completionStart: { completionId: 'c1' } } })
  const response = await sent
  const received: Json[] = []
  const reading = (async () => {
    for await (const out of response.body ?? []) received.push(JSON.parse(toUtf8(out.chunk?.bytes as Uint8Array)))
  })()
  await until(() => received.length === 1)
  t.same(received, [{ event: { completionStart: { completionId: 'c1' } } }])
  end()
  await until(() => ended() === 1)
  streams[0]?.end()
  streams[0]?.end() // twice is once
  await reading
  t.equal(ended(), 1, 'the signed empty frame and the stream\'s end are one end of input')
})

t.test('an exception frame is thrown by the SDK while it reads, typed, and the stream ends', async (t) => {
  const { url, streams } = await transport(t)
  const { body, push } = input()
  push({ event: { sessionStart: {} } })
  const sent = client(t, url).send(new InvokeModelWithBidirectionalStreamCommand({ modelId: MODEL, body }))
  await until(() => streams.length === 1)
  streams[0]?.send({ event: { completionStart: {} } })
  const response = await sent
  streams[0]?.fail('throttlingException', 'Too many requests, please wait before trying again.')
  streams[0]?.send({ event: { late: {} } }) // after the end: nothing
  const read: Json[] = []
  const err = await (async () => {
    try {
      for await (const out of response.body ?? []) read.push(JSON.parse(toUtf8(out.chunk?.bytes as Uint8Array)))
    } catch (e) { return e as Error }
  })()
  t.same(read, [{ event: { completionStart: {} } }], 'the event before it, nothing after')
  t.match(err, { name: 'ThrottlingException', message: 'Too many requests, please wait before trying again.' })
})

t.test('refused before the stream, as Bedrock refuses: key, secret, session token, model, operation', async (t) => {
  const { url } = await transport(t, { ...CREDENTIALS, sessionToken: 'token-1' })
  const attempt = async (credentials: NovaCredentials, modelId = MODEL): Promise<Json> => {
    const { body, push } = input()
    push({ event: { sessionStart: {} } })
    try {
      await client(t, url, credentials).send(new InvokeModelWithBidirectionalStreamCommand({ modelId, body }))
      return {}
    } catch (e) {
      return { name: (e as Error).name, message: (e as Error).message, status: (e as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode }
    }
  }
  const good = { ...CREDENTIALS, sessionToken: 'token-1' }
  t.same(await attempt({ ...good, accessKeyId: 'AKIDOTHER' }), { name: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.', status: 403 })
  t.same(await attempt({ ...good, sessionToken: 'token-2' }), { name: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.', status: 403 })
  t.same(await attempt({ ...good, secretAccessKey: 'wrong' }), { name: 'InvalidSignatureException', message: 'The request signature we calculated does not match the signature you provided.', status: 403 })
  t.same(await attempt(good, 'amazon.nova-9-sonic'), { name: 'ValidationException', message: 'The provided model identifier is invalid.', status: 400 })
})

/** A raw HTTP/2 request signed as the SDK signs it, for what the SDK never sends. */
async function raw (t: Tap, url: string, headers: Record<string, string> = {}, path = `/model/${encodeURIComponent(MODEL)}/invoke-with-bidirectional-stream`) {
  const signer = new SignatureV4({ credentials: CREDENTIALS, region: 'us-east-1', service: 'bedrock', sha256: Sha256 })
  const { host } = new URL(url)
  const request = await signer.sign({
    method: 'POST',
    protocol: 'http:',
    hostname: host.replace(/:\d+$/, ''),
    path,
    query: {},
    headers: { host, 'content-type': 'application/vnd.amazon.eventstream', 'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-EVENTS', ...headers }
  })
  const session = http2.connect(url)
  t.teardown(() => session.close())
  const { host: _host, ...sent } = request.headers
  const stream = session.request({ ':method': 'POST', ':path': path, ...sent })
  const status = new Promise<number>((resolve) => stream.once('response', (h) => resolve(Number(h[':status']))))
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  const done = new Promise<void>((resolve) => stream.once('end', resolve))
  let prior = String(request.headers.authorization).replace(/^.*Signature=/, '')
  const frame = async (payload: Uint8Array, sign = true): Promise<Buffer> => {
    const date = new Date()
    const { signature } = await signer.sign({ message: { headers: { ':date': { type: 'timestamp', value: date } }, body: payload }, priorSignature: prior }, { signingDate: date })
    prior = signature
    return Buffer.from(codec.encode({
      headers: { ':date': { type: 'timestamp', value: date }, ':chunk-signature': { type: 'binary', value: Buffer.from(sign ? signature : '00'.repeat(32), 'hex') } },
      body: payload
    }))
  }
  const event = (json: string): Uint8Array => codec.encode({
    headers: { ':event-type': { type: 'string', value: 'chunk' }, ':message-type': { type: 'string', value: 'event' } },
    body: fromUtf8(JSON.stringify({ bytes: Buffer.from(json).toString('base64') }))
  })
  /** The body's frames, decoded: [message type, exception type, message]. */
  const answers = async (): Promise<string[][]> => {
    await done
    const all = Buffer.concat(chunks)
    const out: string[][] = []
    for (let at = 0; at < all.length; at += all.readUInt32BE(at)) {
      const m = codec.decode(all.subarray(at, at + all.readUInt32BE(at)))
      out.push([String(m.headers[':message-type']?.value), String(m.headers[':exception-type']?.value), JSON.parse(toUtf8(m.body)).message])
    }
    return out
  }
  return { stream, status, frame, event, answers, text: async () => { await done; return Buffer.concat(chunks).toString() } }
}

t.test('within the stream, a frame signed out of chain, one without a signature, a broken or oversized one, or no event is a validationException', async (t) => {
  const { url, events } = await transport(t)
  const cases: Array<[string, (r: Awaited<ReturnType<typeof raw>>) => Promise<Buffer>, string]> = [
    ['a wrong signature', async (r) => await r.frame(r.event('{"event":{}}'), false), 'The event signature does not match (signed out of order, or with other credentials).'],
    ['no signature', async () => Buffer.from(codec.encode({ headers: {}, body: fromUtf8('x') })), 'Invalid event bytes: a frame without :date and :chunk-signature'],
    ['not an event', async (r) => await r.frame(r.event('[1]')), 'Invalid event bytes'],
    ['not a frame inside', async (r) => await r.frame(fromUtf8('not a frame at all, long enough')), 'Invalid event bytes'],
    ['a broken CRC', async (r) => { const f = await r.frame(r.event('{}')); f.writeUInt8(f.readUInt8(f.length - 1) ^ 1, f.length - 1); return f }, 'Invalid event bytes'],
    ['over 1 MiB', async () => { const f = Buffer.alloc(16); f.writeUInt32BE(2 << 20, 0); return f }, 'Invalid event bytes: a frame over 1 MiB or shorter than its prelude']
  ]
  for (const [name, make, message] of cases) {
    const r = await raw(t, url)
    t.equal(await r.status, 200, name)
    r.stream.write(await make(r))
    t.same(await r.answers(), [['exception', 'validationException', message]], name)
  }
  t.same(events, [], 'none reached the session')
})

t.test('a frame split over two writes is one event; frames after an exception or after the end of input are dropped', async (t) => {
  const { url, events, ended } = await transport(t)
  const r = await raw(t, url)
  const first = await r.frame(r.event('{"event":{"sessionStart":{}}}'))
  r.stream.write(first.subarray(0, 10))
  await new Promise((resolve) => setTimeout(resolve, 20))
  r.stream.write(first.subarray(10))
  await until(() => events.length === 1)
  r.stream.write(Buffer.concat([await r.frame(new Uint8Array(0)), await r.frame(r.event('{"event":{"late":{}}}'))]))
  await until(() => ended() === 1)
  r.stream.end()
  await new Promise((resolve) => setTimeout(resolve, 20))
  t.same(events, [{ event: { sessionStart: {} } }], 'nothing after the end of input')
  t.equal(ended(), 1, 'the end of the stream after the end frame is not a second end')
  const bad = await raw(t, url)
  bad.stream.write(Buffer.concat([await bad.frame(bad.event('{}'), false), await bad.frame(bad.event('{"event":{"after":{}}}'))]))
  t.same(await bad.answers(), [['exception', 'validationException', 'The event signature does not match (signed out of order, or with other credentials).']])
  t.equal(events.length, 1, 'nothing after the exception')
})

t.test('before the stream, raw: no or malformed authorization, another operation, a body that is not an event stream, a date off the scope', async (t) => {
  const { url } = await transport(t)
  const plain = async (headers: http2.OutgoingHttpHeaders): Promise<[number, string, string]> => {
    const session = http2.connect(url)
    t.teardown(() => session.close())
    const stream = session.request({ ':method': 'POST', ':path': `/model/${encodeURIComponent(MODEL)}/invoke-with-bidirectional-stream`, ...headers })
    const [h] = await Promise.all([new Promise<http2.IncomingHttpHeaders>((resolve) => stream.once('response', resolve))])
    const chunks: Buffer[] = []
    for await (const c of stream) chunks.push(c as Buffer)
    return [Number(h[':status']), String(h['x-amzn-errortype']), JSON.parse(Buffer.concat(chunks).toString()).message]
  }
  t.same(await plain({}), [403, 'MissingAuthenticationTokenException', 'Missing Authentication Token'])
  t.same(await plain({ ':path': '/model/x/invoke', authorization: 'x' }), [404, 'UnknownOperationException', 'The requested operation is not supported.'])
  const r = await raw(t, url, { 'content-type': 'application/json' })
  t.equal(await r.status, 400)
  t.match(await r.text(), /must be an AWS event stream/)
  const late = await raw(t, url)
  const auth = String((late.stream as unknown as { sentHeaders: Json }).sentHeaders.authorization)
  t.same(await plain({ authorization: auth, 'x-amz-date': '20200101T000000Z' }), [403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.'])
  t.same(await plain({ authorization: auth, 'x-amz-date': 'yesterday' }), [403, 'InvalidSignatureException', 'The request signature we calculated does not match the signature you provided.'])
  late.stream.close()
})
