import { describe, expect, it } from 'vitest';
import { NO_CACHE_VIEW, RECONFIRM_MS, cachedCopyExpiry, observeTtl, probeDue, type CacheView } from '../src/watch/cache-detect.js';

/**
 * The cache detector, pure: sequences of (arrival time, TTL) as a cache or
 * the records' owner would hand them out, in whole seconds as on the wire.
 */

type Answer = [atMs: number, ttl: number, setChanged?: boolean];

function run(answers: Answer[], from: CacheView = NO_CACHE_VIEW): CacheView {
  return answers.reduce((view, [at, ttl, setChanged = false], index) => observeTtl(view, { at, ttl }, setChanged || (index === 0 && from === NO_CACHE_VIEW)), from);
}

/**
 * A cache that fetched a copy with TTL `ttl` at `fetchedAt` (ms), asked at
 * `at`: the whole seconds left, as dnsmasq computes them (expiry second
 * minus the current second), refetched on the first question after expiry.
 */
function cacheTtl(fetchedAt: number, ttl: number, at: number): number {
  return Math.floor(fetchedAt / 1_000) + ttl - Math.floor(at / 1_000);
}

/** A cache seen counting down: 30 s left at 10 s, 25 s at 15 s, 20 s at 20 s (the copy expires at 40 s). */
function detectedAt20s(): CacheView {
  return run([
    [10_000, 30],
    [15_000, 25],
    [20_000, 20],
  ]);
}

