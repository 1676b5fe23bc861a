import { DnsError, type DnsErrorCode } from '../dns/errors.js';
import type { Family, ResolveControl, ResolvedAddress, Resolution } from '../dns/types.js';
import { PollDeadline } from './poll-deadline.js';
import { UNKNOWN, diff, nextBelief, signature, whatToTell, type Belief, type Outcome, type Told } from './contract.js';
import { cachedCopyExpiry, NO_CACHE_VIEW, observeTtl, probeDue, type CacheView } from './cache-detect.js';
import {
  cacheStalenessBound,
  delayAfterCachedAnswer,
  delayAfterFailure,
  delayAfterSuccess,
  BEHIND_MS,
  DEADLINE_PATIENCE,
  delayForCacheProbe,
  earliestRequestedRun,
  pollDeadline,
  RECHECK_EVERY_POLLS,
  RECHECK_MAX_MS,
  type ScheduleOptions,
} from './schedule.js';
import type { PacedStart, PacerMember } from './pacer.js';
import { pollTimers, type PollEntry, type PollTimers } from './poll-timers.js';
import { wallClockDate } from '../dns/timers.js';
import { observed, report } from './observe.js';
import { trace, tracing } from './trace.js';

/**
 * Asks DNS once: addresses with TTLs, or a typed failure. `known` is the
 * fully qualified name that answered last time ({@link Resolution.name}),
 * to be asked directly instead of walking the search list again; `control`
 * is the watcher itself (see {@link ResolveControl}).
 */
export interface ResolveFn {
  (name: string, family: Family, known?: string, control?: ResolveControl): Promise<Resolution>;
  /** The timeout the first try of a query has now, ms (`StubResolver.firstTryTimeoutMs`): a poll's deadline is never shorter. */
  firstTryTimeoutMs?(): number;
  /** Whether queries wait in line for a nameserver's slot (`StubResolver.waitingInLine`): this process is behind, not the network. */
  waitingInLine?(): boolean;
}

/** What a subscriber receives: the contract's verdict plus the change against what it held before. */
export type Delivery = Told & { added: string[]; removed: string[] };

export interface Subscription {
  /** Ask for fresh data (a channel's updateResolution()): answered by exactly one delivery. */
  request(): void;
  /** Stop deliveries; the last subscription to close stops the watcher. */
  close(): void;
  /** The watcher's counters and state (built on demand). */
  stats(): WatcherStats;
}

export interface WatcherOptions extends ScheduleOptions {
  family: Family;
  /** Deliver at most this many addresses: this process's stable subset of the set (contract.ts, subset.ts). */
  maxAddresses?: number;
}

/** Injectable clock and randomness, so scheduling can be tested with fake timers. */
export interface WatcherEnvironment {
  random?: () => number;
  /** Paces the first poll among many watchers sharing DNS settings (see pacer.ts); none: at once. */
  pacer?: PacerMember;
  /**
   * Where the next poll waits: the process's one shared timer unless given.
   * Its clock is the watcher's clock for every delay and age.
   */
  timers?: PollTimers;
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
}

/**
 * One subscriber, and its handle: a class rather than an object of closures,
 * since 10,000 watched names hold 10,000 of them.
 */
class Subscriber implements Subscription {
  lastTold: string | undefined = undefined;
  lastAddresses: readonly ResolvedAddress[] = [];
  asked = true;
  open = true;

  constructor(
    private readonly watcher: Watcher,
    readonly deliver: (delivery: Delivery) => void,
  ) {}

  request(): void {
    this.watcher.request(this);
  }

  close(): void {
    this.watcher.unsubscribe(this);
  }

  stats(): WatcherStats {
    return this.watcher.stats();
  }
}

/**
 * Polls one name and tells every subscriber what the contract says, when it
 * says so. One Watcher serves every channel that targets the same name with
 * the same settings (see registry.ts). Knows neither wire format nor grpc.
 */
