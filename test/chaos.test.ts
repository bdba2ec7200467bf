// The chaos suite (#23): seeded, bounded property runs per route family, part of npm test; `npm run soak` runs
// many more (CHAOS_RUNS) and CHAOS_SEED replays a failure. The invariants are in chaos.ts.
import t from 'tap'
import { chaos, type Family } from './chaos.js'

// Runs per family in npm test. The realtime family's 60 find the crash of #23 item 1 on the code before its fix
// (seed 23: a flood of refused frames while not reading, a wait, then a reset); 12 did not.
const RUNS: Record<Family, number> = { realtime: 60, live: 20, translation: 20, gemini: 20, sideband: 20 }

for (const [family, runs] of Object.entries(RUNS) as Array<[Family, number]>) {
  t.test(`chaos: ${family}`, async () => {
    await chaos(family, runs)
  })
}
