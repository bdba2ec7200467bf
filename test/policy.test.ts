// Event policy: rewrite or drop client events, observe server events; parse only what a hook asked for.
import t from 'tap'
import { fakeUpstream, nextMessage, open, startProxy, until, type Tap } from './helpers.js'
import type { RealtimeEvent, RealtimeProxyOptions, PolicySession } from '../lib/index.js'

async function session (t: Tap, options: Partial<RealtimeProxyOptions>, query = 'model=gpt-realtime') {
  const upstream = await fakeUpstream(t)
  const proxy = await startProxy(t, { providers: { openai: { baseURL: upstream.url } }, ...options })
  const ws = await open(t, `${proxy.url}/v1/realtime?${query}`)
  const conn = await upstream.next()
  return { proxy, ws, conn }
}

/** The app's rule: clients may tune audio, never the instructions, tools or model the app set. */
const lockSession = (event: RealtimeEvent, session: PolicySession): RealtimeEvent | null | undefined => {
  const s = event.session as Record<string, unknown> | undefined
  if (s === undefined) return undefined
  const forbidden = ['instructions', 'tools', 'model'].filter((k) => k in s)
  if (forbidden.length === 3) {
    session.sendError('policy_violation', 'session.update may not change instructions, tools or model', event.event_id)
    return null
  }
  for (const k of forbidden) delete s[k]
  return forbidden.length > 0 ? event : undefined
}

t.test('session.update is rewritten, dropped with an error event, or passed verbatim', async (t) => {
  const { ws, conn } = await session(t, { onClientEvent: lockSession })
  const verbatim = '{ "type" : "session.update", "session": {"audio": {"output": {"voice": "marin"}}}}'
  ws.send(verbatim)
  ws.send(JSON.stringify({ type: 'session.update', session: { instructions: 'be evil', audio: { output: { voice: 'cedar' } } } }))
  ws.send(JSON.stringify({ type: 'session.update', event_id: 'c1', session: { instructions: 'x', tools: [], model: 'gpt-5' } }))
  ws.send('{"type":"response.create"}')
  await until(() => conn.frames.length === 3, 'three frames upstream')
  t.equal(conn.frames[0]?.data.toString(), verbatim, 'untouched events keep their exact bytes')
  t.same(JSON.parse(conn.frames[1]?.data.toString() ?? ''), { type: 'session.update', session: { audio: { output: { voice: 'cedar' } } } })
  t.equal(conn.frames[2]?.data.toString(), '{"type":"response.create"}')
  const error = JSON.parse((await nextMessage(ws)).data.toString())
  t.match(error, { type: 'error', error: { type: 'invalid_request_error', code: 'policy_violation', message: 'session.update may not change instructions, tools or model', event_id: 'c1' } })
})

t.test('a JSON escape cannot smuggle a type past the check', async (t) => {
  const seen: string[] = []
  const { ws, conn } = await session(t, { onClientEvent: (event) => { seen.push(event.type); return null } })
  ws.send('{"type":"session\\u002eupdate","session":{"instructions":"x"}}')
  ws.send('{"type":"\\u0073ession.update"}')
  ws.send('{"type":"input_audio_buffer.append","audio":"QUJD"}')
  await until(() => conn.frames.length === 1, 'the append passes')
  t.same(seen, ['session.update', 'session.update'])
  t.equal(conn.frames[0]?.data.toString(), '{"type":"input_audio_buffer.append","audio":"QUJD"}')
})

t.test('frames that are not JSON: verbatim without a hook, refused with an error event with one', async (t) => {
  const plain = await session(t, {})
  plain.ws.send('not json "session.update"')
  await until(() => plain.conn.frames.length === 1, 'relayed')
  t.equal(plain.conn.frames[0]?.data.toString(), 'not json "session.update"')

  const { ws, conn } = await session(t, { onClientEvent: () => undefined })
  ws.send('not json "session.update"')
  ws.send('{"no":"type", "x": "session.update"}')
  ws.send('plain text the hook did not ask about')
  const first = JSON.parse((await nextMessage(ws)).data.toString())
  t.match(first, { type: 'error', error: { code: 'invalid_event', message: 'The event must be a JSON object with a string "type"' } })
  await nextMessage(ws)
  await until(() => conn.frames.length === 1, 'the frame the hook did not ask about')
  t.equal(conn.frames[0]?.data.toString(), 'plain text the hook did not ask about')
})

