/**
 * Start-up pacing against a real (in-process) DNS server: many names watched
 * in one tick with one set of DNS settings, queries counted per half second
 * at the server. The start-up rate stays within 2× the steady rate (with a
 * generous tolerance for a loaded machine: without pacing the first half
 * second carries all 600 first queries, 4×), and every name is answered. The exact first-poll times are asserted with fake
 * timers in pacer.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { watch, type DnsWatch } from '../src/index.js';
import { dnsServerForFile } from '../harness/server-fixture.js';

const NAMES = 600;
const INTERVAL = 1_000;
const BUCKET_MS = 500;
const TOLERANCE = 1.25;

const fixture = dnsServerForFile({ resolvConf: 'options timeout:2 attempts:2', label: 'pacing' });

describe('start-up pacing', () => {
  it(`${NAMES} names watched in one tick: queries per ${BUCKET_MS} ms stay within 2× the steady rate`, async () => {
    const { server: dns, resolvConfPath } = fixture;
    for (let i = 0; i < NAMES; i++) dns.setRecords(`paced-${i}.test`, { A: ['10.0.0.1'] });
    dns.resetLog();
    const watches: DnsWatch[] = [];
    try {
      for (let i = 0; i < NAMES; i++) {
        watches.push(watch(`paced-${i}.test`, { refreshInterval: INTERVAL, family: 4, resolvConfPath, hostsPath: false }));
      }
      await vi.waitFor(() => expect(watches.filter((svc) => svc.current === undefined)).toHaveLength(0), { timeout: 15_000, interval: 50 });
      // Through the first polls and the second round of everyone.
      const first = dns.queries[0]!.at;
      await vi.waitFor(() => expect(dns.queries.at(-1)!.at - first).toBeGreaterThanOrEqual(3 * BUCKET_MS + INTERVAL), { timeout: 15_000 });
    } finally {
      for (const svc of watches) svc.close();
    }
    const first = dns.queries[0]!.at;
    const buckets: number[] = [];
    for (const query of dns.queries) {
      const bucket = Math.floor((query.at - first) / BUCKET_MS);
      buckets[bucket] = (buckets[bucket] ?? 0) + 1;
    }
    const steadyPerBucket = (NAMES * BUCKET_MS) / INTERVAL;
    const seen = Array.from(buckets, (count) => count ?? 0);
    expect(Math.max(...seen.slice(0, 4)), `queries per ${BUCKET_MS} ms: ${seen.join(', ')}`).toBeLessThanOrEqual(2 * steadyPerBucket * TOLERANCE);
    // Every name asked (how soon depends on how busy the machine is: pacer.test.ts pins the schedule).
    expect(new Set(dns.queries.map((query) => query.name)).size).toBe(NAMES);
  });
});