describe('observeTtl', () => {
  it('one answer tells nothing', () => {
    const view = run([[10_000, 30]]);
    expect(view.verdict).toBe('unknown');
    expect(cachedCopyExpiry(view)).toBeUndefined();
  });

  it('a TTL counting down between polls of an unchanged set, twice, is a cache', () => {
    const once = run([
      [10_000, 30],
      [15_000, 25],
    ]);
    // One countdown could be an owner that re-published its record with a lower TTL.
    expect(once).toMatchObject({ verdict: 'unknown', countdowns: 1 });
    expect(cachedCopyExpiry(once)).toBeUndefined();
    const view = detectedAt20s();
    expect(view.verdict).toBe('detected');
    expect(view.largestTtl).toBe(30);
    expect(cachedCopyExpiry(view)).toBe(40_000);
  });

  it('the same TTL again, while a cached copy would still be held, is the owner of the records', () => {
    const view = run([
      [10_000, 5],
      [13_500, 5],
    ]);
    expect(view.verdict).toBe('none');
    expect(cachedCopyExpiry(view)).toBeUndefined();
  });

  it('the same TTL again once a copy may have expired tells nothing: a cache may have just fetched a fresh one', () => {
    // "5" may have meant 4.1 s left: by 14.2 s that copy can be gone.
    expect(run([[10_000, 5], [14_200, 5]]).verdict).toBe('unknown');
    expect(run([[10_000, 5], [30_000, 5]]).verdict).toBe('unknown');
  });

  it('whole-second TTLs: a countdown off by up to 1 s either way still counts, at any sub-second phase', () => {
    for (let phase = 0; phase < 1_000; phase += 50) {
      const fetchedAt = 100_000 + phase;
      for (const gap of [2_000, 2_400, 3_700, 5_000, 9_999]) {
        const first = fetchedAt + 10;
        const second = first + gap;
        const third = second + gap;
        const view = run([
          [first, cacheTtl(fetchedAt, 30, first)],
          [second, cacheTtl(fetchedAt, 30, second)],
          [third, cacheTtl(fetchedAt, 30, third)],
        ]);
        expect(view.verdict, `phase ${phase}, gap ${gap}`).toBe('detected');
      }
    }
    expect(run([[10_000, 30], [15_000, 26], [20_000, 20]]).verdict).toBe('detected');
    expect(run([[10_000, 30], [15_000, 24], [20_000, 20]]).verdict).toBe('detected');
    // 3 s off is not the same copy.
    expect(run([[10_000, 30], [15_000, 22]]).countdowns).toBe(0);
  });

  it('answers recorded from a caching dnsmasq (TTL 4): a fresh copy 3.7 s after a "4" is not the owner repeating itself', () => {
    const answers: Answer[] = [
      [31, 4],
      [1_929, 2],
      [3_773, 4],
      [5_393, 3],
      [7_213, 1],
    ];
    let view = NO_CACHE_VIEW;
    const seen = answers.map(([at, ttl], i) => (view = observeTtl(view, { at, ttl }, i === 0)));
    expect(seen.map((step) => step.verdict)).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
    // The second copy's countdown (3 s left at 3.8 s, 1 s at 7.2 s) is seen; the fresh copy was no repeat.
    expect(seen.map((step) => step.countdowns)).toEqual([0, 0, 0, 0, 1]);
  });

  it('answers less than 2 s apart cannot tell a countdown from a repeat: no verdict, the older answer stays the reference', () => {
    const close = run([
      [10_000, 30],
      [11_500, 29],
    ]);
    expect(close.verdict).toBe('unknown');
    expect(close.reference).toEqual({ at: 10_000, ttl: 30 });
    expect(run([[10_000, 30], [11_500, 29], [13_000, 27], [15_000, 25]]).verdict).toBe('detected');
  });

  it('an answer too close to tell a countdown, but plainly a new copy, becomes the reference: a higher TTL, or the old copy may be gone', () => {
    const detected = detectedAt20s();
    expect(cachedCopyExpiry(observeTtl(detected, { at: 21_000, ttl: 30 }, false))).toBe(51_000);
    const nearExpiry = run([
      [10_000, 2],
      [11_500, 2],
    ]);
    expect(nearExpiry.reference).toEqual({ at: 11_500, ttl: 2 });
  });

  it('a set change resets the countdown: its TTL is not compared with the old copy', () => {
    const view = run([
      [10_000, 30],
      [15_000, 30, true],
    ]);
    // Without the change this would be the owner repeating its TTL.
    expect(view.verdict).toBe('unknown');
    expect(view.reference).toEqual({ at: 15_000, ttl: 30 });
    const detected = detectedAt20s();
    // A cache already seen keeps serving the new set: its fresh copy is tracked.
    const changed = observeTtl(detected, { at: 22_000, ttl: 30 }, true);
    expect(changed.verdict).toBe('detected');
    expect(cachedCopyExpiry(changed)).toBe(52_000);
  });

  it('a TTL that jumps up is the cache refreshing its copy: still a cache, the new copy tracked, the largest TTL kept', () => {
    const detected = run([
      [10_000, 20],
      [15_000, 15],
      [18_000, 12],
    ]);
    // Polled after the copy expired: a fresh one, fetched after the old expiry.
    const refreshed = observeTtl(detected, { at: 31_000, ttl: 30 }, false);
    expect(refreshed.verdict).toBe('detected');
    expect(refreshed.largestTtl).toBe(30);
    expect(cachedCopyExpiry(refreshed)).toBe(61_000);
    // Refreshed before the copy expired (prefetch): still one copy at a time.
    const counting = observeTtl(refreshed, { at: 50_000, ttl: 11 }, false);
    const prefetched = observeTtl(counting, { at: 58_000, ttl: 30 }, false);
    expect(prefetched.verdict).toBe('detected');
    expect(cachedCopyExpiry(prefetched)).toBe(88_000);
  });

  it('a cache polled only after each expiry, refetching on that poll, stays detected (it repeats the full TTL, as an owner would)', () => {
    let view = run([
      [0, 30],
      [5_000, 25],
      [10_000, 20],
    ]);
    for (let at = 31_000; at < 400_000; at += 31_000) {
      view = observeTtl(view, { at, ttl: 30 }, false);
      expect(view.verdict).toBe('detected');
      expect(cachedCopyExpiry(view)).toBe(at + 30_000);
    }
  });

  it('several caches behind one address (copies of different ages): still a cache, but no copy to wait for', () => {
    const detected = detectedAt20s();
    // Another copy, 10 s older than the one seen.
    const other = observeTtl(detected, { at: 22_000, ttl: 10 }, false);
    expect(other.verdict).toBe('detected');
    expect(cachedCopyExpiry(other)).toBeUndefined();
    // After the tracked copy expired, a copy fetched long before that expiry is another cache's.
    const stale = observeTtl(detected, { at: 41_000, ttl: 12 }, false);
    expect(stale.verdict).toBe('detected');
    expect(cachedCopyExpiry(stale)).toBeUndefined();
    // The next countdown of one copy is trusted again.
    expect(cachedCopyExpiry(observeTtl(stale, { at: 45_000, ttl: 8 }, false))).toBe(53_000);
  });

  it('a cache taken away: the repeating TTL wins, and the largest TTL is the owner’s again', () => {
    const detected = detectedAt20s();
    const direct = run(
      [
        [23_000, 5],
        [26_000, 5],
      ],
      detected,
    );
    expect(direct.verdict).toBe('none');
    expect(direct.largestTtl).toBe(5);
  });

  it('a zero TTL is never cached: it tells nothing', () => {
    expect(run([[0, 0], [5_000, 0], [10_000, 0]]).verdict).toBe('unknown');
  });

  it('an answer from /etc/hosts or an IP literal (no TTL) forgets everything', () => {
    const detected = detectedAt20s();
    expect(observeTtl(detected, { at: 16_000, ttl: Infinity }, true)).toBe(NO_CACHE_VIEW);
  });

  it('a cache simulated poll by poll: detected by the fourth answer, never taken for the owner, whatever the poll period below the TTL', () => {
    for (const period of [2_000, 3_300, 5_000, 7_000]) {
      let fetchedAt = 1_234;
      let view: CacheView = NO_CACHE_VIEW;
      for (let at = 1_234, i = 0; i < 20; i++, at += period) {
        if (cacheTtl(fetchedAt, 10, at) < 0) fetchedAt = at;
        view = observeTtl(view, { at, ttl: cacheTtl(fetchedAt, 10, at) }, i === 0);
        expect(view.verdict, `period ${period}, answer ${i}`).not.toBe('none');
        if (i >= 3) expect(view.verdict, `period ${period}, answer ${i}`).toBe('detected');
      }
    }
  });

});

