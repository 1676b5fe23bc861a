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
 *
 * A verdict that can change its mind. Waiting for each copy's expiry means
 * every answer after detection is a fresh copy, with the cache's full TTL:
 * exactly what the owner of the records would send if the cache went away
 * (its TTL, repeated). Such answers are no evidence either way, so the
 * verdict has to be checked where the two differ — inside a copy's life,
 * where a cache's TTL has counted down and the owner's has not. The
 * countdown last seen (`confirmedAt`) is the evidence; once it is
 * `RECONFIRM_MS` old, the next poll is a probe inside the copy (about
 * `refreshInterval` after the answer; schedule.ts `delayForCacheProbe`)
 * instead of after its expiry:
 * - the TTL counted down: still a cache, `confirmedAt` moves on;
 * - the same TTL again: the owner answered (the cache went away, or was
 *   never in the way of this name): `none`, and polling is back on the
 *   interval at once;
 * - another TTL: another copy (another cache, or the owner with a TTL of
 *   its own): the copy is no longer tracked and the watcher polls on its
 *   interval, where the next answers tell a countdown from a repeat.
 * A poll that the wait cap (schedule.ts `cacheWaitCap`) puts inside a long
 * copy is such a probe too. The cost: at most one extra query per
 * `RECONFIRM_MS` per name and family, none while the cap already asks
 * inside each copy.
 */

/** `unknown`: not enough answers yet; `none`: the TTL repeats (fresh answers); `detected`: it counts down. */
type CacheVerdict = 'unknown' | 'none' | 'detected';

/** One answer: when it arrived (clock ms) and its shortest TTL (seconds). */
interface TtlObservation {
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
  /** When a countdown was last seen (clock ms): the last evidence of a cache in front. */
  confirmedAt: number | undefined;
}

/** Whole-second TTLs and round trips: two expiry times this close are the same copy's. */
const TOLERANCE_MS = 1_000;
/** Below this between two answers, a countdown (≥ 1 s less) cannot be told from a repeat. */
export const MIN_EVIDENCE_MS = 2 * TOLERANCE_MS;

/**
 * Countdowns it takes to say "cache": one can be an owner that changed its
 * TTL by just the time elapsed (a re-published record); two in a row,
 * with no repeat between, cannot.
 */
const COUNTDOWNS_TO_DETECT = 2;

/**
 * How old the last countdown may be before a detected cache is checked
 * again (see {@link probeDue}). With the defaults a cache that goes away is
 * noticed within this, one wait behind the cache (at most 33 s) and one
 * probe delay (at most 6 s): 59 s. Behind a 30 s cache every copy is
 * probed (two polls per copy instead of one); behind a 5 s cache one copy
 * in three.
 */
export const RECONFIRM_MS = 20_000;

export const NO_CACHE_VIEW: CacheView = Object.freeze({
  verdict: 'unknown',
  reference: undefined,
  largestTtl: undefined,
  tracking: false,
  countdowns: 0,
  confirmedAt: undefined,
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
  const next = (verdict: CacheVerdict, tracking: boolean, countdowns = view.countdowns, confirmedAt = view.confirmedAt): CacheView => ({
    verdict,
    reference: observation,
    largestTtl: verdict === 'none' ? observation.ttl : largestTtl,
    tracking,
    countdowns,
    confirmedAt: verdict === 'none' ? undefined : confirmedAt,
  });
  // The same expiry, 2 s or more later: the TTL went down by the time elapsed.
  if (Math.abs(expiry - refExpiry) <= TOLERANCE_MS) {
    const countdowns = view.countdowns + 1;
    if (countdowns >= COUNTDOWNS_TO_DETECT) return next('detected', true, countdowns, observation.at);
    return next(view.verdict, false, countdowns, observation.at);
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

/**
 * Whether the next poll should check the cache is still there, inside the
 * tracked copy, rather than wait for its expiry: a cache is detected, its
 * copy tracked, and the last countdown is {@link RECONFIRM_MS} old or more
 * at `now`.
 */
export function probeDue(view: CacheView, now: number): boolean {
  if (cachedCopyExpiry(view) === undefined) return false;
  return view.confirmedAt === undefined || now - view.confirmedAt >= RECONFIRM_MS;
}

/** When the tracked copy expires (clock ms), if a cache is detected and its copy is known. */
export function cachedCopyExpiry(view: CacheView): number | undefined {
  if (view.verdict !== 'detected' || !view.tracking || view.reference === undefined) return undefined;
  return expiryOf(view.reference);
}

function expiryOf(observation: TtlObservation): number {
  return observation.at + observation.ttl * 1_000;
}
