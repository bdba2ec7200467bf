// The budget ledger on its own: what it remembers of cut keys is bounded by the window, and junk totals from
// a fleet message are not remembered.
import t from 'tap'
import Fastify from 'fastify'
import { MemoryStore } from '../lib/index.js'
import { Ledger } from '../lib/limits/budget.js'

t.test('a cut is remembered for its window only; a total that is not finite is not remembered', async (t) => {
  const app = Fastify()
  const WINDOW = 300
  const ledger = new Ledger(new MemoryStore(), WINDOW, () => {}, app.log)
  await new Promise((resolve) => setTimeout(resolve, WINDOW - (Date.now() % WINDOW) + 5))
  ledger.remember('a', 1)
  ledger.remember('a', 0.5)
  t.equal(ledger.reckon('a', 0), 1, 'the larger total of the window')
  ledger.remember('nan', Number.NaN)
  t.equal(ledger.reckon('nan', 0), 0)
  await new Promise((resolve) => setTimeout(resolve, WINDOW))
  t.equal(ledger.reckon('a', 0), 0, 'the next window forgets it')
  ledger.remember('b', 2) // trims 'a', kept from the window before
  ledger.remember('b', 1)
  t.equal(ledger.reckon('b', 3), 3, 'a store that knows more wins')
  ledger.close()
})

t.test('a raise that fails is left for the next try; the remembered total still refuses', async (t) => {
  const store = new MemoryStore() as MemoryStore & { raise: () => never }
  let tries = 0
  store.raise = () => { tries++; throw new Error('down') }
  const ledger = new Ledger(store, 3_600_000, () => {}, Fastify().log)
  ledger.remember('k', 1)
  t.equal(ledger.reckon('k', 0), 1)
  t.equal(ledger.reckon('k', 0), 1)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(tries, 2, 'raised on each try, never thrown')
})
