import type { DnsErrorCode } from '../dns/errors.js';
import type { NameserverStatus } from '../dns/nameserver-state.js';
import type { Family } from '../dns/types.js';

/** A nameserver's status (src/dns/nameserver-state.ts) as stats show it. */
export function nameserverStats(status: NameserverStatus): WatcherStats['nameservers'][number] {
  return { server: status.server, tryTimeoutMs: status.timeoutMs, latencyMs: status.latencyMs ?? undefined, healthy: status.healthy };
}

/**
 * A point-in-time view of one watcher, for diagnostics and metrics. Units as
 * everywhere in the API: durations in ms, TTLs in seconds (docs/api-conventions.md).
 */
export interface WatcherStats {
  name: string;
  family: Family;
  /** Channels and watch() handles sharing this watcher. */
  subscribers: number;
  /**
   * What the watcher believes: `addresses` (a set), `none` (DNS said there
   * is none), `failed` (could not ask, no set yet) or `unknown` (no answer yet).
   */
  state: 'unknown' | 'addresses' | 'none' | 'failed';
  /** The current set, sorted (empty unless state is 'addresses'). */
  addresses: string[];
  /**
   * Addresses the last answer held: more than `addresses` when the
   * `maxAddresses` option picked this process's subset of them.
   */
  addressesAvailable: number | undefined;
  /** Resolutions run, and how many of them could not ask DNS. */
  queries: number;
  failures: number;
  consecutiveFailures: number;
  /** The last failure, until an answer comes. */
  lastError: { code: DnsErrorCode; message: string } | undefined;
  lastQueryAt: Date | undefined;
  /** When the set last changed (the first set counts as a change). */
  lastChangeAt: Date | undefined;
  /** True while a query is in flight ("querying now"); nextPollAt is then undefined. */
  querying: boolean;
  /**
   * When the next poll is due; for a first poll waiting its turn behind many
   * others (start-up pacing), when it is expected. Undefined while querying.
   */
  nextPollAt: Date | undefined;
  /**
   * The fully qualified name DNS is asked for, with its trailing dot: the
   * search-list candidate that answered, polled directly. Undefined until DNS
   * answers (the search list is walked), and when /etc/hosts or an IP literal
   * answers.
   */
  polledName: string | undefined;
  /**
   * Whether the answers come from a cache: `detected` when an unchanged set
   * comes back with its TTL counting down between polls, `none` when the TTL
   * repeats (the server that owns the records), `unknown` until two answers
   * tell.
   */
  cache: 'unknown' | 'none' | 'detected';
  /** With a cache detected: the largest TTL seen, seconds — how long the cache keeps a copy. */
  cacheTtl: number | undefined;
  /**
   * With a cache detected: how late a change can reach this watcher, ms —
   * `cacheTtl` + 1 s + the longest wait for the next poll, whatever
   * `refreshInterval` says (docs/design.md, "Scheduling").
   */
  stalenessBoundMs: number | undefined;
  /**
   * The address families asked at every poll: `[4, 6]` with family 0 until
   * one is demoted, then the other alone; `[4]` or `[6]` with family 4 or 6.
   */
  familiesEveryPoll: Array<4 | 6>;
  /**
   * With family 0: the family demoted (NODATA poll after poll while the
   * other answers), and when it is next asked — at the first poll that
   * starts at or after `nextAskAt`. Undefined while both are asked every poll.
   */
  demotedFamily: { family: 4 | 6; nextAskAt: Date } | undefined;
  /**
   * The nameservers its polls ask, in resolv.conf's order (or the
   * `nameservers` option's), each with the try timeout in use now, its
   * measured latency and its health; shared by every name with the same DNS
   * settings. Empty until the first poll has read resolv.conf, and for a
   * polling resolver.
   */
  nameservers: Array<{
    /** `host:port`, `[v6]:port` for IPv6. */
    server: string;
    /**
     * The timeout a first try to it has now, ms: the configured `timeout`
     * until it has answered 3 times, then 5 × its average reply latency,
     * within [250 ms, `timeout`] (docs/reliability.md). A query's later
     * rounds wait longer (the `attempt` event's `timeoutMs`).
     */
    tryTimeoutMs: number;
    /** Its average reply latency, ms, over the window the timeout is taken from; undefined before 3 replies. */
    latencyMs: number | undefined;
    /** False after a timeout, SERVFAIL, REFUSED or socket error, until it answers again: asked after healthy ones, probed now and then. */
    healthy: boolean;
  }>;
}

/** What a source adds to its poller's stats (src/watch/source.ts); a source without any reads as none. */
export type SourceStats = Pick<WatcherStats, 'polledName' | 'cache' | 'cacheTtl' | 'stalenessBoundMs' | 'familiesEveryPoll' | 'demotedFamily' | 'nameservers'>;

const BOTH: ReadonlyArray<4 | 6> = Object.freeze([4, 6] as const);

/** The families asked at every poll: those of `family`, less the one demoted. */
export function familiesEveryPoll(family: Family, demoted: 4 | 6 | undefined): Array<4 | 6> {
  if (family !== 0) return [family];
  return demoted === undefined ? [...BOTH] : [demoted === 4 ? 6 : 4];
}

/** What the poller shows for a source without stats of its own. */
export function noSourceStats(family: Family): SourceStats {
  return { polledName: undefined, cache: 'unknown', cacheTtl: undefined, stalenessBoundMs: undefined, familiesEveryPoll: familiesEveryPoll(family, undefined), demotedFamily: undefined, nameservers: [] };
}
