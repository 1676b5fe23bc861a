/**
 * One query per family per poll in a pod: the search-list candidate that
 * answered is remembered and polled directly, whatever form the target was
 * written in. Counted at the server — the in-process test server and a real
 * dnsmasq — with exactly a kubelet resolv.conf (search ns.svc.cluster.local
 * svc.cluster.local cluster.local, ndots:5) and IPv4-only records, so AAAA is
 * NODATA as in most clusters.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import type { Family } from '../src/dns/types.js';
import { observe, watch, type WatcherStats, type WatchOptions } from '../src/index.js';
import { DEMOTE_AFTER_POLLS } from '../src/watch/family-demotion.js';
import { RECHECK_EVERY_POLLS } from '../src/watch/schedule.js';
import { setTraceSink } from '../src/watch/trace.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { startDnsServer } from '../harness/server-fixture.js';
import { resolvConfText, tempFolderForTests } from '../harness/temp-folder.js';
import { withTimeout } from '../harness/within.js';

const SEARCH = 'search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:2';
const POLLS = 5;

/** Each form of the name `svc` as written in a target, and how many candidates the first walk asks before the one that answers. */
function forms(svc: string): Array<[string, number]> {
  return [
    [svc, 1],
    [`${svc}.ns`, 2],
    [`${svc}.ns.svc`, 3],
    [`${svc}.ns.svc.cluster.local`, 4],
    [`${svc}.ns.svc.cluster.local.`, 1],
  ];
}

const folder = tempFolderForTests('search-memory');

function watchOptions(resolvConfPath: string, family: Family): WatchOptions {
  return { refreshInterval: 150, minInterval: 50, jitter: 0, family, resolvConfPath, hostsPath: false };
}

/**
 * Watch `target` for exactly POLLS polls; `count()` is read at each poll's
 * end (the queries the server has seen so far). The watch is closed right
 * after the last one, so no further poll is in flight. Returns those counts
 * and the watcher's stats and set at the end.
 */
async function pollAndCount(target: string, options: WatchOptions, count: () => number) {
  const counts: number[] = [];
  // Assigned once, after the observer that reads it is in place.
  // eslint-disable-next-line prefer-const
  let svc: ReturnType<typeof watch> | undefined;
  let done!: (result: { counts: number[]; stats: WatcherStats; addresses: string[] | undefined }) => void;
  const finished = new Promise<Parameters<typeof done>[0]>((resolve) => (done = resolve));
  const stop = observe((event) => {
    if (event.type !== 'query' || event.name !== target || counts.length >= POLLS) return;
    counts.push(count());
    // After this poll has settled (same turn), before the next can start.
    if (counts.length === POLLS) queueMicrotask(() => done({ counts, stats: svc!.stats()!, addresses: svc!.current?.addresses }));
  });
  svc = watch(target, options);
  try {
    return await withTimeout(finished, 10_000, `${POLLS} polls of ${target}`);
  } finally {
    svc.close();
    stop();
  }
}

const perPoll = (counts: number[]) => counts.slice(1).map((count, i) => count - counts[i]!);

// About eight seconds of polls (the recheck comes at the 5th poll of 1 s) on a DNS server of its own,
// first in the file so the rows below run beside it.
describe.concurrent('a Service deleted and re-created', () => {
  it('issue 20, case 4: after one NXDOMAIN the wildcard under a later search domain answers, and the real name is polled again at the next recheck', async () => {
    const { server: dns, resolvConfPath: file, close } = await startDnsServer({ resolvConf: 'search ns.svc.cluster.test svc.cluster.test corp.test\noptions ndots:5', label: 'search-memory' });
    const real = 'svc.ns.svc.cluster.test';
    // What a wildcard *.corp.test gives the candidate svc.corp.test.
    const wildcard = 'svc.corp.test';
    dns.setRecords(real, { A: ['10.0.4.1'] });
    dns.setRecords(wildcard, { A: ['10.9.9.9'] });
    const interval = 1_000;
    const handle = watch('svc', { refreshInterval: interval, minInterval: 50, jitter: 0, family: 0, resolvConfPath: file, hostsPath: false });
    const polledNames: Array<string | undefined> = [];
    const stop = observe((event) => {
      if (event.type === 'query' && event.name === 'svc') queueMicrotask(() => polledNames.push(handle.stats()?.polledName));
    });
    try {
      await vi.waitFor(() => expect(handle.stats()?.polledName).toBe(`${real}.`), { timeout: 5_000 });
      // A Service deleted and re-created: one NXDOMAIN (A and AAAA of one poll), then it answers again.
      dns.setFault('nxdomain', { name: real, count: 2 });
      await vi.waitFor(() => expect(handle.stats()?.polledName).toBe(`${wildcard}.`), { timeout: 5_000 });
      expect(handle.current?.addresses).toEqual(['10.9.9.9']);
      const movedAt = polledNames.length;
      // The recheck comes at the RECHECK_EVERY_POLLS-th poll after the move.
      await vi.waitFor(() => expect(handle.stats()?.polledName).toBe(`${real}.`), { timeout: (RECHECK_EVERY_POLLS + 3) * interval });
      expect(handle.current?.addresses).toEqual(['10.0.4.1']);
      const pollsOnWildcard = polledNames.slice(movedAt).filter((name) => name === `${wildcard}.`).length;
      expect(pollsOnWildcard).toBeLessThanOrEqual(RECHECK_EVERY_POLLS);
      // Back to one name per poll: the real one, two queries.
      const before = dns.queries.length;
      const polls = handle.stats()!.queries;
      await vi.waitFor(() => expect(handle.stats()!.queries).toBeGreaterThanOrEqual(polls + 2), { timeout: 5_000 });
      const asked = dns.queries.slice(before).map((query) => query.name.toLowerCase());
      expect(new Set(asked)).toEqual(new Set([real]));
    } finally {
      stop();
      handle.close();
      await close();
    }
  }, 30_000);
});

