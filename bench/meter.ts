// The meter's own cost, measured alone (the relay's noise on 2 shared cores hides a few percent): time per
// provider frame for the common audio delta and for a response.done it parses. Prints JSON.
import { realtime } from '../dist/protocols/realtime.js'
import { Meter } from '../dist/usage/meter.js'
import { DELTA } from './frames.js'

const DONE = JSON.stringify({ type: 'response.done', event_id: 'event_1', response: { id: 'resp_1', status: 'completed', usage: { total_tokens: 1500, input_tokens: 1000, output_tokens: 500, input_token_details: { text_tokens: 200, audio_tokens: 800, cached_tokens: 0 }, output_token_details: { text_tokens: 100, audio_tokens: 400 } } } })

function nsPerFrame (frame: Buffer, n: number): number {
  const meter = new Meter({ sessionId: 's', provider: 'openai', model: 'gpt-realtime', billing: 'tokens', emit: () => {} })
  // what a session does with each provider text frame when metering is on
  const observe = (data: Buffer): void => {
    const report = realtime.readUsage(data)
    if (report !== undefined) meter.record(report)
  }
  for (let i = 0; i < n / 10; i++) observe(frame) // warm up
  const start = process.hrtime.bigint()
  for (let i = 0; i < n; i++) observe(frame)
  return Number(process.hrtime.bigint() - start) / n
}

process.stdout.write(JSON.stringify({ deltaNs: nsPerFrame(Buffer.from(DELTA), 2_000_000), responseDoneNs: nsPerFrame(Buffer.from(DONE), 200_000) }))
