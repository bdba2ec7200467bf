// The official openai SDK's realtime websocket client, pointed at the app, holds a conversation through
// each of the five provider types. The SDK always dials wss://, so the app listens with a test certificate.
import t from 'tap'
import { readFileSync } from 'node:fs'
import OpenAI from 'openai'
import { OpenAIRealtimeWS } from 'openai/realtime/ws'
import { fakeUpstream, startProxy } from './helpers.js'
import type WebSocket from 'ws'

const cert = readFileSync(new URL('./fixtures/localhost.crt', import.meta.url))
const key = readFileSync(new URL('./fixtures/localhost.key', import.meta.url))

/** A tiny realtime peer: session.created first, session.updated on update, a response on response.create. */
function converse (ws: WebSocket): void {
  ws.send(JSON.stringify({ type: 'session.created', event_id: 'ev_0', session: { id: 'sess_1', type: 'realtime' } }))
  ws.on('message', (data: Buffer) => {
    const event = JSON.parse(data.toString()) as { type: string, session?: object }
    if (event.type === 'session.update') ws.send(JSON.stringify({ type: 'session.updated', event_id: 'ev_1', session: event.session }))
    if (event.type === 'response.create') {
      ws.send(JSON.stringify({ type: 'response.output_audio.delta', event_id: 'ev_2', response_id: 'resp_1', item_id: 'item_1', output_index: 0, content_index: 0, delta: 'AAAA' }))
      ws.send(JSON.stringify({ type: 'response.done', event_id: 'ev_3', response: { id: 'resp_1', status: 'completed', usage: { total_tokens: 3, input_tokens: 1, output_tokens: 2 } } }))
    }
  })
}

const providers: Array<[string, string, string, string]> = [
  // type, model as the client names it, upstream path and query, upstream auth header
  ['openai', 'gpt-realtime', '/v1/realtime?model=gpt-realtime', 'authorization: Bearer sk-openai-000000'],
  ['azure', 'azure/prod-deploy', '/openai/v1/realtime?model=prod-deploy', 'api-key: azure-key-000000'],
  ['xai', 'xai/grok-voice', '/v1/realtime?model=grok-voice', 'authorization: Bearer xai-key-000000'],
  ['bailian', 'bailian/qwen3-omni-flash-realtime', '/api-ws/v1/realtime?model=qwen3-omni-flash-realtime', 'authorization: Bearer ds-key-000000'],
  ['zai', 'zai/glm-realtime', '/api/paas/v4/realtime?model=glm-realtime', 'authorization: Bearer zai-key-000000']
]

t.test('OpenAIRealtimeWS through the proxy, one conversation per provider', async (t) => {
  const upstream = await fakeUpstream(t, { onConnection: converse })
  const proxy = await startProxy(t, {
    providers: {
      openai: { apiKey: 'sk-openai-000000', baseURL: `${upstream.url}/v1` },
      azure: { apiKey: 'azure-key-000000', baseURL: `${upstream.url}/openai` },
      xai: { apiKey: 'xai-key-000000', baseURL: `${upstream.url}/v1` },
      bailian: { apiKey: 'ds-key-000000', baseURL: `${upstream.url}/compatible-mode/v1` },
      zai: { apiKey: 'zai-key-000000', baseURL: `${upstream.url}/api/coding/paas/v4` }
    },
    defaultProvider: 'openai'
  }, undefined, { https: { key, cert } })
  const base = proxy.url.replace('ws://', 'https://')

  for (const [type, model, path, auth] of providers) {
    await t.test(type, async (t) => {
      const client = new OpenAI({ apiKey: 'app-user-token', baseURL: `${base}/v1` })
      const rt = new OpenAIRealtimeWS({ model, options: { ca: cert } }, client)
      t.teardown(() => rt.close())
      const events: string[] = []
      rt.on('event', (e) => events.push(e.type))
      const done = new Promise<unknown>((resolve, reject) => {
        rt.on('response.done', (e) => resolve(e.response.usage))
        rt.on('error', reject)
      })
      await new Promise((resolve) => rt.socket.once('open', resolve))
      rt.send({ type: 'session.update', session: { type: 'realtime', instructions: 'be brief' } })
      rt.send({ type: 'response.create' })
      t.same(await done, { total_tokens: 3, input_tokens: 1, output_tokens: 2 })
      t.same(events, ['session.created', 'session.updated', 'response.output_audio.delta', 'response.done'])
      const conn = upstream.connections.at(-1)
      t.equal(conn?.url, path)
      const [name, value] = auth.split(': ') as [string, string]
      t.equal(conn?.headers[name], value)
      t.equal(conn?.headers.authorization === 'Bearer app-user-token', false, 'the app credential stays in the app')
      t.same(conn?.frames.map((f) => JSON.parse(f.data.toString()).type), ['session.update', 'response.create'])
    })
  }
})
