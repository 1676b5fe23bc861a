/**
 * Cache awareness against real servers: Debian's dnsmasq as a cache in
 * front of an authoritative dnsmasq (as NodeLocal DNSCache sits in front of
 * CoreDNS) counts the TTL of its copy down, and the watcher says so and then
 * polls just after the copy expires; dnsmasq serving its own records, and
 * the in-process test server, repeat the TTL and are not taken for a cache.
 * When the cache is taken away (a forwarder that caches nothing at its
 * address), the verdict clears and polling goes back to the interval. TTLs
 * the wire makes odd (the top bit set, a countdown from a day) never make a
 * wait longer than the cap. A TTL of 7 s and polls 2-3 s apart (three
 * answers per copy) keep each case to a few seconds; the cache going away
 * takes about 40, so it runs in `npm run test:stress` (harness/heavy.ts),
 * and `npm test` runs the same scenario on the watcher's injected clock
 * (test/watcher.unit.test.ts, "a cache that goes away").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { observe, watch, type WatcherStats, type WatchOptions } from '../src/index.js';
import { resolveOptions } from '../src/watch/options.js';
import { CACHE_EXPIRY_MARGIN_MS, cacheStalenessBound, cacheWaitCap, cacheWaitLimit } from '../src/watch/schedule.js';
import { setTraceSink } from '../src/watch/trace.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { HEAVY } from '../harness/heavy.js';
import { startDnsServer } from '../harness/server-fixture.js';
import { tempFolderForTests } from '../harness/temp-folder.js';
import { waitUntil } from '../harness/wait.js';
import { withTimeout } from '../harness/within.js';

const TTL = 7;
const binary = dnsmasqBinary();
if (!binary) console.warn('dnsmasq.cache.test: dnsmasq not found in PATH or /usr/sbin — skipped (apt-get install dnsmasq-base)');

/** What the watcher said after one poll: its stats, and the TTL (NaN for a failure) and delay of its trace line. */
interface Poll {
  stats: WatcherStats;
  ttl: number;
  nextPollInMs: number;
}

const folder = tempFolderForTests('cache');

async function options(label: string, server: { host: string; port: number }): Promise<WatchOptions> {
  const resolvConfPath = await folder.write(`${label}.resolv.conf`, server, 'options timeout:1 attempts:3');
  // 2-3 s apart: far enough for a countdown to show, within one copy's life.
  return { refreshInterval: 2_500, minInterval: 500, family: 4, resolvConfPath, hostsPath: false };
}

/**
 * Watch `name`, recording each poll as it settles: its stats, and the TTL
 * and next delay of the watcher's own trace line; `lines` gets every trace
 * line about it. One recording at a time (the trace sink is global).
 */
function recordPolls(name: string, watchOptions: WatchOptions, lines: string[] = []): { polls: Poll[]; close(): void } {
  const polls: Poll[] = [];
  let pending: { ttl: number; nextPollInMs: number } | undefined;
  setTraceSink((line) => {
    if (!line.startsWith(`${name}:`)) return;
    lines.push(line);
    const said = /min TTL (\d+) s; next poll in (\d+) ms/.exec(line);
    if (said) pending = { ttl: Number(said[1]), nextPollInMs: Number(said[2]) };
    // A poll that could not ask (a server restarting) is recorded too, with no TTL: its retry is part of the schedule.
    const failed = /; retry in (\d+) ms/.exec(line);
    if (failed) pending = { ttl: NaN, nextPollInMs: Number(failed[1]) };
  });
  const svc = watch(name, watchOptions);
  const stop = observe((event) => {
    if (event.type !== 'query' || event.name !== name) return;
    // The trace line and the stats are written when the poll settles, in this same turn.
    queueMicrotask(() => {
      if (!pending) return;
      polls.push({ stats: svc.stats()!, ...pending });
      pending = undefined;
    });
  });
  return {
    polls,
    close: () => {
      svc.close();
      stop();
      setTraceSink(null);
    },
  };
}

/** Watch `name` until `enough(polls)` says so (checked as polls settle), within a bounded time. */
async function watchUntil(name: string, watchOptions: WatchOptions, enough: (polls: Poll[]) => boolean, lines: string[] = []): Promise<Poll[]> {
  const recording = recordPolls(name, watchOptions, lines);
  try {
    await waitUntil(() => enough(recording.polls), `enough polls of ${name}`, 20_000, 20);
    return recording.polls;
  } finally {
    recording.close();
  }
}

