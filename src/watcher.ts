import { DnsError } from './dns/errors.js';
import type { Resolution } from './dns/lookup.js';
import type { Family, ResolvedAddress } from './dns/types.js';
import { UNKNOWN, diff, nextBelief, signature, whatToTell, type Belief, type Outcome, type Told } from './contract.js';
import { delayAfterFailure, delayAfterSuccess, earliestRequestedRun, type ScheduleOptions } from './schedule.js';
import { observed, report } from './observe.js';
import { trace, tracing } from './trace.js';

/** Asks DNS once: addresses with TTLs, or a typed failure. */
export type ResolveFn = (name: string, family: Family) => Promise<Resolution>;

/** What a subscriber receives: the contract's verdict plus the change against what it held before. */
export type Delivery = Told & { added: string[]; removed: string[] };

export interface Subscription {
  /** Ask for fresh data (a channel's updateResolution()): answered by exactly one delivery. */
  request(): void;
  /** Stop deliveries; the last subscription to close stops the watcher. */
  close(): void;
}

export interface WatcherOptions extends ScheduleOptions {
  family: Family;
}

/** Injectable clock and randomness, so scheduling can be tested with fake timers. */
export interface WatcherEnvironment {
  now?: () => number;
  random?: () => number;
}

/** A point-in-time view of one watcher, for diagnostics and metrics. */
export interface WatcherStats {
  name: string;
  family: Family;
  /** Channels and watch() handles sharing this watcher. */
  subscribers: number;
  /** What the watcher believes: a set, authoritative none, a failure with no set, or nothing yet. */
  state: Belief['kind'];
  /** The current set, sorted (empty unless state is 'addresses'). */
  addresses: string[];
  /** Resolutions run, and how many of them could not ask DNS. */
  queries: number;
  failures: number;
  consecutiveFailures: number;
  lastError: { code: string; message: string } | undefined;
  lastQueryAt: Date | undefined;
  /** When the set last changed (the first set counts as a change). */
  lastChangeAt: Date | undefined;
  nextPollAt: Date | undefined;
}

interface Subscriber {
  deliver: (delivery: Delivery) => void;
  lastTold: string | undefined;
  lastAddresses: readonly ResolvedAddress[];
  asked: boolean;
  open: boolean;
}

/**
 * Polls one name and tells every subscriber what the contract says, when it
 * says so. One Watcher serves every channel that targets the same name with
 * the same settings (see registry.ts). Knows neither wire format nor grpc.
 */
