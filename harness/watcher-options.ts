/**
 * The options a Watcher is built with in unit tests: a 5 s interval, TTLs
 * not followed, no jitter, the default backoff, IPv4 only; `overrides` on
 * top. Pure: no socket, no timer.
 */
import { DEFAULTS } from '../src/watch/options.js';
import type { WatcherOptions } from '../src/watch/watcher.js';

export function watcherOptions(overrides: Partial<WatcherOptions> = {}): WatcherOptions {
  return {
    refreshInterval: 5_000,
    respectTtl: false,
    minInterval: 1_000,
    jitter: 0,
    backoff: { ...DEFAULTS.backoff },
    family: 4,
    ...overrides,
  };
}
