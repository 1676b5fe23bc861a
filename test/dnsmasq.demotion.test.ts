/**
 * Issue 24: with family 0, a family that answers NODATA poll after poll is
 * asked about once a minute, counted at a real dnsmasq. The poller runs on
 * a clock the test steps from one scheduled poll to the next (every delay
 * it asked for recorded), its queries on the real clock against the real
 * server: a minute of polling costs a second, and what is asserted is what
 * was scheduled. The resolver is the library's own, with a kubelet
 * resolv.conf (search list, ndots:5) and glibc's default timeout and attempts.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { DEMOTE_AFTER_POLLS, DEMOTED_BOUND_MS } from '../src/watch/family-demotion.js';
import { CHANNELS, observe, type WatchEvent } from '../src/watch/observe.js';
import { resolveOptions, type WatchOptions } from '../src/watch/options.js';
import { PollTimers } from '../src/watch/poll-timers.js';
import type { Delivery } from '../src/watch/subscribers.js';
import { setTraceSink } from '../src/watch/trace.js';
import { Watcher } from '../src/watch/watcher.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { startDnsServer } from '../harness/server-fixture.js';
import { tempFolderForTests } from '../harness/temp-folder.js';
import { steppedTimers } from '../harness/stepped-timers.js';

const SEARCH = 'search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5';
const MINUTE = 60_000;
/** The longest spacing of two polls with the defaults: refreshInterval × (1 + jitter). */
const LONGEST_SPACING = 6_000;

const folder = tempFolderForTests('demotion');

/** A watcher of `name` with the library's defaults (over `options`), its poll clock stepped by the test. */
function steppedWatcher(name: string, resolvConfPath: string, options: WatchOptions = {}) {
  const clock = steppedTimers();
  const resolver = new StubResolver({ resolvConfPath, hostsPath: false });
  const resolve = Object.assign((n: string, f: 0 | 4 | 6, known?: string, control?: object) => resolver.resolve(n, f, known, control), {
    firstTryTimeoutMs: () => resolver.firstTryTimeoutMs(),
  });
  const watcher = new Watcher(name, resolveOptions(options), resolve, undefined, { timers: new PollTimers(clock) });
  const deliveries: Array<Delivery & { at: number }> = [];
  const subscription = watcher.subscribe((delivery) => deliveries.push({ ...delivery, at: clock.now() }));
  /** Waits for the poll running to settle (its deliveries made: they wait a turn of the event loop). The first poll too waits for a step. */
  const settled = async (queries = 0) => {
    await vi.waitFor(
      () => {
        const stats = watcher.stats();
        expect(stats.queries >= queries && !stats.querying).toBe(true);
      },
      { timeout: 25_000, interval: 2 },
    );
    await new Promise((resolve) => setImmediate(resolve));
  };
  /** Runs the next scheduled poll to its end; returns the time it started (the poller's clock). */
  const poll = async () => {
    await settled();
    const queries = watcher.stats().queries;
    const at = clock.step();
    await settled(queries + 1);
    return at;
  };
  const close = () => {
    subscription.close();
    resolver.close();
  };
  return { watcher, clock, deliveries, poll, settled, close };
}

/** The addresses an update delivered (none for an error). */
function addressesOf(delivery: Delivery | undefined): string[] {
  return delivery?.kind === 'update' ? delivery.addresses.map((entry) => entry.address) : [];
}

/** The family events observe() and the diagnostics channel carry (the same objects), and the trace lines. */
function recording() {
  const events: Array<Extract<WatchEvent, { type: 'family' }>> = [];
  const published: unknown[] = [];
  const traced: string[] = [];
  const stop = observe((event) => {
    if (event.type === 'family') events.push(event);
  });
  const onPublished = (message: unknown) => published.push(message);
  diagnosticsChannel.subscribe(CHANNELS.family, onPublished);
  setTraceSink((line) => traced.push(line));
  return {
    events,
    published,
    traced,
    stop: () => {
      stop();
      diagnosticsChannel.unsubscribe(CHANNELS.family, onPublished);
      setTraceSink(null);
    },
  };
}

