// @openai/agents-realtime's websocket transport works against the simulator through the examples server, unchanged.
import t from 'tap'
import type { AddressInfo } from 'node:net'
import { OpenAIRealtimeWebSocket } from '@openai/agents-realtime'
import { buildServer } from '../examples/server.js'

t.test('OpenAIRealtimeWebSocket connects, configures the session and gets a spoken answer', async (t) => {
  const { app, token } = await buildServer({ DEMO_TOKEN: 'agents-token' }, false)
  t.teardown(() => app.close())
  await app.listen({ port: 0, host: '127.0.0.1' })
  const url = `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}/v1/realtime?model=simulator/simulator`
  const transport = new OpenAIRealtimeWebSocket({ url })
  t.teardown(() => transport.close())
  const events: string[] = []
  transport.on('*', (event: { type: string }) => events.push(event.type))
  const turn = new Promise<unknown>((resolve) => transport.on('turn_done', resolve))
  await transport.connect({ apiKey: token, model: 'simulator/simulator', url, initialSessionConfig: { instructions: 'Be brief.' } })
  transport.sendMessage('hello', {})
  await turn
  t.ok(events.includes('session.updated'), 'the SDK\'s session.update was accepted')
  t.ok(events.includes('response.output_audio.delta'), 'audio came back')
  t.ok(events.includes('response.done'))
  t.notOk(events.includes('error'), `no error events: ${events.filter((e) => e === 'error').length}`)
  t.equal(app.realtime.stats().usage.responses, 1)
})
