import { EventEmitter } from 'node:events';
import net from 'node:net';
import { DnsError } from './dns/errors.js';
import { hostNameProblem } from './dns/names.js';
import { formatNameserver } from './dns/resolv-conf.js';
import type { ResolvedAddress } from './dns/types.js';
import { describe, resolveOptions, type WatchOptions } from './watch/options.js';
import { TargetError, parseWrittenTarget } from './target.js';
import { registry } from './watch/registry.js';
import type { Delivery, Subscription } from './watch/subscribers.js';
import type { WatcherStats } from './watch/stats.js';
import { minTtl, sortedAddresses } from './watch/records.js';

/** One change of a watched name's address set. */
export interface WatchUpdate {
  name: string;
  /** The whole current set, sorted. */
  addresses: string[];
  /** The same with family and TTL. */
  records: ResolvedAddress[];
  added: string[];
  removed: string[];
  /** Shortest TTL in the set, seconds (`Infinity` for /etc/hosts and literals). */
  ttl: number;
  at: Date;
}

export interface DnsWatchEvents {
  update: [WatchUpdate];
  /** Authoritative "none" (error.authoritative) or "could not ask" with no set yet. */
  error: [DnsError];
}

/**
 * An open, ref()ed watch keeps the process alive, like a socket: a script
 * whose only work is `for await (… of watch(…))` must not exit after the
 * first update. Polling itself never does (grpc channels own their
 * lifetime). One timer serves every such watch, so a watch costs a count,
 * not a timer.
 */
const processHold = {
  holders: 0,
  timer: undefined as NodeJS.Timeout | undefined,
  acquire(): void {
    if (this.holders++ === 0) this.timer = setInterval(() => {}, 2 ** 30);
  },
  release(): void {
    if (--this.holders === 0) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  },
};

/**
 * `newer` folded into `older`, for a reader that did not take `older` yet:
 * the latest set, with added/removed relative to the set the reader last
 * saw (the one before `older`).
 */
function mergeUpdates(older: WatchUpdate, newer: WatchUpdate): WatchUpdate {
  const olderAdded = new Set(older.added);
  const seen = new Set([...older.addresses.filter((address) => !olderAdded.has(address)), ...older.removed]);
  const now = new Set(newer.addresses);
  return {
    ...newer,
    added: newer.addresses.filter((address) => !seen.has(address)),
    removed: [...seen].filter((address) => !now.has(address)).sort(),
  };
}

/** One async iterator's backlog: at most one update, the latest, merged. */
class UpdateStream implements AsyncIterator<WatchUpdate> {
  pending: WatchUpdate | undefined;
  private readonly waiters: Array<(result: IteratorResult<WatchUpdate>) => void> = [];
  private ended = false;

  constructor(
    first: WatchUpdate | undefined,
    private readonly onReturn: (stream: UpdateStream) => void,
  ) {
    this.pending = first;
  }

