// The Leg seam (upstream/leg.ts) through its ws adapter: one listener per event, and a second is refused rather
// than silently replacing the first.
import t from 'tap'
import { once } from 'node:events'
import { TEXT } from '../lib/upstream/leg.js'
import { WsLeg } from '../lib/upstream/ws-leg.js'
import { sendInOneWrite, wsPair } from './helpers.js'

t.test('a WsLeg relays a socket\'s frames to its one listener; a second listener for an event is refused', async (t) => {
  const [client, peer] = await wsPair(t)
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

t.test('a WsLeg tells whether the read that delivered a frame holds more of them', async (t) => {
  const [client, peer] = await wsPair(t)
  const leg = new WsLeg(client)
  const seen: Array<[string, boolean]> = []
  leg.on('message', (data) => { seen.push([data.toString(), leg.moreInRead]) })
  sendInOneWrite(peer, ['a', 'b', 'c'])
  await new Promise((resolve) => setTimeout(resolve, 50))
  peer.send('alone')
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(seen, [['a', true], ['b', true], ['c', false], ['alone', false]])
  client.close()
})
