import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsError } from '../src/dns/errors.js';
import type { ResolveControl, Resolution } from '../src/dns/types.js';
import { DEMOTED_BOUND_MS } from '../src/watch/family-demotion.js';
import { DEFAULTS } from '../src/watch/options.js';
import {
  BEHIND_MS,
  CACHE_EXPIRY_MARGIN_MS,
  DEADLINE_MARGIN_MS,
  DEADLINE_PATIENCE,
  RECHECK_EVERY_POLLS,
  cacheStalenessBound,
  cacheWaitLimit,
  RECHECK_MAX_MS,
  pollDeadline,
} from '../src/watch/schedule.js';
import { PollTimers, pollTimers, type PollEntry } from '../src/watch/poll-timers.js';
import { Watcher } from '../src/watch/watcher.js';
import type { Delivery } from '../src/watch/subscribers.js';
import { watcherOptions } from '../harness/watcher-options.js';

/**
 * Scheduling and delivery rules of the watcher, with fake timers and a
 * scripted DNS. The same rules are exercised against real DNS and grpc-js in
 * the integration tests; these pin the exact timings.
 */

type Script = Array<string[] | DnsError | { addresses: string[]; ttl: number }>;

function scriptedDns(script: Script) {
  const calls: number[] = [];
  let index = 0;
  const resolve = vi.fn(async (name: string): Promise<Resolution> => {
    calls.push(Date.now());
    const step = script[Math.min(index++, script.length - 1)]!;
    if (step instanceof DnsError) throw step;
    const { addresses, ttl } = Array.isArray(step) ? { addresses: step, ttl: 30 } : step;
    return { name, addresses: addresses.map((address) => ({ address, family: 4 as const, ttl })), source: 'dns', failedFamilies: [] };
  });
  return { resolve, calls };
}


function collect() {
  const deliveries: Delivery[] = [];
  return { deliveries, deliver: (delivery: Delivery) => deliveries.push(delivery) };
}

const timeout = () => new DnsError('TIMEOUT', 'svc', 'no reply');

