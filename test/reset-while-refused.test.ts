// Regression: a client that sends frames the event policy refuses while reading nothing, then resets its
// connection, crashed the process (TypeError in Pipe.release: the failed writes of the proxy's own error events
// called their shared callback more often than they were counted).
import t from 'tap'
import { deafClient, fakeUpstream, startProxy, until } from './helpers.js'
import { maskedFrames, settled } from './frames.js'

for (const highWaterMark of [16 * 1024, 1024 * 1024]) {
  t.test(`a deaf client refused on every frame that resets its connection ends its session alone (highWaterMark ${highWaterMark})`, async (t) => {
    const upstream = await fakeUpstream(t)
    const proxy = await startProxy(t, {
      providers: { openai: { baseURL: upstream.url } },
      highWaterMark,
      heartbeatInterval: 0,
      onClientEvent: () => undefined
    })
    const socket = await deafClient(t, proxy)
    const conn = await upstream.next()
    // "session.update" as a JSON string: the policy looks at it, and it is not an event object.
    for (let i = 0; i < 20; i++) socket.write(maskedFrames('"session.update"', 10_000))
    const [session] = [...proxy.app.realtime.sessions.values()]
    await settled(() => session?.stats.client.frames ?? 0)
    socket.resetAndDestroy()
    t.equal((await conn.closed).code, 1011, 'the provider leg closed as for a dropped peer')
    await until(() => proxy.app.realtime.sessions.size === 0, 'the session to end')
    t.equal(conn.frames.length, 0, 'nothing refused went upstream')
    t.equal(proxy.app.realtime.stats().activeSessions, 0)
  })
}
