import { MIN_EVIDENCE_MS } from './cache-detect.js';
import { MAX_TIMER_MS } from '../dns/timers.js';
import type { ResolvedOptions } from './options.js';

/** The parts of the options that decide when a name is asked again. */
export type ScheduleOptions = Pick<ResolvedOptions, 'refreshInterval' | 'respectTtl' | 'minInterval' | 'jitter' | 'backoff'>;

/**
 * Delay before the next poll after an answer whose shortest TTL is
 * `ttlSeconds` (Infinity for none).
 *
 * - Without a shorter TTL the mean delay is exactly `refreshInterval`: the
 *   jitter window is symmetric about it, narrowed (never shifted) so that no
 *   poll comes sooner than `minInterval` and, with `respectTtl`, none later
 *   than the records' expiry.
 * - When the TTL is not longer than the interval (`respectTtl`), the poll lands
 *   within the jitter fraction *before* the expiry, never after it, and never
 *   sooner than `minInterval`.
 *
 * `random` is injectable so tests can pin the jitter.
 */
export function delayAfterSuccess(options: ScheduleOptions, ttlSeconds: number, random: () => number = Math.random): number {
  const { refreshInterval, minInterval, jitter } = options;
  const expiry = options.respectTtl && Number.isFinite(ttlSeconds) ? Math.max(ttlSeconds * 1000, minInterval) : Infinity;
  if (expiry <= refreshInterval) {
    // The records expire first (or together with the interval): spread the
    // fleet over the stretch before expiry rather than poll in lock-step at it.
    const low = Math.max(minInterval, expiry * (1 - jitter));
    return Math.round(low + (expiry - low) * random());
  }
  return Math.round(jitterAbout(refreshInterval, minInterval, expiry, jitter, random));
}

/**
 * Delay before retry number `failures` (1 = first failure):
 * `initial × multiplier^(failures−1)`, capped at `backoff.max` — which by
 * default is `refreshInterval`, so a failing poller never asks more rarely
 * than a healthy one, and is never blind for longer than one interval (plus
 * jitter) once DNS answers again. Jittered symmetrically, never below
 * `minInterval`.
 */
export function delayAfterFailure(options: ScheduleOptions, failures: number, random: () => number = Math.random): number {
  const { initial, multiplier } = options.backoff;
  const cap = backoffCap(options);
  const exponent = Math.max(0, failures - 1);
  const base = Math.max(options.minInterval, Math.min(cap, initial * multiplier ** exponent));
  return Math.round(jitterAbout(base, options.minInterval, Infinity, options.jitter, random));
}

/**
 * The wait after a poll that could not ask, from its end. The first failure
 * after an answer by silence (`silence`: a TIMEOUT) is usually a lost
 * datagram, and the poll already spent its deadline's worth of tries on it:
 * the backoff then counts from the poll's start (the next poll at once if the tries took longer), so one loss costs
 * its tries and not a backoff on top. After that (an outage) it counts from
 * the end, and polls are spaced by their duration plus the backoff. Starts
 * stay at least `minInterval` apart either way.
 */
export function delayAfterFailedPoll(options: ScheduleOptions, failures: number, silence: boolean, pollRanMs: number, random: () => number = Math.random): number {
  const delay = delayAfterFailure(options, failures, random);
  return failures > 1 || !silence ? delay : Math.max(0, Math.round(delay - pollRanMs));
}

/**
 * The longest retry delay: `backoff.max` when set, else `refreshInterval`
 * (which also cuts a larger `backoff.initial` down to it: the default
 * initial of 1 s is above a 300 ms interval, and retrying more rarely than
 * polling is what this default exists to prevent).
 */
export function backoffCap(options: Pick<ScheduleOptions, 'backoff' | 'refreshInterval'>): number {
  return options.backoff.max ?? options.refreshInterval;
}

/**
 * A uniform draw from `[mean − w, mean + w)`, where `w` is `jitter × mean`
 * narrowed until the window fits in `[floor, ceiling]`. Symmetric, so the
 * average delay stays `mean` — flooring after jittering would push it up.
 * `mean` must lie within `[floor, ceiling]`.
 */
export function jitterAbout(mean: number, floor: number, ceiling: number, jitter: number, random: () => number = Math.random): number {
  const halfWidth = Math.max(0, Math.min(jitter * mean, mean - floor, ceiling - mean));
  if (halfWidth === 0) return mean;
  return mean - halfWidth + 2 * halfWidth * random();
}

