// Regressions on protocol fidelity:
// - OpenAI transcription sessions dialled ?model=M&intent=transcription, which OpenAI refuses: now the intent
//   alone, with the routed model pinned into the client's session.update (pinTranscriptionModel, default true);
// - intent=transcription on a provider without transcription sessions opened an ordinary, billed conversation:
//   now 400 FST_REALTIME_UNSUPPORTED_INTENT before any dial;
// - an Azure sideband attach with apiVersion set dialled the preview path and opened a new session.
import t from 'tap'
import type { RealtimeEvent } from '../lib/index.js'
import { fakeUpstream, open, refused, startProxy, until, type Tap } from './helpers.js'

const update = (session: unknown): string => JSON.stringify({ type: 'session.update', event_id: 'evt_1', session })

async function transcription (t: Tap, options: Record<string, unknown> = {}, query = 'intent=transcription&model=transcribe') {
  const upstream = await fakeUpstream(t)
  const { url } = await startProxy(t, {
    providers: { openai: { baseURL: upstream.url } },
    models: { transcribe: { provider: 'openai', model: 'gpt-4o-transcribe' } },
    ...options
  })
  const ws = await open(t, `${url}/v1/realtime?${query}`)
  const conn = await upstream.next()
  const sent = async (frame: string): Promise<string> => {
    const before = conn.frames.length
    ws.send(frame)
    await until(() => conn.frames.length > before, 'the frame upstream')
    return (conn.frames[before] as { data: Buffer }).data.toString()
  }
  return { conn, sent }
}

t.test('the upstream URL carries the intent alone; the routed model is pinned into session.update', async (t) => {
  const { conn, sent } = await transcription(t)
  t.equal(conn.url, '/realtime?intent=transcription')
  const asked = { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'whisper-1', language: 'en' } } } }
  t.same(JSON.parse(await sent(update(asked))), {
    type: 'session.update',
    event_id: 'evt_1',
    session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24000 }, transcription: { model: 'gpt-4o-transcribe', language: 'en' } } } }
  }, 'the client cannot switch to whisper-1')
  t.same(JSON.parse(await sent(update({ type: 'transcription' }))).session, { type: 'transcription', audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } },
    'an update without a transcription config gets the routed model')
  const off = update({ audio: { input: { transcription: null } } })
  t.equal(await sent(off), off, 'transcription turned off: the bytes pass as they were')
  const pinned = update({ audio: { input: { transcription: { model: 'gpt-4o-transcribe' } } } })
  t.equal(await sent(pinned), pinned, 'already the routed model: the exact bytes')
  const append = '{"type":"input_audio_buffer.append","audio":"AAAA"}'
  t.equal(await sent(append), append, 'other events are relayed untouched')
  for (const other of ['{"type":"conversation.item.create","item":{"note":"session.update"}}', '{"type":"session.update","session":null}', '"session.update", not JSON']) {
    t.equal(await sent(other), other, 'not a session.update with a session object: untouched')
  }
  const escaped = '{"type":"session\\u002eupdate","session":{"audio":{"input":{"transcription":{"model":"whisper-1"}}}}}'
  t.equal(JSON.parse(await sent(escaped)).session.audio.input.transcription.model, 'gpt-4o-transcribe', 'an escaped type is caught')
})

t.test('pinTranscriptionModel: false relays session.update as it was; conversation sessions are never touched', async (t) => {
  const frame = update({ audio: { input: { transcription: { model: 'whisper-1' } } } })
  const off = await transcription(t, { pinTranscriptionModel: false })
  t.equal(off.conn.url, '/realtime?intent=transcription')
  t.equal(await off.sent(frame), frame)
  const conversation = await transcription(t, {}, 'model=gpt-realtime')
  t.equal(conversation.conn.url, '/realtime?model=gpt-realtime')
  t.equal(await conversation.sent(frame), frame)
})

t.test('the app\'s onClientEvent sees the pinned event and has the last word', async (t) => {
  const seen: RealtimeEvent[] = []
  const { sent } = await transcription(t, {
    onClientEvent: (event: RealtimeEvent) => {
      seen.push(structuredClone(event))
      return { ...event, event_id: 'evt_app' }
    }
  })
  const out = JSON.parse(await sent(update({ audio: { input: { transcription: { model: 'whisper-1' } } } })))
  t.equal(seen[0]?.session && (seen[0].session as { audio: { input: { transcription: { model: string } } } }).audio.input.transcription.model, 'gpt-4o-transcribe')
  t.equal(out.event_id, 'evt_app')
  t.equal(out.session.audio.input.transcription.model, 'gpt-4o-transcribe')
})

t.test('pinTranscriptionModel must be a boolean', async (t) => {
  await t.rejects(startProxy(t, { providers: { openai: {} }, pinTranscriptionModel: 'yes' as unknown as boolean }), { code: 'FST_REALTIME_INVALID_OPTION', message: /"pinTranscriptionModel" must be a boolean/ })
})

t.test('intent=transcription on a provider without transcription sessions: 400 before any dial', async (t) => {
  const upstream = await fakeUpstream(t)
  const { url } = await startProxy(t, {
    providers: {
      xai: { baseURL: upstream.url },
      bailian: { baseURL: upstream.url },
      zai: { baseURL: upstream.url },
      preview: { type: 'azure', baseURL: upstream.url, apiVersion: '2025-04-01-preview' }
    }
  })
  for (const [name, type] of [['xai', 'xai'], ['bailian', 'bailian'], ['zai', 'zai'], ['preview', 'azure']] as Array<[string, string]>) {
    const res = await refused(t, `${url}/v1/realtime?intent=transcription&model=${name}/m`)
    t.equal(res.status, 400, name)
    t.same(JSON.parse(res.body), {
      statusCode: 400,
      code: 'FST_REALTIME_UNSUPPORTED_INTENT',
      error: 'Bad Request',
      message: `Provider "${name}" (type ${type}) does not support intent "transcription"`
    })
  }
  t.equal(upstream.requests.length, 0, 'nothing was dialled')
})

t.test('an Azure sideband attach with apiVersion set attaches on the GA surface', async (t) => {
  const upstream = await fakeUpstream(t)
  const { url } = await startProxy(t, { providers: { azure: { apiKey: 'az-key-0001', baseURL: `${upstream.url}/openai`, apiVersion: '2025-04-01-preview' } } })
  await open(t, `${url}/v1/realtime?call_id=rtc_3&model=gpt-realtime`)
  const conn = await upstream.next()
  t.equal(conn.url, '/openai/v1/realtime?call_id=rtc_3')
  t.equal(conn.headers['api-key'], 'az-key-0001')
})
