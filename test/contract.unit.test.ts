import { describe, expect, it } from 'vitest';
import { UNKNOWN, nextBelief, signature, whatToTell, type Belief, type Outcome } from '../src/watch/contract.js';
import { addressKey, diff } from '../src/watch/records.js';
import { DnsError } from '../src/dns/errors.js';
import type { ResolvedAddress, Resolution } from '../src/dns/types.js';
import { pickSubset } from '../src/watch/subset.js';

const v4 = (address: string, ttl = 30): ResolvedAddress => ({ address, family: 4, ttl });
const v6 = (address: string, ttl = 30): ResolvedAddress => ({ address, family: 6, ttl });
const answer = (addresses: ResolvedAddress[], failed: Array<4 | 6> = []): Outcome<Resolution> => ({
  kind: 'answer',
  resolution: {
    name: 'svc',
    addresses,
    source: 'dns',
    failedFamilies: failed.map((family) => ({ family, error: new DnsError('TIMEOUT', 'svc', 'timed out') })),
  },
});
const failure = (code: 'TIMEOUT' | 'SERVFAIL' | 'REFUSED' | 'NETWORK' | 'BADRESPONSE'): Outcome => ({
  kind: 'error',
  error: new DnsError(code, 'svc', `${code} happened`),
});
const none = (code: 'NXDOMAIN' | 'NODATA'): Outcome => ({ kind: 'error', error: new DnsError(code, 'svc', `${code} said`) });

/** What a subscriber that was told `before` hears after `outcome`. */
function scenario(before: Belief, outcome: Outcome, asked = false) {
  const belief = nextBelief(before, outcome);
  return { belief, told: whatToTell(belief, signature(before), asked) };
}

const goodSet: Belief = { kind: 'addresses', addresses: [v4('10.0.0.1'), v4('10.0.0.2')] };

describe('the contract table, row by row', () => {
  it('same address set as last time (any order): nothing', () => {
    const { told } = scenario(goodSet, answer([v4('10.0.0.2', 5), v4('10.0.0.1', 7)]));
    expect(told).toBeNull();
  });

  it('a different, non-empty set: one update with the whole new list', () => {
    const { told } = scenario(goodSet, answer([v4('10.0.0.2'), v4('10.0.0.3')]));
    expect(told).toEqual({ kind: 'update', addresses: [v4('10.0.0.2'), v4('10.0.0.3')] });
  });

  it('the first answer is a change from nothing', () => {
    const { told } = scenario(UNKNOWN, answer([v4('10.0.0.1')]));
    expect(told?.kind).toBe('update');
  });

  for (const code of ['NXDOMAIN', 'NODATA'] as const) {
    it(`authoritative none (${code}): an UNAVAILABLE-worthy error, never an empty list`, () => {
      const { belief, told } = scenario(goodSet, none(code));
      expect(belief.kind).toBe('none');
      expect(told).toMatchObject({ kind: 'error', authoritative: true });
      expect((told as { error: DnsError }).error.code).toBe(code);
    });
  }

  for (const code of ['TIMEOUT', 'SERVFAIL', 'REFUSED', 'NETWORK', 'BADRESPONSE'] as const) {
    it(`could not ask (${code}) with a last good set: nothing, the set is kept`, () => {
      const { belief, told } = scenario(goodSet, failure(code));
      expect(told).toBeNull();
      expect(belief).toBe(goodSet);
    });

    it(`could not ask (${code}), no set yet: an error with the cause`, () => {
      const { belief, told } = scenario(UNKNOWN, failure(code));
      expect(belief.kind).toBe('failed');
      expect(told).toMatchObject({ kind: 'error', authoritative: false });
      expect((told as { error: DnsError }).error.code).toBe(code);
    });
  }

  it('the same failure again, no set: nothing (no news)', () => {
    const first = scenario(UNKNOWN, failure('TIMEOUT')).belief;
    expect(whatToTell(nextBelief(first, failure('TIMEOUT')), signature(first), false)).toBeNull();
  });

  it('a different failure, no set: told again with the new cause', () => {
    const first = scenario(UNKNOWN, failure('TIMEOUT')).belief;
    const told = whatToTell(nextBelief(first, failure('SERVFAIL')), signature(first), false);
    expect((told as { error: DnsError }).error.code).toBe('SERVFAIL');
  });

  it('the same NXDOMAIN again: nothing', () => {
    const first = scenario(goodSet, none('NXDOMAIN')).belief;
    expect(whatToTell(nextBelief(first, none('NXDOMAIN')), signature(first), false)).toBeNull();
  });

  it('recovery after NXDOMAIN: the set is an update', () => {
    const first = scenario(goodSet, none('NXDOMAIN')).belief;
    const told = whatToTell(nextBelief(first, answer([v4('10.0.0.9')])), signature(first), false);
    expect(told).toEqual({ kind: 'update', addresses: [v4('10.0.0.9')] });
  });

  describe('channel asked (updateResolution): one call with the current belief', () => {
    it('unchanged set: the same list again', () => {
      expect(scenario(goodSet, answer([v4('10.0.0.1'), v4('10.0.0.2')]), true).told?.kind).toBe('update');
    });
    it('failure with a last good set: the last good set', () => {
      expect(scenario(goodSet, failure('TIMEOUT'), true).told).toEqual({ kind: 'update', addresses: goodSet.addresses });
    });
    it('same failure without a set: the error again', () => {
      const first = scenario(UNKNOWN, failure('TIMEOUT')).belief;
      expect(scenario(first, failure('TIMEOUT'), true).told?.kind).toBe('error');
    });
    it('nothing known yet: nothing to say', () => {
      expect(whatToTell(UNKNOWN, undefined, true)).toBeNull();
    });
  });

  it('half answer: a failed family keeps its last good addresses', () => {
    const dual: Belief = { kind: 'addresses', addresses: [v4('10.0.0.1'), v6('fd00::1')] };
    const { belief, told } = scenario(dual, answer([v4('10.0.0.1')], [6]));
    expect(told).toBeNull();
    expect(belief.kind === 'addresses' && belief.addresses.map((entry) => entry.address).sort()).toEqual(['10.0.0.1', 'fd00::1']);
  });
});

