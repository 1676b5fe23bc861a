import { randomInt } from 'node:crypto';

/** Largest `maxAddresses` accepted: more than two maximum DNS answers hold, i.e. "no cap". */
export const MAX_ADDRESSES_OPTION_LIMIT = 65_535;

/**
 * This process's seed: each client process ranks addresses in its own random
 * order, so a fleet of capped clients spreads over every address while each
 * client keeps its choice from poll to poll (and across channels to one name).
 */
export const PROCESS_SEED = randomInt(0, 2 ** 32);

/**
 * Rendezvous (highest-random-weight) subsetting: every address gets a score
 * hash(seed, address) and the `max` lowest scores are kept. The choice
 * depends only on the seed and the set, never on record order, so:
 * - it is stable: while the chosen addresses stay in the set and no new
 *   address scores below them, the same subset comes back every poll; an
 *   address leaving replaces just that one member, an address joining
 *   displaces at most one (with probability max / size, exactly the share a
 *   new pod needs to get its traffic);
 * - it is uniform: over many seeds every address is chosen by max / size of
 *   the clients.
 * Returns the input itself when it is within `max`.
 */
export function pickSubset<T extends { address: string }>(addresses: readonly T[], max: number, seed: number = PROCESS_SEED): readonly T[] {
  if (addresses.length <= max) return addresses;
  return addresses
    .map((entry) => ({ entry, score: score(seed, entry.address) }))
    .sort((a, b) => a.score - b.score || (a.entry.address < b.entry.address ? -1 : a.entry.address > b.entry.address ? 1 : 0))
    .slice(0, max)
    .map(({ entry }) => entry);
}

/**
 * A 53-bit hash of `text` under `seed` (cyrb53, public domain): two
 * multiply-xorshift lanes with a final avalanche, fast for short strings and
 * well spread, which is all rendezvous hashing needs. Not a security hash:
 * the seed is what makes one client's choice unpredictable to another.
 */
export function score(seed: number, text: string): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}
