/**
 * Telling a cache from the server that owns the records, by the TTLs of
 * an unchanged set. An authoritative server (CoreDNS's kubernetes plugin,
 * dnsmasq serving its own hosts) repeats the same TTL every time; a cache
 * (NodeLocal DNSCache, CoreDNS `cache`, Unbound, dnsmasq forwarding) hands
 * out one copy and counts its TTL down until the copy expires, then fetches
 * a fresh one. Pure: the watcher feeds it one observation per answer.
 *
 * The rules, with `ref` the observation compared against and TTLs in whole
 * seconds (so every comparison allows `TOLERANCE_MS`):
 * - a different address set, or the first answer: a new reference, no evidence;
 * - less than `MIN_EVIDENCE_MS` after `ref`: too close to tell a
 *   countdown from a repeat; `ref` is kept, unless the answer is plainly a
 *   new copy (a higher TTL, or `ref`'s copy may have expired);
 * - the same expiry time (the TTL went down by the time elapsed) is a
 *   countdown; two of them, with no repeat between, are a cache;
 * - while `ref`'s copy would certainly still be held (a TTL of t whole
 *   seconds may mean a little over t − 1 left): the same TTL is the owner;
 *   a TTL that jumped up is a cache that fetched early (prefetch) or a TTL
 *   raised at the source; one that went down by another amount is a
 *   different copy (several caches behind one address);
 * - after `ref`'s copy would have expired, nothing tells a cache that just
 *   fetched a fresh copy from the owner; with a cache detected, the fresh
 *   copy must have been fetched after the old one expired, or it is another
 *   cache's copy.
 * A copy whose expiry is known (`tracking`) is what the schedule may wait for.
 */

/** `unknown`: not enough answers yet; `none`: the TTL repeats (fresh answers); `detected`: it counts down. */
export type CacheVerdict = 'unknown' | 'none' | 'detected';

/** One answer: when it arrived (epoch ms) and its shortest TTL (seconds). */
export interface TtlObservation {
  at: number;
  ttl: number;
}

export interface CacheView {
  verdict: CacheVerdict;
  /** The observation later answers are compared with; undefined before the first DNS answer. */
  reference: TtlObservation | undefined;
  /** Largest TTL seen (since the TTL last repeated): with a cache, how long it keeps a copy. */
  largestTtl: number | undefined;
  /** True when `reference` is the copy a single cache serves, so its expiry is known. */
  tracking: boolean;
  /** Countdowns seen since the TTL last repeated: `COUNTDOWNS_TO_DETECT` make a cache. */
  countdowns: number;
}

/** Whole-second TTLs and round trips: two expiry times this close are the same copy's. */
export const TOLERANCE_MS = 1_000;
/** Below this between two answers, a countdown (≥ 1 s less) cannot be told from a repeat. */
export const MIN_EVIDENCE_MS = 2 * TOLERANCE_MS;

/**
 * Countdowns it takes to say "cache": one can be an owner that changed its
 * TTL by just the time elapsed (a re-published record); two in a row,
 * with no repeat between, cannot.
 */
export const COUNTDOWNS_TO_DETECT = 2;

export const NO_CACHE_VIEW: CacheView = Object.freeze({
  verdict: 'unknown',
  reference: undefined,
  largestTtl: undefined,
  tracking: false,
  countdowns: 0,
});

/**
 * The view after one more answer. `setChanged`: the address set differs
 * from the last answer's (its TTL then says nothing about the old copy). A
 * TTL that is not finite (/etc/hosts, an IP literal) is no DNS answer: back
 * to nothing known.
 */
export function observeTtl(view: CacheView, observation: TtlObservation, setChanged: boolean): CacheView {
  if (!Number.isFinite(observation.ttl)) return NO_CACHE_VIEW;
  const largestTtl = Math.max(view.largestTtl ?? 0, observation.ttl);
  const ref = view.reference;
  if (ref === undefined || setChanged) {
    // A new set is a copy fetched anew: a cache already seen still serves it.
    return { ...view, reference: observation, largestTtl, tracking: view.verdict === 'detected' };
  }
  const elapsed = observation.at - ref.at;
  const refExpiry = expiryOf(ref);
  if (elapsed < MIN_EVIDENCE_MS) {
    // Too close to tell a countdown from a repeat, unless it is plainly a new copy.
    const newCopy = observation.ttl > ref.ttl || observation.at >= refExpiry - TOLERANCE_MS;
    return newCopy ? { ...view, reference: observation, largestTtl, tracking: view.verdict === 'detected' } : { ...view, largestTtl };
  }
  const expiry = expiryOf(observation);
  const next = (verdict: CacheVerdict, tracking: boolean, countdowns = view.countdowns): CacheView => ({
    verdict,
    reference: observation,
    largestTtl: verdict === 'none' ? observation.ttl : largestTtl,
    tracking,
    countdowns,
  });
  // The same expiry, 2 s or more later: the TTL went down by the time elapsed.
  if (Math.abs(expiry - refExpiry) <= TOLERANCE_MS) {
    const countdowns = view.countdowns + 1;
    if (countdowns >= COUNTDOWNS_TO_DETECT) return next('detected', true, countdowns);
    return next(view.verdict, false, countdowns);
  }
  // A TTL of t whole seconds may have had only a little over t − 1 left.
  if (observation.at < refExpiry - TOLERANCE_MS) {
    if (observation.ttl === ref.ttl) return next('none', false, 0);
    if (observation.ttl > ref.ttl) return next(view.verdict, view.verdict === 'detected');
    return next(view.verdict, false);
  }
  if (view.verdict !== 'detected') return next(view.verdict, false);
  // Fetched after the old copy expired (each expiry known to within a second either way).
  const fetchedAfterExpiry = expiry > refExpiry + largestTtl * 1_000 - 2 * TOLERANCE_MS;
  return next('detected', fetchedAfterExpiry);
}

/** When the tracked copy expires (epoch ms), if a cache is detected and its copy is known. */
export function cachedCopyExpiry(view: CacheView): number | undefined {
  if (view.verdict !== 'detected' || !view.tracking || view.reference === undefined) return undefined;
  return expiryOf(view.reference);
}

function expiryOf(observation: TtlObservation): number {
  return observation.at + observation.ttl * 1_000;
}