// Each row on names of its own: side by side.
describe.concurrent('the in-process DNS server counts the queries', () => {
  let dns: DnsTestServer;
  let resolvConfPath: string;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server: dns, resolvConfPath, close } = await startDnsServer({ resolvConf: SEARCH, label: 'search-memory' }));
  });

  afterAll(async () => {
    await close();
  });

  // Family 0 on an IPv4-only name: AAAA is NODATA, demoted after DEMOTE_AFTER_POLLS polls (family-demotion.ts), then one query per poll.
  describe.each([
    ['family 0, IPv4-only', 0, false, [2, 2, 1, 1]],
    ['family 0, dual-stack', 0, true, [2, 2, 2, 2]],
    ['family 4', 4, false, [1, 1, 1, 1]],
  ] as const)('%s', (label, family, dualStack, later) => {
    const families = family === 0 ? 2 : 1;
    const svc = `web${label.length}${family}`;
    it.each(forms(svc))('%s: the first poll walks the list, every later poll asks one name per family asked', async (target, walked) => {
      // A name of its own per row, the rows side by side.
      const row = `${svc}-${forms(svc).findIndex(([form]) => form === target)}`;
      const fqdn = `${row}.ns.svc.cluster.local`;
      dns.setRecords(fqdn, dualStack ? { A: ['10.0.0.1'], AAAA: ['fd00::1'] } : { A: ['10.0.0.1'] });
      const mine = () => dns.queries.filter((query) => query.name.toLowerCase().startsWith(`${row}.`)).length;
      const before = mine();
      const { counts, stats, addresses } = await pollAndCount(target.replace(svc, row), watchOptions(resolvConfPath, family), () => mine() - before);
      expect(addresses).toEqual(dualStack ? ['10.0.0.1', 'fd00::1'] : ['10.0.0.1']);
      expect(counts[0]).toBe(walked * families);
      expect(perPoll(counts)).toEqual(later);
      expect(stats.polledName).toBe(`${fqdn}.`);
    });
  });

  it('says in a trace line which name a target resolved as', async () => {
    dns.setRecords('traced.ns.svc.cluster.local', { A: ['10.0.0.2'] });
    const lines: string[] = [];
    setTraceSink((line) => lines.push(line));
    try {
      await pollAndCount('traced.ns.svc.cluster.local', watchOptions(resolvConfPath, 4), () => 0);
    } finally {
      setTraceSink(null);
    }
    // The rows beside this one trace their own names.
    const said = lines.filter((line) => line.startsWith('traced.') && line.includes('via the search list'));
    expect(said).toEqual(['traced.ns.svc.cluster.local resolved as traced.ns.svc.cluster.local. via the search list; polling it directly']);
  });

  it.each([
    ['NXDOMAIN', (server: DnsTestServer, name: string) => server.deleteName(name)],
    ['NODATA for every family', (server: DnsTestServer, name: string) => server.setRecords(name, {})],
  ])(
    'the remembered name is dropped when it answers %s; the list is walked again and the result is a fresh resolution’s',
    async (_label, unpublish) => {
      const svc = `moving-${_label.length}`;
      const first = `${svc}.ns.svc.cluster.local`;
      const later = `${svc}.svc.cluster.local`;
      dns.setRecords(first, { A: ['10.0.1.1'] });
      const options = watchOptions(resolvConfPath, 0);
      const handle = watch(svc, options);
      const queriesOf = (name: string) => dns.queries.filter((query) => query.name.toLowerCase() === name).length;
      try {
        await vi.waitFor(() => expect(handle.stats()?.polledName).toBe(`${first}.`), { timeout: 5_000 });
        dns.setRecords(later, { A: ['10.0.2.1'], AAAA: ['fd00::21'] });
        unpublish(dns, first);
        await vi.waitFor(() => expect(handle.current?.addresses).toEqual(['10.0.2.1', 'fd00::21']), { timeout: 5_000 });
        await vi.waitFor(() => expect(handle.stats()?.polledName).toBe(`${later}.`), { timeout: 5_000 });
        // Once moved, the old name is asked again only on the recheck schedule (schedule.ts RECHECK_EVERY_POLLS:
        // every 5th poll), in case it comes back; the other polls ask the new one only.
        const oldAsked = queriesOf(first);
        const newAsked = queriesOf(later);
        const polls = handle.stats()!.queries;
        await vi.waitFor(() => expect(handle.stats()!.queries).toBeGreaterThanOrEqual(polls + 2 * RECHECK_EVERY_POLLS), { timeout: 10_000 });
        const morePolls = handle.stats()!.queries - polls;
        const rechecks = (queriesOf(first) - oldAsked) / 2;
        expect(rechecks).toBeGreaterThanOrEqual(1);
        expect(rechecks).toBeLessThanOrEqual(Math.floor(morePolls / RECHECK_EVERY_POLLS) + 1);
        // Within one poll of the count read (a poll may be in flight): two queries a poll for the new name.
        expect(queriesOf(later) - newAsked).toBeGreaterThanOrEqual(2 * morePolls);
        expect(queriesOf(later) - newAsked).toBeLessThanOrEqual(2 * (morePolls + 1));
      } finally {
        handle.close();
      }
      // What a resolver that never saw the name gives now.
      const fresh = new StubResolver({ resolvConf: parseResolvConf(resolvConfText(dns, SEARCH)), hostsPath: false });
      try {
        const resolution = await fresh.resolve(svc, 0);
        expect(resolution.name).toBe(later);
        expect(resolution.addresses.map((entry) => entry.address).sort()).toEqual(['10.0.2.1', 'fd00::21']);
      } finally {
        fresh.close();
      }
    },
  );

  it('a remembered name that times out is kept (could not ask is not "stopped answering")', async () => {
    const fqdn = 'steady.ns.svc.cluster.local';
    dns.setRecords(fqdn, { A: ['10.0.3.1'] });
    const handle = watch('steady', { ...watchOptions(resolvConfPath, 4), timeout: 100, attempts: 1, backoff: { initial: 50 } });
    try {
      await vi.waitFor(() => expect(handle.stats()?.polledName).toBe(`${fqdn}.`), { timeout: 5_000 });
      dns.setFault('servfail', { name: fqdn, count: 2 });
      await vi.waitFor(() => expect(handle.stats()!.failures).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
      expect(handle.stats()!.polledName).toBe(`${fqdn}.`);
      // No walk to the other candidates while the remembered one could not be asked.
      expect(dns.queries.some((query) => query.name.toLowerCase() === 'steady.svc.cluster.local')).toBe(false);
    } finally {
      handle.close();
    }
  });
});

