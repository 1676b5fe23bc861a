/**
 * Liveness at full size, through `watch()` with the library's defaults,
 * against the harness DNS server on loopback: 5,000 names behind a server
 * that answers a tenth of its queries, and 4,000 slow names beside 10 fast
 * ones. About two minutes together, so they run in `npm run test:stress`
 * (scripts/stress-test.sh sets GRPC_DNS_WATCH_HEAVY=1, beside its CPU
 * burners); `npm test` runs the light versions in test/liveness.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { MAX_UDP_SOCKETS_PER_NAMESERVER } from '../src/dns/udp-lane.js';
import { watch, type DnsWatch, type WatchOptions } from '../src/index.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { activeHandleCounts } from '../harness/resolver-helpers.js';
import { HEAVY } from '../harness/heavy.js';
import { serverFixture } from '../harness/server-fixture.js';
import { waitUntil } from '../harness/wait.js';

const { cleanups, startWithResolvConf } = serverFixture('liveness.test');

/** A harness server, and watch() options that ask only it with glibc's defaults (no options line). */
async function setup(): Promise<{ server: DnsTestServer; options: WatchOptions }> {
  const { server, resolvConfPath, writeFile } = await startWithResolvConf({ label: 'liveness' });
  return { server, options: { resolvConfPath, hostsPath: await writeFile('hosts', '127.0.0.1 localhost\n') } };
}

function watchAll(names: string[], options: WatchOptions): DnsWatch[] {
  const watches = names.map((name) => watch(name, options));
  cleanups.push(() => watches.forEach((handle) => handle.close()));
  for (const handle of watches) handle.on('error', () => undefined);
  return watches;
}

describe.runIf(HEAVY)('liveness at full size (test:stress)', () => {
  it('a server that answers 10 % of queries at random: of 5,000 names watched with the defaults, 80 % have addresses within 60 s', async () => {
    const { server, options } = await setup();
    const names = Array.from({ length: 5_000 }, (_, i) => `n${i}.lossy.test`);
    for (const name of names) server.setRecords(name, { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    server.setFault('drop', { probability: 0.9 });
    const before = activeHandleCounts();
    const started = performance.now();
    const watches = watchAll(names, options);
    let mostSockets = 0;
    const resolved = (): number => {
      mostSockets = Math.max(mostSockets, activeHandleCounts().udp - before.udp);
      return watches.filter((handle) => handle.current !== undefined).length;
    };
    await waitUntil(() => resolved() >= 4_000, () => `80 % of the names had addresses (${resolved()} did)`, 60_000, 250);
    console.log(`lossy server: 80 % of 5,000 names had addresses after ${Math.round(performance.now() - started)} ms; ${server.queries.length} queries`);
    expect(mostSockets).toBeLessThanOrEqual(MAX_UDP_SOCKETS_PER_NAMESERVER);
  }, 90_000);

  it('4,000 slow names (1.8 s, timeout 2 s) watched beside 10 fast ones: each fast name has its first set within 1 s of being watched; every slow name resolves', async () => {
    const { server, options } = await setup();
    const slowNames = Array.from({ length: 4_000 }, (_, i) => `s${i}.slow.test`);
    const fastNames = Array.from({ length: 10 }, (_, i) => `f${i}.fast.test`);
    for (const name of slowNames) server.setRecords(name, { A: ['10.0.0.1'] });
    for (const name of fastNames) server.setRecords(name, { A: ['10.0.0.2'] });
    server.setFault({ delayMs: 1_800 }, { domain: 'slow.test' });
    const slowWatches = watchAll(slowNames, { ...options, timeout: 2_000 });
    // Polling in full swing: every slow name asked (the start-up pacer is through them, so what follows is
    // the transport's doing), the first slow sets in, the line behind the slow domain long.
    const askedSlow = (): number => new Set(server.queries.map((query) => query.name)).size;
    await waitUntil(() => askedSlow() >= slowNames.length, () => `every slow name was asked (${askedSlow()} were)`, 30_000, 50);
    await waitUntil(() => slowWatches.some((handle) => handle.current !== undefined), 'a slow name resolved', 30_000, 50);
    // Each fast name from its own start (its watch()) to its first set.
    const firstSet: number[] = [];
    for (const name of fastNames) {
      const started = performance.now();
      watchAll([name], { ...options, timeout: 2_000 })[0]!.once('update', () => firstSet.push(performance.now() - started));
    }
    await waitUntil(() => firstSet.length === fastNames.length, 'every fast name had its first set', 30_000, 10);
    console.log(`fast names among 4,000 slow ones: first sets after ${firstSet.map(Math.round).join(', ')} ms`);
    // Issue 25: within a second of being asked. Why 1 s holds beside the stress run's CPU burners: the fast names' first polls
    // take tokens the start-up pacer has refilled by now (the slow names' first polls are long done), their queries go out at
    // once in the slots the slow domain's share leaves free (src/dns/query-gate.ts), and the server answers them without
    // delay — what is left is this process's event loop, busy with the slow names' replies: 4–14 ms measured here, and
    // 1 s is 70 times that. Held behind the slow names they would wait for a slow reply, 1.8 s at least.
    expect(firstSet.filter((ms) => ms > 1_000), `first sets after ${firstSet.map(Math.round).join(', ')} ms`).toEqual([]);
    await waitUntil(
      () => slowWatches.every((handle) => handle.current !== undefined),
      () => `every slow name resolved (${slowWatches.filter((handle) => handle.current !== undefined).length} did)`,
      60_000,
      250,
    );
  }, 120_000);
});
