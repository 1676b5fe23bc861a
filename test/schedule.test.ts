import { describe, expect, it } from 'vitest';
import { MIN_EVIDENCE_MS } from '../src/watch/cache-detect.js';
import { resolveOptions } from '../src/watch/options.js';
import {
  CACHE_EXPIRY_MARGIN_MS,
  CACHE_WAIT_CAP_MS,
  backoffCap,
  cacheSpread,
  cacheStalenessBound,
  cacheWaitCap,
  cacheWaitLimit,
  delayAfterCachedAnswer,
  delayForCacheProbe,
  delayAfterFailure,
  delayAfterFailedPoll,
  delayAfterSuccess,
  jitterAbout,
  type ScheduleOptions,
} from '../src/watch/schedule.js';

/**
 * The delay arithmetic, pure: over many draws of an injected random source
 * the options mean what they say — refreshInterval is the mean period,
 * minInterval a floor, the records' expiry (respectTtl) a ceiling, and a
 * failing poller never waits longer than a healthy one by default.
 */

const DRAWS = 10_000;

/** An evenly spread "random" sequence: draw i of n is (i + 0.5) / n, so the mean of a uniform window is exact. */
function evenDraws(n = DRAWS): () => number {
  let i = 0;
  return () => (i++ % n + 0.5) / n;
}

function draw(n: number, next: () => number): number[] {
  return Array.from({ length: n }, next);
}

const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;

function schedule(overrides: Parameters<typeof resolveOptions>[0] = {}): ScheduleOptions {
  return resolveOptions({ hostsPath: false, ...overrides });
}

