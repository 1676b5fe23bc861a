/**
 * What the package's three entry points share: the one copy of the library
 * the build ships (dist/library.cjs). `api` is the public API (src/index.ts)
 * as both `require('grpc-dns-watch')` and `import … from 'grpc-dns-watch'`
 * receive it; `runBin` is the `grpc-dns-watch` command.
 *
 * One copy, not an ES module build beside a CommonJS one: the library keeps
 * process-wide state (the registry of watchers, the registration with
 * grpc-js), and two copies loaded by one app — its own `import` and a
 * dependency's `require` — would each hold their own (Node's "dual package
 * hazard"). The ES module entry is a thin wrapper around the CommonJS copy,
 * as Node's documentation recommends for stateful packages, and the bin
 * shares it too.
 */
export * as api from './index.js';
export { runBin } from './cli/bin.js';
