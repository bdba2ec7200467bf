// The chaos suite's engine (#23): for one route family, fast-check draws a run of client and provider actions
// (valid and invalid frames, floods while not reading, closes, resets, hostile numbers and sizes, leaving
// mid-dial), plays it against a real proxy and a real fake provider, then checks what must hold after any run:
// no uncaught exception (tap fails the test on one), bytes queued toward the client within the mark and one frame,
// one summary per session, no live session and no slot left, app.close() finishing, no key text in anything the
// client received or any log line, and usage totals that are finite.
import { once } from 'node:events'
import type { ServerResponse } from 'node:http'
import fc from 'fast-check'
import WebSocket from 'ws'
import { MemoryStore, type RealtimeProxyOptions } from '../lib/index.js'
import { MAX_ITEM_TEXT } from '../lib/codecs/realtime/response.js'
import { fakeUpstream, startProxy, until, type RecordedRequest, type Tap } from './helpers.js'

export type Family = 'realtime' | 'live' | 'translation' | 'gemini' | 'sideband'

/** A key of no known shape: only the exact value can be redacted, so any leak shows. */
export const KEY = 'chaoskey-7d1e0b9a44c2'
const HIGH_WATER_MARK = 16 * 1024
const BIG = 2 * 1024 * 1024
/** The largest frame either side sends in a run, and an error event: what may sit past the mark. */
const ONE_FRAME = BIG + 4096
const HOSTILE = ['1e308', '1e999', '-1', '12', '0.5', '9007199254740993']

export type ClientAction =
  | { kind: 'valid' } | { kind: 'invalid' } | { kind: 'flood', count: number } | { kind: 'read' }
  | { kind: 'close', code: number } | { kind: 'terminate' } | { kind: 'reset' } | { kind: 'wait', ms: number }
export type ProviderAction =
  | { kind: 'usage', value: string } | { kind: 'big' } | { kind: 'burst', count: number }
  | { kind: 'close', code: number } | { kind: 'terminate' } | { kind: 'goAway' } | { kind: 'badRate' }

export interface Run {
  /** Leave while the provider is still answering the handshake (mid-dial), before anything else. */
  leaveMidDial: boolean
  /** Gemini: whether it ever answers the setup. */
  setupAnswered: boolean
  actions: Array<{ side: 'client', action: ClientAction } | { side: 'provider', action: ProviderAction }>
}

const clientAction: fc.Arbitrary<ClientAction> = fc.oneof(
  fc.constant({ kind: 'valid' as const }),
  fc.constant({ kind: 'invalid' as const }),
  fc.integer({ min: 1000, max: 40_000 }).map((count) => ({ kind: 'flood' as const, count })),
  fc.constant({ kind: 'read' as const }),
  fc.constantFrom(1000, 4000, 4999).map((code) => ({ kind: 'close' as const, code })),
  fc.constant({ kind: 'terminate' as const }),
  fc.constant({ kind: 'reset' as const }),
  fc.integer({ min: 0, max: 300 }).map((ms) => ({ kind: 'wait' as const, ms }))
)
const providerAction: fc.Arbitrary<ProviderAction> = fc.oneof(
  fc.constantFrom(...HOSTILE).map((value) => ({ kind: 'usage' as const, value })),
  fc.constant({ kind: 'big' as const }),
  fc.integer({ min: 10, max: 500 }).map((count) => ({ kind: 'burst' as const, count })),
  fc.constantFrom(1000, 1001, 1008, 1011, 4000).map((code) => ({ kind: 'close' as const, code })),
  fc.constant({ kind: 'terminate' as const }),
  fc.constant({ kind: 'goAway' as const }),
  fc.constant({ kind: 'badRate' as const })
)

export const runs: fc.Arbitrary<Run> = fc.record({
  leaveMidDial: fc.boolean(),
  setupAnswered: fc.boolean(),
  actions: fc.array(fc.oneof(
    clientAction.map((action) => ({ side: 'client' as const, action })),
    providerAction.map((action) => ({ side: 'provider' as const, action }))
  ), { minLength: 1, maxLength: 12 })
})

const gemini = (frame: object): Buffer => Buffer.from(JSON.stringify(frame))

