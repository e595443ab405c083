// suites.mjs: the csi-sanity runs `npm test` makes, each against a freshly started driver.
//
// Each suite starts `rds-csi-ts` exactly as `npm start` does (--quickstart, own data dir), runs
// the real Go csi-sanity binary against its socket, and counts the specs from the JUnit report.
// `expectPassed` guards against a focus that silently matches nothing.
//
// Fields: name, driverArgs (extra flags), endpointForm ('unix-url' | 'bare-path': how the Go
// client is pointed at the socket), sanityArgs, expectPassed.
export const SANITY_SUITES = [
  {
    name: 'csi-sanity: Identity Service (unix:// endpoint)',
    driverArgs: [],
    endpointForm: 'unix-url',
    sanityArgs: ['--ginkgo.focus=Identity Service'],
    expectPassed: 3,
  },
  {
    // A bare path makes grpc-go dial with the passthrough resolver, which sends a different
    // :authority than unix:// targets do (csi-conformance.md pitfall 2).
    name: 'csi-sanity: Identity Service (bare socket path endpoint)',
    driverArgs: [],
    endpointForm: 'bare-path',
    sanityArgs: ['--ginkgo.focus=Identity Service'],
    expectPassed: 3,
  },
];
