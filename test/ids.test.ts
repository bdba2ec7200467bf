// Event, item and response ids come from a pool of random bytes refilled as it runs out: across refills they stay
// in OpenAI's shape and never repeat.
import t from 'tap'
import { newId } from '../lib/protocols/realtime.js'

t.test('ids keep their shape and never repeat across refills of the pool', async (t) => {
  const ids = Array.from({ length: 2000 }, () => newId('event')) // more than five pools' worth
  t.equal(new Set(ids).size, ids.length)
  t.ok(ids.every((id) => /^event_[A-Za-z0-9]{15}$/.test(id)), 'event_ and 15 letters and digits')
})
