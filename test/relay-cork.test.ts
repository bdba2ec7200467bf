// The relay corks the other leg only for a read that holds more than one frame: frames parsed from one read go
// out in one write, and a voice frame (one per read, every 20 ms) is written at once, without a tick's wait.
import t from 'tap'
import { once } from 'node:events'
import { Relay, type LegsOwner } from '../lib/session/relay.js'
import { WsLeg } from '../lib/upstream/ws-leg.js'
import { sendInOneWrite, wsPair } from './helpers.js'

class CountingLeg extends WsLeg {
  corks = 0
  override cork (): void {
    this.corks++
    super.cork()
  }
}

t.test('one frame per read is written at once; a read of three is corked into one write', async (t) => {
  const [caller, clientEnd] = await wsPair(t) // caller -> the proxy's client leg
  const [providerEnd, provider] = await wsPair(t) // the proxy's provider leg -> provider
  const upstream = new CountingLeg(providerEnd)
  const closed = new Promise((resolve) => {
    const owner: LegsOwner = { observes: false, observeUpstream () {}, filters: false, filterClient: (data) => data, legsClosed: resolve }
    // eslint-disable-next-line no-new
    new Relay(new WsLeg(clientEnd), upstream, 1024 * 1024, owner)
  })
  const received: string[] = []
  provider.on('message', (data: Buffer) => received.push(data.toString()))
  const arrived = async (n: number): Promise<void> => { while (received.length < n) await once(provider, 'message') }

  caller.send('voice')
  await arrived(1)
  t.equal(upstream.corks, 0, 'a read of one frame is not corked')
  sendInOneWrite(caller, ['a', 'b', 'c'])
  await arrived(4)
  t.equal(upstream.corks, 1, 'three frames of one read: one cork')
  t.same(received, ['voice', 'a', 'b', 'c'])
  caller.close(1000)
  await closed
})

t.test('frames held behind a pending filter decision are released in one write', async (t) => {
  const [caller, clientEnd] = await wsPair(t)
  const [providerEnd, provider] = await wsPair(t)
  const upstream = new CountingLeg(providerEnd)
  let decide: ((data: Buffer) => void) | undefined
  const closed = new Promise((resolve) => {
    const owner: LegsOwner = {
      observes: false,
      observeUpstream () {},
      filters: true,
      // the first frame waits for a decision; the frames behind it are held, then decided at once
      filterClient: (data) => decide === undefined && data.toString() === 'first' ? new Promise((resolve) => { decide = resolve }) : data,
      legsClosed: resolve
    }
    // eslint-disable-next-line no-new
    new Relay(new WsLeg(clientEnd), upstream, 1024 * 1024, owner)
  })
  const received: string[] = []
  provider.on('message', (data: Buffer) => received.push(data.toString()))
  // one read: the frames parsed after the first are held behind its decision
  sendInOneWrite(caller, ['first', 'a', 'b', 'c'])
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.same(received, [], 'held behind the decision')
  ;(decide as (data: Buffer) => void)(Buffer.from('first'))
  while (received.length < 4) await once(provider, 'message')
  t.same(received, ['first', 'a', 'b', 'c'])
  t.equal(upstream.corks, 1, 'the three released frames: one cork')
  caller.close(1000)
  await closed
})