export class Watcher implements PollEntry, ResolveControl {
  /**
   * The one subscriber (the common case: one channel or watch() per name),
   * or a Set once there are more; a Set and its table cost more than all the
   * rest of a subscription.
   */
  private subscribers: Subscriber | Set<Subscriber> | undefined;
  private belief: Belief = UNKNOWN;
  /** signature(belief), kept with it: every subscriber is compared against it after every poll. */
  private beliefSignature: string | undefined = undefined;
  /** @internal Owned by {@link PollTimers}: where this watcher's next poll sits in the shared timer heap. */
  pollSlot = -1;
  /** @internal Owned by {@link PollTimers}. */
  pollDue = 0;
  private inFlight = false;
  /** The first poll, while it waits for its turn among many starting together. */
  private pacedStart: PacedStart | undefined;
  /** The candidate name that answered last (no trailing dot), asked directly at the next poll. */
  private polledName: string | undefined;
  /** Its place in the search-list walk; -1 when none. */
  private polledIndex = -1;
  /** While a later candidate stands in (see remember()): the earliest place that answered before, and the next recheck. */
  private takeover: { anchor: number; pollsToRecheck: number; recheckBy: number } | undefined;
  /** @internal This poll also asks the candidates before the polled one. */
  recheckEarlier = false;
  /** The running poll's deadline, re-armed for every poll. */
  private deadline: PollDeadline | undefined;
  /** Polls given up at their deadline in a row. */
  private givenUpInARow = 0;
  private lastQueryAt: number | undefined;
  private failures = 0;
  private totalQueries = 0;
  private totalFailures = 0;
  private lastError: DnsError | undefined;
  private lastChangeAt: number | undefined;
  private addressesAvailable: number | undefined;
  /** What the TTLs of the answers say about a cache in front (cache-detect.ts). */
  private cacheView: CacheView = NO_CACHE_VIEW;
  private stopped = false;
  private readonly random: () => number;
  private readonly pacer: PacerMember | undefined;
  private readonly timers: PollTimers;

  constructor(
    readonly name: string,
    private readonly options: WatcherOptions,
    private readonly resolve: ResolveFn,
    /** Called once, when the watcher stops; shared by every watcher of a registry's settings. */
    private readonly onStop: (watcher: Watcher) => void = () => {},
    environment: WatcherEnvironment = {},
  ) {
    this.random = environment.random ?? Math.random;
    this.pacer = environment.pacer;
    this.timers = environment.timers ?? pollTimers;
  }

  /** Current belief: the address set, or why there is none. */
  get state(): Belief {
    return this.belief;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Milliseconds on the watcher's monotonic clock (its poll timers' clock). */
  private now(): number {
    return this.timers.clock.now();
  }

  /** @internal The running poll's deadline: its queries' signal. */
  get signal(): PollDeadline | undefined {
    return this.deadline;
  }

  /** When the next poll is due, on the watcher's clock (none while a poll runs). */
  get nextPollAt(): number | undefined {
    if (this.inFlight) return undefined;
    const remaining = this.timers.remaining(this);
    return remaining === undefined ? undefined : this.now() + remaining;
  }

  stats(): WatcherStats {
    const belief = this.belief;
    const date = (at: number | undefined) => (at === undefined ? undefined : wallClockDate(this.timers.clock, at));
    return {
      name: this.name,
      family: this.options.family,
      subscribers: this.subscriberCount,
      state: belief.kind,
      addresses: belief.kind === 'addresses' ? [...new Set(belief.addresses.map((entry) => entry.address))].sort() : [],
      addressesAvailable: this.addressesAvailable,
      queries: this.totalQueries,
      failures: this.totalFailures,
      consecutiveFailures: this.failures,
      lastError: this.lastError && { code: this.lastError.code, message: this.lastError.message },
      lastQueryAt: date(this.lastQueryAt),
      lastChangeAt: date(this.lastChangeAt),
      querying: this.inFlight,
      nextPollAt: date(this.nextPollAt ?? this.pacedStart?.expectedAt()),
      polledName: this.polledName === undefined ? undefined : `${this.polledName}.`,
      ...this.cacheStats(),
    };
  }

