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
