import { MAX_ATTEMPTS, parseNameserver } from '../dns/resolv-conf.js';
import { MAX_TIMER_MS } from '../dns/timers.js';
import type { Family, Nameserver } from '../dns/types.js';
import { MAX_ADDRESSES_OPTION_LIMIT } from './subset.js';

/** Retry schedule after consecutive failures: `initial * multiplier^(n-1)`, capped at `max`. */
export interface BackoffOptions {
  /** First retry delay, ms. Default 1000. */
  initial?: number;
  /**
   * Largest retry delay, ms. Default: `refreshInterval`, so a failing poller
   * asks no more rarely than a healthy one. A larger value shields a
   * struggling DNS server, at the price of noticing its recovery later.
   */
  max?: number;
  /** Growth per consecutive failure, 1 to 100. Default 2. */
  multiplier?: number;
}

/** What a user may pass to `register()` / `watch()`. Every field is optional. */
export interface WatchOptions {
  /** Poll period, ms. Default 5000. */
  refreshInterval?: number;
  /**
   * Poll no later than the records' TTL says they expire (never sooner than
   * `minInterval`). Behind a cache (the TTL counts down between polls), poll
   * just after each cached copy expires instead, even past `refreshInterval`:
   * asking sooner returns the same copy. Default true.
   */
  respectTtl?: boolean;
  /** Floor between two queries for one name, also for re-resolution requests from a channel, ms. Default 1000, or `refreshInterval` when that is shorter. */
  minInterval?: number;
  /** ± fraction applied to every delay so a fleet never polls in lock-step; 0 <= jitter < 1. Default 0.2. */
  jitter?: number;
  /** Retry delays after failures. Default 1 s, doubling, up to `refreshInterval`. */
  backoff?: BackoffOptions;
  /** 4 (A), 6 (AAAA) or 0 (both, asked in parallel). Default 0. */
  family?: Family;
  /**
   * With family 0, ask A and AAAA at every poll. Default false: a family
   * that answers NODATA on 3 polls in a row while the other answers is asked
   * about once a minute (53 s after it was last asked, at the next poll,
   * with the defaults) until it has records — 1.09 queries per poll in a
   * single-stack cluster instead of 2 — so a Service that becomes dual-stack
   * reaches the channel within 60 s, not one interval.
   */
  askBothFamilies?: boolean;
  /** DNS servers to ask instead of /etc/resolv.conf's: `1.2.3.4`, `1.2.3.4:53`, `[::1]:53`. */
  nameservers?: readonly (string | Nameserver)[];
  /** Per-try timeout, ms; default from resolv.conf (`options timeout:`, 5 s). */
  timeout?: number;
  /** Rounds over the nameservers, 1 to 10; default from resolv.conf (`options attempts:`, 2; the file's value capped at 5 as glibc does). */
  attempts?: number;
  /** resolv.conf to read; default `/etc/resolv.conf`. */
  resolvConfPath?: string;
  /** hosts file consulted before DNS; default `/etc/hosts`; `false` skips it. */
  hostsPath?: string | false;
  /**
   * Use at most this many addresses of a name: a random subset, stable from
   * poll to poll, different in every process, so a fleet still covers every
   * pod. Default: every address.
   */
  maxAddresses?: number;
}

/** Options after defaults and validation: what the watcher runs on. */
export interface ResolvedOptions {
  refreshInterval: number;
  respectTtl: boolean;
  minInterval: number;
  jitter: number;
  /** `max` undefined: capped at `refreshInterval` (see schedule.ts `backoffCap`). */
  backoff: { initial: number; max: number | undefined; multiplier: number };
  family: Family;
  askBothFamilies: boolean;
  nameservers: Nameserver[] | undefined;
  timeout: number | undefined;
  attempts: number | undefined;
  resolvConfPath: string | undefined;
  hostsPath: string | false | undefined;
  maxAddresses: number | undefined;
}

/**
 * The default of each option (ms, as the options are): refreshInterval 5 s,
 * respectTtl on, minInterval 1 s, jitter ±20 %, backoff 1 s doubling up to
 * refreshInterval, family 0 (A and AAAA), a family that answers NODATA
 * poll after poll asked about once a minute. Why each: docs/design.md, "Defaults".
 */
