import { rmSync } from 'node:fs';
import { defineConfig } from 'tsup';

// What the tarball holds is exactly what users run (scripts/check-package.ts
// checks the list and its size):
//  - the library as ES module and CommonJS, each with its declarations;
//  - the `grpc-dns-watch` bin as an ES module only: package.json's `bin`
//    points at dist/cli.js and nothing requires the CLI, so a CJS copy would
//    be dead weight. It is built with the ES module library in one esbuild
//    run with code splitting, so the two share one chunk of the library's
//    code instead of the bin carrying a second copy of it.
// No source maps: the bundles are not minified, keep every name and read
// like the source, so a stack trace is already readable; maps would point
// at src/ files the tarball does not hold (or, with sources embedded, more
// than double its size).
const shared = {
  target: 'node18',
  platform: 'node',
  sourcemap: false,
  // The app's own grpc-js copy must be the one we register into.
  external: ['@grpc/grpc-js', 'dns-packet'],
} as const;

// Emptied here, once, rather than with tsup's `clean`: tsup builds the two
// configs below in parallel and each `clean` empties the whole directory,
// which could delete the other's output. A stale file left in dist/ would
// otherwise be published.
rmSync('dist', { recursive: true, force: true });

export default defineConfig([
  {
    ...shared,
    entry: { index: 'src/index.ts', cli: 'src/cli.ts' },
    format: ['esm'],
    splitting: true,
    // One shared chunk, named for what it holds rather than a content hash,
    // so the tarball's file list is fixed (a second chunk would collide and
    // fail the build, which is how we would notice it).
    esbuildOptions(options) {
      options.chunkNames = 'library';
    },
    dts: { entry: { index: 'src/index.ts' } },
  },
  {
    ...shared,
    entry: { index: 'src/index.ts' },
    format: ['cjs'],
    splitting: false,
    dts: true,
    // import.meta.url (to find the peer grpc-js) in the CommonJS build.
    shims: true,
  },
]);