describe('delayAfterSuccess', () => {
  it.each([
    ['refreshInterval 1000 (minInterval follows it down)', { refreshInterval: 1_000 }],
    ['refreshInterval 1000, minInterval 500', { refreshInterval: 1_000, minInterval: 500 }],
    ['refreshInterval 1000, minInterval 900: the window narrows, the mean stays', { refreshInterval: 1_000, minInterval: 900 }],
    ['the defaults', {}],
    ['jitter 0.5', { refreshInterval: 2_000, minInterval: 100, jitter: 0.5 }],
  ])('refreshInterval is the mean period: %s', (_label, overrides) => {
    const options = schedule({ respectTtl: false, ...overrides });
    const random = evenDraws();
    const delays = draw(DRAWS, () => delayAfterSuccess(options, 30, random));
    // Rounding to whole ms moves the mean by well under 1 ms.
    expect(Math.abs(mean(delays) - options.refreshInterval)).toBeLessThan(1);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(options.minInterval);
    expect(Math.max(...delays)).toBeLessThanOrEqual(Math.round(options.refreshInterval * (1 + options.jitter)));
  });

  it('with Math.random too, the mean stays within 1 % of refreshInterval (not 1.2-1.4 s for 1 s)', () => {
    const options = schedule({ refreshInterval: 1_000, respectTtl: false });
    const delays = draw(DRAWS, () => delayAfterSuccess(options, Infinity));
    expect(mean(delays)).toBeGreaterThan(990);
    expect(mean(delays)).toBeLessThan(1_010);
  });

  it('uses the whole ±jitter window where minInterval leaves room', () => {
    const options = schedule({ refreshInterval: 5_000, minInterval: 1_000, jitter: 0.2, respectTtl: false });
    expect(delayAfterSuccess(options, Infinity, () => 0)).toBe(4_000);
    expect(delayAfterSuccess(options, Infinity, () => 0.5)).toBe(5_000);
    expect(delayAfterSuccess(options, Infinity, () => 0.9999)).toBe(6_000);
  });

  it.each([
    ['TTL 30 s, interval 60 s (behind a cache with ttl 30)', { refreshInterval: 60_000 }, 30],
    ['TTL 5 s equal to the interval', { refreshInterval: 5_000 }, 5],
    ['TTL 5.5 s, just above the interval', { refreshInterval: 5_000 }, 5.5],
    ['TTL 2 s, minInterval 1 s', { refreshInterval: 5_000 }, 2],
    ['TTL 0: minInterval', { refreshInterval: 5_000 }, 0],
  ])('respectTtl: jitter never pushes a poll past the expiry — %s', (_label, overrides, ttl) => {
    const options = schedule({ respectTtl: true, ...overrides });
    const random = evenDraws();
    const delays = draw(DRAWS, () => delayAfterSuccess(options, ttl, random));
    expect(Math.max(...delays)).toBeLessThanOrEqual(Math.max(ttl * 1_000, options.minInterval));
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(options.minInterval);
  });

  it('respectTtl with a shorter TTL spreads polls over the stretch before expiry, not at it', () => {
    const options = schedule({ refreshInterval: 60_000, minInterval: 1_000, jitter: 0.2 });
    expect(delayAfterSuccess(options, 30, () => 0)).toBe(24_000);
    expect(delayAfterSuccess(options, 30, () => 0.99999)).toBe(30_000);
  });

  it('respectTtl with a TTL longer than the interval: the mean stays refreshInterval', () => {
    const options = schedule({ refreshInterval: 5_000, jitter: 0.2 });
    const random = evenDraws();
    const delays = draw(DRAWS, () => delayAfterSuccess(options, 5.5, random));
    expect(Math.abs(mean(delays) - 5_000)).toBeLessThan(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(5_500);
  });
});

describe('delayAfterFailedPoll', () => {
  it('the first failure by silence after an answer: the backoff less the time the poll took, never below 0; later failures, or an answer like SERVFAIL: the whole backoff', () => {
    const options = schedule({ refreshInterval: 5_000, jitter: 0 });
    expect([0, 400, 999.4, 1_000, 6_000].map((ran) => delayAfterFailedPoll(options, 1, true, ran))).toEqual([1_000, 600, 1, 0, 0]);
    expect([2, 3, 4].map((failures) => delayAfterFailedPoll(options, failures, true, 6_000))).toEqual([2_000, 4_000, 5_000]);
    expect(delayAfterFailedPoll(options, 1, false, 600)).toBe(1_000);
  });
});

describe('delayAfterFailure', () => {
  it('default backoff: 1 s first, doubling, capped at refreshInterval (jitter 0)', () => {
    const options = schedule({ refreshInterval: 5_000, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 20].map((n) => delayAfterFailure(options, n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000, 5_000]);
  });

  it('the default cap follows refreshInterval, also when a channel overrides it later', () => {
    const base = schedule({ refreshInterval: 5_000 });
    const channel = resolveOptions({ refreshInterval: 300 }, resolveOptions({ refreshInterval: 5_000, hostsPath: false }));
    expect(backoffCap(base)).toBe(5_000);
    expect(backoffCap(channel)).toBe(300);
  });

  it('never waits longer than refreshInterval × (1 + jitter) by default, over many failures and draws', () => {
    const options = schedule({ refreshInterval: 300, jitter: 0.2 });
    const random = evenDraws(1_000);
    for (let failures = 1; failures <= 30; failures++) {
      const delays = draw(1_000, () => delayAfterFailure(options, failures, random));
      expect(Math.max(...delays)).toBeLessThanOrEqual(360);
      expect(Math.min(...delays)).toBeGreaterThanOrEqual(options.minInterval);
    }
  });

  it('an explicit backoff.max above the interval stays allowed (shielding a struggling DNS)', () => {
    const options = schedule({ refreshInterval: 5_000, jitter: 0, backoff: { max: 60_000 } });
    expect(delayAfterFailure(options, 10)).toBe(60_000);
  });

  it('without backoff.max, a backoff.initial above the interval is cut to the interval', () => {
    const options = schedule({ refreshInterval: 5_000, jitter: 0, backoff: { initial: 20_000 } });
    expect(delayAfterFailure(options, 1)).toBe(5_000);
    const short = schedule({ refreshInterval: 300, jitter: 0 });
    expect(delayAfterFailure(short, 1)).toBe(300);
  });

  it('the mean retry delay at the cap is the cap (jitter symmetric)', () => {
    const options = schedule({ refreshInterval: 2_000, minInterval: 100, jitter: 0.2 });
    const random = evenDraws();
    const delays = draw(DRAWS, () => delayAfterFailure(options, 10, random));
    expect(Math.abs(mean(delays) - 2_000)).toBeLessThan(1);
  });
});

describe('jitterAbout', () => {
  it('narrows the window symmetrically to fit between floor and ceiling', () => {
    expect(jitterAbout(1_000, 900, Infinity, 0.2, () => 0)).toBe(900);
    expect(jitterAbout(1_000, 900, Infinity, 0.2, () => 1)).toBe(1_100);
    expect(jitterAbout(1_000, 0, 1_050, 0.2, () => 0)).toBe(950);
    expect(jitterAbout(1_000, 1_000, Infinity, 0.2, () => 0.9)).toBe(1_000);
  });
});

describe('delayAfterCachedAnswer (a cache answers, respectTtl)', () => {
  it.each([
    ['the defaults, 25 s left of a 30 s copy', {}, 25_000, 30],
    ['refreshInterval 2 s, 3 s left of 5 s', { refreshInterval: 2_000 }, 3_000, 5],
    ['refreshInterval 60 s, 10 s left of 30 s (the spread follows the TTL)', { refreshInterval: 60_000 }, 10_000, 30],
    ['jitter 0.5', { refreshInterval: 4_000, minInterval: 100, jitter: 0.5 }, 7_000, 10],
  ])('never before the copy expires (+ margin), spread over 2 × jitter × min(refreshInterval, TTL) after it: %s', (_label, overrides, expiresIn, ttl) => {
    const options = schedule(overrides);
    const random = evenDraws();
    const delays = draw(DRAWS, () => delayAfterCachedAnswer(options, expiresIn, ttl, random));
    const earliest = expiresIn + CACHE_EXPIRY_MARGIN_MS;
    const spread = 2 * options.jitter * Math.min(options.refreshInterval, ttl * 1_000);
    expect(cacheSpread(options, ttl)).toBe(spread);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(earliest);
    expect(Math.min(...delays)).toBeLessThan(earliest + spread * 0.001);
    expect(Math.max(...delays)).toBeLessThanOrEqual(earliest + spread);
    expect(Math.max(...delays)).toBeGreaterThan(earliest + spread * 0.999);
    // Uniform over the window: the mean is its middle.
    expect(Math.abs(mean(delays) - (earliest + spread / 2))).toBeLessThan(1);
  });

  it('with Math.random a fleet is spread evenly after the expiry, not piled up on it', () => {
    const options = schedule();
    const delays = draw(DRAWS, () => delayAfterCachedAnswer(options, 20_000, 30));
    const earliest = 20_000 + CACHE_EXPIRY_MARGIN_MS;
    // Ten 200 ms slices of the 2 s window: each holds about a tenth of the polls.
    const slices = Array.from({ length: 10 }, (_, i) => delays.filter((d) => d >= earliest + i * 200 && d < earliest + (i + 1) * 200).length);
    for (const count of slices) expect(count / DRAWS).toBeGreaterThan(0.08);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(earliest);
  });

  it('is not pulled in by a shorter refreshInterval: asking the cache sooner gets the same copy', () => {
    const options = schedule({ refreshInterval: 1_000, jitter: 0.2 });
    expect(delayAfterCachedAnswer(options, 25_000, 30, () => 0)).toBe(26_000);
    expect(delayAfterCachedAnswer(options, 25_000, 30, () => 0.9999)).toBe(26_400);
  });

  it('jitter 0: exactly the margin after the expiry', () => {
    const options = schedule({ jitter: 0 });
    for (const r of [0, 0.5, 0.9999]) expect(delayAfterCachedAnswer(options, 4_000, 5, () => r)).toBe(5_000);
  });

  it('a copy already expired (or expiring now): the margin, never below minInterval', () => {
    expect(delayAfterCachedAnswer(schedule({ jitter: 0 }), -3_000, 5, () => 0)).toBe(CACHE_EXPIRY_MARGIN_MS);
    expect(delayAfterCachedAnswer(schedule({ jitter: 0, minInterval: 2_500 }), 0, 5, () => 0)).toBe(2_500);
  });

  it.each([
    ['a TTL counting down from 86,400', 86_396_000, 86_400],
    ['the longest TTL there is (2^31 − 1 s)', 2_147_483_647 * 1_000, 2_147_483_647],
    ['a copy 1 ms longer than the cap', 30_001, 31],
  ])('a copy that lives longer than the cap is waited for max(refreshInterval, 30 s) only, then the margin and spread: %s', (_label, expiresIn, ttl) => {
    const options = schedule();
    expect(cacheWaitCap(options)).toBe(CACHE_WAIT_CAP_MS);
    const delays = draw(1_000, (() => {
      const random = evenDraws(1_000);
      return () => delayAfterCachedAnswer(options, expiresIn, ttl, random);
    })());
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(30_000 + CACHE_EXPIRY_MARGIN_MS);
    // 30 s + 1 s + 2 × 0.2 × 5 s: 33 s with the defaults.
    expect(cacheWaitLimit(options, ttl)).toBe(33_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(cacheWaitLimit(options, ttl));
  });

  it('the cap is never below refreshInterval: a user who asked for rare polls is not polled more often', () => {
    const options = schedule({ refreshInterval: 120_000 });
    expect(cacheWaitCap(options)).toBe(120_000);
    expect(delayAfterCachedAnswer(options, 86_396_000, 86_400, () => 0)).toBe(121_000);
    // The spread follows min(refreshInterval, TTL): 2 × 0.2 × 120 s.
    expect(cacheWaitLimit(options, 86_400)).toBe(121_000 + 48_000);
  });
});

describe('delayForCacheProbe (checking a detected cache inside its copy)', () => {
  it('about refreshInterval after the answer, jittered, when the copy has room', () => {
    const options = schedule();
    const random = evenDraws(1_000);
    const delays = draw(1_000, () => delayForCacheProbe(options, 29_000, random)!);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4_000);
    expect(Math.max(...delays)).toBeLessThanOrEqual(6_000);
    expect(Math.abs(mean(delays) - 5_000)).toBeLessThan(5);
  });

  it('at least MIN_EVIDENCE_MS after the answer and before the expiry, where a countdown and a repeat differ', () => {
    // refreshInterval 1 s: pulled up to 2 s after the answer.
    expect(delayForCacheProbe(schedule({ refreshInterval: 1_000, minInterval: 100 }), 20_000, () => 0)).toBe(MIN_EVIDENCE_MS);
    // A copy with 5 s left and a 60 s interval: 3 s in, 2 s before the expiry (the window narrowed to fit).
    for (const r of [0, 0.5, 0.9999]) expect(delayForCacheProbe(schedule({ refreshInterval: 60_000 }), 5_000, () => r)).toBe(3_000);
    // minInterval above that: never sooner than minInterval.
    expect(delayForCacheProbe(schedule({ refreshInterval: 2_500, minInterval: 2_500 }), 20_000, () => 0)).toBe(2_500);
  });

  it('no room in a copy with under 4 s left (or under minInterval + 2 s): undefined, the poll waits for the expiry', () => {
    expect(delayForCacheProbe(schedule(), 3_999, () => 0.5)).toBeUndefined();
    expect(delayForCacheProbe(schedule(), 4_000, () => 0.5)).toBe(2_000);
    expect(delayForCacheProbe(schedule({ minInterval: 5_000 }), 6_000, () => 0.5)).toBeUndefined();
  });
});

describe('cacheStalenessBound', () => {
  it('the defaults behind a 30 s cache: 30 s + 1 s (whole seconds) + one interval with jitter = 37 s', () => {
    expect(cacheStalenessBound(schedule(), 30)).toBe(37_000);
  });

  it('respectTtl off: the copy, then one interval with jitter', () => {
    expect(cacheStalenessBound(schedule({ respectTtl: false, refreshInterval: 10_000, jitter: 0 }), 5)).toBe(16_000);
  });

  it('where the wait after an expiry is longer than an interval (a short interval), that wait', () => {
    const options = schedule({ refreshInterval: 500, minInterval: 100, jitter: 0.2 });
    // margin 1 s + spread 2 × 0.2 × 500 = 1.2 s > 600 ms
    expect(cacheStalenessBound(options, 30)).toBe(32_200);
  });

  it.each([
    ['the defaults', {}, 30],
    ['a short interval', { refreshInterval: 500, minInterval: 100 }, 30],
    ['a long interval', { refreshInterval: 60_000 }, 5],
  ])('bounds every poll the schedule makes after the copy that held the old set expires: %s', (_label, overrides, ttl) => {
    const options = schedule(overrides);
    const random = evenDraws(1_000);
    const copyLivesAtMost = ttl * 1_000 + 1_000;
    for (let i = 0; i < 1_000; i++) {
      expect(copyLivesAtMost + delayAfterCachedAnswer(options, 0, ttl, random)).toBeLessThanOrEqual(cacheStalenessBound(options, ttl));
      expect(copyLivesAtMost + delayAfterSuccess({ ...options, respectTtl: false }, ttl, random)).toBeLessThanOrEqual(
        cacheStalenessBound(options, ttl),
      );
    }
  });
});
