/**
 * The capacity model of docs/capacity.md as bench/fleet.ts computes it, and
 * how it counts dnsmasq's query log: pure functions, checked by hand.
 */
import { describe, expect, it } from 'vitest';
import { cachedPollPeriod, meanPollPeriod, modelQps, queryTimes, rate } from '../bench/fleet.js';

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

  it('behind a cache that keeps a copy C seconds, each watcher polls once per copy: every C + 1 s', () => {
    expect(cachedPollPeriod(30)).toBe(31_000);
    // 8 × 250 × 2 behind a 30 s cache: 129 queries/s at the cache instead of 800.
    expect(Math.round(modelQps(8, 250, 2, cachedPollPeriod(30)))).toBe(129);
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