/**
 * How long a poll may run before it is given up — its queries aborted, the
 * poll settled as "could not ask" (the last good set kept; with family 0 the
 * family that answered is used), the next poll started at once:
 * `refreshInterval × (1 + jitter)`, the longest a healthy watcher waits
 * between two polls, so no try keeps a watcher from asking again for longer
 * than that; but never shorter than the timeout the poll's first try has
 * (the client's adaptive timeout for the server it asks first: 5 × its
 * measured latency, 250 ms at least, the configured timeout before three
 * replies were measured) plus {@link DEADLINE_MARGIN_MS}, so a server whose
 * replies take longer than the interval is still heard, and a first try
 * that times out does so on its own: the client counts the server's failure
 * and asks the next server, which a dead first nameserver needs to be
 * passed over at later polls.
 *
 * Each poll given up in a row (`givenUpInARow`) doubles the next one's
 * deadline, up to {@link DEADLINE_PATIENCE} times: a server that slowed down
 * past the interval before its latency was measured — the client would
 * still take its late replies, up to the configured timeout — is heard by
 * the fourth poll, and its measured latency then sets the first try's
 * timeout; a single lost reply costs one poll at the plain deadline.
 */
export function pollDeadline(options: Pick<ScheduleOptions, 'refreshInterval' | 'jitter'>, firstTryTimeoutMs: number, givenUpInARow = 0): number {
  const plain = Math.max(options.refreshInterval * (1 + options.jitter), firstTryTimeoutMs + DEADLINE_MARGIN_MS);
  return Math.round(Math.min(MAX_TIMER_MS, plain * Math.min(DEADLINE_PATIENCE, 2 ** givenUpInARow)));
}

/**
 * A deadline timer that runs this much after it was due (or a line of
 * queries waiting for a slot at the nameserver) means this process, not the
 * network, is behind — a GC pause is shorter, a CPU-starved or overloaded
 * process's turns longer. Giving the poll up then would turn a late poll
 * into a failed one and its retry into more work for a process that cannot
 * keep up (the client waits in line past its timeout for the same reason,
 * query-gate.ts): the deadline is pushed back by its own length, up to
 * {@link DEADLINE_PATIENCE} plain deadlines from the poll's start.
 */
export const BEHIND_MS = 100;
/**
 * See {@link BEHIND_MS} and {@link pollDeadline}: as many plain deadlines as
 * the client's line waits timeouts while its server answers
 * (ANSWERING_WAIT_FACTOR).
 */
export const DEADLINE_PATIENCE = 8;

/**
 * Room after the first try's timeout before a poll is given up: the least
 * time a try gets (c-ares' 250 ms timeout floor), for the next server to
 * answer once the first try timed out.
 */
export const DEADLINE_MARGIN_MS = 250;

/**
 * When a re-resolution requested at `now` may run, given that the last query
 * started at `lastQueryAt`: now, or once `minInterval` has passed.
 */
export function earliestRequestedRun(now: number, lastQueryAt: number | undefined, minInterval: number): number {
  if (lastQueryAt === undefined) return now;
  return Math.max(now, lastQueryAt + minInterval);
}

/**
 * How long after a cached copy's expiry the next poll waits at least: the
 * cache must have dropped the copy (caches count whole seconds, and dnsmasq
 * still serves a copy in its last second), or the poll gets it again.
 */
export const CACHE_EXPIRY_MARGIN_MS = 1_000;

/**
 * The longest wait for a cached copy's expiry: `max(refreshInterval, 30 s)`.
 * A copy that lives longer (a cache that keeps answers for hours, a TTL
 * counting down from 86,400) is asked about again at least this often, so
 * the watcher is never blind for longer than one wait (see
 * {@link cacheWaitLimit}) — a cache that went away, or a server that hands
 * out long countdowns but changes its records, is seen. 30 s because the
 * common caches in front of a cluster's DNS keep a copy that long (NodeLocal
 * DNSCache and kubeadm's `ttl 30`): they keep one poll per copy. Never below
 * `refreshInterval`: a user who asked for rare polls gets no more than that.
 */
export const CACHE_WAIT_CAP_MS = 30_000;

export function cacheWaitCap(options: Pick<ScheduleOptions, 'refreshInterval'>): number {
  return Math.max(options.refreshInterval, CACHE_WAIT_CAP_MS);
}

/**
 * The longest delay {@link delayAfterCachedAnswer} returns: the cap, the
 * margin and the spread (33 s with the defaults, whatever the TTL).
 */
export function cacheWaitLimit(options: ScheduleOptions, cacheTtlSeconds: number): number {
  return Math.max(options.minInterval, cacheWaitCap(options) + CACHE_EXPIRY_MARGIN_MS + cacheSpread(options, cacheTtlSeconds));
}