export const DEFAULTS = Object.freeze({
  refreshInterval: 5_000,
  respectTtl: true,
  minInterval: 1_000,
  jitter: 0.2,
  backoff: Object.freeze({ initial: 1_000, max: undefined as number | undefined, multiplier: 2 }),
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- widens DEFAULTS.family from 0 to Family
  family: 0 as Family,
  askBothFamilies: false,
});

const BACKOFF_KEYS = new Set(['initial', 'max', 'multiplier']);
const KNOWN_KEYS = new Set([
  'refreshInterval', 'respectTtl', 'minInterval', 'jitter', 'backoff', 'family', 'askBothFamilies',
  'nameservers', 'timeout', 'attempts', 'resolvConfPath', 'hostsPath', 'maxAddresses',
]);

/**
 * How a message names the option it is about, where the user set it: an
 * API option (`Option "refreshInterval"`), a channel option, a command-line
 * flag. The rest of the message is the same wherever the value came from.
 */
type OptionSubject = (option: string) => string;

const API_OPTION: OptionSubject = (option) => `Option "${option}"`;

/**
 * Apply defaults and validate. Throws a TypeError naming the option and what is accepted.
 * `callerKeys`: the caller's own options, taken out before this call but
 * accepted from the user all the same (register()'s `grpc`, `replaceBuiltin`),
 * so the list of accepted options in the error is the whole list.
 * `subject`: how the messages name an option (default: as an API option).
 */
export function resolveOptions(
  options: WatchOptions = {},
  base: ResolvedOptions = defaultOptions(),
  callerKeys: readonly string[] = [],
  subject: OptionSubject = API_OPTION,
): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`grpc-dns-watch options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) {
      throw new TypeError(`Unknown grpc-dns-watch option "${key}"; accepted: ${[...KNOWN_KEYS, ...callerKeys].join(', ')}`);
    }
  }
  const backoffInput = options.backoff ?? {};
  if (backoffInput === null || typeof backoffInput !== 'object') {
    throw new TypeError(`${subject('backoff')} must be an object { initial, max, multiplier }, got ${describe(backoffInput)}`);
  }
  for (const key of Object.keys(backoffInput)) {
    if (!BACKOFF_KEYS.has(key)) {
      throw new TypeError(`Unknown grpc-dns-watch option "backoff.${key}"; accepted: backoff.initial, backoff.max, backoff.multiplier`);
    }
  }
  const resolved: ResolvedOptions = {
    refreshInterval: milliseconds(subject('refreshInterval'), options.refreshInterval, base.refreshInterval, 1),
    respectTtl: boolean(subject('respectTtl'), options.respectTtl, base.respectTtl),
    minInterval: milliseconds(subject('minInterval'), options.minInterval, base.minInterval, 0),
    jitter: fraction(subject('jitter'), options.jitter, base.jitter),
    backoff: {
      initial: milliseconds(subject('backoff.initial'), backoffInput.initial, base.backoff.initial, 1),
      max: backoffInput.max === undefined ? base.backoff.max : milliseconds(subject('backoff.max'), backoffInput.max, 0, 1),
      multiplier: multiplier(subject('backoff.multiplier'), backoffInput.multiplier, base.backoff.multiplier),
    },
    family: family(subject('family'), options.family, base.family),
    askBothFamilies: boolean(subject('askBothFamilies'), options.askBothFamilies, base.askBothFamilies),
    nameservers: options.nameservers === undefined ? base.nameservers : nameservers(options.nameservers, subject),
    timeout: options.timeout === undefined ? base.timeout : milliseconds(subject('timeout'), options.timeout, 0, 1),
    attempts: options.attempts === undefined ? base.attempts : integer(subject('attempts'), options.attempts, 1, MAX_ATTEMPTS),
    resolvConfPath: optionalString(subject('resolvConfPath'), options.resolvConfPath, base.resolvConfPath),
    hostsPath: options.hostsPath === false ? false : hostsPath(subject('hostsPath'), options.hostsPath, base.hostsPath),
    maxAddresses:
      options.maxAddresses === undefined ? base.maxAddresses : integer(subject('maxAddresses'), options.maxAddresses, 1, MAX_ADDRESSES_OPTION_LIMIT),
  };
  if (resolved.refreshInterval < resolved.minInterval) {
    // A short refreshInterval alone is a clear wish to poll that often.
    if (options.minInterval === undefined) resolved.minInterval = resolved.refreshInterval;
    else {
      throw new TypeError(
        `${subject('minInterval')} (${resolved.minInterval}) must not exceed "refreshInterval" (${resolved.refreshInterval})`,
      );
    }
  }
  if (resolved.backoff.max !== undefined && resolved.backoff.max < resolved.backoff.initial) {
    throw new TypeError(
      `${subject('backoff.max')} (${resolved.backoff.max}) must be >= "backoff.initial" (${resolved.backoff.initial})`,
    );
  }
  return resolved;
}

function defaultOptions(): ResolvedOptions {
  return {
    ...DEFAULTS,
    backoff: { ...DEFAULTS.backoff },
    nameservers: undefined,
    timeout: undefined,
    attempts: undefined,
    resolvConfPath: undefined,
    hostsPath: undefined,
    maxAddresses: undefined,
  };
}

function milliseconds(subject: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > MAX_TIMER_MS) {
    throw new TypeError(`${subject} must be a number of milliseconds from ${min} to ${MAX_TIMER_MS}, got ${describe(value)}`);
  }
  return value;
}

function integer(subject: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new TypeError(`${subject} must be an integer from ${min} to ${max}, got ${describe(value)}`);
  }
  return value;
}

function fraction(subject: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value >= 1) {
    throw new TypeError(`${subject} must be a number >= 0 and < 1 (a fraction of each delay), got ${describe(value)}`);
  }
  return value;
}

function multiplier(subject: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 1 || value > 100) {
    throw new TypeError(`${subject} must be a number from 1 to 100, got ${describe(value)}`);
  }
  return value;
}

function boolean(subject: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${subject} must be true or false, got ${describe(value)}`);
  return value;
}

