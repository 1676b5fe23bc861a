/**
 * Large headless Services from a real DNS server (Debian's dnsmasq,
 * harness/dnsmasq.ts): 1,000 and 3,000 A records are too big for UDP,
 * arrive over TCP after truncation, and every one of them is used. With
 * `maxAddresses` a watcher keeps its process's stable random subset and says
 * so in stats().
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import { PROCESS_SEED, pickSubset } from '../src/watch/subset.js';
import { watch, type DnsWatch } from '../src/watch-handle.js';
import { Dnsmasq, dnsmasqBinary, rawQuery } from '../harness/dnsmasq.js';
import { waitUntil } from '../harness/wait.js';
import { resolvConfText } from '../harness/temp-folder.js';

const binary = dnsmasqBinary();
if (!binary) {
  console.warn('dnsmasq.large.test: dnsmasq not found in PATH or /usr/sbin — skipped (apt-get install dnsmasq-base)');
}

/** `n` distinct pod addresses in 10.0.0.0/8, in no particular order. */
function pods(n: number, offset = 0): string[] {
  return Array.from({ length: n }, (_, k) => {
    const i = offset + k;
    return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  });
}

describe.skipIf(!binary)('large answers from a real dnsmasq', () => {
  let dnsmasq: Dnsmasq;
  let resolver: StubResolver;

  beforeAll(async () => {
    dnsmasq = await Dnsmasq.start({ ttl: 1 });
    const resolvConf = parseResolvConf(resolvConfText(dnsmasq.nameserver, 'options timeout:2 attempts:2'));
    resolver = new StubResolver({ resolvConf, hostsPath: false });
  }, 15_000);

  afterAll(async () => {
    resolver?.close();
    await dnsmasq?.close();
  });

  it.each([1_000, 3_000])('%i A records: all of them, over TCP after truncation', async (count) => {
    const name = `big${count}.ns.svc.cluster.local`;
    const all = pods(count);
    await dnsmasq.setHost(name, all);
    // The server really truncates over UDP: the answer only fits in a TCP message.
    const udp = await rawQuery(dnsmasq.host, dnsmasq.port, name, 'A', 1_000);
    expect(udp?.addresses.length).toBe(count); // rawQuery retried over TCP, as a resolver must
    const resolution = await resolver.resolve(`${name}.`, 4);
    expect(resolution.addresses).toHaveLength(count);
    expect(resolution.addresses.map((entry) => entry.address).sort()).toEqual([...all].sort());
    await dnsmasq.removeHost(name);
  }, 30_000);

  it('maxAddresses: a stable random subset of 3,000 across polls, stats say how many were available, a leaving member is replaced alone', async () => {
    const name = 'capped.ns.svc.cluster.local';
    const all = pods(3_000, 5_000);
    await dnsmasq.setHost(name, all);
    const watcher: DnsWatch = watch(`${name}.`, {
      nameservers: [`${dnsmasq.host}:${dnsmasq.port}`],
      hostsPath: false,
      refreshInterval: 150,
      minInterval: 0,
      jitter: 0,
      respectTtl: false,
      timeout: 2_000,
      maxAddresses: 50,
    });
    try {
      const updates: string[][] = [];
      watcher.on('update', (update) => updates.push(update.addresses));
      watcher.on('error', () => {});
      await waitUntil(() => (watcher.stats()?.queries ?? 0) >= 5, '5 polls', 10_000, 20);
      const expected = pickSubset(all.map((address) => ({ address })), 50, PROCESS_SEED).map((entry) => entry.address).sort();
      expect(updates).toEqual([expected]); // one update: the subset did not change between polls
      const stats = watcher.stats()!;
      expect(stats.addresses).toEqual(expected);
      expect(stats.addressesAvailable).toBe(3_000);

      const leaving = expected[17]!;
      await dnsmasq.setHost(name, all.filter((address) => address !== leaving));
      await waitUntil(() => updates.length === 2, 'the change', 10_000, 20);
      const after = updates[1]!;
      expect(after).toHaveLength(50);
      expect(after).not.toContain(leaving);
      expect(expected.filter((address) => address !== leaving).every((address) => after.includes(address))).toBe(true);
      expect(watcher.stats()!.addressesAvailable).toBe(2_999);
    } finally {
      watcher.close();
    }
  }, 30_000);
});
