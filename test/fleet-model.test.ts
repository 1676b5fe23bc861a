/**
 * The capacity model of docs/capacity.md as bench/fleet.ts computes it, and
 * how it counts dnsmasq's query log: pure functions, checked by hand.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Resolution } from '../src/dns/types.js';
import { DEFAULTS } from '../src/watch/options.js';
import { Watcher } from '../src/watch/watcher.js';
import { DEMOTE_AFTER_POLLS, demotedAskAfterMs, FamilyDemotion } from '../src/watch/family-demotion.js';
import { delayAfterSuccess } from '../src/watch/schedule.js';
import { cachedPollPeriod, familiesPerPoll, meanPollPeriod, modelQps, queryTimes, rate } from '../bench/fleet.js';

describe('capacity model', () => {
  it('P × N × F ÷ T: 10,000 pods × 20 names × 2 families every 5 s is 80,000 queries/s', () => {
    expect(modelQps(10_000, 20, 2, 5_000)).toBe(80_000);
    expect(modelQps(8, 250, 2, 5_000)).toBe(800);
  });

  it('the mean poll period is refreshInterval whatever the jitter, unless minInterval clips the low end', () => {
    expect(meanPollPeriod(5_000, 0.2, 1_000)).toBe(5_000);
    expect(meanPollPeriod(5_000, 0, 1_000)).toBe(5_000);
    // Uniform over [800, 1200) floored at 1,000: half the mass at 1,000, the other half averages 1,100.
    expect(meanPollPeriod(1_000, 0.2, 1_000)).toBeCloseTo(1_050, 6);
    expect(meanPollPeriod(500, 0, 1_000)).toBe(1_000);
  });

  it('with respectTtl and records expiring no later than the interval, polls land in the jitter window before the expiry: 4.5 s for a 5 s TTL at 5 s', () => {
    expect(meanPollPeriod(5_000, 0.2, 1_000, 5_000)).toBe(4_500);
    expect(meanPollPeriod(5_000, 0, 1_000, 5_000)).toBe(5_000);
    expect(meanPollPeriod(5_000, 0.2, 1_000, 2_000)).toBe(1_800);
    // A TTL longer than the interval leaves the interval's mean.
    expect(meanPollPeriod(5_000, 0.2, 1_000, 30_000)).toBe(5_000);
    // As the schedule draws it: the mean of delayAfterSuccess over its whole range.
    const draws = Array.from({ length: 1_001 }, (_, i) => delayAfterSuccess({ ...DEFAULTS, respectTtl: true }, 5, () => i / 1_001));
    expect(draws.reduce((sum, delay) => sum + delay, 0) / draws.length).toBeCloseTo(meanPollPeriod(DEFAULTS.refreshInterval, DEFAULTS.jitter, DEFAULTS.minInterval, 5_000), -1);
  });

  it('behind a cache that keeps a copy C seconds, each watcher polls once per copy (every C + 1 s), and checks the cache inside a copy every 20 s or more', () => {
    // 30 s copies, refreshInterval 5 s: a probe 5 s into every copy (31 s − 5 s ≥ 20 s), two polls per 31 s.
    expect(cachedPollPeriod(30, 5_000, 1_000)).toBe(15_500);
    // 8 × 250 × 2 behind a 30 s cache: 258 queries/s at the cache instead of 800.
    expect(Math.round(modelQps(8, 250, 2, cachedPollPeriod(30, 5_000, 1_000)))).toBe(258);
    // 5 s copies (the kubernetes plugin's TTL behind NodeLocal DNSCache): a probe 3 s in, one copy in four.
    expect(cachedPollPeriod(5, 5_000, 1_000)).toBe((4 * 6_000) / 5);
    // 3 s copies: no room for a probe (2 s after the answer and 2 s before the expiry): once per copy.
    expect(cachedPollPeriod(3, 1_000, 1_000)).toBe(4_000);
    // A copy of a day: asked about every max(refreshInterval, 30 s) + 1 s, each time a countdown.
    expect(cachedPollPeriod(86_400, 5_000, 1_000)).toBeCloseTo(86_401_000 / 2_788, 6);
  });
});

describe('queries per poll of a single-stack name, family 0 (the demoted family)', () => {
  it('1 + 1/11.1 = 1.09 with the defaults; 2 for dual-stack; 2 when the interval leaves nothing to skip', () => {
    expect(familiesPerPoll('dual', 5_000, 5_000, 0.2)).toBe(2);
    expect(familiesPerPoll('single', 5_000, 5_000, 0.2)).toBeCloseTo(1 + 5_000 / (53_000 + 2_533.33), 4);
    expect(familiesPerPoll('single', 5_000, 5_000, 0.2)).toBeLessThan(1.1);
    expect(familiesPerPoll('single', 30_000, 30_000, 0.2)).toBe(2);
    // 10,000 pods × 20 single-stack names every 5 s: 43,600 queries/s instead of 80,000.
    expect(Math.round(modelQps(10_000, 20, familiesPerPoll('single', 5_000, 5_000, 0.2), 5_000) / 100) * 100).toBe(43_600);
  });

  it('matches the demotion schedule run poll by poll over a day of jittered polls (within 1 %)', () => {
    const options = { refreshInterval: 5_000, respectTtl: false, minInterval: 1_000, jitter: 0.2, backoff: { ...DEFAULTS.backoff } };
    let seed = 7;
    const random = () => ((seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647);
    const demotion = new FamilyDemotion(demotedAskAfterMs(options));
    const answer = (asked: boolean): Resolution => ({
      name: 'svc',
      addresses: [{ address: '10.0.0.1', family: 4, ttl: 30 }],
      source: 'dns',
      failedFamilies: [],
      ...(asked ? { noDataFamily: 6 as const } : { unaskedFamily: 6 as const }),
    });
    let at = 0;
    let polls = 0;
    let queries = 0;
    for (let i = 0; i < DEMOTE_AFTER_POLLS; i++, at += delayAfterSuccess(options, Infinity, random)) demotion.answered(answer(true), at);
    for (; at < 86_400_000; at += delayAfterSuccess(options, Infinity, random)) {
      const asked = demotion.skipAt(at) === undefined;
      demotion.answered(answer(asked), at);
      polls++;
      queries += asked ? 2 : 1;
    }
    expect(queries / polls / familiesPerPoll('single', 5_000, 5_000, 0.2)).toBeCloseTo(1, 2);
  });
});

describe('the cached poll period against a watcher', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it.each([7, 10, 20, 30, 45, 600])('a lone watcher behind a %i s cache (refreshInterval 5 s, jitter 0) polls as cachedPollPeriod says', async (ttl) => {
    // A cache: one copy counted down in whole seconds, fetched again at the first question after it expired.
    const calls: number[] = [];
    let fetchedAt: number | undefined;
    const resolve = async (name: string): Promise<Resolution> => {
      const now = Date.now();
      if (fetchedAt === undefined || now >= fetchedAt + ttl * 1_000) fetchedAt = now;
      calls.push(now);
      const left = Math.floor((fetchedAt + ttl * 1_000 - now) / 1_000);
      return { name, addresses: [{ address: '10.0.0.1', family: 4, ttl: left }], source: 'dns', failedFamilies: [] };
    };
    const options = { refreshInterval: 5_000, respectTtl: true, minInterval: 1_000, jitter: 0, backoff: { ...DEFAULTS.backoff }, family: 4 as const };
    const watcher = new Watcher('svc', options, resolve);
    watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(2_000_000);
    watcher.stop();
    const steady = calls.filter((at) => at >= 200_000 && at < 1_900_000).length;
    const measured = 1_700_000 / steady;
    expect(Math.abs(measured / cachedPollPeriod(ttl, 5_000, 1_000) - 1)).toBeLessThan(0.02);
  });

  it.each([0.2, 0])('50 watchers behind one cache that counts whole seconds as dnsmasq does (jitter %d): each polls as cachedPollPeriod says', async (jitter) => {
    const ttl = 30;
    let fetchedAt: number | undefined;
    let queries = 0;
    const resolve = async (name: string): Promise<Resolution> => {
      const now = Date.now();
      // dnsmasq: the expiry second minus the current second; a new copy at the first question after it.
      let left = fetchedAt === undefined ? -1 : Math.floor(fetchedAt / 1_000) + ttl - Math.floor(now / 1_000);
      if (left < 0) {
        fetchedAt = now;
        left = ttl;
      }
      if (now >= 200_000) queries++;
      return { name, addresses: [{ address: '10.0.0.1', family: 4, ttl: left }], source: 'dns', failedFamilies: [] };
    };
    const options = { refreshInterval: 5_000, respectTtl: true, minInterval: 1_000, jitter, backoff: { ...DEFAULTS.backoff }, family: 4 as const };
    const watchers = Array.from({ length: 50 }, (_, i) => new Watcher(`svc-${i}`, options, resolve));
    for (const watcher of watchers) watcher.subscribe(() => {});
    await vi.advanceTimersByTimeAsync(1_200_000);
    for (const watcher of watchers) {
      expect(watcher.stats().cache).toBe('detected');
      watcher.stop();
    }
    const measured = 1_000_000 / (queries / watchers.length);
    expect(Math.abs(measured / cachedPollPeriod(ttl, 5_000, 1_000) - 1)).toBeLessThan(0.03);
  });
});

describe("counting dnsmasq's query log", () => {
  const since = new Date(2026, 10, 29, 18, 40, 0, 300).getTime();
  const log = [
    'Nov 29 18:40:00 dnsmasq[12]: started, version 2.90 cachesize 150',
    'Nov 29 18:40:01 dnsmasq[12]: query[A] svc-1.fleet.test from 127.0.0.1',
    'Nov 29 18:40:01 dnsmasq[12]: config svc-1.fleet.test is 10.1.0.1',
    'Nov 29 18:40:01 dnsmasq[12]: query[AAAA] svc-1.fleet.test from 127.0.0.1',
    'Nov 29 18:40:03 dnsmasq[12]: query[A] svc-2.fleet.test from 127.0.0.1',
    'Nov 29 18:40:03 dnsmasq[12]: forwarded svc-2.fleet.test to 127.0.0.1',
  ].join('\n');

  it('one time per query line, to the second, other lines ignored', () => {
    const base = new Date(since);
    const at = (s: number) => new Date(base.getFullYear(), base.getMonth(), base.getDate(), 18, 40, s).getTime();
    expect(queryTimes(log, since)).toEqual([at(1), at(1), at(3)]);
  });

  it('1 s windows from the next whole second: peak and mean', () => {
    const result = rate(queryTimes(log, since), since, 3_000);
    expect(result.windows).toEqual([2, 0, 1]);
    expect(result.peak).toBe(2);
    expect(result.mean).toBe(1);
  });
});