/**
 * Delay before the next poll when a cache answers and its copy expires in
 * `expiresInMs` (`respectTtl`): just after the expiry, never before it —
 * asking a cache sooner returns the same copy, so neither `refreshInterval`
 * nor the jitter window may pull the poll in. A fleet behind one cache sees
 * one expiry, so the polls are spread over a window *after* it:
 * `margin + U[0, spread)`, the spread as wide as the jitter window of
 * polling on the interval (see `cacheSpread`). Never below `minInterval`.
 * A copy that expires later than {@link cacheWaitCap} is waited for that
 * long only (then the margin and the spread, as after an expiry): the poll
 * gets the same copy, counting down, and the watcher then waits again.
 */
export function delayAfterCachedAnswer(
  options: ScheduleOptions,
  expiresInMs: number,
  cacheTtlSeconds: number,
  random: () => number = Math.random,
): number {
  const wait = Math.min(Math.max(0, expiresInMs), cacheWaitCap(options));
  const delay = wait + CACHE_EXPIRY_MARGIN_MS + cacheSpread(options, cacheTtlSeconds) * random();
  return Math.round(Math.min(MAX_TIMER_MS, Math.max(options.minInterval, delay)));
}

/**
 * Delay of a poll that checks a cache is still there (cache-detect.ts,
 * `probeDue`): inside the copy, where the cache's TTL has counted down
 * while the records' owner would repeat its own. About `refreshInterval`
 * after the answer (the jitter window narrowed to fit), at least
 * `MIN_EVIDENCE_MS` after it and `MIN_EVIDENCE_MS` before the copy expires
 * — closer than that, a countdown and a repeat look alike — and never below
 * `minInterval`. Undefined when the copy has no such room (under about 4 s
 * left): then the poll waits for the expiry, and the next copy is probed.
 */
export function delayForCacheProbe(options: ScheduleOptions, expiresInMs: number, random: () => number = Math.random): number | undefined {
  const earliest = Math.max(options.minInterval, MIN_EVIDENCE_MS);
  const latest = expiresInMs - MIN_EVIDENCE_MS;
  if (latest < earliest) return undefined;
  const mean = Math.min(latest, Math.max(earliest, options.refreshInterval));
  return Math.round(jitterAbout(mean, earliest, latest, options.jitter, random));
}

/**
 * Width of the window after a cached copy's expiry over which polls are
 * spread: `2 × jitter × min(refreshInterval, cached TTL)`, the width of the
 * jitter window when polling on the interval, or on the TTL when that is
 * shorter. With the defaults 2 s: a change waits 1-3 s after the expiry
 * (against up to 6 s polling on the interval), and a fleet's polls of one
 * copy are spread as widely as without a cache.
 */
export function cacheSpread(options: ScheduleOptions, cacheTtlSeconds: number): number {
  return 2 * options.jitter * Math.min(options.refreshInterval, cacheTtlSeconds * 1_000);
}

/**
 * How late a change can reach a watcher behind a cache that keeps a copy
 * `cacheTtlSeconds` (ms): the copy served when the change was made lives
 * that long (+1 s: a cache counts whole seconds), then the next poll comes
 * at most the longest wait after an expiry — one interval with jitter when
 * polling on the interval, the margin and the spread when waiting for the
 * expiry (whichever is longer, since a watcher that loses track of the copy
 * polls on its interval).
 */
export function cacheStalenessBound(options: ScheduleOptions, cacheTtlSeconds: number): number {
  const onInterval = options.refreshInterval * (1 + options.jitter);
  const afterExpiry = options.respectTtl ? CACHE_EXPIRY_MARGIN_MS + cacheSpread(options, cacheTtlSeconds) : 0;
  return Math.round(cacheTtlSeconds * 1_000 + 1_000 + Math.max(onInterval, afterExpiry));
}

/**
 * A watcher whose search-list answer moved to a later candidate (the one it
 * polled said NXDOMAIN, a wildcard further down answered) asks the earlier
 * candidates again every {@link RECHECK_EVERY_POLLS}th poll, and at the
 * first poll {@link RECHECK_MAX_MS} after the last recheck if that comes
 * sooner, until one of them answers. The name that answered before is then
 * polled again within five polls (with the default 5 s interval: 25 s + the
 * jitter) or 30 s + one poll of answering again, and the recheck costs the
 * earlier candidates' queries on one poll in five at most. A watcher whose
 * first walk found a later candidate never rechecks: its walk asked the
 * earlier ones and they said none.
 */
export const RECHECK_EVERY_POLLS = 5;
/** See {@link RECHECK_EVERY_POLLS}: keeps the return within 60 s for intervals up to 24 s. */
export const RECHECK_MAX_MS = 30_000;
