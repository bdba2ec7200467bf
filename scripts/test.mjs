// npm test: each step says what it checks and how long it took, then tap runs the suite. Stops at the first
// step that fails, with its exit code.
import { spawnSync } from 'node:child_process'

const steps = [
  ['lint', 'eslint: style and likely bugs in lib, tests, examples, bench', 'eslint', ['.']],
  ['layering', 'dependency-cruiser: no import circle and no upward import between the folders of lib/', 'depcruise', ['lib', '--config', '.dependency-cruiser.cjs']],
  ['build', 'tsc: lib/ -> dist/ (the package) and the demo page', 'npm', ['run', '-s', 'build']],
  ['types', 'tsc --noEmit, strict: lib, tests, examples, bench', 'tsc', ['-p', 'tsconfig.check.json']],
  ['type tests', 'tstyche: the public API as an app sees its types', 'tstyche', ['--quiet']],
  ['tests', 'tap: every test file, two at a time, with coverage of lib/ (100% required)', 'tap', process.argv.slice(2)]
]

for (const [name, what, command, args] of steps) {
  process.stdout.write(`\n== ${name}: ${what}\n`)
  const started = performance.now()
  const { status, error } = spawnSync(command, args, { stdio: 'inherit' })
  const seconds = ((performance.now() - started) / 1000).toFixed(1)
  if (error !== undefined || status !== 0) {
    process.stdout.write(`== ${name}: failed after ${seconds} s\n`)
    process.exit(status ?? 1)
  }
  process.stdout.write(`== ${name}: ok in ${seconds} s\n`)
}