describe('Watcher', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('asks at once for the first subscriber and delivers the set', async () => {
    const dns = scriptedDns([['10.0.0.1']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    expect(deliveries).toHaveLength(0); // never synchronous with subscribe
    await vi.advanceTimersByTimeAsync(0);
    expect(dns.calls).toEqual([0]);
    expect(deliveries).toEqual([expect.objectContaining({ kind: 'update', added: ['10.0.0.1'], removed: [] })]);
    watcher.stop();
  });

  it('polls every refreshInterval and stays silent while the set is unchanged', async () => {
    const dns = scriptedDns([['10.0.0.1', '10.0.0.2'], ['10.0.0.2', '10.0.0.1'], ['10.0.0.1', '10.0.0.2']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dns.calls).toEqual([0, 5_000, 10_000]);
    expect(deliveries).toHaveLength(1);
    watcher.stop();
  });

  it('a changed set is delivered once with what was added and removed', async () => {
    const dns = scriptedDns([['10.0.0.1', '10.0.0.2'], ['10.0.0.2', '10.0.0.3']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]).toMatchObject({ kind: 'update', added: ['10.0.0.3'], removed: ['10.0.0.1'] });
    watcher.stop();
  });

  it('respectTtl polls when the records expire, never sooner than minInterval', async () => {
    // TTLs that change as an owner's may (2 s, then 0 two seconds later, would be a cache counting down).
    const dns = scriptedDns([{ addresses: ['10.0.0.1'], ttl: 0 }, { addresses: ['10.0.0.1'], ttl: 2 }, { addresses: ['10.0.0.1'], ttl: 60 }]);
    const watcher = new Watcher('svc', watcherOptions({ respectTtl: true }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(8_000);
    // ttl 0 → minInterval 1 s; ttl 2 s → 2 s; ttl 60 s → refreshInterval 5 s
    expect(dns.calls).toEqual([0, 1_000, 3_000, 8_000]);
    watcher.stop();
  });

  it('jitter spreads each delay within ±jitter of the interval', async () => {
    const dns = scriptedDns([['10.0.0.1']]);
    const randoms = [0, 0.999, 0.5];
    let r = 0;
    const watcher = new Watcher('svc', watcherOptions({ jitter: 0.2 }), dns.resolve, () => {}, { random: () => randoms[r++ % 3]! });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(16_000);
    const gaps = dns.calls.slice(1).map((at, i) => at - dns.calls[i]!);
    expect(gaps).toEqual([4_000, 5_998, 5_000]); // 5000 × (0.8 + 0.4 × r)
    watcher.stop();
  });

  it('could not ask with a last good set: silent, retries with exponential backoff capped at max', async () => {
    const dns = scriptedDns([['10.0.0.1'], timeout(), timeout(), timeout(), timeout(), timeout(), ['10.0.0.1']]);
    const watcher = new Watcher('svc', watcherOptions({ backoff: { initial: 1_000, max: 4_000, multiplier: 2 } }), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(5_000 + 1_000 + 2_000 + 4_000 + 4_000 + 4_000);
    expect(dns.calls).toEqual([0, 5_000, 6_000, 8_000, 12_000, 16_000, 20_000]);
    expect(deliveries).toHaveLength(1);
    expect(watcher.state.kind).toBe('addresses');
    // success resets the backoff: back to the refresh interval
    await vi.advanceTimersByTimeAsync(5_000);
    expect(dns.calls.at(-1)).toBe(25_000);
    watcher.stop();
  });

  it('a poll that could not ask right after an answer: the backoff counts from its start (its tries were the wait), later ones from their end', async () => {
    const calls: number[] = [];
    const timeLeft: number[] = [];
    const resolve = vi.fn(async (name: string, _family: unknown, _known?: string, control?: ResolveControl): Promise<Resolution> => {
      calls.push(Date.now());
      timeLeft.push(control?.remainingMs?.() ?? -1);
      if (calls.length === 1 || calls.length === 4) return { name, addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }], source: 'dns', failedFamilies: [] };
      // Its tries, all lost: 700 ms of them.
      await new Promise((settle) => setTimeout(settle, 700));
      throw timeout();
    });
    const watcher = new Watcher('svc', watcherOptions(), resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(12_000);
    // 5,000: fails at 5,700; the first failure's 1 s counts from 5,000. 6,000: fails at 6,700; the second's 2 s from 6,700.
    expect(calls.slice(0, 4)).toEqual([0, 5_000, 6_000, 8_700]);
    // Each poll's queries are told what is left of its deadline (refreshInterval × (1 + jitter 0)).
    expect(timeLeft.slice(0, 4)).toEqual([5_000, 5_000, 5_000, 5_000]);
    watcher.stop();
  });

  it('an answer in which one family could not be asked: its tries were the wait, so the next poll counts the interval from the poll\'s start', async () => {
    // Family 0: A answers at once; the AAAA query's tries are all lost, 700 ms of them, on the odd polls.
    const calls: number[] = [];
    const resolve = vi.fn(async (name: string): Promise<Resolution> => {
      calls.push(Date.now());
      const a = { address: '10.0.0.1', family: 4 as const, ttl: 30 };
      if (calls.length % 2 === 0) return { name, addresses: [a, { address: 'fd00::1', family: 6, ttl: 30 }], source: 'dns', failedFamilies: [] };
      await new Promise((settle) => setTimeout(settle, 700));
      return { name, addresses: [a], source: 'dns', failedFamilies: [{ family: 6, error: timeout() }] };
    });
    const timers = new RecordingPollTimers();
    const watcher = new Watcher('svc', watcherOptions({ family: 0, refreshInterval: 2_000 }), resolve, () => {}, { timers });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(8_000);
    // 0: AAAA lost until 700, next at 0 + 2,000 (not 2,700); 2,000: both answer at once, next at 4,000; 4,000: lost again, next at 6,000.
    expect(calls.slice(0, 5)).toEqual([0, 2_000, 4_000, 6_000, 8_000]);
    // The delays asked: the first poll at once, then each poll's deadline (2,000) and the next poll's delay — 1,300 after a lost AAAA, 2,000 after a whole answer.
    expect(timers.delays.slice(0, 9)).toEqual([0, 2_000, 1_300, 2_000, 2_000, 2_000, 1_300, 2_000, 2_000]);
    watcher.stop();
  });

  it('could not ask with no set: one error, then silence for the same failure', async () => {
    const dns = scriptedDns([timeout(), timeout(), timeout(), ['10.0.0.1']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(1_000 + 2_000 + 4_000);
    expect(dns.calls).toHaveLength(4);
    expect(deliveries.map((delivery) => delivery.kind)).toEqual(['error', 'update']);
    watcher.stop();
  });

  it('authoritative none: an error, polled at the refresh interval, not backed off', async () => {
    const dns = scriptedDns([['10.0.0.1'], new DnsError('NXDOMAIN', 'svc', 'gone'), new DnsError('NXDOMAIN', 'svc', 'gone'), ['10.0.0.2']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(15_000);
    expect(dns.calls).toEqual([0, 5_000, 10_000, 15_000]);
    expect(deliveries.map((delivery) => delivery.kind)).toEqual(['update', 'error', 'update']);
    watcher.stop();
  });

  it('a request is answered by exactly one delivery even if nothing changed', async () => {
    const dns = scriptedDns([['10.0.0.1']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const { deliveries, deliver } = collect();
    const subscription = watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(2_000);
    subscription.request();
    await vi.advanceTimersByTimeAsync(0);
    expect(dns.calls).toEqual([0, 2_000]);
    expect(deliveries).toHaveLength(2);
    watcher.stop();
  });

  it('a request within minInterval of the last query waits for it to pass, then runs once', async () => {
    const dns = scriptedDns([['10.0.0.1']]);
    const watcher = new Watcher('svc', watcherOptions({ minInterval: 1_000 }), dns.resolve);
    const subscription = watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(300);
    subscription.request();
    subscription.request();
    subscription.request();
    await vi.advanceTimersByTimeAsync(699);
    expect(dns.calls).toEqual([0]);
    await vi.advanceTimersByTimeAsync(1);
    expect(dns.calls).toEqual([0, 1_000]);
    // and the regular poll resumes from there
    await vi.advanceTimersByTimeAsync(5_000);
    expect(dns.calls).toEqual([0, 1_000, 6_000]);
    watcher.stop();
  });

  it('a request while a query is in flight is answered by that query', async () => {
    let release!: () => void;
    const resolve = vi.fn(
      (name: string) =>
        new Promise<Resolution>((done) => {
          release = () => done({ name, addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }], source: 'dns', failedFamilies: [] });
        }),
    );
    const watcher = new Watcher('svc', watcherOptions(), resolve);
    const { deliveries, deliver } = collect();
    const subscription = watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(0);
    subscription.request();
    release();
    await vi.advanceTimersByTimeAsync(0);
    expect(resolve).toHaveBeenCalledTimes(1);
    expect(deliveries).toHaveLength(1);
    watcher.stop();
  });

  it('a second subscriber gets the current set on the next turn, without a new query', async () => {
    const dns = scriptedDns([['10.0.0.1']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(100);
    const late = collect();
    watcher.subscribe(late.deliver);
    expect(late.deliveries).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(0);
    expect(late.deliveries).toEqual([expect.objectContaining({ kind: 'update', added: ['10.0.0.1'] })]);
    expect(dns.calls).toEqual([0]);
    watcher.stop();
  });

  it('the last subscriber leaving stops polling and calls onStop; a query in flight is dropped', async () => {
    const dns = scriptedDns([['10.0.0.1'], ['10.0.0.2']]);
    const onStop = vi.fn();
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve, onStop);
    const first = collect();
    const a = watcher.subscribe(first.deliver);
    const b = watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    a.close();
    expect(onStop).not.toHaveBeenCalled();
    b.close();
    expect(onStop).toHaveBeenCalledTimes(1);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(dns.calls).toEqual([0]);
    expect(first.deliveries).toHaveLength(1);
    expect(watcher.isStopped).toBe(true);
  });

  it('a subscriber that throws does not stop the others or the polling', async () => {
    const dns = scriptedDns([['10.0.0.1'], ['10.0.0.2']]);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    const good = collect();
    watcher.subscribe(() => {
      throw new Error('listener bug');
    });
    watcher.subscribe(good.deliver);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(good.deliveries).toHaveLength(2);
    watcher.stop();
  });
});

describe('Watcher: the name polled', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const from = (name: string, source: Resolution['source'] = 'dns'): Resolution => ({
    name,
    addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }],
    source,
    failedFamilies: [],
  });

  it('passes the name that answered back to the resolver; keeps it over failures, drops it on NXDOMAIN', async () => {
    const steps: Array<Resolution | DnsError> = [
      from('svc.ns.svc.cluster.local'),
      from('svc.ns.svc.cluster.local'),
      timeout(),
      new DnsError('NXDOMAIN', 'svc', 'gone'),
      from('svc.svc.cluster.local'),
      from('svc.svc.cluster.local'),
    ];
    const known: Array<string | undefined> = [];
    let index = 0;
    const resolve = vi.fn(async (_name: string, _family: number, remembered?: string) => {
      known.push(remembered);
      const step = steps[Math.min(index++, steps.length - 1)]!;
      if (step instanceof DnsError) throw step;
      return step;
    });
    const watcher = new Watcher('svc', watcherOptions(), resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(watcher.stats().polledName).toBe('svc.ns.svc.cluster.local.');
    await vi.advanceTimersByTimeAsync(5_000 + 5_000 + 1_000 + 5_000);
    expect(known).toEqual([
      undefined,
      'svc.ns.svc.cluster.local',
      'svc.ns.svc.cluster.local',
      'svc.ns.svc.cluster.local', // a timeout keeps it
      undefined, // NXDOMAIN after the walk: start from the list again
    ]);
    expect(watcher.stats().polledName).toBe('svc.svc.cluster.local.');
    watcher.stop();
  });

  it('an answer from the hosts file polls no DNS name', async () => {
    const watcher = new Watcher('svc', watcherOptions(), async () => from('svc', 'hosts'));
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(watcher.stats().polledName).toBeUndefined();
    watcher.stop();
  });

  it('default backoff: retries never further apart than refreshInterval', async () => {
    const dns = scriptedDns([['10.0.0.1'], timeout(), timeout(), timeout(), timeout(), timeout(), ['10.0.0.2']]);
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 3_000, backoff: { initial: 1_000, max: undefined, multiplier: 2 } }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(3_000 + 1_000 + 2_000 + 3_000 + 3_000 + 3_000);
    expect(dns.calls).toEqual([0, 3_000, 4_000, 6_000, 9_000, 12_000, 15_000]);
    watcher.stop();
  });
});

describe('Watcher timers (real)', () => {
  it('the poll timer never keeps the process alive', async () => {
    const watcher = new Watcher('svc', watcherOptions(), async (name) => ({
      name,
      addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }],
      source: 'dns',
      failedFamilies: [],
    }));
    watcher.subscribe(() => {});
    await vi.waitFor(() => expect(watcher.nextPollAt).toBeGreaterThan(performance.now() + 1_000));
    // The one shared timer every watcher's next poll waits on (poll-timers.ts).
    const timer = (pollTimers as unknown as { timer: NodeJS.Timeout | undefined }).timer;
    expect(timer?.hasRef()).toBe(false);
    watcher.stop();
    expect(watcher.nextPollAt).toBeUndefined();
    expect(pollTimers.size).toBe(0);
  });
});

/**
 * A DNS that answers like a cache in front of the owner: one copy with
 * `ttl` whole seconds, counted down (seconds left, rounded down), fetched
 * again at the first question after it expired.
 */
function cachingDns(ttl: number) {
  const calls: Array<{ at: number; ttl: number }> = [];
  let fetchedAt: number | undefined;
  const resolve = async (name: string): Promise<Resolution> => {
    const now = Date.now();
    if (fetchedAt === undefined || now >= fetchedAt + ttl * 1_000) fetchedAt = now;
    const left = Math.floor((fetchedAt + ttl * 1_000 - now) / 1_000);
    calls.push({ at: now, ttl: left });
    return { name, addresses: [{ address: '10.0.0.1', family: 4, ttl: left }], source: 'dns', failedFamilies: [] };
  };
  return { resolve, calls };
}

/**
 * A cache in front until `cacheGoneAt` (ms), then the records' owner
 * answering directly with the same TTL every time — the cache removed, or
 * the client moved to a server that does not cache. `owner.addresses` is
 * what the owner serves (the cache keeps its copy of an earlier set).
 */
function cacheThenOwner(ttl: number, cacheGoneAt: number) {
  const cache = cachingDns(ttl);
  const owner = { addresses: ['10.0.0.1'] };
  const calls: Array<{ at: number; ttl: number; from: 'cache' | 'owner' }> = [];
  const resolve = async (name: string): Promise<Resolution> => {
    const now = Date.now();
    if (now < cacheGoneAt) {
      const answer = await cache.resolve(name);
      calls.push({ ...cache.calls.at(-1)!, from: 'cache' });
      return answer;
    }
    calls.push({ at: now, ttl, from: 'owner' });
    return { name, addresses: owner.addresses.map((address) => ({ address, family: 4 as const, ttl })), source: 'dns', failedFamilies: [] };
  };
  return { resolve, calls, owner };
}

/** The shared poll timer's heap, remembering every delay a watcher asked for. */
class RecordingPollTimers extends PollTimers {
  readonly delays: number[] = [];
  override schedule(entry: PollEntry, delayMs: number): void {
    this.delays.push(delayMs);
    super.schedule(entry, delayMs);
  }
}

/** Draws spread over [0, 1) in turn, so jittered delays take their whole range without Math.random. */
function cyclingRandom(): () => number {
  const draws = [0, 0.5, 0.9999, 0.25, 0.75];
  let i = 0;
  return () => draws[i++ % draws.length]!;
}

describe('Watcher behind a cache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('respectTtl: once the countdown shows, each poll lands just after the cached copy expires, not every refreshInterval; each copy is checked once inside it', async () => {
    const dns = cachingDns(30);
    const watcher = new Watcher('svc', watcherOptions({ respectTtl: true }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    expect(watcher.stats().cache).toBe('unknown');
    await vi.advanceTimersByTimeAsync(100_000);
    // 5 s and 10 s: counting down, a cache; then 1 s after each expiry (jitter 0), every answer a fresh copy.
    // The last countdown is 20 s old (RECONFIRM_MS) by each expiry: one probe per copy, refreshInterval into it.
    expect(dns.calls).toEqual([
      { at: 0, ttl: 30 },
      { at: 5_000, ttl: 25 },
      { at: 10_000, ttl: 20 },
      { at: 31_000, ttl: 30 },
      { at: 36_000, ttl: 25 },
      { at: 62_000, ttl: 30 },
      { at: 67_000, ttl: 25 },
      { at: 93_000, ttl: 30 },
      { at: 98_000, ttl: 25 },
    ]);
    const stats = watcher.stats();
    expect(stats.cache).toBe('detected');
    expect(stats.cacheTtl).toBe(30);
    // 30 s + 1 s (whole seconds) + 5 s × (1 + 0)
    expect(stats.stalenessBoundMs).toBe(36_000);
    expect(stats.nextPollAt?.getTime()).toBe(124_000);
    watcher.stop();
  });

  it('with jitter, the polls of a fleet spread after the expiry, never before it', async () => {
    const draws = [0, 0.5, 0.9999];
    const gapsAfterExpiry: number[] = [];
    for (const r of draws) {
      const dns = cachingDns(30);
      const watcher = new Watcher('svc', watcherOptions({ respectTtl: true, jitter: 0.2 }), dns.resolve, () => {}, { random: () => r });
      watcher.subscribe(() => {});
      await vi.advanceTimersByTimeAsync(40_000);
      watcher.stop();
      // The copy fetched at 0 expires at 30 s; the poll after the two that saw the countdown:
      const third = dns.calls[2]!;
      const fourth = dns.calls[3]!;
      expect(third.ttl).toBeLessThan(30);
      expect(fourth.at).toBeGreaterThanOrEqual(31_000);
      gapsAfterExpiry.push(fourth.at - 30_000);
      vi.setSystemTime(0);
    }
    // margin 1 s + U[0, 2 × 0.2 × 5 s)
    expect(gapsAfterExpiry).toEqual([1_000, 2_000, 3_000]);
  });

  it('a cache that goes away: the owner repeating its TTL clears the verdict within 60 s, then polls on the interval and sees a change within one', async () => {
    // The case of issue 20: a 10 s cache for 25 s, then the owner answers with TTL 10 every time; refreshInterval 2 s.
    const dns = cacheThenOwner(10, 25_000);
    const schedule = watcherOptions({ respectTtl: true, refreshInterval: 2_000, minInterval: 500, jitter: 0.2 });
    const watcher = new Watcher('svc', schedule, dns.resolve, () => {}, { random: cyclingRandom() });
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(25_000);
    expect(watcher.stats().cache).toBe('detected');
    let clearedAt: number | undefined;
    while (clearedAt === undefined && Date.now() < 25_000 + 60_000) {
      await vi.advanceTimersByTimeAsync(100);
      if (watcher.stats().cache !== 'detected') clearedAt = Date.now();
    }
    expect(clearedAt, `polls: ${JSON.stringify(dns.calls)}`).toBeDefined();
    expect(watcher.stats()).toMatchObject({ cache: 'none', cacheTtl: undefined, stalenessBoundMs: undefined });
    // Within a few polls of the owner: the after-expiry ones tell nothing, the probe inside a copy does.
    expect(dns.calls.filter((call) => call.from === 'owner' && call.at <= clearedAt!).length).toBeLessThanOrEqual(4);
    // Back on the interval: 2 s ± 20 %.
    const before = dns.calls.length;
    await vi.advanceTimersByTimeAsync(20_000);
    const gaps = dns.calls.slice(before - 1).map((call, i, all) => (i === 0 ? undefined : call.at - all[i - 1]!.at)).slice(1);
    expect(gaps.length).toBeGreaterThanOrEqual(8);
    for (const gap of gaps) {
      expect(gap).toBeGreaterThanOrEqual(1_600);
      expect(gap).toBeLessThanOrEqual(2_400);
    }
    // A change at the owner reaches the subscriber within one interval (with jitter).
    dns.owner.addresses = ['10.0.0.2'];
    const changedAt = Date.now();
    const delivered = deliveries.length;
    await vi.advanceTimersByTimeAsync(2_400);
    expect(deliveries.slice(delivered)).toMatchObject([{ kind: 'update', added: ['10.0.0.2'], removed: ['10.0.0.1'] }]);
    expect(watcher.stats().lastChangeAt!.getTime() - changedAt).toBeLessThanOrEqual(2_400);
    watcher.stop();
  });

  it('another cache taking over (a copy of another age): the old copy is no longer waited for, polls go back to the interval until the new countdown shows', async () => {
    const first = cachingDns(30);
    const second = cachingDns(30);
    // The second cache fetched its copy 12 s before the switch at 40 s.
    const calls: Array<{ at: number; ttl: number }> = [];
    const resolve = async (name: string): Promise<Resolution> => {
      if (Date.now() < 40_000) {
        if (Date.now() >= 28_000) await second.resolve(name);
        const answer = await first.resolve(name);
        calls.push(first.calls.at(-1)!);
        return answer;
      }
      const answer = await second.resolve(name);
      calls.push(second.calls.at(-1)!);
      return answer;
    };
    const watcher = new Watcher('svc', watcherOptions({ respectTtl: true }), resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(120_000);
    const gapsAfter = (from: number) => calls.filter((call) => call.at >= from).map((call, i, all) => (i === 0 ? 0 : call.at - all[i - 1]!.at));
    // Every gap bounded by one wait behind a cache; the verdict stays (it is still a cache), tracking the second one's copies.
    for (const gap of gapsAfter(0)) expect(gap).toBeLessThanOrEqual(33_000);
    expect(watcher.stats().cache).toBe('detected');
    const last = calls.at(-1)!;
    // The second cache's copies (fetched at 28 s, then refetched after each expiry) are the ones waited for now.
    expect(watcher.nextPollAt! - performance.now()).toBeLessThanOrEqual(last.ttl * 1_000 + CACHE_EXPIRY_MARGIN_MS);
    watcher.stop();
  });

  it.each([
    ['a TTL counting down from 86,400 (a cache that keeps copies a day)', 86_400],
    ['the longest TTL there is (2^31 − 1 s)', 0x7fffffff],
  ])('%s: the next poll is never more than the cap away, and the staleness bound is finite', async (_label, ttl) => {
    const dns = cachingDns(ttl);
    const schedule = watcherOptions({ respectTtl: true, refreshInterval: 2_000, minInterval: 500, jitter: 0.2 });
    const timers = new RecordingPollTimers();
    const watcher = new Watcher('svc', schedule, dns.resolve, () => {}, { random: cyclingRandom(), timers });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(300_000);
    expect(watcher.stats().cache).toBe('detected');
    const limit = cacheWaitLimit(schedule, ttl);
    // 30 s (max(refreshInterval, 30 s)) + 1 s + 2 × 0.2 × 2 s.
    expect(limit).toBe(31_800);
    expect(timers.delays.length).toBeGreaterThanOrEqual(10);
    for (const delay of timers.delays) expect(delay).toBeLessThanOrEqual(limit);
    // Each capped poll lands inside the copy: a countdown, so no extra probe is needed.
    expect(dns.calls.every((call) => call.ttl < ttl || call.at === 0)).toBe(true);
    const stats = watcher.stats();
    expect(Number.isFinite(stats.stalenessBoundMs)).toBe(true);
    expect(stats.stalenessBoundMs).toBe(cacheStalenessBound(schedule, ttl));
    watcher.stop();
  });

  it('a server that counts its TTL down from 86,400 but changes its records: the change is seen within the cap', async () => {
    let fetchedAt = 0;
    let addresses = ['10.0.0.1'];
    const resolve = async (name: string): Promise<Resolution> => {
      const ttl = 86_400 - Math.floor((Date.now() - fetchedAt) / 1_000);
      return { name, addresses: addresses.map((address) => ({ address, family: 4 as const, ttl })), source: 'dns', failedFamilies: [] };
    };
    const schedule = watcherOptions({ respectTtl: true, refreshInterval: 2_000, minInterval: 500, jitter: 0.2 });
    const watcher = new Watcher('svc', schedule, resolve, () => {}, { random: cyclingRandom() });
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(watcher.stats().cache).toBe('detected');
    addresses = ['10.0.0.2'];
    fetchedAt = Date.now();
    await vi.advanceTimersByTimeAsync(cacheWaitLimit(schedule, 86_400));
    expect(deliveries.at(-1)).toMatchObject({ kind: 'update', added: ['10.0.0.2'] });
    watcher.stop();
  });

  it('family 0 behind a cache: a demoted family that gains records reaches the subscriber within the demotion bound, although the copy would be waited for longer', async () => {
    // A cache keeping A copies 30 s (a wait of up to 33 s each) that passes AAAA questions on to the owner (no negative copy kept).
    const cacheTtl = 30;
    let fetchedAt: number | undefined;
    let aaaaSince: number | undefined;
    let checkedAfterDemotion = false;
    const asked: Array<{ at: number; skip: 4 | 6 | undefined }> = [];
    const resolve = async (name: string, _family: 0 | 4 | 6, _known?: string, control?: ResolveControl): Promise<Resolution> => {
      const now = Date.now();
      if (fetchedAt === undefined || now >= fetchedAt + cacheTtl * 1_000) fetchedAt = now;
      const ttl = Math.floor((fetchedAt + cacheTtl * 1_000 - now) / 1_000);
      const skip = control?.skipFamily;
      asked.push({ at: now, skip });
      const resolution: Resolution = { name, addresses: [{ address: '10.0.0.1', family: 4, ttl }], source: 'dns', failedFamilies: [] };
      if (skip === 6) resolution.unaskedFamily = 6;
      else if (aaaaSince !== undefined && now >= aaaaSince) resolution.addresses.push({ address: 'fd00::1', family: 6, ttl });
      else {
        resolution.noDataFamily = 6;
        // The worst moment: AAAA records appear just after the demoted family's first check.
        if (checkedAfterDemotion) aaaaSince ??= now + 1;
        if (asked.some((entry) => entry.skip === 6)) checkedAfterDemotion = true;
      }
      return resolution;
    };
    const schedule = watcherOptions({ respectTtl: true, family: 0, refreshInterval: DEFAULTS.refreshInterval, minInterval: DEFAULTS.minInterval, jitter: DEFAULTS.jitter });
    const timers = new RecordingPollTimers();
    const watcher = new Watcher('svc', schedule, resolve, () => {}, { random: cyclingRandom(), timers });
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    let deliveredAt: number | undefined;
    while (deliveredAt === undefined && Date.now() < 300_000) {
      await vi.advanceTimersByTimeAsync(100);
      if (deliveries.some((delivery) => delivery.kind === 'update' && delivery.added.includes('fd00::1'))) deliveredAt = Date.now();
    }
    expect(watcher.stats().cache).toBe('detected');
    expect(aaaaSince, JSON.stringify(asked)).toBeDefined();
    expect(deliveredAt, JSON.stringify(asked)).toBeDefined();
    // Asked again 53 s after its last check (demotedAskAfterMs): the bound less the reply margin, which a scripted reply does not use.
    expect(deliveredAt! - aaaaSince!, JSON.stringify(asked)).toBeLessThanOrEqual(DEMOTED_BOUND_MS - 1_000);
    // Behind the cache the waits stay long: the check pulls one poll in, it does not put the watcher back on the interval.
    expect(timers.delays.some((delay) => delay > 20_000)).toBe(true);
    watcher.stop();
  });

  it('respectTtl off: the cache is reported, the polls stay on the interval', async () => {
    const dns = cachingDns(30);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(20_000);
    expect(dns.calls.map((call) => call.at)).toEqual([0, 5_000, 10_000, 15_000, 20_000]);
    expect(watcher.stats().cache).toBe('detected');
    watcher.stop();
  });

  it('the owner repeating its TTL is not a cache: polls on the interval, no staleness bound', async () => {
    const dns = scriptedDns([{ addresses: ['10.0.0.1'], ttl: 30 }]);
    const watcher = new Watcher('svc', watcherOptions({ respectTtl: true }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(10_000);
    expect(dns.calls).toEqual([0, 5_000, 10_000]);
    expect(watcher.stats()).toMatchObject({ cache: 'none', cacheTtl: undefined, stalenessBoundMs: undefined });
    watcher.stop();
  });
});

describe('Watcher: the name glibc would pick now (search-list candidates)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * A search list of three candidates: `answering(poll)` says which ones have
   * addresses at each poll; the resolver walks as StubResolver does (the
   * known one asked first, the earlier ones too when the watcher asks for a
   * recheck). Records every poll's known name and whether it rechecked.
   */
  function searchListDns(answering: (poll: number) => ReadonlySet<number>) {
    const polls: Array<{ at: number; known: string | undefined; recheck: boolean }> = [];
    const candidates = ['svc.a.test', 'svc.b.test', 'svc.c.test'];
    const resolve = vi.fn(async (_name: string, _family: 0 | 4 | 6, known?: string, control?: ResolveControl): Promise<Resolution> => {
      const has = answering(polls.length);
      polls.push({ at: Date.now(), known, recheck: control?.recheckEarlier ?? false });
      const knownIndex = known === undefined ? -1 : candidates.indexOf(known);
      const earlierFirst = knownIndex >= 0 && control?.recheckEarlier ? candidates.findIndex((_, i) => i < knownIndex && has.has(i)) : -1;
      const index = earlierFirst >= 0 ? earlierFirst : knownIndex >= 0 && has.has(knownIndex) ? knownIndex : candidates.findIndex((_, i) => has.has(i));
      if (index < 0) throw new DnsError('NXDOMAIN', 'svc', 'none');
      return { name: candidates[index]!, addresses: [{ address: `10.0.0.${index + 1}`, family: 4, ttl: 30 }], source: 'dns', failedFamilies: [], searchIndex: index };
    });
    return { resolve, polls };
  }

  it(`after a later candidate takes over, the earlier ones are asked again every ${RECHECK_EVERY_POLLS}th poll until the first answers again`, async () => {
    // The first candidate answers, says NXDOMAIN at poll 1 (svc.b.test is not there yet), and answers again from poll 12 on.
    const dns = searchListDns((poll) => (poll === 0 || poll >= 12 ? new Set([0, 1, 2]) : poll === 1 ? new Set([2]) : new Set([1, 2])));
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000 }), dns.resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(20_000);
    const period = RECHECK_EVERY_POLLS * 1_000;
    // Poll 1 walked on to svc.c.test: a takeover at 1 s; rechecks at 6 s, 11 s, 16 s.
    expect(dns.polls.filter((poll) => poll.recheck).map((poll) => poll.at)).toEqual([1_000 + period, 1_000 + 2 * period, 1_000 + 3 * period]);
    expect(dns.polls.map((poll) => poll.known)).toEqual([
      undefined,
      'svc.a.test',
      ...Array<string>(5).fill('svc.c.test'), // 2 s … 6 s; the recheck at 6 s finds svc.b.test, earlier but not the first
      ...Array<string>(5).fill('svc.b.test'), // 7 s … 11 s; the recheck at 11 s finds nothing earlier yet (poll 11 < 12)
      ...Array<string>(5).fill('svc.b.test'), // 12 s … 16 s; the recheck at 16 s finds svc.a.test again
      ...Array<string>(4).fill('svc.a.test'), // no more rechecks
    ]);
    expect(watcher.stats().polledName).toBe('svc.a.test.');
    expect(deliveries.map((delivery) => delivery.kind === 'update' && delivery.addresses.map((entry) => entry.address))).toEqual([
      ['10.0.0.1'],
      ['10.0.0.3'],
      ['10.0.0.2'],
      ['10.0.0.1'],
    ]);
    watcher.stop();
  });

  it(`with a long interval, a recheck comes ${RECHECK_MAX_MS / 1_000} s after the last at the latest`, async () => {
    const dns = searchListDns((poll) => (poll === 0 ? new Set([0, 1, 2]) : poll === 1 ? new Set([2]) : new Set([1, 2])));
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 10_000, minInterval: 1_000 }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(75_000);
    // Taken over at 10 s; rechecks at the first polls 30 s after it and after each recheck (not every 5th: 50 s).
    expect(dns.polls.filter((poll) => poll.recheck).map((poll) => poll.at)).toEqual([40_000, 70_000]);
    watcher.stop();
  });

  it('a first walk that finds a later candidate is what glibc picks: no rechecks', async () => {
    const dns = searchListDns(() => new Set([2]));
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000 }), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(20_000);
    expect(dns.polls.some((poll) => poll.recheck)).toBe(false);
    watcher.stop();
  });
});