  private cacheStats(): Pick<WatcherStats, 'cache' | 'cacheTtl' | 'stalenessBoundMs'> {
    const { verdict, largestTtl } = this.cacheView;
    const detected = verdict === 'detected' && largestTtl !== undefined;
    return {
      cache: verdict,
      cacheTtl: detected ? largestTtl : undefined,
      stalenessBoundMs: detected ? cacheStalenessBound(this.options, largestTtl) : undefined,
    };
  }

  /**
   * Subscribe. A watcher that already knows something tells the newcomer on
   * the next turn of the event loop; otherwise the first query starts now.
   */
  subscribe(deliver: (delivery: Delivery) => void): Subscription {
    if (this.stopped) throw new Error(`Watcher for ${this.name} is stopped`);
    const subscriber = new Subscriber(this, deliver);
    this.addSubscriber(subscriber);
    if (this.belief.kind !== 'unknown') {
      setImmediate(() => this.tell(subscriber));
    } else if (!this.inFlight && !this.pacedStart && this.pollSlot < 0) {
      this.startFirstPoll();
    }
    return subscriber;
  }

  private get subscriberCount(): number {
    const subscribers = this.subscribers;
    return subscribers === undefined ? 0 : subscribers instanceof Set ? subscribers.size : 1;
  }

  private addSubscriber(subscriber: Subscriber): void {
    const subscribers = this.subscribers;
    if (subscribers === undefined) this.subscribers = subscriber;
    else if (subscribers instanceof Set) subscribers.add(subscriber);
    else this.subscribers = new Set([subscribers, subscriber]);
  }

  private removeSubscriber(subscriber: Subscriber): void {
    const subscribers = this.subscribers;
    if (subscribers === subscriber) this.subscribers = undefined;
    else if (subscribers instanceof Set) {
      subscribers.delete(subscriber);
      if (subscribers.size === 0) this.subscribers = undefined;
    }
  }

  /** The subscribers now, as a list that later (un)subscribes do not change. */
  private subscriberList(): readonly Subscriber[] {
    const subscribers = this.subscribers;
    return subscribers === undefined ? [] : subscribers instanceof Set ? [...subscribers] : [subscribers];
  }

  /** The first poll: at once, or at its turn when many names start together. */
  private startFirstPoll(): void {
    const start = () => {
      this.pacedStart = undefined;
      if (!this.stopped) this.scheduleAt(this.now());
    };
    if (!this.pacer) return start();
    this.pacedStart = this.pacer.firstPoll(start);
  }

  /** @internal Through {@link Subscription.request}. */
  request(subscriber: Subscriber): void {
    if (!subscriber.open || this.stopped) return;
    subscriber.asked = true;
    // A query in flight, or a first poll waiting its turn, will answer it.
    if (this.inFlight || this.pacedStart) return;
    const runAt = earliestRequestedRun(this.now(), this.lastQueryAt, this.options.minInterval);
    if (runAt > this.now()) {
      trace(() => `${this.name}: re-resolution requested, delayed ${runAt - this.now()} ms by minInterval`);
    }
    const due = this.nextPollAt;
    if (due === undefined || runAt < due) this.scheduleAt(runAt);
  }

  /** @internal Through {@link Subscription.close}. */
  unsubscribe(subscriber: Subscriber): void {
    if (!subscriber.open) return;
    subscriber.open = false;
    this.removeSubscriber(subscriber);
    if (this.subscribers === undefined) this.stop();
  }