/** What the provider sends for `action`, in the family's own schema (Gemini's for the codec). */
function providerFrames (family: Family, action: ProviderAction): Array<string | Buffer> {
  switch (action.kind) {
    case 'usage':
      if (family === 'live') return [`{"type":"session.usage.updated","usage":{"seconds":${action.value}}}`]
      if (family === 'gemini') return [gemini({}).toString().replace('{}', `{"usageMetadata":{"promptTokenCount":${action.value},"responseTokenCount":${action.value}},"serverContent":{"turnComplete":true}}`)]
      return [`{"type":"response.done","response":{"id":"r","usage":{"total_tokens":${action.value},"input_tokens":${action.value},"output_tokens":${action.value},"input_token_details":{"audio_tokens":${action.value}}}}}`,
        `{"type":"conversation.item.input_audio_transcription.completed","item_id":"i","usage":{"type":"duration","seconds":${action.value}}}`]
    case 'big': return [family === 'gemini' ? gemini({ serverContent: { outputTranscription: { text: 'x'.repeat(BIG) } } }) : `{"type":"response.output_text.delta","delta":"${'x'.repeat(BIG)}"}`]
    case 'burst': return Array.from({ length: action.count }, (_, i) => family === 'gemini' ? gemini({ serverContent: { outputTranscription: { text: String(i) } } }) : `{"type":"response.output_text.delta","delta":"${i}"}`)
    case 'goAway': return family === 'gemini' ? [gemini({ goAway: { timeLeft: '1s' } })] : []
    case 'badRate': return family === 'gemini' ? [gemini({ serverContent: { modelTurn: { parts: [{ inlineData: { mimeType: 'audio/pcm;rate=1', data: 'AAAA'.repeat(120) } }] } } })] : []
    default: return []
  }
}

function clientFrame (family: Family, valid: boolean): string {
  if (!valid) return '"session.update"' // the policy looks at it, and it is no event object
  if (family === 'live') return '{"type":"session.input_audio.append","audio":"AAAA"}'
  if (family === 'gemini') return '{"type":"input_audio_buffer.append","audio":"AAAAAAAA"}'
  return '{"type":"response.create"}'
}

const CALL = 'rtc_chaos1'

/**
 * What one provider message may add past the mark beyond its own frame: a Gemini message that ends a turn is
 * translated into done events that repeat the message's text four times (each held at MAX_ITEM_TEXT).
 */
const turnEnd = (family: Family): number => family === 'gemini' ? 4 * (MAX_ITEM_TEXT + 4096) : 0

/** Plays one run of `family` and checks the invariants; rejects with what broke. */
export async function play (family: Family, run: Run): Promise<void> {
  const teardowns: Array<() => unknown> = []
  const t: Tap = { teardown: (fn) => { teardowns.push(fn) } }
  const store = new MemoryStore()
  const upstream = await fakeUpstream(t, {
    delay: run.leaveMidDial ? 150 : 0,
    onConnection: family !== 'gemini'
      ? undefined
      : (ws) => ws.on('message', (data: Buffer) => {
          if (run.setupAnswered && data.includes('"setup"')) ws.send(gemini({ setupComplete: {} }), { binary: true })
        }),
    http: (req: RecordedRequest, res: ServerResponse) => {
      if (req.url.endsWith('/hangup')) res.writeHead(200).end()
      else res.writeHead(201, { 'content-type': 'application/sdp', location: `/v1/realtime/calls/${CALL}` }).end('v=0\r\n')
    }
  })
  const type = family === 'gemini' ? 'gemini' : 'openai'
  const options: RealtimeProxyOptions = {
    providers: { p: { type, apiKey: KEY, baseURL: family === 'gemini' ? upstream.url : `${upstream.url}/v1` } },
    highWaterMark: HIGH_WATER_MARK,
    maxSessions: 100,
    store,
    dialTimeout: 400,
    closeTimeout: 200,
    heartbeatInterval: 0,
    metrics: true,
    pricing: { m: { input: { text: 4, audio: 32 }, output: { text: 16 }, transcription: { perSecond: 0.0001 }, perMinute: 0.05 } },
    onClientEvent: (event) => (event.type === 'session.update' ? null : undefined),
    ...(family === 'live' ? { live: true } : {}),
    ...(family === 'sideband' ? { signaling: true } : {})
  }
  const proxy = await startProxy(t, options)
  const received: string[] = []
  const path = family === 'live' ? '/v1/live/sessions' : family === 'translation' ? '/v1/realtime/translations?model=m' : family === 'gemini' ? '/v1/realtime?model=p/m' : '/v1/realtime?model=m'
  let client: WebSocket | undefined
  let closedInTime = false
  try {
    if (family === 'sideband') {
      const res = await proxy.app.inject({ method: 'POST', url: '/v1/realtime/calls?model=m', headers: { 'content-type': 'application/sdp' }, payload: 'v=0\r\n' })
      received.push(res.body, JSON.stringify(res.headers))
    } else {
      client = new WebSocket(`${proxy.url}${path}`)
      client.on('error', () => {})
      client.on('message', (data: Buffer) => { received.push(data.length > 4096 ? data.subarray(0, 4096).toString() : data.toString()) })
      client.on('unexpected-response', (_req, res) => { res.on('data', (c: Buffer) => received.push(c.toString())) })
      if (run.leaveMidDial) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        client.terminate()
      } else {
        await Promise.race([once(client, 'open'), once(client, 'close'), once(client, 'unexpected-response')])
        if (family === 'live' && client.readyState === WebSocket.OPEN) client.send('{"type":"session.start","session":{"model":"m"}}')
      }
    }
    const conn = run.leaveMidDial && family !== 'sideband' ? undefined : await Promise.race([upstream.next(), new Promise<undefined>((resolve) => setTimeout(resolve, 1000))])
    for (const { side, action } of run.actions) {
      if (side === 'client') await clientDoes(family, client, action, proxy.app)
      else if (conn !== undefined && conn.socket.readyState === WebSocket.OPEN) providerDoes(family, conn.socket, action)
      await new Promise((resolve) => setImmediate(resolve))
      for (const socket of proxy.app.websocketServer.clients) {
        if (socket.bufferedAmount > HIGH_WATER_MARK + ONE_FRAME + turnEnd(family)) throw new Error(`${socket.bufferedAmount} bytes queued toward the client`)
      }
    }
    // The end of any run: both peers go away.
    client?.terminate()
    conn?.socket.terminate()
    await until(() => proxy.app.realtime.stats().activeSessions === 0, 'every session to end', 5000)
    const started = proxy.logs.lines.filter((l) => l.msg === 'realtime session started').length
    const ended = proxy.logs.lines.filter((l) => l.msg === 'realtime session ended').length
    if (started !== ended) throw new Error(`${started} sessions started, ${ended} summaries`)
    await until(() => store.count('global') === 0, 'every slot back', 2000)
    const { usage } = proxy.app.realtime.stats()
    for (const [name, value] of Object.entries({ ...usage, ...usage.input, ...usage.output, ...usage.transcription })) {
      if (typeof value === 'number' && !Number.isFinite(value)) throw new Error(`usage ${name} is ${value}`)
    }
    const metrics = await proxy.app.inject('/metrics')
    if (metrics.statusCode !== 200 || / (?:[-+]?Inf|NaN)$/m.test(metrics.body.replace(/le="\+Inf"/g, ''))) throw new Error('a metric is not finite')
  } finally {
    client?.terminate()
    let timer: NodeJS.Timeout | undefined
    const closing = Promise.race([
      proxy.app.close().then(() => true),
      new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), 5000) })
    ])
    closedInTime = await closing
    clearTimeout(timer)
    for (const fn of teardowns.reverse()) await fn()
  }
  if (!closedInTime) throw new Error('app.close() did not complete within 5 s')
  if (received.some((text) => text.includes(KEY))) throw new Error('the key reached the client')
  if (proxy.logs.text.includes(KEY)) throw new Error('the key reached a log line')
}

