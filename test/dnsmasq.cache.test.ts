/**
 * Cache awareness against real servers: Debian's dnsmasq as a cache in
 * front of an authoritative dnsmasq (as NodeLocal DNSCache sits in front of
 * CoreDNS) counts the TTL of its copy down, and the watcher says so and then
 * polls just after the copy expires; dnsmasq serving its own records, and
 * the in-process test server, repeat the TTL and are not taken for a cache.
 * A TTL of 7 s and polls 2-3 s apart (three answers per copy) keep each case to a few seconds.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { observe, watch, type WatcherStats, type WatchOptions } from '../src/index.js';
import { resolveOptions } from '../src/options.js';
import { CACHE_EXPIRY_MARGIN_MS, cacheStalenessBound } from '../src/schedule.js';
import { setTraceSink } from '../src/trace.js';
import { DnsTestServer } from '../harness/dns-server.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { waitUntil } from '../harness/wait.js';
import { withTimeout } from '../harness/within.js';

const TTL = 7;
const binary = dnsmasqBinary();
if (!binary) console.warn('dnsmasq.cache.test: dnsmasq not found in PATH or /usr/sbin — skipped (apt-get install dnsmasq-base)');

/** What the watcher said after one poll: its stats, and the TTL and delay of its trace line. */
interface Poll {
  stats: WatcherStats;
  ttl: number;
  nextPollInMs: number;
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'grpc-dns-watch-cache-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function options(label: string, server: { host: string; port: number }): Promise<WatchOptions> {
  const resolvConfPath = path.join(dir, `${label}.resolv.conf`);
  await writeFile(resolvConfPath, `nameserver ${server.host}:${server.port}\noptions timeout:1 attempts:3\n`);
  // 2-3 s apart: far enough for a countdown to show, within one copy's life.
  return { refreshInterval: 2_500, minInterval: 500, family: 4, resolvConfPath, hostsPath: false };
}

/**
 * Watch `name` until `enough(polls)` says so (checked after each poll has
 * settled), within a bounded time. Each poll's TTL and next delay are read
 * from the watcher's own trace line; `lines` gets every trace line about it.
 */
async function watchUntil(name: string, watchOptions: WatchOptions, enough: (polls: Poll[]) => boolean, lines: string[] = []): Promise<Poll[]> {
  const polls: Poll[] = [];
  let pending: { ttl: number; nextPollInMs: number } | undefined;
  setTraceSink((line) => {
    if (!line.startsWith(`${name}:`)) return;
    lines.push(line);
    const said = /min TTL (\d+) s; next poll in (\d+) ms/.exec(line);
    if (said) pending = { ttl: Number(said[1]), nextPollInMs: Number(said[2]) };
  });
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const svc = watch(name, watchOptions);
  const stop = observe((event) => {
    if (event.type !== 'query' || event.name !== name) return;
    // The trace line and the stats are written when the poll settles, in this same turn.
    queueMicrotask(() => {
      if (!pending) return;
      polls.push({ stats: svc.stats()!, ...pending });
      pending = undefined;
      if (enough(polls)) done();
    });
  });
  try {
    await withTimeout(finished, 20_000, `enough polls of ${name}`);
    return polls;
  } finally {
    svc.close();
    stop();
    setTraceSink(null);
  }
}

describe.skipIf(!binary)('behind a caching dnsmasq', () => {
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

  it('the TTL counting down is seen as a cache; the next poll lands after the copy expired and gets a fresh copy', async () => {
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

describe.skipIf(!binary)('the command behind a caching dnsmasq', () => {
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

  beforeAll(async () => {
    server = await DnsTestServer.start();
  });

  afterAll(async () => {
    await server?.close();
  });

  it('repeats the TTL: no cache', async () => {
    const name = 'in-process.svc.test';
    server.setRecords(name, { A: ['127.0.0.4'], ttl: TTL });
    const polls = await watchUntil(name, await options('in-process', server.nameserver), (seen) => seen.some((poll) => poll.stats.cache !== 'unknown'));
    expect(polls.at(-1)!.stats.cache).toBe('none');
    expect(polls.every((poll) => poll.stats.cache !== 'detected')).toBe(true);
  }, 30_000);
});