t.test('a type named in another field is parsed but not handed to the hook', async (t) => {
  let calls = 0
  const { ws, conn } = await session(t, { onClientEvent: () => { calls++; return null } })
  ws.send('{"type":"conversation.item.create","item":{"content":[{"type":"input_text","text":"\\"session.update\\""}]}}')
  ws.send('{"type":"response.create","note":"session.update"}')
  await until(() => conn.frames.length === 2, 'both relayed')
  t.equal(calls, 0)
})

t.test('an async hook keeps the order of every frame', async (t) => {
  const { ws, conn } = await session(t, {
    clientEvents: '*',
    onClientEvent: async (event) => {
      if (event.type === 'slow') await new Promise((resolve) => setTimeout(resolve, 30))
      return event.type === 'drop' ? null : undefined
    }
  })
  const types = ['a', 'slow', 'b', 'drop', 'slow', 'c', 'd']
  for (const type of types) ws.send(JSON.stringify({ type }))
  await until(() => conn.frames.length === 6, 'six frames')
  t.same(conn.frames.map((f) => JSON.parse(f.data.toString()).type), ['a', 'slow', 'b', 'slow', 'c', 'd'])
})

t.test('a hook that throws or rejects drops the event with an error event, and the session goes on', async (t) => {
  const { proxy, ws, conn } = await session(t, {
    onClientEvent: (event) => {
      if ((event.session as { n: number }).n === 1) throw new Error('boom')
      return Promise.reject(new Error('async boom'))
    }
  })
  ws.send('{"type":"session.update","event_id":"e1","session":{"n":1}}')
  ws.send('{"type":"session.update","event_id":"e2","session":{"n":2}}')
  ws.send('{"type":"response.create"}')
  t.match(JSON.parse((await nextMessage(ws)).data.toString()), { error: { code: 'policy_error', event_id: 'e1' } })
  t.match(JSON.parse((await nextMessage(ws)).data.toString()), { error: { code: 'policy_error', event_id: 'e2' } })
  await until(() => conn.frames.length === 1, 'the next event passes')
  t.equal(proxy.logs.lines.filter((l) => l.msg === 'onClientEvent hook failed; event dropped').length, 1, 'one line per cause per session')
})

t.test('transcription sessions get their transcription model pinned', async (t) => {
  const { ws, conn } = await session(t, {
    onClientEvent: (event, session) => {
      if (session.intent !== 'transcription') return undefined
      const s = event.session as { audio?: { input?: { transcription?: { model?: string } } } }
      s.audio = { ...s.audio, input: { ...s.audio?.input, transcription: { ...s.audio?.input?.transcription, model: 'gpt-4o-transcribe' } } }
      return event
    }
  }, 'intent=transcription')
  ws.send(JSON.stringify({ type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'whisper-1', language: 'en' } } } } }))
  await until(() => conn.frames.length === 1, 'relayed')
  t.same(JSON.parse(conn.frames[0]?.data.toString() ?? ''), { type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'gpt-4o-transcribe', language: 'en' } } } } })
})

t.test('onServerEvent observes the types it asked for, after they were relayed', async (t) => {
  const seen: string[] = []
  const { proxy, ws, conn } = await session(t, {
    serverEvents: ['response.done', 'error'],
    onServerEvent: (event, s) => {
      seen.push(`${event.type}:${s.provider}`)
      if (event.type === 'error') throw new Error('observer boom')
    }
  })
  conn.socket.send('{"type":"response.output_audio.delta","delta":"QUJD"}')
  conn.socket.send('{"type":"response.done","response":{}}')
  conn.socket.send('{"type":"error","error":{}}')
  conn.socket.send('{"type":"response.created","x":"response.done"}')
  for (let i = 0; i < 4; i++) await nextMessage(ws)
  t.same(seen, ['response.done:openai', 'error:openai'])
  await until(() => proxy.logs.lines.some((l) => l.msg === 'onServerEvent hook failed'), 'logged')
})

t.test('onServerEvent with every type, async rejections logged', async (t) => {
  const seen: string[] = []
  const { proxy, ws, conn } = await session(t, { onServerEvent: async (event) => { seen.push(event.type); throw new Error('later') } })
  conn.socket.send('{"type":"a"}')
  conn.socket.send('not json')
  await nextMessage(ws)
  await nextMessage(ws)
  t.same(seen, ['a'])
  await until(() => proxy.logs.lines.some((l) => l.msg === 'onServerEvent hook failed'), 'logged')
})
