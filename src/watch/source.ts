/**
 * The seam between the poller (src/watch/poller.ts) and what it polls. The
 * poller owns everything that is the same for any address source: its
 * subscribers, the schedule (interval, minInterval, jitter, backoff), each
 * poll's deadline, the contract, stats and reporting. A source owns how one
 * poll is asked and what its answers teach about the next: the DNS source
 * (src/watch/dns-source.ts) remembers the search-list candidate that
 * answered and rechecks earlier ones, tells a cache in front by the TTLs,
 * and reports each family's addresses as they arrive.
 *
 * A poll: the poller calls {@link AddressSource.ask} with itself as the
 * {@link PollContext}, never twice at once for one source. The promise
 * resolves with the addresses (a family the source could not ask listed in
 * `failedFamilies`: its last good addresses are kept) or rejects with a
 * DnsError — authoritative (NXDOMAIN, NODATA: "the source says none") or not
 * ("could not ask"); anything else it throws is "could not ask" too. When
 * the poll's deadline passes, `signal` aborts: the source gives its work up
 * and rejects. Then {@link AddressSource.settled} hears how the poll ended
 * and may hint at the next one.
 */
import type { AbortSignalLike, Family, ResolvedAddress } from '../dns/types.js';
import type { Outcome, SourceAnswer } from './contract.js';
import type { SourceStats } from './stats.js';

/** What a poll hands its source: the poller itself, one object for every poll (nothing allocated per poll). */
export interface PollContext {
  /**
   * Aborts at the poll's deadline or when the poller stops, with a DnsError
   * as its reason. Not an `AbortSignal` (one costs about 12 µs to make and
   * 780 bytes to keep): a source that needs one makes it from this.
   */
  readonly signal: AbortSignalLike | undefined;
  /** When this poll started, on the poller's clock (ms). */
  readonly startedAt: number;
  /** Milliseconds from now to this poll's deadline (0 once it has passed): what is left for the source's tries. */
  remainingMs(): number;
  /**
   * Part of the answer before the poll ends: `family`'s addresses, complete,
   * while the other family is still asked (its last good addresses are
   * kept). A change is delivered at once (in the next turn of the event
   * loop, so a family answering in the same turn joins it).
   */
  partial(family: 4 | 6, addresses: readonly ResolvedAddress[]): void;
}

/**
 * A hint for the schedule after an answer: a cache in front hands out a
 * copy that expires at `expiresAt` (poller clock, ms) and keeps copies `ttl`
 * seconds. With `respectTtl` the next poll waits for the expiry (asking
 * sooner gets the same copy), or — `probe` — checks inside the copy that
 * the cache is still there (src/watch/schedule.ts).
 */
export interface CachedCopy {
  readonly expiresAt: number;
  readonly ttl: number;
  readonly probe: boolean;
  /**
   * A poll the source owes by then (poller clock, ms), whatever the copy:
   * DNS, a demoted family's check, whose bound a wait behind a cache (up to
   * 33 s with the defaults) would otherwise break.
   */
  readonly askDueAt?: number | undefined;
}

export interface AddressSource<Answer extends SourceAnswer = SourceAnswer> {
  /** What is polled, as traces, events and stats name it. */
  readonly name: string;
  /** The address families asked for: 4, 6 or 0 (both). */
  readonly family: Family;
  /** Ask once (see the notes above). */
  ask(poll: PollContext): Promise<Answer>;
  /**
   * How the poll ended, once the poller believes it (`sameSet`: an answer
   * whose address set is the one held before), at `at` on the poller's
   * clock: a cached copy to wait for, or undefined to poll by the interval
   * and the answer's shortest TTL. Not called for a poll the poller stopped.
   */
  settled?(outcome: Outcome<Answer>, sameSet: boolean, at: number): CachedCopy | undefined;
  /** The timeout of a poll's first try, ms: the deadline is never shorter (plus a margin). */
  firstTryTimeoutMs?(): number;
  /** The timeout the running (or last) poll's first try had, ms, for its `query` event; undefined when it sent none. */
  pollTryTimeoutMs?(): number | undefined;
  /** Whether this process's asks wait in line: then the process is behind, and the deadline is pushed back. */
  waitingInLine?(): boolean;
  /** What the source adds to the poller's stats; `date` shows a time of the poller's clock as a Date. */
  stats?(date: (at: number) => Date | undefined): SourceStats;
}
