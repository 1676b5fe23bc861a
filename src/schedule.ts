import type { ResolvedOptions } from './options.js';

/** The parts of the options that decide when a name is asked again. */
export type ScheduleOptions = Pick<ResolvedOptions, 'refreshInterval' | 'respectTtl' | 'minInterval' | 'jitter' | 'backoff'>;

/**
 * Delay before the next poll after a successful answer whose shortest TTL is
 * `ttlSeconds`: the refresh interval, or sooner when the records expire sooner
 * (never below `minInterval`), then jittered. `random` is injectable so tests
 * can pin the jitter.
 */
export function delayAfterSuccess(options: ScheduleOptions, ttlSeconds: number, random: () => number = Math.random): number {
  let delay = options.refreshInterval;
  if (options.respectTtl && Number.isFinite(ttlSeconds)) {
    delay = Math.min(delay, Math.max(ttlSeconds * 1000, options.minInterval));
  }
  return floorAt(applyJitter(delay, options.jitter, random), options.minInterval);
}

/** Delay before retry number `failures` (1 = first failure): exponential backoff, capped, jittered. */
export function delayAfterFailure(options: ScheduleOptions, failures: number, random: () => number = Math.random): number {
  const { initial, max, multiplier } = options.backoff;
  const exponent = Math.max(0, failures - 1);
  const raw = Math.min(max, initial * multiplier ** exponent);
  return floorAt(applyJitter(raw, options.jitter, random), options.minInterval);
}

/** `delay` scaled by a uniform factor in [1 - jitter, 1 + jitter). */
export function applyJitter(delay: number, jitter: number, random: () => number = Math.random): number {
  if (jitter === 0) return delay;
  return delay * (1 - jitter + 2 * jitter * random());
}

/**
 * When a re-resolution requested at `now` may run, given that the last query
 * started at `lastQueryAt`: now, or once `minInterval` has passed.
 */
export function earliestRequestedRun(now: number, lastQueryAt: number | undefined, minInterval: number): number {
  if (lastQueryAt === undefined) return now;
  return Math.max(now, lastQueryAt + minInterval);
}

function floorAt(delay: number, floor: number): number {
  return Math.round(Math.max(delay, floor));
}