  push(update: WatchUpdate): void {
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: update, done: false });
    else this.pending = this.pending ? mergeUpdates(this.pending, update) : update;
  }

  end(): void {
    this.ended = true;
    for (const resolve of this.waiters.splice(0)) resolve({ value: undefined, done: true });
  }

  next(): Promise<IteratorResult<WatchUpdate>> {
    const pending = this.pending;
    if (pending) {
      this.pending = undefined;
      return Promise.resolve({ value: pending, done: false });
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  return(): Promise<IteratorResult<WatchUpdate>> {
    this.onReturn(this);
    return Promise.resolve({ value: undefined, done: true });
  }
}

/**
 * What `watch()` returns: the polling, diffing and failure policy a grpc
 * channel gets, without grpc — as events (`update`, `error`) and as an async
 * iterable of updates. `error` is only emitted when someone listens, so an
 * unobserved DNS failure never throws. An open watch keeps the process
 * alive until `close()` (or `unref()`).
 *
 * An async iterator that falls behind gets the latest set next, with
 * `added`/`removed` relative to what it last yielded: no change is lost from
 * the diff, only the sets in between. An iterator started after updates
 * arrived begins with the current one.
 */
export class DnsWatch extends EventEmitter<DnsWatchEvents> implements AsyncIterable<WatchUpdate> {
  private subscription: Subscription | undefined;
  // The last update, kept as its parts: the records are the watcher's own
  // (shared, not copied) and `current` builds the update when read. A built
  // update — its sorted list, copied records and Date — would cost more than
  // everything else a watched name holds.
  private latest: { records: readonly ResolvedAddress[]; added: string[]; removed: string[]; at: number } | undefined;
  private latestError: DnsError | undefined;
  // Active async iterators; created on first use, so an event-only watch holds none.
  private streams: Set<UpdateStream> | undefined;
  private closed = false;
  private holding = false;

  constructor(
    readonly name: string,
    options: WatchOptions = {},
  ) {
    super();
    checkWatchedName(name);
    // The options are not kept: the shared watcher holds its settings once for every name.
    this.subscription = registry.subscribe(name, resolveOptions(options), (delivery) => this.onDelivery(delivery));
    this.ref();
  }

  /** The last update, if any arrived yet (built on each read: a fresh object, equal to what was emitted). */
  get current(): WatchUpdate | undefined {
    const latest = this.latest;
    return latest && buildUpdate(this.name, latest.records, latest.added, latest.removed, latest.at);
  }

  /** The last error since the last update, if any. */
  get lastError(): DnsError | undefined {
    return this.latestError;
  }

  /**
   * Updates held for async iterators that have not taken them yet (at most
   * one per iterator). For tests and diagnostics.
   */
  get pendingUpdates(): number {
    let count = 0;
    for (const stream of this.streams ?? []) if (stream.pending) count++;
    return count;
  }

  /** Counters and state of the (shared) watcher behind this handle; undefined once closed. */
  stats(): WatcherStats | undefined {
    return this.closed ? undefined : this.subscription?.stats();
  }

  /** Ask DNS again now (or as soon as `minInterval` allows); answered by one event. */
  refresh(): void {
    this.subscription?.request();
  }

  /** Let the process exit even while this watch is open (like `socket.unref()`). */
  unref(): this {
    if (this.holding) {
      this.holding = false;
      processHold.release();
    }
    return this;
  }

  /** Undo {@link DnsWatch.unref}: keep the process alive while this watch is open (the default). */
  ref(): this {
    if (!this.holding && !this.closed) {
      this.holding = true;
      processHold.acquire();
    }
    return this;
  }

  /** Stop watching; ends async iteration. The last watcher of a name stops its polling. */
  close(): void {
    if (this.closed) return;
    this.unref();
    this.closed = true;
    this.subscription?.close();
    this.subscription = undefined;
    for (const stream of this.streams ?? []) stream.end();
    this.streams = undefined;
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchUpdate> {
    const stream = new UpdateStream(this.current, () => this.close());
    if (this.closed) stream.end();
    else (this.streams ??= new Set()).add(stream);
    return stream;
  }

  private onDelivery(delivery: Delivery): void {
    if (this.closed) return;
    if (delivery.kind === 'error') {
      this.latestError = delivery.error;
      if (this.listenerCount('error') > 0) this.emit('error', delivery.error);
      return;
    }
    // A request answered with an unchanged set is news only to a caller of refresh().
    const latest = { records: delivery.addresses, added: delivery.added, removed: delivery.removed, at: Date.now() };
    this.latest = latest;
    this.latestError = undefined;
    if (!this.streams && this.listenerCount('update') === 0) return;
    const update = buildUpdate(this.name, latest.records, latest.added, latest.removed, latest.at);
    for (const stream of this.streams ?? []) stream.push(update);
    this.emit('update', update);
  }
}

/** An update as readers get it: its own copies, so nothing they change reaches the watcher. */
function buildUpdate(name: string, records: readonly ResolvedAddress[], added: readonly string[], removed: readonly string[], at: number): WatchUpdate {
  return {
    name,
    addresses: sortedAddresses(records),
    records: [...records],
    added: [...added],
    removed: [...removed],
    ttl: minTtl(records),
    at: new Date(at),
  };
}

const WATCH_TAKES = 'watch() needs a DNS name such as "my-svc.ns.svc.cluster.local" (optionally with a trailing dot) or an IP address';

/**
 * A name `watch()` can poll, or a TypeError now: a host name by the rule
 * targets follow (src/dns/names.ts), or an IP literal (returned once). A
 * gRPC target or `host:port` is not a DNS name: the error says which call
 * watches what it points at.
 */
function checkWatchedName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError(`${WATCH_TAKES}, got ${describe(name)}`);
  if (net.isIP(name) !== 0) return;
  const problem = hostNameProblem(name);
  if (problem === undefined) return;
  if (!/[:[]/.test(name)) throw new TypeError(`${WATCH_TAKES}; ${JSON.stringify(name)} is not one: ${problem}`);
  let written;
  try {
    written = parseWrittenTarget(name);
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    throw new TypeError(`${WATCH_TAKES}; ${JSON.stringify(name)} is neither that nor a usable gRPC target: ${error.reason}`);
  }
  const servers = written.nameserver ? `, { nameservers: [${JSON.stringify(formatNameserver(written.nameserver))}] }` : '';
  throw new TypeError(
    `${WATCH_TAKES}, not a gRPC target or host:port; to watch what ${JSON.stringify(name)} resolves to, call watch(${JSON.stringify(written.host)}${servers})`,
  );
}

/** Watch a DNS name's A/AAAA set. See {@link DnsWatch}. */
export function watch(name: string, options: WatchOptions = {}): DnsWatch {
  return new DnsWatch(name, options);
}
