import type { Answer } from 'dns-packet';
import type { DnsError } from './errors.js';

/** Address family asked for: 4 (A), 6 (AAAA) or 0 (both, asked in parallel). */
export type Family = 0 | 4 | 6;

/** Record types that hold addresses: A for family 4, AAAA for family 6. */
export type AddressType = 'A' | 'AAAA';

/** Record types the resolver asks for: addresses, and TXT for a service config (`StubResolver.resolveTxt`). */
export type QueryType = AddressType | 'TXT';

/** The record type of an address family: A for 4, AAAA for 6. */
export function recordType(family: 4 | 6): AddressType {
  return family === 4 ? 'A' : 'AAAA';
}

/** The address family of a record type. */
export function familyOf(type: AddressType): 4 | 6 {
  return type === 'A' ? 4 : 6;
}

/** What a family asks for, in words: `A`, `AAAA`, or for 0 `A and AAAA` (`A or AAAA` with `or`). */
export function recordTypesText(family: Family, both: 'and' | 'or' = 'and'): string {
  return family === 0 ? `A ${both} AAAA` : recordType(family);
}

/** One address with the time-to-live its record carried, in seconds. */
export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
  /** Seconds. /etc/hosts entries and IP literals carry `Infinity`. */
  ttl: number;
}

/** A DNS server to ask: IPv4 or IPv6 literal and UDP/TCP port. */
export interface Nameserver {
  host: string;
  port: number;
}

/** What /etc/resolv.conf (plus RES_OPTIONS / LOCALDOMAIN) tells a stub resolver. */
export interface ResolvConf {
  /** At most three, tried in order. */
  nameservers: Nameserver[];
  /** Search list, without trailing dots. */
  search: string[];
  /** Names with fewer dots than this are tried with the search list first. */
  ndots: number;
  /** Per-attempt timeout in milliseconds. */
  timeoutMs: number;
  /** Rounds over the whole nameserver list. */
  attempts: number;
  /** `options rotate`: the first nameserver asked advances by one per query (absent: off). */
  rotate?: boolean;
  /**
   * `options single-request` or `single-request-reopen`: a name's A and AAAA
   * queries are asked one after the other, not in parallel (absent: off).
   */
  singleRequest?: boolean;
  /**
   * `options single-request-reopen`: the second of the pair also leaves from
   * a fresh socket. The transport always sends A and AAAA from sockets of
   * their own (src/dns/udp-lane.ts), so this asks for nothing more than
   * {@link singleRequest} (absent: off).
   */
  singleRequestReopen?: boolean;
  /** Lines or options that were ignored, each naming what was wrong. */
  warnings: string[];
}

/** Addresses of a name, and where they came from. */
export interface Resolution {
  /**
   * The fully qualified name that answered, after search-list expansion (no
   * trailing dot). Passed back to `StubResolver.resolve` (src/dns/stub-resolver.ts)
   * as `known`, it is polled directly.
   */
  name: string;
  addresses: ResolvedAddress[];
  source: 'hosts' | 'dns' | 'literal';
  /**
   * With family 0, a family whose query failed (timeout, SERVFAIL…) while the
   * other answered. The caller decides whether to trust a half answer.
   */
  failedFamilies: Array<{ family: 4 | 6; error: DnsError }>;
  /**
   * With family 0: the family the candidate that answered has no records of
   * (NODATA), while the other family answered with addresses in this
   * resolution — what a watcher counts to demote a family (src/watch/family-demotion.ts).
   */
  noDataFamily?: 4 | 6;
  /** With family 0: the family not asked of the polled candidate ({@link ResolveControl.skipFamily} honoured). */
  unaskedFamily?: 4 | 6;
  /**
   * Where `name` stands among the search-list candidates, in the order a
   * fresh walk asks them (0: asked first). Set for DNS answers only.
   */
  searchIndex?: number;
}

/**
 * What a query watches to be given up: an `AbortSignal`, or any object with
 * these members (a watcher's `PollDeadline`, re-armed for every poll, since
 * an AbortSignal is costly to make and to keep). Every listener is called
 * once, when it aborts.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/**
 * What a poll hands `StubResolver.resolve` (stub-resolver.ts) beside the name. A watcher
 * passes itself: one object per watcher, nothing allocated per poll.
 */
export interface ResolveControl {
  /**
   * Aborting gives the resolution up: queries in flight settle at once, no
   * further candidate is asked, and it rejects with the signal's reason
   * (a DnsError).
   */
  readonly signal?: AbortSignalLike | undefined;
  /**
   * Also ask the candidates before `known`, in the walk's order (after a
   * later candidate took over): the first of them with addresses answers, as
   * it would for a fresh lookup.
   */
  readonly recheckEarlier?: boolean;
  /**
   * Family 0: a family not to ask of `known` at this resolution (a watcher
   * demoted it: NODATA poll after poll). Honoured only when `known` is asked
   * directly and answers with the other family's addresses; a walk of the
   * search list, and the recheck of earlier candidates, ask both families,
   * as a fresh lookup does.
   */
  readonly skipFamily?: 4 | 6 | undefined;
  /**
   * Milliseconds left of the poll that asks, from now: its queries keep
   * asking past `attempts` rounds while a short try fits (client.ts
   * `QueryOptions.remainingMs`; the control is each query's options).
   */
  remainingMs?(): number;
  /**
   * Told the timeout of each query's first try as it leaves (client.ts
   * `QueryOptions.firstTry`): a watcher reports its poll's first one.
   */
  firstTry?(timeoutMs: number): void;
  /**
   * Family 0: one family's addresses for the candidate `name`, as soon as
   * they are in, whether or not the other family is still being asked — so
   * a changed set is not held back by the other family's retries.
   */
  familyAnswered?(name: string, family: 4 | 6, addresses: readonly ResolvedAddress[]): void;
}

/**
 * A reply that passed validation (RFC 5452): it came from the server asked,
 * carries our id and our question, and is a response.
 */
export interface DnsReply {
  rcode: number;
  truncated: boolean;
  answers: Answer[];
  /** Which transport produced this reply. */
  transport: 'udp' | 'tcp';
}

/**
 * One try of one query that failed (timeout, refused port, SERVFAIL…), on its
 * way to the next nameserver or attempt: what `DnsClientOptions.onAttempt`
 * receives, and the `attempt` event of `observe()`. `server` reads
 * `host:port` (`[v6]:port`); `durationMs` includes any wait in line for the server.
 */
export interface AttemptEvent {
  type: 'attempt';
  name: string;
  recordType: QueryType;
  server: string;
  transport: 'udp' | 'tcp';
  error: DnsError;
  durationMs: number;
  /** The timeout this try had, ms: adaptive over UDP (server-metrics.ts), the configured one over TCP. */
  timeoutMs: number;
}