  /** Stop polling; a poll in flight is given up and its result dropped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.timers.cancel(this);
    if (this.inFlight) this.deadline?.abort(new DnsError('CLOSED', this.name, `Stopped watching ${this.name}`));
    this.pacedStart?.cancel();
    this.pacedStart = undefined;
    this.pacer?.leave();
    for (const subscriber of this.subscriberList()) subscriber.open = false;
    this.subscribers = undefined;
    trace(() => `${this.name}: watcher stopped`);
    this.onStop(this);
  }

  private scheduleAt(at: number): void {
    this.timers.schedule(this, at - this.now());
  }

  /** @internal By {@link PollTimers}: the next poll is due, or the running poll's deadline has come. */
  onPollDue(): void {
    if (!this.inFlight) {
      void this.poll();
      return;
    }
    const late = this.now() - this.pollDue;
    const poll = this.lastQueryAt;
    // Decided in the next turn, after the sockets have been read: a reply already waiting there beats the deadline.
    this.timers.clock.setTimeout(() => this.deadlineReached(poll, late), 0).unref?.();
  }

  /** Give the running poll up (could not ask), unless this process is behind (schedule.ts BEHIND_MS). */
  private deadlineReached(poll: number | undefined, late: number): void {
    if (!this.inFlight || this.stopped || this.lastQueryAt !== poll) return;
    const ran = this.now() - (this.lastQueryAt ?? 0);
    const deadlineMs = pollDeadline(this.options, this.resolve.firstTryTimeoutMs?.() ?? 0);
    const behind = late > BEHIND_MS || this.resolve.waitingInLine?.() === true;
    if (behind && ran + deadlineMs <= DEADLINE_PATIENCE * deadlineMs) {
      trace(() => `${this.name}: poll running for ${Math.round(ran)} ms, but this process is behind (timer ${Math.round(late)} ms late, or queries waiting in line): ${deadlineMs} ms more`);
      this.timers.schedule(this, deadlineMs);
      return;
    }
    this.deadline?.abort(new DnsError('TIMEOUT', this.name, `No answer for ${this.name} within the poll's deadline (${Math.round(ran)} ms); asking again now`));
  }

  private async poll(): Promise<void> {
    if (this.stopped || this.inFlight) return;
    this.inFlight = true;
    const startedAt = this.now();
    this.lastQueryAt = startedAt;
    const deadline = (this.deadline ??= new PollDeadline());
    deadline.rearm();
    // While the poll runs, the watcher's place in the poll timers holds its deadline (schedule.ts pollDeadline).
    this.timers.schedule(this, pollDeadline(this.options, this.resolve.firstTryTimeoutMs?.() ?? 0, this.givenUpInARow));
    if (tracing()) trace(() => `${this.name}: query (family ${this.options.family})`);
    this.recheckEarlier = this.takeover !== undefined && recheckDue(this.takeover, startedAt);
    let outcome: Outcome;
    try {
      outcome = { kind: 'answer', resolution: await this.resolve(this.name, this.options.family, this.polledName, this) };
    } catch (error) {
      outcome = { kind: 'error', error: asDnsError(error, this.name) };
    }
    this.inFlight = false;
    // The deadline still holds the watcher's place in the poll timers: the next poll, scheduled below, replaces it.
    if (this.stopped) return;
    const givenUp = deadline.aborted;
    this.givenUpInARow = givenUp ? this.givenUpInARow + 1 : 0;
    if (this.recheckEarlier && this.takeover) restartRecheck(this.takeover, startedAt);
    this.totalQueries++;
    const durationMs = Math.round(this.now() - startedAt);
    if (observed()) report(() => ({
      type: 'query',
      name: this.name,
      family: this.options.family,
      durationMs,
      result: outcome.kind === 'answer' ? 'NOERROR' : outcome.error.code,
      addresses: outcome.kind === 'answer' ? outcome.resolution.addresses.length : 0,
    }));
    this.settle(outcome, durationMs, givenUp);
  }

  /** After a poll: what to believe, when to ask next, then what to report and tell. */
  private settle(outcome: Outcome, durationMs: number, givenUp: boolean): void {
    const change = this.believe(outcome);
    const delay = this.scheduleNext(outcome, givenUp);
    this.reportOutcome(outcome, change, durationMs, delay);
    this.tellAll();
  }

  private tellAll(): void {
    const subscribers = this.subscribers;
    if (subscribers instanceof Set) for (const subscriber of [...subscribers]) this.tell(subscriber);
    else if (subscribers) this.tell(subscribers);
  }