function family(subject: string, value: unknown, fallback: Family): Family {
  if (value === undefined) return fallback;
  if (value !== 0 && value !== 4 && value !== 6) {
    throw new TypeError(`${subject} must be 4 (IPv4), 6 (IPv6) or 0 (both), got ${describe(value)}`);
  }
  return value;
}

function optionalString(subject: string, value: unknown, fallback: string | undefined): string | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || value.length === 0) {
    throw new TypeError(`${subject} must be a non-empty file path, got ${describe(value)}`);
  }
  return value;
}

/** `false` (skip the hosts file) must survive being the base of per-channel overrides. */
function hostsPath(subject: string, value: unknown, fallback: string | false | undefined): string | false | undefined {
  if (value === undefined) return fallback;
  return optionalString(subject, value, undefined);
}

function nameservers(value: unknown, subject: OptionSubject): Nameserver[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new TypeError(`${subject('nameservers')} must be a non-empty array such as ["10.96.0.10", "[fd00::10]:53"], got ${describe(value)}`);
  }
  return value.map((entry: unknown, index) => {
    if (typeof entry === 'string') {
      try {
        return parseNameserver(entry);
      } catch (error) {
        throw new TypeError(`${subject(`nameservers[${index}]`)}: ${(error as Error).message}`);
      }
    }
    if (entry && typeof entry === 'object' && typeof (entry as Nameserver).host === 'string') {
      const { host, port = 53 } = entry as Partial<Nameserver> & { host: string };
      try {
        return parseNameserver(host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
      } catch (error) {
        throw new TypeError(`${subject(`nameservers[${index}]`)}: ${(error as Error).message}`);
      }
    }
    throw new TypeError(`${subject(`nameservers[${index}]`)} must be a string like "10.0.0.10:53" or { host, port }, got ${describe(entry)}`);
  });
}

export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : typeof value;
}
