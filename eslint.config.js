import neostandard from 'neostandard'

export default [
  ...neostandard({ ts: true, env: ['browser'], ignores: ['dist', 'coverage', '.tap', 'node_modules', 'examples/public/dist', 'test-artifacts'] })
]
