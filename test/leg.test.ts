// The Leg seam (upstream/leg.ts) through its ws adapter: one listener per event, and a second is refused rather
// than silently replacing the first.
import t from 'tap'
import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import WebSocket, { WebSocketServer } from 'ws'
import { TEXT } from '../lib/upstream/leg.js'
import { WsLeg } from '../lib/upstream/ws-leg.js'

t.test('a WsLeg relays a socket\'s frames to its one listener; a second listener for an event is refused', async (t) => {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' })
  t.teardown(() => server.close())
  await once(server, 'listening')
  const accepted = once(server, 'connection') as Promise<[WebSocket]>
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`)
  await once(client, 'open')
  const [peer] = await accepted
  const leg = new WsLeg(client)
  const frames: string[] = []
  leg.on('message', (data) => { frames.push(data.toString()) })
  t.throws(() => leg.on('message', () => {}), { message: 'a leg takes one "message" listener' })
  peer.send('hello')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(frames, ['hello'], 'the first listener stays')
  leg.send('back', TEXT)
  t.equal((await once(peer, 'message'))[0].toString(), 'back')
  const closedWith = new Promise<number>((resolve) => leg.on('close', (code) => resolve(code)))
  peer.close(4000)
  t.equal(await closedWith, 4000)
})
