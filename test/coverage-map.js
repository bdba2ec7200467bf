// tap coverage map: every test covers lib/, except those whose code under test runs in child processes of
// their own: the package and tarball tests load the built dist/, whose source maps point back at lib/; the
// replicas tests run lib/ under tsx in app processes, whose coverage does not map onto tap's. They are left out
// rather than counted wrongly; what they exercise is covered in-process by the other tests.
const OWN_PROCESSES = new Set(['test/package.test.ts', 'test/tarball.test.ts', 'test/replicas.test.ts', 'test/replicas-recovery.test.ts'])
export default (testFile) => OWN_PROCESSES.has(testFile) ? null : 'lib/**'