// Beside the command's cases below (a dnsmasq pair of their own, no trace sink); its own two cases
// one after another, as the heavier one replaces the cache the first one asks.
describe.skipIf(!binary).concurrent('behind a caching dnsmasq', () => {
  let origin: Dnsmasq;
  let cache: Dnsmasq;

  beforeAll(async () => {
    origin = await Dnsmasq.start({ ttl: TTL });
    cache = await Dnsmasq.start({ upstream: origin.nameserver });
  }, 20_000);

  afterAll(async () => {
    await cache?.close();
    await origin?.close();
  });

  it.sequential('the TTL counting down is seen as a cache; the next poll lands after the copy expired and gets a fresh copy', async () => {
    const name = 'cached.svc.test';
    await origin.setHost(name, ['127.0.0.2']);
    const watchOptions = await options('cache', cache.nameserver);
    const lines: string[] = [];
    const detectedAt = (polls: Poll[]) => polls.findIndex((poll) => poll.stats.cache === 'detected');
    // Detected, then one more poll: the one scheduled for after the expiry.
    const polls = await watchUntil(name, watchOptions, (seen) => detectedAt(seen) >= 0 && seen.length > detectedAt(seen) + 1, lines);

    const at = detectedAt(polls);
    const detected = polls[at]!;
    // The first answer was the cache's fresh copy; it counted down before the watcher said so.
    expect(polls[0]!.ttl).toBe(TTL);
    expect(detected.ttl).toBeLessThan(TTL);
    expect(detected.stats.cacheTtl).toBe(TTL);
    expect(detected.stats.stalenessBoundMs).toBe(cacheStalenessBound(resolveOptions(watchOptions), TTL));
    expect(lines.filter((line) => line.includes('answers come from a cache'))).toHaveLength(1);

    // Never before the copy expires: at least the TTL left plus the margin, though refreshInterval is shorter.
    expect(detected.nextPollInMs).toBeGreaterThanOrEqual(detected.ttl * 1_000 + CACHE_EXPIRY_MARGIN_MS);
    // The copy was fetched during the first poll: the poll after detection starts after it expired.
    const next = polls[at + 1]!;
    expect(next.stats.lastQueryAt!.getTime()).toBeGreaterThanOrEqual(polls[0]!.stats.lastQueryAt!.getTime() + TTL * 1_000);
    // ...and so gets a fresh copy, not the old one again.
    expect(next.ttl).toBe(TTL);
    expect(next.stats.cache).toBe('detected');
    // Tracking the fresh copy: the following poll waits for its expiry too.
    expect(next.nextPollInMs).toBeGreaterThanOrEqual(TTL * 1_000 + CACHE_EXPIRY_MARGIN_MS);
  }, 30_000);

  // Last in this block: it takes the cache away.
  it.runIf(HEAVY).sequential('replaced at its address by a forwarder that caches nothing: the verdict clears within 60 s of scheduled polling, then a change is seen at the next poll, one interval later', async () => {
    const name = 'goes-away.svc.test';
    await origin.setHost(name, ['127.0.0.7']);
    const watchOptions = await options('goes-away', cache.nameserver);
    const { refreshInterval, jitter } = resolveOptions(watchOptions);
    const oneInterval = refreshInterval * (1 + jitter);
    const recording = recordPolls(name, watchOptions);
    const { polls } = recording;
    const describe = () => JSON.stringify(polls.map((poll) => [poll.stats.cache, poll.ttl, poll.nextPollInMs]));
    try {
      await waitUntil(() => polls.some((poll) => poll.stats.cache === 'detected'), () => `the cache to be detected: ${describe()}`, 20_000, 20);
      // The cache goes away: the same address now forwards every query, and the owner's TTL repeats.
      const { port } = cache;
      await cache.close();
      cache = await Dnsmasq.start({ upstream: origin.nameserver, cacheSize: 0, port });
      const lastBefore = polls.length - 1;
      const clearing = () => polls.findIndex((poll, i) => i > lastBefore && poll.stats.cache !== 'detected');
      await waitUntil(() => clearing() >= 0, () => `the verdict to clear: ${describe()}`, 90_000, 20);
      const cleared = clearing();
      expect(polls[cleared]!.stats).toMatchObject({ cache: 'none', cacheTtl: undefined, stalenessBoundMs: undefined });
      // What the watcher scheduled from its last poll of the cache to the poll that cleared the verdict.
      const scheduled = polls.slice(lastBefore, cleared).reduce((sum, poll) => sum + poll.nextPollInMs, 0);
      expect(scheduled, describe()).toBeLessThanOrEqual(60_000);
      // Back on the interval.
      expect(polls[cleared]!.nextPollInMs).toBeLessThanOrEqual(oneInterval);

      await origin.setHost(name, ['127.0.0.8']);
      const changedAt = Date.now();
      const firstAfter = () => polls.findIndex((poll) => poll.stats.lastQueryAt!.getTime() >= changedAt);
      await waitUntil(() => firstAfter() >= 0, () => `a poll after the change: ${describe()}`, 10_000, 20);
      const seen = polls[firstAfter()]!;
      expect(seen.stats.addresses).toEqual(['127.0.0.8']);
      // It came one scheduled interval (with jitter) after the poll before it.
      expect(polls[firstAfter() - 1]!.nextPollInMs).toBeLessThanOrEqual(oneInterval);
    } finally {
      recording.close();
    }
  }, 150_000);
});