  /**
   * Belief step: the contract's new belief, counters, and the name to poll
   * next. Returns the previous belief, and whether the address set changed.
   */
  private believe(outcome: Outcome): { previous: Belief; setChanged: boolean } {
    const previous = this.belief;
    const next = nextBelief(previous, outcome, this.options.maxAddresses);
    // The same records as last time (the usual poll): keep the belief held, so
    // nothing new outlives the poll and no signature is computed.
    this.belief =
      next.kind === 'addresses' && previous.kind === 'addresses' && next.available === previous.available && sameRecords(previous.addresses, next.addresses)
        ? previous
        : next;
    if (outcome.kind === 'answer' && this.belief.kind === 'addresses') this.countAvailable(this.belief);
    let setChanged = false;
    if (this.belief !== previous) {
      const previousSignature = this.beliefSignature;
      this.beliefSignature = signature(this.belief);
      setChanged = this.belief.kind === 'addresses' && previousSignature !== this.beliefSignature;
      if (setChanged) this.lastChangeAt = this.now();
    }
    if (outcome.kind === 'error') {
      this.lastError = outcome.error;
      if (outcome.error.authoritative) {
        this.failures = 0;
        // The whole list was walked and nothing answered: start from it again.
        this.polledName = undefined;
        this.polledIndex = -1;
        this.takeover = undefined;
      } else {
        this.failures++;
        this.totalFailures++;
      }
    } else {
      this.failures = 0;
      this.lastError = undefined;
      this.remember(outcome.resolution);
      this.watchTtl(outcome.resolution, previous.kind === 'addresses' && !setChanged);
    }
    return { previous, setChanged };
  }

  /** Addresses the set held before `maxAddresses` picked from it. */
  private countAvailable(belief: Extract<Belief, { kind: 'addresses' }>): void {
    const { available } = belief;
    if (available === undefined) {
      this.addressesAvailable = distinctAddresses(belief.addresses);
      return;
    }
    this.addressesAvailable = available;
    trace(() => `${this.name}: ${available} addresses; using this process's stable random subset of ${this.options.maxAddresses} (maxAddresses)`);
  }

  /** Feed the answer's TTL to the cache detector; a trace line when its verdict changes. */
  private watchTtl(resolution: Resolution, sameSet: boolean): void {
    // A half answer's TTL is one family's; the next whole answer tells more.
    if (resolution.failedFamilies.length > 0) return;
    const before = this.cacheView.verdict;
    this.cacheView = observeTtl(this.cacheView, { at: this.now(), ttl: minTtl(resolution.addresses) }, !sameSet);
    const { verdict } = this.cacheView;
    if (verdict === before) return;
    if (verdict === 'detected') {
      trace(() => {
        const { cacheTtl, stalenessBoundMs } = this.cacheStats();
        return (
          `${this.name}: answers come from a cache (the TTL counts down, ${cacheTtl} s at most); ` +
          `a change can take up to ${stalenessBoundMs} ms to reach this watcher`
        );
      });
    } else if (before === 'detected') {
      trace(() => `${this.name}: answers no longer come from a cache (the TTL ${verdict === 'none' ? 'repeats' : 'says nothing'})`);
    }
  }

  /** Poll the candidate that answered; after a later one took over, recheck the earlier ones (schedule.ts RECHECK_EVERY_POLLS). */
  private remember(resolution: Resolution): void {
    const polled = resolution.source === 'dns' ? resolution.name : undefined;
    const index = polled === undefined ? -1 : (resolution.searchIndex ?? -1);
    let takeover = this.takeover;
    if (polled !== undefined && this.polledName !== undefined && index > this.polledIndex) {
      const anchor = Math.min(takeover?.anchor ?? this.polledIndex, this.polledIndex);
      takeover ??= restartRecheck({ anchor, pollsToRecheck: 0, recheckBy: 0 }, this.lastQueryAt ?? this.now());
      takeover.anchor = anchor;
      const before = this.polledName;
      trace(() => `${this.name}: ${polled}. answers where ${before}. stopped; asking the earlier candidates again every ${RECHECK_EVERY_POLLS} polls until one answers`);
    }
    if (takeover && (polled === undefined || index <= takeover.anchor)) takeover = undefined;
    this.takeover = takeover;
    this.polledIndex = index;
    if (polled === this.polledName) return;
    this.polledName = polled;
    // An absolute name has no list to walk: only a relative one is news.
    if (polled !== undefined && !this.name.endsWith('.')) {
      trace(() => `${this.name} resolved as ${polled}. via the search list; polling it directly`);
    }
  }

