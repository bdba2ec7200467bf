// tap coverage map: every test covers lib/; the package test loads the built dist/ in a child process,
// whose source maps point back at lib/, so it is left out rather than counted twice.
export default (testFile) => testFile === 'test/package.test.ts' || testFile === 'test/tarball.test.ts' ? null : 'lib/**'