/** The command in watch mode, in-process, until `enough(stdout, stderr)` holds (bounded); returns what it printed. */
async function command(args: string[], enough: (stdout: string, stderr: string) => boolean): Promise<{ stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const controller = new AbortController();
  const done = main(args, {
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
    env: {},
    signal: controller.signal,
  });
  try {
    await waitUntil(() => enough(stdout, stderr), () => `the command to say enough; stdout:\n${stdout}\nstderr:\n${stderr}`, 20_000, 50);
  } finally {
    controller.abort();
    await withTimeout(done, 3_000, 'main() to return after abort');
  }
  return { stdout, stderr };
}

// Each case runs its own command on a name of its own: side by side.
describe.skipIf(!binary).concurrent('the command behind a caching dnsmasq', () => {
  let origin: Dnsmasq;
  let cache: Dnsmasq;
  let resolvConf: string;

  beforeAll(async () => {
    origin = await Dnsmasq.start({ ttl: TTL });
    cache = await Dnsmasq.start({ upstream: origin.nameserver });
    resolvConf = (await options('cli', cache.nameserver)).resolvConfPath!;
  }, 20_000);

  afterAll(async () => {
    await cache?.close();
    await origin?.close();
  });

  it('says so once on stderr, with the cached TTL and how late a change can show', async () => {
    await origin.setHost('cli-human.svc.test', ['127.0.0.5']);
    const { stdout, stderr } = await command(
      ['--interval', '2500ms', '--family', '4', '--resolv-conf', resolvConf, 'cli-human.svc.test'],
      (_out, err) => err.includes('answers come from a cache'),
    );
    expect(stdout).toContain('cli-human.svc.test: 1 address');
    // 7 s copy + 1 s + 2.5 s × 1.2
    expect(stderr).toMatch(/note: answers come from a cache \(the TTL counts down; it keeps a copy up to 7s\): a change can take up to 11s to show here/);
    expect(stderr.match(/answers come from a cache/g)).toHaveLength(1);
  }, 30_000);

  it('--json: one cache event on stdout', async () => {
    await origin.setHost('cli-json.svc.test', ['127.0.0.6']);
    const { stdout } = await command(
      ['--json', '--interval', '2500ms', '--family', '4', '--resolv-conf', resolvConf, 'cli-json.svc.test'],
      (out) => out.includes('"type":"cache"'),
    );
    const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; at: string });
    expect(events.map((event) => event.type)).toEqual(['addresses', 'cache']);
    const { at, ...cacheEvent } = events[1]!;
    expect(Number.isNaN(Date.parse(at))).toBe(false);
    expect(cacheEvent).toEqual({ type: 'cache', name: 'cli-json.svc.test', cache: 'detected', ttl: TTL, stalenessBoundMs: 11_000 });
  }, 30_000);
});

