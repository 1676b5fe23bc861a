/**
 * maxAddresses: the per-client random, stable subset (src/watch/subset.ts), as
 * pure logic over many simulated clients (one seed each), and the option's
 * validation. Large answers from a real server: test/dnsmasq.large.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '../src/dns/types.js';
import { channelOptions } from '../src/grpc/channel-options.js';
import { watch } from '../src/index.js';
import { resolveOptions } from '../src/watch/options.js';
import { MAX_ADDRESSES_OPTION_LIMIT, PROCESS_SEED, pickSubset, score } from '../src/watch/subset.js';
import { ScriptedDnsServer } from '../harness/scripted-dns.js';
import { waitUntil } from '../harness/wait.js';

/** `n` pod addresses 10.x.y.z. */
function pods(n: number, from = 0): ResolvedAddress[] {
  return Array.from({ length: n }, (_, k) => {
    const i = from + k;
    return { address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, family: 4 as const, ttl: 5 };
  });
}

function names(list: readonly { address: string }[]): string[] {
  return list.map((entry) => entry.address).sort();
}

/** A seeded shuffle (mulberry32), so "the server shuffled the records" is reproducible. */
function shuffled<T>(list: readonly T[], seed: number): T[] {
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t ^= t + Math.imul(t ^ (t >>> 7), 61 | t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const copy = [...list];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

describe('pickSubset: rendezvous hashing with a per-client seed', () => {
  it('returns the set itself when it is within the cap', () => {
    const set = pods(10);
    expect(pickSubset(set, 10, 1)).toBe(set);
    expect(pickSubset(set, 50, 1)).toBe(set);
  });

  it('keeps exactly max addresses, all from the set, without duplicates', () => {
    const set = pods(1_000);
    const subset = pickSubset(set, 37, 12345);
    expect(subset).toHaveLength(37);
    expect(new Set(names(subset)).size).toBe(37);
    const all = new Set(names(set));
    expect(names(subset).every((address) => all.has(address))).toBe(true);
  });

  it('is stable across polls: the same subset whatever order the server sends the records in', () => {
    const set = pods(500);
    const first = names(pickSubset(set, 20, 7));
    for (let poll = 1; poll <= 50; poll++) {
      expect(names(pickSubset(shuffled(set, poll), 20, 7))).toEqual(first);
    }
  });

  it('a member leaving is replaced by one address; the others stay', () => {
    const set = pods(300);
    const before = names(pickSubset(set, 20, 99));
    const gone = before[5]!;
    const after = names(pickSubset(set.filter((entry) => entry.address !== gone), 20, 99));
    expect(after).toHaveLength(20);
    const kept = before.filter((address) => address !== gone);
    expect(kept.every((address) => after.includes(address))).toBe(true);
    expect(after.filter((address) => !before.includes(address))).toHaveLength(1);
  });

  it('an address that is not a member leaving changes nothing', () => {
    const set = pods(300);
    const before = names(pickSubset(set, 20, 5));
    const outsider = names(set).find((address) => !before.includes(address))!;
    expect(names(pickSubset(set.filter((entry) => entry.address !== outsider), 20, 5))).toEqual(before);
  });

  it('pods joining displace at most one member each, and a joining pod is taken by max/size of the clients', () => {
    const set = pods(100);
    const joined = [...set, ...pods(1, 100)];
    const newcomer = joined[100]!.address;
    let taken = 0;
    const clients = 2_000;
    for (let seed = 0; seed < clients; seed++) {
      const before = names(pickSubset(set, 10, seed));
      const after = names(pickSubset(joined, 10, seed));
      const displaced = before.filter((address) => !after.includes(address));
      expect(displaced.length).toBeLessThanOrEqual(1);
      if (after.includes(newcomer)) {
        taken++;
        expect(displaced).toHaveLength(1);
      } else {
        expect(after).toEqual(before);
      }
    }
    // Expected 2,000 × 10/101 ≈ 198 (binomial sd ≈ 13).
    expect(taken).toBeGreaterThan(140);
    expect(taken).toBeLessThan(260);
  });

  it('spreads a fleet over every address, roughly uniformly (1,000 clients × 100 of 1,000 pods)', () => {
    const set = pods(1_000);
    const hits = new Map<string, number>(set.map((entry) => [entry.address, 0]));
    const clients = 1_000;
    for (let seed = 0; seed < clients; seed++) {
      for (const entry of pickSubset(set, 100, seed * 2_654_435_761)) hits.set(entry.address, hits.get(entry.address)! + 1);
    }
    const counts = [...hits.values()];
    // Every pod is used by some client; each by about clients × 100/1,000 = 100 (binomial sd ≈ 9.5).
    expect(Math.min(...counts)).toBeGreaterThan(55);
    expect(Math.max(...counts)).toBeLessThan(145);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    expect(mean).toBe(100);
    const sd = Math.sqrt(counts.reduce((sum, c) => sum + (c - mean) ** 2, 0) / counts.length);
    expect(sd).toBeLessThan(13);
  });

  it('spreads a small fleet over a large Service too: 40 clients × 100 of 3,000 pods cover 3,000 × (1 - 0.967^40) ≈ 2,209 distinct pods', () => {
    const set = pods(3_000);
    const covered = new Set<string>();
    for (let seed = 1; seed <= 40; seed++) for (const entry of pickSubset(set, 100, seed)) covered.add(entry.address);
    // Independent uniform picks would cover 3,000 × (1 - (1 - 100/3,000)^40) ≈ 2,209.
    expect(covered.size).toBeGreaterThan(2_100);
    expect(covered.size).toBeLessThan(2_320);
  });

  it('scores differ by seed and by address, and are 53-bit integers', () => {
    expect(score(1, '10.0.0.1')).not.toBe(score(2, '10.0.0.1'));
    expect(score(1, '10.0.0.1')).not.toBe(score(1, '10.0.0.2'));
    expect(Number.isSafeInteger(score(3, 'fd00::1'))).toBe(true);
    expect(Number.isInteger(PROCESS_SEED) && PROCESS_SEED >= 0 && PROCESS_SEED < 2 ** 32).toBe(true);
  });
});

describe('maxAddresses 2 through watch(), family 0, while AAAA fails and recovers (issue 20, case 5)', () => {
  it('never delivers more than 2 addresses, and delivers nothing new when AAAA fails or comes back', async () => {
    let aaaa: 'answer' | 'SERVFAIL' = 'answer';
    const server = await ScriptedDnsServer.start((query) => {
      if (query.type === 'A') return { answers: ['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((data) => ({ type: 'A', name: query.name, ttl: 30, data })) };
      if (aaaa === 'SERVFAIL') return { rcode: 2 };
      return { answers: ['fd00::1', 'fd00::2'].map((data) => ({ type: 'AAAA', name: query.name, ttl: 30, data })) };
    });
    const handle = watch('capped.subset.test.', {
      nameservers: [`${server.host}:${server.port}`],
      hostsPath: false,
      family: 0,
      maxAddresses: 2,
      refreshInterval: 100,
      minInterval: 0,
      jitter: 0,
    });
    const updates: string[][] = [];
    handle.on('update', (update) => updates.push(update.addresses));
    handle.on('error', () => {});
    const polls = async (n: number) => {
      const target = (handle.stats()?.queries ?? 0) + n;
      await waitUntil(() => (handle.stats()?.queries ?? 0) >= target, `${n} more polls`, 10_000);
    };
    try {
      await polls(2);
      aaaa = 'SERVFAIL';
      await polls(3);
      expect(handle.stats()?.failures).toBe(0); // half answers: A answered
      aaaa = 'answer';
      await polls(3);
      const all = [...['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((address) => ({ address })), ...['fd00::1', 'fd00::2'].map((address) => ({ address }))];
      expect(updates).toEqual([names(pickSubset(all, 2))]);
      expect(handle.stats()?.addresses).toEqual(names(pickSubset(all, 2)));
      expect(handle.stats()?.addressesAvailable).toBe(5);
    } finally {
      handle.close();
      await server.close();
    }
  });
});

describe('the maxAddresses option', () => {
  it('defaults to every address', () => {
    expect(resolveOptions({}).maxAddresses).toBeUndefined();
    expect(resolveOptions({ maxAddresses: 1 }).maxAddresses).toBe(1);
    expect(resolveOptions({ maxAddresses: MAX_ADDRESSES_OPTION_LIMIT }).maxAddresses).toBe(MAX_ADDRESSES_OPTION_LIMIT);
  });

  it.each([0, -1, 2.5, NaN, Infinity, MAX_ADDRESSES_OPTION_LIMIT + 1, '50', null])('%j → a TypeError naming it and the accepted range', (value) => {
    expect(() => resolveOptions({ maxAddresses: value as number })).toThrow(TypeError);
    expect(() => resolveOptions({ maxAddresses: value as number })).toThrow(
      `Option "maxAddresses" must be an integer from 1 to ${MAX_ADDRESSES_OPTION_LIMIT}, got `,
    );
  });

  it('per channel as grpc-dns-watch.max_addresses, validated under that name', () => {
    const base = resolveOptions({});
    expect(channelOptions(base, { 'grpc-dns-watch.max_addresses': 25 }).maxAddresses).toBe(25);
    expect(() => channelOptions(base, { 'grpc-dns-watch.max_addresses': 0 })).toThrow(
      `Channel option "grpc-dns-watch.max_addresses" must be an integer from 1 to ${MAX_ADDRESSES_OPTION_LIMIT}, got 0`,
    );
  });
});