const binary = dnsmasqBinary();
if (!binary) console.warn('search-memory.test: dnsmasq not found — the real-server half is skipped (apt-get install dnsmasq-base)');

// Beside the rows above; its own rows one after another, as each counts its queries in
// dnsmasq's log, which keeps only its last 200 lines.
describe.skipIf(!binary).concurrent('a real dnsmasq counts the queries', () => {
  let dnsmasq: Dnsmasq;
  let resolvConfPath: string;

  beforeAll(async () => {
    dnsmasq = await Dnsmasq.start({ ttl: 30, logQueries: true });
    resolvConfPath = await folder.write('dnsmasq.resolv.conf', dnsmasq.nameserver, SEARCH);
  }, 15_000);

  afterAll(async () => {
    await dnsmasq?.close();
  });

  /** Queries dnsmasq logged for names starting with `prefix.` (its log keeps the last 200 lines). */
  function logged(prefix: string): number {
    return dnsmasq.output.split('\n').filter((line) => new RegExp(`query\\[(A|AAAA)\\] ${prefix}\\.`, 'i').test(line)).length;
  }

  it.sequential.each(forms('dm'))('%s: steady-state queries per poll = families asked (family 0; AAAA of this IPv4-only name demoted after 3 polls)', async (target, walked) => {
    const label = `dm${forms('dm').findIndex(([form]) => form === target)}`;
    const fqdn = `${label}.ns.svc.cluster.local`;
    await dnsmasq.setHost(fqdn, ['127.0.0.5']);
    const before = logged(label);
    const written = target.replace(/^dm/, label);
    const { stats, addresses } = await pollAndCount(written, watchOptions(resolvConfPath, 0), () => 0);
    expect(addresses).toEqual(['127.0.0.5']);
    expect(stats.polledName).toBe(`${fqdn}.`);
    // setHost's own readiness checks ask the name too: count only what came after.
    // Polls 2 and 3 ask A and AAAA; AAAA answered NODATA on 3 polls in a row is demoted: polls 4 and 5 ask A only.
    expect(stats.familiesEveryPoll).toEqual([4]);
    const expected = 2 * walked + 2 * (DEMOTE_AFTER_POLLS - 1) + (POLLS - DEMOTE_AFTER_POLLS);
    // dnsmasq's log arrives through a pipe: wait for it to catch up, then it must not exceed.
    await vi.waitFor(() => expect(logged(label) - before).toBeGreaterThanOrEqual(expected), { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(logged(label) - before).toBe(expected);
  });
});