  /** Schedule step: by the TTL or the failure count; at once after a poll given up at its deadline. Returns the delay. */
  private scheduleNext(outcome: Outcome, givenUp: boolean): number {
    const delay = givenUp
      ? earliestRequestedRun(this.now(), this.lastQueryAt, this.options.minInterval) - this.now()
      : outcome.kind === 'error' && !outcome.error.authoritative
        ? delayAfterFailure(this.options, this.failures, this.random)
        : this.delayAfterAnswer();
    this.scheduleAt(this.now() + delay);
    return delay;
  }

  /**
   * After an answer: with `respectTtl` and a cache's copy whose expiry is
   * known, just after that expiry (asking sooner gets the same copy), at
   * most the cap away — or, when the cache has not been seen counting down
   * for a while, a probe inside the copy (cache-detect.ts); otherwise by the
   * interval and the records' TTL.
   */
  private delayAfterAnswer(): number {
    const expiry = this.options.respectTtl && this.belief.kind === 'addresses' ? cachedCopyExpiry(this.cacheView) : undefined;
    if (expiry !== undefined) {
      const expiresIn = expiry - this.now();
      const probe = probeDue(this.cacheView, this.now()) ? delayForCacheProbe(this.options, expiresIn, this.random) : undefined;
      if (probe !== undefined) {
        trace(() => `${this.name}: checking that a cache still answers, inside its copy (${Math.round(expiresIn / 1_000)} s left)`);
        return probe;
      }
      return delayAfterCachedAnswer(this.options, expiresIn, this.cacheView.largestTtl ?? 0, this.random);
    }
    return delayAfterSuccess(this.options, this.belief.kind === 'addresses' ? minTtl(this.belief.addresses) : Infinity, this.random);
  }

  /** @internal Family 0: one family's addresses as they come in; a change is delivered in the next turn (docs/design.md). */
  familyAnswered(_candidate: string, family: 4 | 6, addresses: readonly ResolvedAddress[]): void {
    if (!this.inFlight || this.stopped || sameFamilyRecords(this.belief, family, addresses)) return;
    const poll = this.lastQueryAt;
    // After the replies read in this turn (a timer runs in the next one): a change is rare, this is its only cost.
    this.timers.clock.setTimeout(() => this.deliverEarly(poll, family, addresses), 0).unref?.();
  }

  private deliverEarly(poll: number | undefined, family: 4 | 6, addresses: readonly ResolvedAddress[]): void {
    if (!this.inFlight || this.stopped || this.lastQueryAt !== poll) return;
    const other = family === 4 ? 6 : 4;
    const pending = new DnsError('TIMEOUT', this.name, `${other === 4 ? 'A' : 'AAAA'} for ${this.name} not answered yet`);
    const resolution: Resolution = { name: this.name, addresses: [...addresses], source: 'dns', failedFamilies: [{ family: other, error: pending }] };
    const previous = this.belief;
    const next = nextBelief(previous, { kind: 'answer', resolution }, this.options.maxAddresses);
    const nextSignature = signature(next);
    if (nextSignature === this.beliefSignature) return;
    this.belief = next;
    this.beliefSignature = nextSignature;
    this.lastChangeAt = this.now();
    trace(() => `${this.name}: ${family === 4 ? 'A' : 'AAAA'} answered while ${other === 4 ? 'A' : 'AAAA'} is still being asked; delivering the change now`);
    this.reportChange(previous);
    this.tellAll();
  }

