import { describe, expect, it } from 'vitest';
import type { Resolution } from '../src/dns/types.js';
import { DEMOTE_AFTER_POLLS, DEMOTED_BOUND_MS, demotedAskAfterMs, FamilyDemotion } from '../src/watch/family-demotion.js';
import { DEFAULTS } from '../src/watch/options.js';
import { delayAfterSuccess } from '../src/watch/schedule.js';

/** The demotion of a family that answers NODATA, pure, on a clock the test moves. */

const defaults = { refreshInterval: DEFAULTS.refreshInterval, jitter: DEFAULTS.jitter, backoff: { ...DEFAULTS.backoff }, respectTtl: false, minInterval: DEFAULTS.minInterval };

/** An answer of the polled candidate: A addresses; AAAA NODATA (`noData`), unasked, failed, or with addresses. */
function answer(aaaa: 'nodata' | 'unasked' | 'failed' | 'records'): Resolution {
  const addresses = [{ address: '10.0.0.1', family: 4 as const, ttl: 30 }];
  if (aaaa === 'records') addresses.push({ address: 'fd00::1', family: 6 as never, ttl: 30 });
  const resolution: Resolution = { name: 'svc.ns.svc.cluster.local', addresses, source: 'dns', failedFamilies: [], searchIndex: 0 };
  if (aaaa === 'nodata') resolution.noDataFamily = 6;
  if (aaaa === 'unasked') resolution.unaskedFamily = 6;
  if (aaaa === 'failed') resolution.failedFamilies = [{ family: 6, error: new Error('timeout') as never }];
  return resolution;
}

describe('demotedAskAfterMs', () => {
  it('with the defaults: 53 s, so the first poll after it (polls at most 6 s apart) asks within 59 s, 1 s left for the reply', () => {
    expect(demotedAskAfterMs(defaults)).toBe(53_000);
    expect(demotedAskAfterMs(defaults) + DEFAULTS.refreshInterval * (1 + DEFAULTS.jitter) + 1_000).toBe(DEMOTED_BOUND_MS);
  });

  it('0 (never demoted) when the next poll would ask anyway', () => {
    expect(demotedAskAfterMs({ ...defaults, refreshInterval: 30_000 })).toBe(0);
    expect(demotedAskAfterMs({ ...defaults, refreshInterval: 20_000 })).toBe(35_000);
  });

  it('a larger backoff cap counts as a longer spacing of polls', () => {
    expect(demotedAskAfterMs({ ...defaults, backoff: { ...defaults.backoff, max: 10_000 } })).toBe(47_000);
  });
});

describe('FamilyDemotion', () => {
  it(`demotes after ${DEMOTE_AFTER_POLLS} NODATA answers in a row, and skips until the ask is due`, () => {
    const demotion = new FamilyDemotion(53_000);
    expect(demotion.answered(answer('nodata'), 0)).toBeUndefined();
    expect(demotion.answered(answer('nodata'), 5_000)).toBeUndefined();
    expect(demotion.skipAt(10_000)).toBeUndefined();
    expect(demotion.answered(answer('nodata'), 10_000)).toMatchObject({ family: 6, change: 'demoted', nextAskInMs: 53_000 });
    expect(demotion.family).toBe(6);
    expect(demotion.nextAskAt).toBe(63_000);
    expect(demotion.skipAt(15_000)).toBe(6);
    expect(demotion.answered(answer('unasked'), 15_000)).toBeUndefined();
    expect(demotion.skipAt(62_999)).toBe(6);
    expect(demotion.skipAt(63_000)).toBeUndefined();
    // Asked, still NODATA: the next ask is 53 s after this one.
    expect(demotion.answered(answer('nodata'), 64_000)).toBeUndefined();
    expect(demotion.nextAskAt).toBe(117_000);
  });

  it('with polls jittered in [4 s, 6 s] the demoted family is asked every 53 to 59 s: about one extra query in 11 polls', () => {
    let random = 0.123;
    const next = () => (random = (random * 9301 + 0.49297) % 1);
    const demotion = new FamilyDemotion(demotedAskAfterMs(defaults));
    let at = 0;
    for (let i = 0; i < DEMOTE_AFTER_POLLS; i++) {
      demotion.answered(answer('nodata'), at);
      at += delayAfterSuccess(defaults, Infinity, next);
    }
    const askedAt: number[] = [at - 1];
    let polls = 0;
    for (; at < 3_600_000; at += delayAfterSuccess(defaults, Infinity, next)) {
      polls++;
      const skipped = demotion.skipAt(at) === 6;
      if (!skipped) askedAt.push(at);
      demotion.answered(answer(skipped ? 'unasked' : 'nodata'), at);
    }
    const gaps = askedAt.slice(2).map((t, i) => t - askedAt[i + 1]!);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(53_000);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(59_000);
    expect((polls + askedAt.length - 1) / polls).toBeLessThan(1.1);
  });

  it('a failure is not NODATA: it breaks the run and never demotes', () => {
    const demotion = new FamilyDemotion(53_000);
    demotion.answered(answer('nodata'), 0);
    demotion.answered(answer('nodata'), 5_000);
    expect(demotion.answered(answer('failed'), 10_000)).toBeUndefined();
    expect(demotion.answered(answer('nodata'), 15_000)).toBeUndefined();
    expect(demotion.answered(answer('nodata'), 20_000)).toBeUndefined();
    expect(demotion.family).toBeUndefined();
    expect(demotion.answered(answer('nodata'), 25_000)?.change).toBe('demoted');
  });

  it('a demoted family whose check failed is asked again at the next poll', () => {
    const demotion = new FamilyDemotion(53_000);
    for (const at of [0, 5_000, 10_000]) demotion.answered(answer('nodata'), at);
    expect(demotion.skipAt(63_000)).toBeUndefined();
    expect(demotion.answered(answer('failed'), 63_000)).toBeUndefined();
    expect(demotion.skipAt(68_000)).toBeUndefined();
    expect(demotion.family).toBe(6);
  });

  it('a demoted family with records is restored at once; reset restores it too', () => {
    const demotion = new FamilyDemotion(53_000);
    for (const at of [0, 5_000, 10_000]) demotion.answered(answer('nodata'), at);
    expect(demotion.answered(answer('records'), 63_000)).toMatchObject({ family: 6, change: 'restored' });
    expect(demotion.skipAt(68_000)).toBeUndefined();
    for (const at of [70_000, 75_000, 80_000]) demotion.answered(answer('nodata'), at);
    expect(demotion.family).toBe(6);
    expect(demotion.reset('NXDOMAIN for the name')).toMatchObject({ family: 6, change: 'restored', reason: 'NXDOMAIN for the name' });
    expect(demotion.reset('again')).toBeUndefined();
  });

  it('an answer from /etc/hosts restores both', () => {
    const demotion = new FamilyDemotion(53_000);
    for (const at of [0, 5_000, 10_000]) demotion.answered(answer('nodata'), at);
    expect(demotion.answered({ ...answer('nodata'), source: 'hosts' }, 15_000)?.change).toBe('restored');
  });
});
