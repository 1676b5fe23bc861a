import { chmodSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { defineConfig } from 'tsup';

// What the tarball holds is exactly what users run (scripts/check-package.ts
// checks the list and its size):
//  - dist/library.cjs: the one copy of the library's code, CommonJS (see
//    src/package-entry.ts for why one copy);
//  - three small entry points written here after it is built: dist/index.cjs
//    (`require`), dist/index.js (`import`, the same objects) and dist/cli.js
//    (the `grpc-dns-watch` bin, an ES module: package.json's `bin` points at
//    it);
//  - the declarations of the public API for each entry (index.d.ts,
//    index.d.cts).
// No source maps: the bundle is not minified, keeps every name and reads
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

/** The entry points around dist/library.cjs, their export list read from the built library itself (it cannot drift). */
function writeEntryPoints(): void {
  const require = createRequire(import.meta.url);
  const library = require('./dist/library.cjs') as { api: Record<string, unknown> };
  const names = Object.keys(library.api).sort();
  writeFileSync(
    'dist/index.cjs',
    `'use strict';\n// grpc-dns-watch for require(): the public API of the package's one copy of the library.\nmodule.exports = require('./library.cjs').api;\n`,
  );
  writeFileSync(
    'dist/index.js',
    `// grpc-dns-watch for import: the same objects require() gets, from the package's one copy of the library.\n` +
      `import library from './library.cjs';\n\nexport const {\n${names.map((name) => `  ${name},\n`).join('')}} = library.api;\n`,
  );
  writeFileSync('dist/cli.js', `#!/usr/bin/env node\n// The grpc-dns-watch command.\nimport library from './library.cjs';\n\nlibrary.runBin();\n`);
  chmodSync('dist/cli.js', 0o755);
}

export default defineConfig([
  {
    ...shared,
    entry: { library: 'src/package-entry.ts' },
    format: ['cjs'],
    // import.meta.url (to find the peer grpc-js and the package's own files) in CommonJS.
    shims: true,
    onSuccess: async () => writeEntryPoints(),
  },
  {
    ...shared,
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: { only: true },
  },
]);
