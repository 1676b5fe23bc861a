import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Resolution } from '../src/dns/types.js';
import { STARTUP_BURST, StartupPacer } from '../src/watch/pacer.js';
import { Watcher } from '../src/watch/watcher.js';
import { watcherOptions } from '../harness/watcher-options.js';

/**
 * Start-up pacing, with fake timers: the first-poll times the pacer and the
 * watchers scheduled, counted per second against the steady rate. The same
 * against a real DNS server is in startup-pacing.test.ts.
 */


/** Per bucket of `ms` from 0 (default one second): how many of `times` fall in it. */
function perSecond(times: number[], ms = 1_000): number[] {
  const counts: number[] = [];
  for (const at of times) {
    const second = Math.floor(at / ms);
    counts[second] = (counts[second] ?? 0) + 1;
  }
  return Array.from(counts, (count) => count ?? 0);
}

describe('StartupPacer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('a lone first poll starts at once, synchronously with the request', () => {
    const pacer = new StartupPacer();
    const member = pacer.join(5_000);
    const start = vi.fn();
    expect(member.firstPoll(start)).toBeUndefined();
    expect(start).toHaveBeenCalledTimes(1);
  });

  it('10,000 names joining in one tick: first polls spread so no second exceeds 2× the steady rate', async () => {
    const N = 10_000;
    const interval = 5_000;
    const pacer = new StartupPacer();
    const startedAt: number[] = [];
    for (let i = 0; i < N; i++) pacer.join(interval).firstPoll(() => startedAt.push(Date.now()));
    expect(startedAt).toHaveLength(STARTUP_BURST);
    await vi.advanceTimersByTimeAsync(2 * interval);
    expect(startedAt).toHaveLength(N);
    const steadyPerSecond = N / (interval / 1_000);
    const counts = perSecond(startedAt);
    expect(Math.max(...counts)).toBeLessThanOrEqual(2 * steadyPerSecond);
    // And every name has its first answer within one interval: pacing, not starving.
    expect(Math.max(...startedAt)).toBeLessThanOrEqual(interval);
    // First come, first served.
    expect(startedAt).toEqual([...startedAt].sort((a, b) => a - b));
    expect(pacer.queued).toBe(0);
  });

  it('the rate follows the names joined: with mixed intervals it is their summed poll rate', async () => {
    const pacer = new StartupPacer(0);
    const startedAt: number[] = [];
    // 1,000 at 1 s and 1,000 at 10 s: steady 1,100 polls/s.
    for (let i = 0; i < 1_000; i++) pacer.join(1_000).firstPoll(() => startedAt.push(Date.now()));
    for (let i = 0; i < 1_000; i++) pacer.join(10_000).firstPoll(() => startedAt.push(Date.now()));
    await vi.advanceTimersByTimeAsync(5_000);
    expect(startedAt).toHaveLength(2_000);
    expect(Math.max(...perSecond(startedAt))).toBeLessThanOrEqual(2 * 1_100);
  });

  it('a cancelled first poll never starts, and frees its place', async () => {
    const pacer = new StartupPacer(1);
    const members = Array.from({ length: 3 }, () => pacer.join(1_000));
    const started: number[] = [];
    members[0]!.firstPoll(() => started.push(0));
    const second = members[1]!.firstPoll(() => started.push(1))!;
    members[2]!.firstPoll(() => started.push(2));
    expect(second.expectedAt()).toBeGreaterThan(Date.now());
    second.cancel();
    members[1]!.leave();
    await vi.advanceTimersByTimeAsync(5_000);
    expect(started).toEqual([0, 2]);
  });

  it('a few names churning (watchers stopped and started again) are never paced below 100 first polls a second', async () => {
    const pacer = new StartupPacer();
    const startedAt: number[] = [];
    // Two names, each watcher stopped and a new one started 200 times a second for 5 s.
    for (let tick = 0; tick < 1_000; tick++) {
      for (let name = 0; name < 2; name++) {
        const member = pacer.join(5_000);
        member.firstPoll(() => startedAt.push(Date.now()));
        member.leave();
      }
      await vi.advanceTimersByTimeAsync(5);
    }
    await vi.advanceTimersByTimeAsync(20_000);
    expect(startedAt).toHaveLength(2_000);
    // The burst, then at least 100 a second (here exactly: two names set a slower steady pace).
    expect(Math.max(...perSecond(startedAt))).toBeLessThanOrEqual(STARTUP_BURST + 100);
  });

  it('the pacer timer never keeps the process alive', () => {
    vi.useRealTimers();
    // Real timers, a clock that stands still: no token is earned between the
    // constructor and firstPoll, however slowly a busy machine runs this test.
    const pacer = new StartupPacer(0, { now: () => 0, setTimeout: (run, ms) => setTimeout(run, ms), clearTimeout: (timer) => clearTimeout(timer as NodeJS.Timeout) });
    const member = pacer.join(60_000);
    const waiting = member.firstPoll(() => {})!;
    const timer = (pacer as unknown as { timer: NodeJS.Timeout }).timer;
    expect(timer.hasRef()).toBe(false);
    waiting.cancel();
    expect((pacer as unknown as { timer: unknown }).timer).toBeUndefined();
  });
});