describe.skipIf(!binary)('dnsmasq serving its own records', () => {
  let origin: Dnsmasq;

  beforeAll(async () => {
    origin = await Dnsmasq.start({ ttl: TTL });
  }, 20_000);

  afterAll(async () => {
    await origin?.close();
  });

  it('repeats the TTL: no cache, and polling stays on the interval', async () => {
    const name = 'direct.svc.test';
    await origin.setHost(name, ['127.0.0.3']);
    const polls = await watchUntil(name, await options('direct', origin.nameserver), (seen) => seen.some((poll) => poll.stats.cache !== 'unknown'));
    const last = polls.at(-1)!;
    expect(last.stats.cache).toBe('none');
    expect(last.stats.cacheTtl).toBeUndefined();
    expect(last.stats.stalenessBoundMs).toBeUndefined();
    expect(polls.map((poll) => poll.ttl)).toEqual(polls.map(() => TTL));
    // refreshInterval 2.5 s ± 20 %, shorter than the TTL.
    for (const poll of polls) expect(poll.nextPollInMs).toBeLessThanOrEqual(3_000);
  }, 30_000);
});

describe('the in-process test server', () => {
  let server: DnsTestServer;
  let close: (() => Promise<void>) | undefined;

  beforeAll(async () => {
    ({ server, close } = await startDnsServer({ label: 'cache' }));
  });

  afterAll(async () => {
    await close?.();
  });

  it('a TTL with the top bit set (0xFFFFFFFF) reads as 0 (RFC 2181 §8): no cache, no wait of 24.8 days, the poll at minInterval', async () => {
    const name = 'top-bit.svc.test';
    server.setRecords(name, { A: ['127.0.0.4'], ttl: 0xffffffff });
    const watchOptions = await options('top-bit', server.nameserver);
    const polls = await watchUntil(name, watchOptions, (seen) => seen.length >= 3);
    for (const poll of polls) {
      expect(poll.ttl).toBe(0);
      // respectTtl with a TTL of 0: as soon as minInterval allows.
      expect(poll.nextPollInMs).toBe(resolveOptions(watchOptions).minInterval);
      expect(poll.stats.cache).not.toBe('detected');
      expect(poll.stats.stalenessBoundMs).toBeUndefined();
    }
  }, 30_000);

  it('a TTL counting down from 86,400: a cache, whose next poll is at most the cap away, with a finite staleness bound', async () => {
    const name = 'a-day.svc.test';
    const startedAt = performance.now();
    server.setRecords(name, { A: ['127.0.0.4'], ttl: () => 86_400 - Math.floor((performance.now() - startedAt) / 1_000) });
    const watchOptions = await options('a-day', server.nameserver);
    const schedule = resolveOptions(watchOptions);
    const polls = await watchUntil(name, watchOptions, (seen) => seen.some((poll) => poll.stats.cache === 'detected'));
    const detected = polls.find((poll) => poll.stats.cache === 'detected')!;
    expect(detected.ttl).toBeLessThan(86_400);
    // Waiting for the copy's expiry (a day away) is cut to the cap: max(2.5 s, 30 s) + 1 s + the spread.
    expect(detected.nextPollInMs).toBeGreaterThanOrEqual(cacheWaitCap(schedule) + CACHE_EXPIRY_MARGIN_MS);
    expect(detected.nextPollInMs).toBeLessThanOrEqual(cacheWaitLimit(schedule, 86_400));
    expect(cacheWaitLimit(schedule, 86_400)).toBe(32_000);
    expect(detected.stats.stalenessBoundMs).toBe(cacheStalenessBound(schedule, 86_400));
    expect(Number.isFinite(detected.stats.stalenessBoundMs)).toBe(true);
  }, 30_000);

  it('repeats the TTL: no cache', async () => {
    const name = 'in-process.svc.test';
    server.setRecords(name, { A: ['127.0.0.4'], ttl: TTL });
    const polls = await watchUntil(name, await options('in-process', server.nameserver), (seen) => seen.some((poll) => poll.stats.cache !== 'unknown'));
    expect(polls.at(-1)!.stats.cache).toBe('none');
    expect(polls.every((poll) => poll.stats.cache !== 'detected')).toBe(true);
  }, 30_000);
});
