import { afterEach } from 'vitest';
import { DnsTestServer } from './dns-server.js';
import { waitForHandlesAtMost } from './resolver-helpers.js';

/**
 * Per-test harness DNS servers that hold `name` (A 10.0.0.1, AAAA fd00::1),
 * with a cleanup list run after each test (last added first), then a check
 * that no socket is left open. Call once at the top of a test file.
 */
export function serverFixture(name: string): { start: () => Promise<DnsTestServer>; cleanups: Array<() => unknown> } {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await waitForHandlesAtMost({ udp: 0, tcp: 0, timeout: Infinity });
  });
  return {
    cleanups,
    start: async () => {
      const server = await DnsTestServer.start();
      server.setRecords(name, { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
      cleanups.push(() => server.close());
      return server;
    },
  };
}