const binary = dnsmasqBinary();
if (!binary) console.warn('dnsmasq.demotion.test: dnsmasq not found — skipped (apt-get install dnsmasq-base)');

describe.skipIf(!binary)('family demotion, counted at a real dnsmasq', () => {
  let dnsmasq: Dnsmasq;
  let resolvConfPath: string;
  let log: string;

  beforeAll(async () => {
    log = path.join(folder.dir, 'queries.log');
    dnsmasq = await Dnsmasq.start({ ttl: 30, queryLogFile: log });
    resolvConfPath = await folder.write('dnsmasq.resolv.conf', dnsmasq.nameserver, SEARCH);
  }, 15_000);

  afterAll(async () => {
    await dnsmasq?.close();
  });

  /** Queries of `type` for `fqdn` in dnsmasq's log so far. */
  async function asked(fqdn: string, type: 'A' | 'AAAA'): Promise<number> {
    const text = await readFile(log, 'utf8').catch(() => '');
    return text.split('\n').filter((line) => line.includes(`query[${type}] ${fqdn} `)).length;
  }

  /** Waits until dnsmasq's log has at least `a` A and `aaaa` AAAA queries for `fqdn`, then a moment more: the counts. */
  async function counted(fqdn: string, a: number, aaaa: number): Promise<{ a: number; aaaa: number }> {
    await vi.waitFor(async () => {
      expect(await asked(fqdn, 'A')).toBeGreaterThanOrEqual(a);
      expect(await asked(fqdn, 'AAAA')).toBeGreaterThanOrEqual(aaaa);
    }, { timeout: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 150));
    return { a: await asked(fqdn, 'A'), aaaa: await asked(fqdn, 'AAAA') };
  }

  it.each([
    ['IPv4-only', 'vfour', ['127.0.0.5'], 6, 'A', 'AAAA'],
    ['IPv6-only', 'vsix', ['fd00::5'], 4, 'AAAA', 'A'],
  ] as const)('%s name with the defaults: demoted after 3 NODATA polls, then ≤ 1.1 queries per poll over a minute', async (_label, svc, records, demoted, kept, dropped) => {
    const fqdn = `${svc}.ns.svc.cluster.local`;
    await dnsmasq.setHost(fqdn, [...records]);
    const base = { a: await asked(fqdn, 'A'), aaaa: await asked(fqdn, 'AAAA') };
    const seen = recording();
    const w = steppedWatcher(svc, resolvConfPath);
    try {
      await w.settled(1);
      expect(addressesOf(w.deliveries.at(-1))).toEqual(records);
      for (let i = 1; i < DEMOTE_AFTER_POLLS; i++) await w.poll();
      const stats = w.watcher.stats();
      expect(stats.familiesEveryPoll).toEqual([demoted === 6 ? 4 : 6]);
      expect(stats.demotedFamily?.family).toBe(demoted);
      expect(seen.events).toMatchObject([{ type: 'family', name: svc, family: demoted, change: 'demoted', nextAskInMs: 53_000 }]);
      expect(seen.traced.filter((line) => line.includes(' demoted '))).toHaveLength(1);
      const demotedAt = w.clock.now();
      const before = await counted(fqdn, base.a + DEMOTE_AFTER_POLLS, base.aaaa + DEMOTE_AFTER_POLLS);
      // A minute of steady polling, as scheduled.
      let polls = 0;
      const askedDropped: number[] = [];
      const delaysBefore = w.clock.delays.length;
      while (w.clock.now() < demotedAt + MINUTE) {
        const countBefore = await asked(fqdn, dropped);
        const at = await w.poll();
        polls++;
        if ((await counted(fqdn, 0, 0))[dropped === 'A' ? 'a' : 'aaaa'] > countBefore) askedDropped.push(at);
      }
      const after = await counted(fqdn, before.a + (kept === 'A' ? polls : 0), before.aaaa + (kept === 'AAAA' ? polls : 0));
      const queries = after.a - before.a + (after.aaaa - before.aaaa);
      expect(polls).toBeGreaterThanOrEqual(10);
      expect(queries / polls).toBeLessThanOrEqual(1.1);
      // The demoted family was asked once in the minute, 53 to 59 s after the demoting poll, and still answered NODATA.
      expect(askedDropped).toHaveLength(1);
      expect(askedDropped[0]! - demotedAt).toBeGreaterThanOrEqual(53_000);
      expect(askedDropped[0]! - demotedAt).toBeLessThanOrEqual(53_000 + LONGEST_SPACING);
      expect(w.clock.delays.slice(delaysBefore).every((delay) => delay >= 4_000 && delay <= LONGEST_SPACING)).toBe(true);
      expect(w.watcher.stats().demotedFamily?.family).toBe(demoted);
      expect(seen.events).toHaveLength(1);
      expect(w.deliveries).toHaveLength(1);
    } finally {
      w.close();
      seen.stop();
    }
  }, 60_000);

  it('an AAAA added to the IPv4-only name reaches the watcher within 60 s of being added: at the demoted family\'s next ask, scheduled', async () => {
    const fqdn = 'gains.ns.svc.cluster.local';
    await dnsmasq.setHost(fqdn, ['127.0.0.6']);
    const seen = recording();
    const w = steppedWatcher('gains', resolvConfPath);
    try {
      await w.settled(1);
      for (let i = 1; i < DEMOTE_AFTER_POLLS; i++) await w.poll();
      expect(w.watcher.stats().demotedFamily?.family).toBe(6);
      // The worst moment: just after the demoted family was asked.
      const addedAt = w.clock.now();
      await dnsmasq.setHost(fqdn, ['127.0.0.6', 'fd00::6']);
      let deliveredAt: number | undefined;
      while (deliveredAt === undefined && w.clock.now() < addedAt + 2 * MINUTE) {
        await w.poll();
        deliveredAt = w.deliveries.find((delivery) => addressesOf(delivery).includes('fd00::6'))?.at;
      }
      expect(deliveredAt).toBeDefined();
      expect(deliveredAt! - addedAt).toBeGreaterThanOrEqual(53_000);
      expect(deliveredAt! - addedAt).toBeLessThanOrEqual(DEMOTED_BOUND_MS - 1_000);
      expect(w.deliveries.at(-1)?.added).toEqual(['fd00::6']);
      expect(seen.events.map((event) => event.change)).toEqual(['demoted', 'restored']);
      expect(seen.published).toEqual(seen.events);
      expect(w.watcher.stats().familiesEveryPoll).toEqual([4, 6]);
      expect(w.watcher.stats().demotedFamily).toBeUndefined();
      // Both families at every poll again: a change of either arrives at the next poll.
      await dnsmasq.setHost(fqdn, ['127.0.0.6', 'fd00::7']);
      const changedAt = w.clock.now();
      const at = await w.poll();
      expect(at - changedAt).toBeLessThanOrEqual(LONGEST_SPACING);
      expect(w.deliveries.at(-1)?.added).toEqual(['fd00::7']);
    } finally {
      w.close();
      seen.stop();
    }
  }, 60_000);

  it('a dual-stack name costs 2 queries per poll, and a change in either family arrives at the next poll', async () => {
    const fqdn = 'dual.ns.svc.cluster.local';
    await dnsmasq.setHost(fqdn, ['127.0.0.7', 'fd00::7']);
    const seen = recording();
    const w = steppedWatcher('dual', resolvConfPath);
    try {
      await w.settled(1);
      const before = await counted(fqdn, 1, 1);
      const polls = 12;
      for (let i = 0; i < polls; i++) await w.poll();
      const after = await counted(fqdn, before.a + polls, before.aaaa + polls);
      expect(after.a - before.a + (after.aaaa - before.aaaa)).toBe(2 * polls);
      expect(w.watcher.stats().familiesEveryPoll).toEqual([4, 6]);
      for (const [records, added] of [
        [['127.0.0.8', 'fd00::7'], '127.0.0.8'],
        [['127.0.0.8', 'fd00::8'], 'fd00::8'],
      ] as const) {
        await dnsmasq.setHost(fqdn, [...records]);
        const changedAt = w.clock.now();
        const at = await w.poll();
        expect(at - changedAt).toBeLessThanOrEqual(LONGEST_SPACING);
        expect(w.deliveries.at(-1)?.added).toEqual([added]);
      }
      expect(seen.events).toEqual([]);
    } finally {
      w.close();
      seen.stop();
    }
  }, 60_000);

  it('askBothFamilies: an IPv4-only name costs 2 queries per poll, never demoted', async () => {
    const fqdn = 'both.ns.svc.cluster.local';
    await dnsmasq.setHost(fqdn, ['127.0.0.9']);
    const w = steppedWatcher('both', resolvConfPath, { askBothFamilies: true });
    try {
      await w.settled(1);
      const before = await counted(fqdn, 1, 1);
      const polls = 8;
      for (let i = 0; i < polls; i++) await w.poll();
      const after = await counted(fqdn, before.a + polls, before.aaaa + polls);
      expect(after.aaaa - before.aaaa).toBe(polls);
      expect(after.a - before.a).toBe(polls);
      expect(w.watcher.stats().familiesEveryPoll).toEqual([4, 6]);
      expect(w.watcher.stats().demotedFamily).toBeUndefined();
    } finally {
      w.close();
    }
  }, 60_000);

  it('the name gone (NXDOMAIN) restores the demoted family: a name that comes back is asked for both', async () => {
    const fqdn = 'gone.ns.svc.cluster.local';
    await dnsmasq.setHost(fqdn, ['127.0.0.10']);
    const seen = recording();
    const w = steppedWatcher('gone', resolvConfPath);
    try {
      await w.settled(1);
      for (let i = 1; i < DEMOTE_AFTER_POLLS; i++) await w.poll();
      expect(w.watcher.stats().demotedFamily?.family).toBe(6);
      await dnsmasq.setHost(fqdn, []);
      await w.poll();
      expect(w.watcher.stats().state).toBe('none');
      expect(seen.events.at(-1)).toMatchObject({ change: 'restored', family: 6, reason: 'NXDOMAIN for the name' });
      await dnsmasq.setHost(fqdn, ['127.0.0.10', 'fd00::10']);
      await w.poll();
      expect(addressesOf(w.deliveries.at(-1))).toEqual(['127.0.0.10', 'fd00::10']);
      expect(w.watcher.stats().familiesEveryPoll).toEqual([4, 6]);
    } finally {
      w.close();
      seen.stop();
    }
  }, 60_000);
});