describe('a verdict that can change its mind', () => {
  /** Detected at 20 s, then polled only after each expiry (a fresh copy each time, as the schedule does). */
  function afterExpiries(count: number): CacheView {
    let view = detectedAt20s();
    for (let i = 0, at = 41_000; i < count; i++, at += 31_000) view = observeTtl(view, { at, ttl: 30 }, false);
    return view;
  }

  it('the last countdown is the evidence: each countdown moves it, fresh copies after an expiry do not', () => {
    expect(detectedAt20s().confirmedAt).toBe(20_000);
    expect(run([[10_000, 30], [15_000, 25]]).confirmedAt).toBe(15_000);
    const refreshed = afterExpiries(2);
    expect(refreshed.verdict).toBe('detected');
    expect(refreshed.confirmedAt).toBe(20_000);
    // A poll inside the copy fetched at 72 s: counting down.
    expect(observeTtl(refreshed, { at: 77_000, ttl: 25 }, false).confirmedAt).toBe(77_000);
  });

  it(`probeDue: once the last countdown is ${RECONFIRM_MS / 1_000} s old, while a copy is tracked`, () => {
    const detected = detectedAt20s();
    expect(probeDue(detected, 20_000 + RECONFIRM_MS - 1)).toBe(false);
    expect(probeDue(detected, 20_000 + RECONFIRM_MS)).toBe(true);
    // No verdict, or no copy tracked (polling on the interval already tells): no probe.
    expect(probeDue(run([[10_000, 30], [15_000, 25]]), 100_000)).toBe(false);
    const untracked = observeTtl(detected, { at: 22_000, ttl: 10 }, false);
    expect(cachedCopyExpiry(untracked)).toBeUndefined();
    expect(probeDue(untracked, 100_000)).toBe(false);
  });

  it('after expiries, the owner and a cache that refetches look alike; inside a copy they do not', () => {
    const view = afterExpiries(1); // a fresh "30" at 41 s
    expect(probeDue(view, 41_000)).toBe(true);
    // The cache: 5 s into its copy, 25 left.
    const cache = observeTtl(view, { at: 46_000, ttl: 25 }, false);
    expect(cache).toMatchObject({ verdict: 'detected', tracking: true, confirmedAt: 46_000 });
    expect(cachedCopyExpiry(cache)).toBe(71_000);
    // The owner (the cache went away): 30 again, 5 s later.
    const owner = observeTtl(view, { at: 46_000, ttl: 30 }, false);
    expect(owner).toMatchObject({ verdict: 'none', tracking: false, confirmedAt: undefined, largestTtl: 30 });
    // Another cache, with a copy of its own age: no copy waited for; polling on the interval tells the rest.
    const other = observeTtl(view, { at: 46_000, ttl: 12 }, false);
    expect(other).toMatchObject({ verdict: 'detected', tracking: false });
  });

  it('the case of issue 20, answer by answer: a 10 s cache, then the owner with TTL 10; cleared by the first answer inside a copy', () => {
    let view = run([
      [0, 10],
      [3_600, 6],
      [6_000, 4],
    ]);
    expect(view.verdict).toBe('detected');
    // After each expiry: the cache's fresh copies, then (from 25 s) the owner's "10", indistinguishable.
    for (const at of [11_200, 22_800, 33_800]) {
      view = observeTtl(view, { at, ttl: 10 }, false);
      expect(view.verdict).toBe('detected');
    }
    expect(probeDue(view, 33_800)).toBe(true);
    expect(observeTtl(view, { at: 35_800, ttl: 10 }, false).verdict).toBe('none');
  });
});