async function clientDoes (family: Family, client: WebSocket | undefined, action: ClientAction, app: { realtime: { terminate (t: { key: string }): Promise<number> } }): Promise<void> {
  if (action.kind === 'wait') return await new Promise((resolve) => setTimeout(resolve, action.ms))
  if (family === 'sideband') {
    // No client leg: the caller's moves are a terminate of its calls' sessions, or a hangup.
    if (action.kind === 'close' || action.kind === 'terminate' || action.kind === 'reset') await app.realtime.terminate({ key: '127.0.0.1' })
    return
  }
  if (client === undefined || client.readyState !== WebSocket.OPEN) return
  switch (action.kind) {
    case 'valid': return client.send(clientFrame(family, true))
    case 'invalid': return client.send(clientFrame(family, false))
    case 'flood':
      // Reads nothing meanwhile: the proxy's answers to the refused frames pile up toward it, past the kernel's buffers.
      client.pause()
      for (let i = 0; i < action.count; i++) client.send(clientFrame(family, i % 100 === 0))
      return
    case 'read': return client.resume()
    case 'close': return client.close(action.code)
    case 'terminate': return client.terminate()
    case 'reset': return (client as unknown as { _socket: { resetAndDestroy (): void } })._socket.resetAndDestroy()
  }
}

function providerDoes (family: Family, socket: WebSocket, action: ProviderAction): void {
  if (action.kind === 'close') return socket.close(action.code, `closing for ${KEY}`) // a key echoed in a reason
  if (action.kind === 'terminate') return socket.terminate()
  for (const frame of providerFrames(family, action)) socket.send(frame, { binary: family === 'gemini' })
}

/** Runs `numRuns` seeded runs of `family` (CHAOS_RUNS overrides, CHAOS_SEED replays). */
export async function chaos (family: Family, numRuns: number): Promise<void> {
  const seed = process.env.CHAOS_SEED === undefined ? 23 : Number(process.env.CHAOS_SEED)
  await fc.assert(fc.asyncProperty(runs, async (run) => await play(family, run)), {
    seed,
    numRuns: process.env.CHAOS_RUNS === undefined ? numRuns : Number(process.env.CHAOS_RUNS),
    endOnFailure: true
  })
}