export class Watcher {
  private readonly subscribers = new Set<Subscriber>();
  private belief: Belief = UNKNOWN;
  /** signature(belief), kept with it: every subscriber is compared against it after every poll. */
  private beliefSignature: string | undefined = undefined;
  private timer: NodeJS.Timeout | undefined;
  private timerDueAt: number | undefined;
  private inFlight = false;
  private lastQueryAt: number | undefined;
  private failures = 0;
  private totalQueries = 0;
  private totalFailures = 0;
  private lastError: DnsError | undefined;
  private lastChangeAt: number | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly name: string,
    private readonly options: WatcherOptions,
    private readonly resolve: ResolveFn,
    private readonly onStop: () => void = () => {},
    environment: WatcherEnvironment = {},
  ) {
    this.now = environment.now ?? Date.now;
    this.random = environment.random ?? Math.random;
  }

  /** Current belief: the address set, or why there is none. */
  get state(): Belief {
    return this.belief;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** When the next poll is due (epoch ms), if one is scheduled. */
  get nextPollAt(): number | undefined {
    return this.timerDueAt;
  }

  stats(): WatcherStats {
    const belief = this.belief;
    const date = (at: number | undefined) => (at === undefined ? undefined : new Date(at));
    return {
      name: this.name,
      family: this.options.family,
      subscribers: this.subscribers.size,
      state: belief.kind,
      addresses: belief.kind === 'addresses' ? [...new Set(belief.addresses.map((entry) => entry.address))].sort() : [],
      queries: this.totalQueries,
      failures: this.totalFailures,
      consecutiveFailures: this.failures,
      lastError: this.lastError && { code: this.lastError.code, message: this.lastError.message },
      lastQueryAt: date(this.lastQueryAt),
      lastChangeAt: date(this.lastChangeAt),
      nextPollAt: date(this.timerDueAt),
    };
  }

  /**
   * Subscribe. A watcher that already knows something tells the newcomer on
   * the next turn of the event loop; otherwise the first query starts now.
   */
  subscribe(deliver: (delivery: Delivery) => void): Subscription {
    if (this.stopped) throw new Error(`Watcher for ${this.name} is stopped`);
    const subscriber: Subscriber = { deliver, lastTold: undefined, lastAddresses: [], asked: true, open: true };
    this.subscribers.add(subscriber);
    if (this.belief.kind !== 'unknown') {
      setImmediate(() => this.tell(subscriber));
    } else if (!this.inFlight) {
      this.scheduleAt(this.now());
    }
    return {
      request: () => this.request(subscriber),
      close: () => this.unsubscribe(subscriber),
    };
  }

  private request(subscriber: Subscriber): void {
    if (!subscriber.open || this.stopped) return;
    subscriber.asked = true;
    if (this.inFlight) return;
    const runAt = earliestRequestedRun(this.now(), this.lastQueryAt, this.options.minInterval);
    if (runAt > this.now()) {
      trace(() => `${this.name}: re-resolution requested, delayed ${runAt - this.now()} ms by minInterval`);
    }
    if (this.timerDueAt === undefined || runAt < this.timerDueAt) this.scheduleAt(runAt);
  }

  private unsubscribe(subscriber: Subscriber): void {
    if (!subscriber.open) return;
    subscriber.open = false;
    this.subscribers.delete(subscriber);
    if (this.subscribers.size === 0) this.stop();
  }

  /** Stop polling; results of a query in flight are dropped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.clearTimer();
    for (const subscriber of this.subscribers) subscriber.open = false;
    this.subscribers.clear();
    trace(() => `${this.name}: watcher stopped`);
    this.onStop();
  }

  private scheduleAt(at: number): void {
    this.clearTimer();
    const delay = Math.max(0, at - this.now());
    this.timerDueAt = at;
    this.timer = setTimeout(this.onTimer, delay);
    // Polling alone never keeps a process alive.
    this.timer.unref();
  }

  /** One callback for every poll's timer, made once. */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerDueAt = undefined;
    void this.poll();
  };

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerDueAt = undefined;
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    const startedAt = this.now();
    this.lastQueryAt = startedAt;
    if (tracing()) trace(() => `${this.name}: query (family ${this.options.family})`);
    let outcome: Outcome;
    try {
      outcome = { kind: 'answer', resolution: await this.resolve(this.name, this.options.family) };
    } catch (error) {
      outcome = { kind: 'error', error: asDnsError(error, this.name) };
    }
    this.inFlight = false;
    if (this.stopped) return;
    this.totalQueries++;
    const durationMs = this.now() - startedAt;
    if (observed()) report(() => ({
      type: 'query',
      name: this.name,
      family: this.options.family,
      durationMs,
      result: outcome.kind === 'answer' ? 'NOERROR' : outcome.error.code,
      addresses: outcome.kind === 'answer' ? outcome.resolution.addresses.length : 0,
    }));
    this.settle(outcome, durationMs);
  }

  private settle(outcome: Outcome, durationMs: number): void {
    const previous = this.belief;
    const previousSignature = this.beliefSignature;
    const next = nextBelief(previous, outcome);
    // The same records as last time (the usual poll): keep the belief held, so
    // nothing new outlives the poll and no signature is computed.
    this.belief = next.kind === 'addresses' && previous.kind === 'addresses' && sameRecords(previous.addresses, next.addresses) ? previous : next;
    this.beliefSignature = this.belief === previous ? previousSignature : signature(this.belief);
    let delay: number;
    if (outcome.kind === 'error') this.lastError = outcome.error;
    if (outcome.kind === 'error' && !outcome.error.authoritative) {
      this.failures++;
      this.totalFailures++;
      delay = delayAfterFailure(this.options, this.failures, this.random);
      const kept = this.belief.kind === 'addresses';
      const retryInMs = delay;
      report(() => ({ type: 'error', name: this.name, error: outcome.error, kept, retryInMs }));
      trace(
        () =>
          `${this.name}: failure ${this.failures} after ${durationMs} ms (${outcome.error.code}: ${outcome.error.message}); ` +
          `${kept ? 'keeping the last good set' : 'no set yet'}; retry in ${retryInMs} ms`,
      );
    } else {
      this.failures = 0;
      if (outcome.kind === 'answer') this.lastError = undefined;
      const ttl = this.belief.kind === 'addresses' ? minTtl(this.belief.addresses) : Infinity;
      delay = delayAfterSuccess(this.options, ttl, this.random);
      if (outcome.kind === 'error') {
        const retryInMs = delay;
        report(() => ({ type: 'error', name: this.name, error: outcome.error, kept: false, retryInMs }));
        trace(() => `${this.name}: ${outcome.error.code} after ${durationMs} ms (${outcome.error.message}); next poll in ${delay} ms`);
      } else {
        const addresses = this.belief.kind === 'addresses' ? this.belief.addresses : [];
        if (tracing()) trace(() => `${this.name}: ${addresses.length} addresses in ${durationMs} ms, min TTL ${ttl} s; next poll in ${delay} ms`);
        if (previousSignature !== this.beliefSignature) {
          this.lastChangeAt = this.now();
          const change = diff(previous.kind === 'addresses' ? previous.addresses : [], addresses);
          if (previous.kind === 'addresses') {
            trace(() => `${this.name}: changed: +[${change.added.join(', ')}] -[${change.removed.join(', ')}]`);
          }
          report(() => ({
            type: 'update',
            name: this.name,
            addresses: [...new Set(addresses.map((entry) => entry.address))].sort(),
            ...change,
          }));
        }
      }
    }
    this.scheduleAt(this.now() + delay);
    // A copy, so a subscriber added while others are told waits for its own first telling; one alone needs none.
    if (this.subscribers.size === 1) this.tell(this.subscribers.values().next().value!);
    else for (const subscriber of [...this.subscribers]) this.tell(subscriber);
  }

  private tell(subscriber: Subscriber): void {
    if (!subscriber.open || this.stopped) return;
    const told = whatToTell(this.belief, subscriber.lastTold, subscriber.asked, this.beliefSignature);
    subscriber.asked = false;
    if (!told) return;
    subscriber.lastTold = this.beliefSignature;
    const addresses = told.kind === 'update' ? told.addresses : [];
    const change = diff(subscriber.lastAddresses, addresses);
    if (told.kind === 'update') subscriber.lastAddresses = addresses;
    try {
      subscriber.deliver({ ...told, ...(told.kind === 'update' ? change : { added: [], removed: [] }) });
    } catch (error) {
      // One subscriber's exception must not stop the others or the poll loop.
      trace(() => `${this.name}: subscriber threw: ${(error as Error)?.stack ?? String(error)}`);
    }
  }
}

/** The same records in the same order (address, family, TTL): what a steady server sends poll after poll. */
function sameRecords(a: readonly ResolvedAddress[], b: readonly ResolvedAddress[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.family !== y.family || x.ttl !== y.ttl) return false;
  }
  return true;
}

export function minTtl(addresses: readonly ResolvedAddress[]): number {
  return addresses.reduce((min, entry) => Math.min(min, entry.ttl), Infinity);
}

function asDnsError(error: unknown, name: string): DnsError {
  if (error instanceof DnsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DnsError('NETWORK', name, `Unexpected resolver failure for ${name}: ${message}`, { cause: error });
}
