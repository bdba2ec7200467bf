// The layering of lib/ (README § Architecture), checked by `npm test`: no import circle, and no import from a
// lower layer into a higher one. Type-only imports count too. Layers, lowest first; a file may import its own
// layer's files and anything below.
const LAYERS = [
  ['base', '^lib/(errors|json|validate|close-codes)\\.ts$'],
  ['store', '^lib/store/'],
  ['protocols', '^lib/protocols/'],
  ['simulator', '^lib/simulator/'],
  ['providers', '^lib/providers/'],
  ['usage', '^lib/usage/'],
  ['limits', '^lib/limits/'],
  ['upstream', '^lib/upstream/'],
  ['codecs', '^lib/codecs/'],
  ['session', '^lib/session/'],
  ['state', '^lib/state\\.ts$'],
  ['signaling', '^lib/signaling/'],
  ['http', '^lib/http/'],
  ['options', '^lib/options\\.ts$'],
  ['entry', '^lib/index\\.ts$']
]

const upward = LAYERS.slice(0, -1).map(([name, path], i) => ({
  name: `no-upward-from-${name}`,
  comment: `${name} may not import ${LAYERS.slice(i + 1).map(([n]) => n).join(', ')}`,
  severity: 'error',
  from: { path },
  to: { path: LAYERS.slice(i + 1).map(([, p]) => p) }
}))

// Same-rank folders that must not lean on each other either.
const apart = [
  ['usage', 'limits'], ['limits', 'usage'], ['protocols', 'providers'], ['providers', 'protocols']
].map(([from, to]) => ({
  name: `no-${from}-to-${to}`,
  severity: 'error',
  from: { path: `^lib/${from}/` },
  to: { path: `^lib/${to}/` }
}))

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'an import circle, between files or folders', from: {}, to: { circular: true } },
    { name: 'no-unresolvable', severity: 'error', from: {}, to: { couldNotResolve: true } },
    ...upward,
    ...apart
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^lib/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' }
  }
}