describe('Watcher: a poll never holds the watcher longer than its deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /**
   * A resolver whose `hangAt` polls get no reply: they settle only when the
   * watcher gives them up, as a query to a server that lost the datagram
   * would while its try's timeout runs (rejecting with the signal's reason,
   * as DnsClient does). Every other poll answers `addresses(poll)`.
   */
  function hangingDns(hangAt: ReadonlySet<number>, addresses: (poll: number) => string[], firstTryTimeoutMs: number) {
    const polls: number[] = [];
    const resolve = Object.assign(
      vi.fn((name: string, _family: 0 | 4 | 6, _known?: string, control?: ResolveControl): Promise<Resolution> => {
        const poll = polls.push(Date.now()) - 1;
        const answer: Resolution = { name, addresses: addresses(poll).map((address) => ({ address, family: 4, ttl: 30 })), source: 'dns', failedFamilies: [] };
        if (!hangAt.has(poll)) return Promise.resolve(answer);
        return new Promise<Resolution>((_, reject) =>
          control!.signal!.addEventListener('abort', () => {
            const reason = control!.signal!.reason;
            reject(reason instanceof Error ? reason : new Error(String(reason)));
          }),
        );
      }),
      { firstTryTimeoutMs: () => firstTryTimeoutMs },
    );
    return { resolve, polls };
  }

  it('refreshInterval 1000, jitter 0.2, a fast server (first try 250 ms): the poll that lost its reply is given up at 1200 ms and the next one starts then', async () => {
    const dns = hangingDns(new Set([1]), (poll) => (poll === 0 ? ['10.0.0.1'] : ['10.0.0.2']), 250);
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000, jitter: 0.2 }), dns.resolve, undefined, { random: () => 0.5 });
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(watcher.stats().querying).toBe(true);
    expect(watcher.stats().nextPollAt).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1_202);
    // Due at 1000 + max(1000 × 1.2, 250 + 250), decided after one turn (the sockets read first: Node's shortest
    // timer, 1 ms), and asked again at once.
    expect(dns.polls).toEqual([0, 1_000, 2_202]);
    expect(watcher.stats()).toMatchObject({ failures: 1, consecutiveFailures: 0, addresses: ['10.0.0.2'] });
    expect(deliveries.map((delivery) => delivery.kind === 'update' && delivery.addresses.map((entry) => entry.address))).toEqual([['10.0.0.1'], ['10.0.0.2']]);
    // Nothing was told about the poll given up: the last good set stood.
    expect(deliveries).toHaveLength(2);
    watcher.stop();
  });

  it('a server slower than the interval (first try 5 s) is still heard: the deadline is its first try’s timeout + 250 ms', async () => {
    const dns = hangingDns(new Set([1]), () => ['10.0.0.1'], 5_000);
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000, jitter: 0.2 }), dns.resolve, undefined, { random: () => 0.5 });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(1_000 + 5_249);
    expect(dns.polls).toEqual([0, 1_000]);
    await vi.advanceTimersByTimeAsync(3);
    expect(dns.polls).toEqual([0, 1_000, 6_252]);
    expect(pollDeadline({ refreshInterval: 1_000, jitter: 0.2 }, 5_000)).toBe(5_000 + DEADLINE_MARGIN_MS);
    watcher.stop();
  });

  it('a process behind its timers (the deadline ran late) pushes the deadline back, up to DEADLINE_PATIENCE deadlines', async () => {
    const dns = hangingDns(new Set([1]), () => ['10.0.0.1'], 250);
    // The watcher's clock, `behind` ms ahead of when its timers run: an event loop held up.
    let behind = 0;
    const clock = { now: () => performance.now() + behind, setTimeout: (callback: () => void, ms: number) => setTimeout(callback, ms), clearTimeout: (timer: unknown) => clearTimeout(timer as NodeJS.Timeout) };
    const timers = new PollTimers(clock);
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000, jitter: 0.2 }), dns.resolve, undefined, { random: () => 0.5, timers });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(1_000);
    behind = BEHIND_MS + 1;
    await vi.advanceTimersByTimeAsync(1_200 + 2);
    // Its deadline ran BEHIND_MS + 1 late: pushed back by one deadline, not given up.
    expect(dns.polls).toEqual([0, 1_000]);
    expect(watcher.stats().querying).toBe(true);
    // On time from then on: given up at the next deadline.
    await vi.advanceTimersByTimeAsync(1_200 + 2);
    expect(dns.polls).toHaveLength(3);
    expect(watcher.stats().consecutiveFailures).toBe(0);
    expect(watcher.stats().failures).toBe(1);
    expect(DEADLINE_PATIENCE * 1_200).toBeGreaterThan(2 * 1_200);
    watcher.stop();
  });

  it('polls given up in a row double the next deadline: a server that slowed down past the interval is heard by the fourth poll', async () => {
    // Replies now take 3 s; the client's first try timeout still says 250 ms (the latency measured before the slowdown).
    const polls: number[] = [];
    const resolve = Object.assign(
      vi.fn((name: string, _family: 0 | 4 | 6, _known?: string, control?: ResolveControl): Promise<Resolution> => {
        polls.push(Date.now());
        const answer: Resolution = { name, addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }], source: 'dns', failedFamilies: [] };
        if (polls.length === 1) return Promise.resolve(answer);
        return new Promise<Resolution>((resolve, reject) => {
          const timer = setTimeout(() => resolve(answer), 3_000);
          control!.signal!.addEventListener('abort', () => {
            clearTimeout(timer);
            reject(new DnsError('TIMEOUT', name, 'given up'));
          });
        });
      }),
      { firstTryTimeoutMs: () => 250 },
    );
    const watcher = new Watcher('svc', watcherOptions({ refreshInterval: 1_000, jitter: 0.2 }), resolve, undefined, { random: () => 0.5 });
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(1_000 + 1_202 + 2_402 + 3_000);
    // Deadlines 1200, 2400, then 4800: the third slow poll is answered after 3 s.
    expect(polls).toEqual([0, 1_000, 2_202, 4_604]);
    expect(watcher.stats()).toMatchObject({ failures: 2, consecutiveFailures: 0, querying: false });
    expect([0, 1, 2, 3, 4].map((n) => pollDeadline({ refreshInterval: 1_000, jitter: 0.2 }, 250, n))).toEqual([1_200, 2_400, 4_800, 9_600, 9_600]);
    watcher.stop();
  });

  it('stop() gives a poll in flight up at once', async () => {
    const dns = hangingDns(new Set([0]), () => ['10.0.0.1'], 5_000);
    const watcher = new Watcher('svc', watcherOptions(), dns.resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(0);
    const signal = watcher.signal!;
    expect(signal.aborted).toBe(false);
    watcher.stop();
    expect(signal.aborted).toBe(true);
    expect((signal.reason as DnsError).code).toBe('CLOSED');
  });

  it('family 0: a changed A set is delivered while AAAA is still asked, with the last good AAAA; the poll then settles as a half answer', async () => {
    let poll = 0;
    const resolve = Object.assign(
      vi.fn(async (name: string, _family: 0 | 4 | 6, _known?: string, control?: ResolveControl): Promise<Resolution> => {
        const a = [{ address: poll === 0 ? '10.0.0.1' : '10.0.0.2', family: 4 as const, ttl: 30 }];
        const aaaa = [{ address: 'fd00::1', family: 6 as const, ttl: 30 }];
        if (poll++ === 0) return { name, addresses: [...a, ...aaaa], source: 'dns', failedFamilies: [] };
        // The A reply comes at once; the AAAA one was lost and its retry is slow.
        control!.familyAnswered!(name, 4, a);
        await new Promise<void>((resolve) => control!.signal!.addEventListener('abort', resolve));
        return { name, addresses: a, source: 'dns', failedFamilies: [{ family: 6, error: control!.signal!.reason as DnsError }] };
      }),
      { firstTryTimeoutMs: () => 250 },
    );
    const watcher = new Watcher('svc', watcherOptions({ family: 0, refreshInterval: 1_000, jitter: 0.2 }), resolve, undefined, { random: () => 0.5 });
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(deliveries).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    // At once, not at the deadline: the new A with the last good AAAA.
    expect(deliveries).toHaveLength(2);
    expect(deliveries[1]).toMatchObject({ kind: 'update', added: ['10.0.0.2'], removed: ['10.0.0.1'] });
    expect(watcher.stats()).toMatchObject({ querying: true, addresses: ['10.0.0.2', 'fd00::1'] });
    await vi.advanceTimersByTimeAsync(1_200);
    // The poll settled at its deadline as a half answer: nothing more to tell, AAAA's last good kept.
    expect(deliveries).toHaveLength(2);
    expect(watcher.stats()).toMatchObject({ failures: 0, addresses: ['10.0.0.2', 'fd00::1'] });
    watcher.stop();
  });

  it('family 0: when the other family answers in the same turn, one update carries both', async () => {
    let poll = 0;
    const resolve = vi.fn(async (name: string, _family: 0 | 4 | 6, _known?: string, control?: ResolveControl): Promise<Resolution> => {
      const a = [{ address: `10.0.0.${poll + 1}`, family: 4 as const, ttl: 30 }];
      const aaaa = [{ address: `fd00::${poll + 1}`, family: 6 as const, ttl: 30 }];
      poll++;
      control?.familyAnswered?.(name, 4, a);
      control?.familyAnswered?.(name, 6, aaaa);
      return { name, addresses: [...a, ...aaaa], source: 'dns', failedFamilies: [] };
    });
    const watcher = new Watcher('svc', watcherOptions({ family: 0 }), resolve);
    const { deliveries, deliver } = collect();
    watcher.subscribe(deliver);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(deliveries.map((delivery) => delivery.kind === 'update' && delivery.addresses.map((entry) => entry.address))).toEqual([
      ['10.0.0.1', 'fd00::1'],
      ['10.0.0.2', 'fd00::2'],
    ]);
    watcher.stop();
  });
});
