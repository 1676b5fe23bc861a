import { resolveOptions, type ResolvedOptions, type WatchOptions } from '../watch/options.js';

/** Channel option keys a channel may set to override `register()`'s options for itself. */
export const CHANNEL_OPTION_KEYS = {
  'grpc-dns-watch.refresh_interval_ms': 'refreshInterval',
  'grpc-dns-watch.min_interval_ms': 'minInterval',
  'grpc-dns-watch.respect_ttl': 'respectTtl',
  'grpc-dns-watch.jitter': 'jitter',
  'grpc-dns-watch.family': 'family',
  'grpc-dns-watch.ask_both_families': 'askBothFamilies',
  'grpc-dns-watch.max_addresses': 'maxAddresses',
} as const satisfies Record<string, keyof WatchOptions>;

const PREFIX = 'grpc-dns-watch.';
/** Options that are booleans: a channel option may give them as 1 / 0. */
const BOOLEAN_OPTIONS: ReadonlySet<keyof WatchOptions> = new Set(['respectTtl', 'askBothFamilies']);
/** grpc-js's own rate limit for its dns resolver; honoured as the channel's minInterval. */
const GRPC_MIN_TIME_KEY = 'grpc.dns_min_time_between_resolutions_ms';

/** The channel options a polling resolver's channel may set: the schedule's (family, TTLs and subsets are DNS's). */
const POLLING_CHANNEL_OPTION_KEYS = ['grpc-dns-watch.refresh_interval_ms', 'grpc-dns-watch.min_interval_ms', 'grpc-dns-watch.jitter'] as const;

/**
 * The options one channel runs with: `register()`'s, overridden by its
 * `grpc-dns-watch.*` channel options. Bad values throw a TypeError naming the
 * channel option, when the channel is created. `pollingScheme`: the channel
 * of a polling resolver, which takes only {@link POLLING_CHANNEL_OPTION_KEYS}.
 */
export function channelOptions(base: ResolvedOptions, options: Record<string, unknown>, pollingScheme?: string): ResolvedOptions {
  const overrides: WatchOptions = {};
  let any = false;
  for (const [key, value] of Object.entries(options)) {
    if (!key.startsWith(PREFIX)) continue;
    const option = (CHANNEL_OPTION_KEYS as Record<string, keyof WatchOptions>)[key];
    if (!option) {
      throw new TypeError(`Unknown channel option "${key}"; accepted: ${Object.keys(CHANNEL_OPTION_KEYS).join(', ')}`);
    }
    if (pollingScheme !== undefined && !(POLLING_CHANNEL_OPTION_KEYS as readonly string[]).includes(key)) {
      throw new TypeError(`Channel option "${key}" does not apply to the polling resolver of scheme "${pollingScheme}"; accepted: ${POLLING_CHANNEL_OPTION_KEYS.join(', ')}`);
    }
    // grpc channel options are numbers or strings: 1/0 stand for booleans.
    (overrides as Record<string, unknown>)[option] = BOOLEAN_OPTIONS.has(option) && typeof value === 'number' ? value !== 0 : value;
    any = true;
  }
  const grpcMinTime = options[GRPC_MIN_TIME_KEY];
  if (overrides.minInterval === undefined && grpcMinTime !== undefined) {
    if (typeof grpcMinTime !== 'number' || !Number.isFinite(grpcMinTime) || grpcMinTime < 0) {
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- whatever the user passed, printed as given
      throw new TypeError(`Channel option "${GRPC_MIN_TIME_KEY}" must be a number of milliseconds >= 0, got ${String(grpcMinTime)}`);
    }
    // grpc-js's default elsewhere is 30 s; as a floor it must not stop the polling we were asked for.
    overrides.minInterval = Math.min(grpcMinTime, overrides.refreshInterval ?? base.refreshInterval);
    any = true;
  }
  if (!any) return base;
  return resolveOptions(overrides, base, [], channelOptionSubject);
}

/** A message names the channel option the user set, not the option it overrides. */
function channelOptionSubject(option: string): string {
  const key = Object.entries(CHANNEL_OPTION_KEYS).find(([, name]) => name === option)?.[0];
  return key ? `Channel option "${key}"` : `Option "${option}"`;
}
