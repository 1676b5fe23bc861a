import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Two projects (`npx vitest run --project unit`, `--project integration`):
 *
 * - unit: pure logic that opens no socket, starts no server and spawns no
 *   process (temp files are fine); the whole project runs in seconds.
 * - integration: everything else — real UDP/TCP DNS servers, dnsmasq, grpc-js
 *   servers on loopback, child processes.
 *
 * Integration is the default, so a new test file is never silently dropped:
 * a file is a unit test only if its name ends in `.unit.test.ts`.
 */
const UNIT = ['test/**/*.unit.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Socket-heavy integration files; two cores.
    pool: 'forks',
    maxWorkers: 2,
    // Both projects: a process warning no test captured fails its file (harness/warning-guard.ts).
    setupFiles: ['harness/warning-guard.ts'],
    env: {
      // grpc-js's built-in resolver, where tests compare against it, must ask
      // the test DNS server (its dns:// authority) through c-ares, never the
      // machine's nameserver through getaddrinfo. Read when grpc-js loads.
      GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true',
    },
    projects: [
      { extends: true, test: { name: 'unit', include: UNIT } },
      {
        extends: true,
        test: { name: 'integration', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...UNIT] },
      },
    ],
  },
});
