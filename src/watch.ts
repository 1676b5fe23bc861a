import { EventEmitter } from 'node:events';
import { DnsError } from './dns/errors.js';
import type { ResolvedAddress } from './dns/types.js';
import { resolveOptions, type ResolvedOptions, type WatchOptions } from './options.js';
import { registry } from './registry.js';
import type { Delivery, Subscription, WatcherStats } from './watcher.js';
import { minTtl } from './watcher.js';

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
 * The watcher without grpc: the same shared polling, diffing and failure
 * policy a channel gets, as events (`update`, `error`) and as an async
 * iterable of updates. `error` is only emitted when someone listens, so an
 * unobserved DNS failure never throws.
 */
export class DnsWatch extends EventEmitter<DnsWatchEvents> implements AsyncIterable<WatchUpdate> {
  private subscription: Subscription | undefined;
  private latest: WatchUpdate | undefined;
  private latestError: DnsError | undefined;
  private readonly queue: WatchUpdate[] = [];
  private readonly waiters: Array<(result: IteratorResult<WatchUpdate>) => void> = [];
  private closed = false;
  private readonly options: ResolvedOptions;
  /**
   * An open watch keeps the process alive, like a socket: a script whose only
   * work is `for await (… of watch(…))` must not exit after the first update.
   * Polling itself never does (grpc channels own their lifetime).
   */
  private keepAlive: NodeJS.Timeout | undefined = setInterval(() => {}, 2 ** 30);

  constructor(
    readonly name: string,
    options: WatchOptions = {},
  ) {
    super();
    if (typeof name !== 'string' || name.length === 0) {
      clearInterval(this.keepAlive);
      throw new TypeError(`watch() needs a DNS name such as "my-svc.ns.svc.cluster.local", got ${JSON.stringify(name)}`);
    }
    try {
      this.options = resolveOptions(options);
    } catch (error) {
      clearInterval(this.keepAlive);
      throw error;
    }
    this.subscription = registry.subscribe(name, this.options, (delivery) => this.onDelivery(delivery));
  }

  /** The last update, if any arrived yet. */
  get current(): WatchUpdate | undefined {
    return this.latest;
  }

  /** The last error since the last update, if any. */
  get lastError(): DnsError | undefined {
    return this.latestError;
  }

  /** Counters and state of the (shared) watcher behind this handle; undefined once closed. */
  stats(): WatcherStats | undefined {
    return this.closed ? undefined : registry.find(this.name, this.options)?.stats();
  }

  /** Ask DNS again now (or as soon as `minInterval` allows); answered by one event. */
  refresh(): void {
    this.subscription?.request();
  }

  /** Let the process exit even while this watch is open (like `socket.unref()`). */
  unref(): this {
    this.keepAlive?.unref();
    return this;
  }

  /** Undo {@link DnsWatch.unref}: keep the process alive while this watch is open (the default). */
  ref(): this {
    this.keepAlive?.ref();
    return this;
  }

  /** Stop watching; ends async iteration. The last watcher of a name stops its polling. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.keepAlive = undefined;
    this.subscription?.close();
    this.subscription = undefined;
    for (const resolve of this.waiters.splice(0)) resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<WatchUpdate> {
    return {
      next: () => {
        const queued = this.queue.shift();
        if (queued) return Promise.resolve({ value: queued, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private onDelivery(delivery: Delivery): void {
    if (this.closed) return;
    if (delivery.kind === 'error') {
      this.latestError = delivery.error;
      if (this.listenerCount('error') > 0) this.emit('error', delivery.error);
      return;
    }
    // A request answered with an unchanged set is news only to a caller of refresh().
    const update: WatchUpdate = {
      name: this.name,
      addresses: [...new Set(delivery.addresses.map((entry) => entry.address))].sort(),
      records: [...delivery.addresses],
      added: delivery.added,
      removed: delivery.removed,
      ttl: minTtl(delivery.addresses),
      at: new Date(),
    };
    this.latest = update;
    this.latestError = undefined;
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: update, done: false });
    else this.queue.push(update);
    this.emit('update', update);
  }
}

/** Watch a DNS name's A/AAAA set. See {@link DnsWatch}. */
export function watch(name: string, options: WatchOptions = {}): DnsWatch {
  return new DnsWatch(name, options);
}