  /** Report step: trace lines and observe() events for the outcome. */
  private reportOutcome(
    outcome: Outcome,
    { previous, setChanged }: { previous: Belief; setChanged: boolean },
    durationMs: number,
    delay: number,
  ): void {
    if (outcome.kind === 'error') {
      const { error } = outcome;
      const kept = !error.authoritative && this.belief.kind === 'addresses';
      report(() => ({ type: 'error', name: this.name, error, kept, retryInMs: delay }));
      if (error.authoritative) {
        trace(() => `${this.name}: ${error.code} after ${durationMs} ms (${error.message}); next poll in ${delay} ms`);
      } else {
        trace(
          () =>
            `${this.name}: failure ${this.failures} after ${durationMs} ms (${error.code}: ${error.message}); ` +
            `${kept ? 'keeping the last good set' : 'no set yet'}; retry in ${delay} ms`,
        );
      }
      return;
    }
    const addresses = this.belief.kind === 'addresses' ? this.belief.addresses : [];
    if (tracing()) trace(() => `${this.name}: ${addresses.length} addresses in ${durationMs} ms, min TTL ${minTtl(addresses)} s; next poll in ${delay} ms`);
    if (setChanged) this.reportChange(previous);
  }

  /** A trace line and the update event for a changed set. */
  private reportChange(previous: Belief): void {
    const addresses = this.belief.kind === 'addresses' ? this.belief.addresses : [];
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

  private tell(subscriber: Subscriber): void {
    if (!subscriber.open || this.stopped) return;
    const told = whatToTell(this.belief, subscriber.lastTold, subscriber.asked, this.beliefSignature);
    subscriber.asked = false;
    if (!told) {
      // Told this set before: hold this poll's equal list, not the first one's, so only one is kept.
      if (this.belief.kind === 'addresses' && subscriber.lastTold === this.beliefSignature) subscriber.lastAddresses = this.belief.addresses;
      return;
    }
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

/** A recheck at the poll starting at `startedAt`: the RECHECK_EVERY_POLLS-th since the last, or RECHECK_MAX_MS after it. */
function recheckDue(takeover: { pollsToRecheck: number; recheckBy: number }, startedAt: number): boolean {
  return --takeover.pollsToRecheck <= 0 || startedAt >= takeover.recheckBy;
}

function restartRecheck<T extends { pollsToRecheck: number; recheckBy: number }>(takeover: T, at: number): T {
  takeover.pollsToRecheck = RECHECK_EVERY_POLLS;
  takeover.recheckBy = at + RECHECK_MAX_MS;
  return takeover;
}

/** Whether `belief` holds exactly `addresses` (in order, TTLs aside) for `family`: no early delivery needed. */
function sameFamilyRecords(belief: Belief, family: 4 | 6, addresses: readonly ResolvedAddress[]): boolean {
  if (belief.kind !== 'addresses') return false;
  let i = 0;
  for (const entry of belief.addresses) {
    if (entry.family !== family) continue;
    if (i >= addresses.length || addresses[i]!.address !== entry.address) return false;
    i++;
  }
  return i === addresses.length;
}

/** Distinct addresses; small sets (the usual) counted without building a Set. */
function distinctAddresses(addresses: readonly ResolvedAddress[]): number {
  if (addresses.length > 16) return new Set(addresses.map((entry) => entry.address)).size;
  let count = 0;
  for (let i = 0; i < addresses.length; i++) {
    let seen = false;
    for (let j = 0; j < i && !seen; j++) seen = addresses[j]!.address === addresses[i]!.address;
    if (!seen) count++;
  }
  return count;
}

export function minTtl(addresses: readonly ResolvedAddress[]): number {
  return addresses.reduce((min, entry) => Math.min(min, entry.ttl), Infinity);
}

function asDnsError(error: unknown, name: string): DnsError {
  if (error instanceof DnsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DnsError('NETWORK', name, `Unexpected resolver failure for ${name}: ${message}`, { cause: error });
}