describe('a failure is not NODATA (the in-process server, faults on AAAA only)', () => {
  let dns: DnsTestServer;
  let resolvConfPath: string;
  let writeResolvConf: (file: string, lines?: string) => Promise<string>;
  let close: () => Promise<void>;

  beforeAll(async () => {
    ({ server: dns, resolvConfPath, writeResolvConf, close } = await startDnsServer({ resolvConf: SEARCH, label: 'demotion' }));
  });
  afterAll(async () => {
    await close();
  });

  it.each(['servfail', 'refused', 'drop'] as const)('AAAA %s between NODATA answers breaks the run: never demoted by it', async (fault) => {
    const fqdn = `fail-${fault}.ns.svc.cluster.local`;
    dns.setRecords(fqdn, { A: ['10.0.5.1'] });
    const seen = recording();
    const w = steppedWatcher(`fail-${fault}`, resolvConfPath);
    try {
      await w.settled(1);
      await w.poll();
      // Two NODATA answers, then the AAAA query fails on every try of one poll (the A query answers).
      dns.setFault(fault, { name: fqdn, type: 'AAAA' });
      await w.poll();
      dns.setFault(null);
      expect(w.watcher.stats().demotedFamily).toBeUndefined();
      await w.poll();
      await w.poll();
      expect(w.watcher.stats().demotedFamily).toBeUndefined();
      expect(seen.events).toEqual([]);
      // The third NODATA in a row since the failure demotes.
      await w.poll();
      expect(seen.events).toMatchObject([{ change: 'demoted', family: 6 }]);
    } finally {
      w.close();
      seen.stop();
    }
  }, 60_000);

  it('with options single-request (A, then AAAA): demoted the same, then one query per poll', async () => {
    const fqdn = 'single-req.ns.svc.cluster.local';
    dns.setRecords(fqdn, { A: ['10.0.5.5'] });
    const file = await writeResolvConf('single-request.resolv.conf', `${SEARCH} single-request`);
    const w = steppedWatcher('single-req', file);
    const mine = () => dns.queries.filter((query) => query.name.toLowerCase() === fqdn).length;
    try {
      await w.settled(1);
      for (let i = 1; i < DEMOTE_AFTER_POLLS; i++) await w.poll();
      expect(w.watcher.stats().demotedFamily?.family).toBe(6);
      const before = mine();
      for (let i = 0; i < 5; i++) await w.poll();
      expect(mine() - before).toBe(5);
    } finally {
      w.close();
    }
  }, 60_000);

  it('another search-list candidate taking over restores the demoted family: its families are news', async () => {
    const first = 'mover.ns.svc.cluster.local';
    const later = 'mover.svc.cluster.local';
    dns.setRecords(first, { A: ['10.0.5.3'] });
    const seen = recording();
    const w = steppedWatcher('mover', resolvConfPath);
    try {
      await w.settled(1);
      for (let i = 1; i < DEMOTE_AFTER_POLLS; i++) await w.poll();
      expect(w.watcher.stats().demotedFamily?.family).toBe(6);
      dns.deleteName(first);
      dns.setRecords(later, { A: ['10.0.5.4'] });
      await w.poll();
      expect(w.watcher.stats().polledName).toBe(`${later}.`);
      expect(seen.events.at(-1)).toMatchObject({ change: 'restored', family: 6, reason: `${later}. answers in place of ${first}.` });
      // The walk asked the new candidate for both families: its NODATA run starts at one.
      expect(w.watcher.stats().familiesEveryPoll).toEqual([4, 6]);
      await w.poll();
      await w.poll();
      expect(seen.events.at(-1)).toMatchObject({ change: 'demoted', family: 6 });
    } finally {
      w.close();
      seen.stop();
    }
  }, 60_000);

  it('a demoted AAAA whose check fails stays demoted and is asked again at the next poll', async () => {
    const fqdn = 'recheck-fail.ns.svc.cluster.local';
    dns.setRecords(fqdn, { A: ['10.0.5.2'] });
    const w = steppedWatcher('recheck-fail', resolvConfPath);
    const aaaa = () => dns.queries.filter((query) => query.name.toLowerCase() === fqdn && query.type === 'AAAA').length;
    try {
      await w.settled(1);
      for (let i = 1; i < DEMOTE_AFTER_POLLS; i++) await w.poll();
      dns.setFault('servfail', { name: fqdn, type: 'AAAA' });
      let before = aaaa();
      for (let polls = 0; aaaa() === before && polls < 20; polls++) await w.poll();
      // The due check was asked, and failed: still demoted.
      expect(aaaa()).toBeGreaterThan(before);
      dns.setFault(null);
      expect(w.watcher.stats().demotedFamily?.family).toBe(6);
      before = aaaa();
      await w.poll();
      expect(aaaa()).toBe(before + 1);
      // Answered NODATA this time: the next check is a full wait away.
      before = aaaa();
      await w.poll();
      expect(aaaa()).toBe(before);
    } finally {
      w.close();
    }
  }, 60_000);
});
