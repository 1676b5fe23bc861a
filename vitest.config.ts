import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Socket-heavy integration files; two cores.
    pool: 'forks',
    maxWorkers: 2,
    env: {
      // grpc-js's built-in resolver, where tests compare against it, must ask
      // the test DNS server (its dns:// authority) through c-ares, never the
      // machine's nameserver through getaddrinfo. Read when grpc-js loads.
      GRPC_NODE_USE_ALTERNATIVE_RESOLVER: 'true',
    },
  },
});
