import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { HostsFile } from '../src/dns/hosts.js';
import type { Resolution } from '../src/dns/types.js';
import { STARTUP_BURST, StartupPacer } from '../src/watch/pacer.js';
import { Watcher } from '../src/watch/watcher.js';
import { watcherOptions } from '../harness/watcher-options.js';
import { tempFolderForTests } from '../harness/temp-folder.js';

/**
 * A step of the wall clock (an NTP correction, a VM resumed, `date -s`)
 * changes nothing the library schedules: every delay, age and timeout runs
 * on the one monotonic clock (src/dns/timers.ts). Fake timers move
 * `performance.now` and `Date` together; `vi.setSystemTime` then steps
 * `Date` alone, as a real step does. Each case runs with no step, a 600 s
 * step backwards and a 5 s one, and must schedule exactly the same.
 */

const STEPS = [0, -600_000, -5_000];


/** Monotonic time as the DNS server sees it: what a real server's clock would read. */
const monotonic = (): number => Math.round(performance.now());

/** A DNS that answers one address; with `cacheTtl`, like a cache in front: the TTL counts down, a new copy after expiry. */
function scriptedDns(cacheTtl?: number) {
  const calls: number[] = [];
  let fetchedAt: number | undefined;
  const resolve = async (name: string): Promise<Resolution> => {
    const now = monotonic();
    calls.push(now);
    let ttl = 30;
    if (cacheTtl !== undefined) {
      if (fetchedAt === undefined || now >= fetchedAt + cacheTtl * 1_000) fetchedAt = now;
      ttl = Math.floor((fetchedAt + cacheTtl * 1_000 - now) / 1_000);
    }
    return { name, addresses: [{ address: '10.0.0.1', family: 4, ttl }], source: 'dns', failedFamilies: [] };
  };
  return { resolve, calls };
}

/** Step the wall clock by `stepMs` (Date only, as NTP does). */
function stepWallClock(stepMs: number): void {
  vi.setSystemTime(Date.now() + stepMs);
}

describe('a wall-clock step changes no schedule', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(STEPS)('polls on the interval across a step of %i ms', async (step) => {
    const dns = scriptedDns();
    const start = monotonic();
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 2_000 }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(3_000);
    stepWallClock(step);
    await vi.advanceTimersByTimeAsync(7_000);
    expect(dns.calls.map((at) => at - start)).toEqual([0, 2_000, 4_000, 6_000, 8_000, 10_000]);
    watcher.stop();
  });

  it.each(STEPS)('polls timed to a cached copy land just after its expiry across a step of %i ms', async (step) => {
    const dns = scriptedDns(10);
    const start = monotonic();
    const watcher = new Watcher('svc', watcherOptions({ respectTtl: true }), dns.resolve);
    watcher.subscribe(() => {});
    // Copies fetched at 0 and 10 s, each seen counting down 5 s later: a
    // cache (two countdowns). Then 1 s after each copy's expiry: 21 s, 32 s.
    await vi.advanceTimersByTimeAsync(12_000);
    stepWallClock(step);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(dns.calls.map((at) => at - start)).toEqual([0, 5_000, 10_000, 15_000, 21_000, 32_000]);
    watcher.stop();
  });

  it.each(STEPS)('refresh() after a step of %i ms runs once minInterval has passed since the last query', async (step) => {
    const dns = scriptedDns();
    const start = monotonic();
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 60_000 }), dns.resolve);
    const subscription = watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(500);
    stepWallClock(step);
    subscription.request();
    await vi.advanceTimersByTimeAsync(499);
    expect(dns.calls.map((at) => at - start)).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(dns.calls.map((at) => at - start)).toEqual([0, 1_000]);
    const nextPollAt = watcher.stats().nextPollAt!.getTime();
    // Shown to people on the wall clock as it reads now: one interval ahead.
    expect(nextPollAt - Date.now()).toBe(60_000);
    watcher.stop();
  });

  it.each(STEPS)('first polls paced behind a burst start at the same pace across a step of %i ms', async (step) => {
    const pacer = new StartupPacer(STARTUP_BURST);
    const start = monotonic();
    const startedAt: number[] = [];
    for (let i = 0; i < STARTUP_BURST + 10; i++) pacer.join(5_000).firstPoll(() => startedAt.push(monotonic() - start));
    expect(startedAt).toHaveLength(STARTUP_BURST);
    stepWallClock(step);
    // The floor rate, 100 a second: the ten behind the burst within 100 ms.
    await vi.advanceTimersByTimeAsync(100);
    expect(startedAt).toHaveLength(STARTUP_BURST + 10);
    expect(Math.max(...startedAt)).toBeLessThanOrEqual(100);
  });
});

describe('a wall-clock step and the hosts file', () => {
  const folder = tempFolderForTests('clock-step');
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each(STEPS)('a changed hosts file is seen one stat interval later across a step of %i ms', async (step) => {
    vi.useFakeTimers({ now: 1_700_000_000_000, toFake: ['Date', 'performance'] });
    const path = join(folder.dir, `hosts${step}`);
    await writeFile(path, '10.0.0.1 svc\n');
    const hosts = new HostsFile(path);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    await writeFile(path, '10.0.0.2 svc\n10.0.0.3 other\n');
    stepWallClock(step);
    vi.advanceTimersByTime(999);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    vi.advanceTimersByTime(1);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.2');
  });
});