describe('Watcher with a StartupPacer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const answer = async (name: string): Promise<Resolution> => ({
    name,
    addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }],
    source: 'dns',
    failedFamilies: [],
  });

  it('500 watchers created in one tick: every poll (first and later) ≤ 2× the steady rate per half second', async () => {
    const N = 500;
    const pacer = new StartupPacer();
    const polls: number[] = [];
    const watchers = Array.from({ length: N }, (_, i) => {
      const watcher = new Watcher(`svc-${i}`, watcherOptions({ refreshInterval: 1_000, minInterval: 500, jitter: 0.2 }), async (name) => {
        polls.push(Date.now());
        return answer(name);
      }, () => {}, { pacer: pacer.join(1_000) });
      watcher.subscribe(() => {});
      return watcher;
    });
    // Paced watchers say when they expect to start, in arrival order.
    const last = watchers.at(-1)!.stats();
    expect(last.querying).toBe(false);
    expect(last.nextPollAt!.getTime()).toBeGreaterThan(0);
    expect(last.nextPollAt!.getTime()).toBeLessThanOrEqual(1_000);
    await vi.advanceTimersByTimeAsync(5_000);
    const counts = perSecond(polls, 500);
    const steady = N / 2; // polls per half second
    expect(counts.length).toBeGreaterThanOrEqual(10);
    expect(Math.max(...counts)).toBeLessThanOrEqual(2 * steady);
    for (const watcher of watchers) watcher.stop();
    expect(pacer.queued).toBe(0);
  }, 60_000);

  it('a lone watcher with a pacer still polls at once', async () => {
    const pacer = new StartupPacer();
    const polls: number[] = [];
    const watcher = new Watcher('svc', watcherOptions({ jitter: 0.2 }), async (name) => {
      polls.push(Date.now());
      return answer(name);
    }, () => {}, { pacer: pacer.join(5_000) });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(polls).toEqual([0]);
    watcher.stop();
  });

  it('a request while the first poll waits its turn is answered by that first poll, not a query of its own', async () => {
    const pacer = new StartupPacer(0);
    pacer.join(1_000);
    const polls: number[] = [];
    const deliveries: unknown[] = [];
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000, minInterval: 100, jitter: 0.2 }), async (name) => {
      polls.push(Date.now());
      return answer(name);
    }, () => {}, { pacer: pacer.join(1_000) });
    const subscription = watcher.subscribe((delivery) => deliveries.push(delivery));
    subscription.request();
    // No burst allowance: its turn comes at the slowest pace, 100 first polls a second.
    await vi.advanceTimersByTimeAsync(5);
    expect(polls).toEqual([]);
    await vi.advanceTimersByTimeAsync(100);
    expect(polls).toHaveLength(1);
    expect(deliveries).toHaveLength(1);
    watcher.stop();
  });

  it('a watcher stopped while waiting never polls and leaves the queue', async () => {
    const pacer = new StartupPacer(0);
    const resolve = vi.fn(answer);
    const watcher = new Watcher('svc', watcherOptions({ jitter: 0.2 }), resolve, () => {}, { pacer: pacer.join(5_000) });
    watcher.subscribe(() => {}).close();
    expect(pacer.queued).toBe(0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(resolve).not.toHaveBeenCalled();
  });
});