describe('set identity and diff', () => {
  it('ignores order, duplicates and TTL', () => {
    expect(addressKey([v4('10.0.0.2', 1), v4('10.0.0.1'), v4('10.0.0.2', 9)])).toBe(addressKey([v4('10.0.0.1'), v4('10.0.0.2')]));
  });
  it('lists added and removed addresses, sorted', () => {
    expect(diff([v4('10.0.0.1'), v4('10.0.0.2')], [v4('10.0.0.3'), v4('10.0.0.2'), v6('fd00::1')])).toEqual({
      added: ['10.0.0.3', 'fd00::1'],
      removed: ['10.0.0.1'],
    });
  });
});

describe('maxAddresses in the contract: the delivered set, last good addresses of a failed family included', () => {
  const pods = (n: number): ResolvedAddress[] => Array.from({ length: n }, (_, i) => v4(`10.0.${i >> 8}.${i & 255}`));
  const v6s = (n: number): ResolvedAddress[] => Array.from({ length: n }, (_, i) => v6(`fd00::${i + 1}`));
  const names = (list: readonly { address: string }[]): string[] => list.map((entry) => entry.address).sort();
  const delivered = (belief: Belief): string[] => (belief.kind === 'addresses' ? names(belief.addresses) : []);

  it('without a cap or within it: every address, nothing counted apart', () => {
    const belief = nextBelief(UNKNOWN, answer(pods(5)), 5);
    expect(delivered(belief)).toEqual(names(pods(5)));
    expect(belief.kind === 'addresses' && belief.available).toBeUndefined();
  });

  it('over the cap: this process’s subset, and how many there were', () => {
    const belief = nextBelief(UNKNOWN, answer(pods(3_000)), 50);
    expect(delivered(belief)).toEqual(names(pickSubset(pods(3_000), 50)));
    expect(belief.kind === 'addresses' && belief.available).toBe(3_000);
  });

  it('maxAddresses 2, family 0, AAAA fails and recovers: never more than 2, and no change at either step', () => {
    const whole = [...pods(3), ...v6s(2)];
    const first = nextBelief(UNKNOWN, answer(whole), 2);
    expect(delivered(first)).toEqual(names(pickSubset(whole, 2)));
    // AAAA SERVFAILs: the A answer plus the last good AAAA the belief holds.
    const failing = nextBelief(first, answer(pods(3), [6]), 2);
    expect(delivered(failing)).toEqual(delivered(first));
    const still = nextBelief(failing, answer(pods(3), [6]), 2);
    expect(delivered(still)).toEqual(delivered(first));
    // Recovered: the whole answer again, the same subset.
    expect(delivered(nextBelief(still, answer(whole), 2))).toEqual(delivered(first));
    // A failing A instead: the same.
    expect(delivered(nextBelief(first, answer(v6s(2), [4]), 2))).toEqual(delivered(first));
  });
});
