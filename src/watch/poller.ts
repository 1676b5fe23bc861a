/**
 * The poller: polls one address source (src/watch/source.ts) on its
 * schedule and tells every subscriber what the contract says, when it says
 * so. It owns what is the same for any source — the subscribers, when to
 * ask (first poll paced, interval, TTL, minInterval, jitter, backoff), each
 * poll's deadline, the belief (src/watch/contract.ts), stats and reporting —
 * and knows neither wire format nor grpc. One poller serves every channel
 * and watch() handle with the same target and settings (src/watch/registry.ts).
 *
 * A poll: the poller's place in the shared poll timers comes due, it asks
 * the source with itself as the poll's context, and its place then holds
 * the poll's deadline (schedule.ts `pollDeadline`); when the answer comes,
 * the contract moves the belief, the source hears how the poll ended (and
 * may hint at a cached copy to wait for), the next poll is scheduled, the
 * outcome is reported, and each subscriber is told what is news to it.
 */
import { DnsError, asDnsError } from '../dns/errors.js';
import { wallClockDate } from '../dns/timers.js';
import { recordType, type ResolvedAddress } from '../dns/types.js';
import { UNKNOWN, nextBelief, signature, type Belief, type Outcome, type SourceAnswer } from './contract.js';
import { holdServiceConfig, type HeldServiceConfig } from './service-config.js';
import { observed } from './observe.js';
import type { PacedStart, PacerMember } from './pacer.js';
import { PollDeadline } from './poll-deadline.js';
import { reportChange, reportOutcome, reportQuery, type SettledPoll } from './poll-report.js';
import { pollTimers, type PollEntry, type PollTimers } from './poll-timers.js';
import { distinctCount, minTtl, sameFamilyRecords, sameRecords, sortedAddresses } from './records.js';
import {
  BEHIND_MS,
  DEADLINE_PATIENCE,
  delayAfterCachedAnswer,
  delayAfterFailedPoll,
  delayAfterSuccess,
  delayForCacheProbe,
  earliestRequestedRun,
  pollDeadline,
  type ScheduleOptions,
} from './schedule.js';
import type { AddressSource, CachedCopy, PollContext } from './source.js';
import { noSourceStats, type WatcherStats } from './stats.js';
import { Subscriber, subscriberCount, subscriberList, tell, tellAll, withSubscriber, withoutSubscriber } from './subscribers.js';
import type { Delivery, Subscribers, Subscription, SubscriptionOwner, Telling } from './subscribers.js';
import { trace, tracing } from './trace.js';

export interface PollerOptions extends ScheduleOptions {
  /** Deliver at most this many addresses: this process's stable subset of the set (contract.ts, subset.ts). */
  maxAddresses?: number;
}

/** Injectable clock and randomness, so scheduling can be tested with fake timers. */
export interface PollerEnvironment {
  random?: () => number;
  /** Paces the first poll among many pollers sharing DNS settings (see pacer.ts); none: at once. */
  pacer?: PacerMember;
  /** Where the next poll waits: the process's one shared timer unless given. Its clock is the poller's clock for every delay and age. */
  timers?: PollTimers;
}

/** A settled poll, and the cached copy its source hinted at. */
type Believed = SettledPoll & { readonly copy: CachedCopy | undefined };

export class Poller<Answer extends SourceAnswer = SourceAnswer> implements PollEntry, PollContext, SubscriptionOwner, Telling {
  private subscribers: Subscribers = undefined;
  /** @internal What the contract says now; read through {@link state}. */
  belief: Belief = UNKNOWN;
  /** @internal signature(belief), kept with it: every subscriber is compared against it after every poll. */
  beliefSignature: string | undefined = undefined;
  /** @internal The latest service config the source answered, beside the belief (contract.ts). */
  serviceConfig: HeldServiceConfig | undefined = undefined;
  /** @internal Owned by {@link PollTimers}: where this poller's next poll sits in the shared timer heap. */
  pollSlot = -1;
  /** @internal Owned by {@link PollTimers}. */
  pollDue = 0;
  private inFlight = false;
  /** The first poll, while it waits for its turn among many starting together. */
  private pacedStart: PacedStart | undefined;
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
  private stopped = false;
  private readonly random: () => number;
  private readonly pacer: PacerMember | undefined;
  private readonly timers: PollTimers;

  constructor(
    readonly source: AddressSource<Answer>,
    private readonly options: PollerOptions,
    /** Called once, when the poller stops; shared by every poller of a registry's settings. */
    private readonly onStop: (poller: Poller<Answer>) => void = () => {},
    environment: PollerEnvironment = {},
  ) {
    this.random = environment.random ?? Math.random;
    this.pacer = environment.pacer;
    this.timers = environment.timers ?? pollTimers;
  }

  get name(): string {
    return this.source.name;
  }

  /** Current belief: the address set, or why there is none. */
  get state(): Belief {
    return this.belief;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** @internal The running poll's deadline: its queries' signal. */
  get signal(): PollDeadline | undefined {
    return this.deadline;
  }

  /** @internal Milliseconds to the running poll's deadline (its place in the poll timers holds it); 0 between polls. */
  remainingMs(): number {
    return this.inFlight ? Math.max(0, this.pollDue - this.now()) : 0;
  }

  /** @internal When the running (or last) poll started, on the poller's clock. */
  get startedAt(): number {
    return this.lastQueryAt ?? 0;
  }

  /** When the next poll is due, on the poller's clock (none while a poll runs). */
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
      family: this.source.family,
      subscribers: subscriberCount(this.subscribers),
      state: belief.kind,
      addresses: belief.kind === 'addresses' ? sortedAddresses(belief.addresses) : [],
      addressesAvailable: this.addressesAvailable,
      queries: this.totalQueries,
      failures: this.totalFailures,
      consecutiveFailures: this.failures,
      lastError: this.lastError && { code: this.lastError.code, message: this.lastError.message },
      lastQueryAt: date(this.lastQueryAt),
      lastChangeAt: date(this.lastChangeAt),
      querying: this.inFlight,
      nextPollAt: date(this.nextPollAt ?? this.pacedStart?.expectedAt()),
      ...(this.source.stats?.(date) ?? noSourceStats(this.source.family)),
    };
  }

  /**
   * Subscribe. A poller that already knows something tells the newcomer on
   * the next turn of the event loop; otherwise the first poll starts now.
   */
  subscribe(deliver: (delivery: Delivery) => void, takesServiceConfig = false): Subscription {
    if (this.stopped) throw new Error(`Watcher for ${this.name} is stopped`);
    const subscriber = new Subscriber(this, deliver, takesServiceConfig);
    this.subscribers = withSubscriber(this.subscribers, subscriber);
    if (this.belief.kind !== 'unknown') {
      setImmediate(() => tell(subscriber, this, this.name));
    } else if (!this.inFlight && !this.pacedStart && this.pollSlot < 0) {
      this.startFirstPoll();
    }
    return subscriber;
  }

  /** @internal Through {@link Subscription.request}. */
  request(subscriber: Subscriber): void {
    if (!subscriber.open || this.stopped) return;
    subscriber.asked = true;
    // A poll in flight, or a first poll waiting its turn, will answer it.
    if (this.inFlight || this.pacedStart) return;
    const runAt = earliestRequestedRun(this.now(), this.lastQueryAt, this.options.minInterval);
    if (runAt > this.now()) trace(() => `${this.name}: re-resolution requested, delayed ${runAt - this.now()} ms by minInterval`);
    const due = this.nextPollAt;
    if (due === undefined || runAt < due) this.scheduleAt(runAt);
  }

  /** @internal Through {@link Subscription.close}. */
  unsubscribe(subscriber: Subscriber): void {
    if (!subscriber.open) return;
    subscriber.open = false;
    this.subscribers = withoutSubscriber(this.subscribers, subscriber);
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
    for (const subscriber of subscriberList(this.subscribers)) subscriber.open = false;
    this.subscribers = undefined;
    trace(() => `${this.name}: watcher stopped`);
    this.onStop(this);
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

  /** @internal A family's addresses while the other is still asked; a change is delivered in the next turn (docs/design.md). */
  partial(family: 4 | 6, addresses: readonly ResolvedAddress[]): void {
    if (!this.inFlight || this.stopped) return;
    if (this.belief.kind === 'addresses' && sameFamilyRecords(this.belief.addresses, family, addresses)) return;
    const poll = this.lastQueryAt;
    // After the replies read in this turn (a timer runs in the next one): a change is rare, this is its only cost.
    this.timers.clock.setTimeout(() => this.deliverPartial(poll, family, addresses), 0).unref?.();
  }

  /** Milliseconds on the poller's monotonic clock (its poll timers' clock). */
  private now(): number {
    return this.timers.clock.now();
  }

  private scheduleAt(at: number): void {
    this.timers.schedule(this, at - this.now());
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

  /** Give the running poll up (could not ask), unless this process is behind (schedule.ts BEHIND_MS). */
  private deadlineReached(poll: number | undefined, late: number): void {
    if (!this.inFlight || this.stopped || this.lastQueryAt !== poll) return;
    const ran = this.now() - (this.lastQueryAt ?? 0);
    const deadlineMs = pollDeadline(this.options, this.source.firstTryTimeoutMs?.() ?? 0);
    const behind = late > BEHIND_MS || this.source.waitingInLine?.() === true;
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
    // While the poll runs, the poller's place in the poll timers holds its deadline (schedule.ts pollDeadline).
    this.timers.schedule(this, pollDeadline(this.options, this.source.firstTryTimeoutMs?.() ?? 0, this.givenUpInARow));
    if (tracing()) trace(() => `${this.name}: query (family ${this.source.family})`);
    let outcome: Outcome<Answer>;
    try {
      outcome = { kind: 'answer', resolution: await this.source.ask(this) };
    } catch (error) {
      outcome = { kind: 'error', error: asDnsError(error, this.name) };
    }
    this.inFlight = false;
    // The deadline still holds the poller's place in the poll timers: the next poll, scheduled below, replaces it.
    if (this.stopped) return;
    const givenUp = deadline.aborted;
    this.givenUpInARow = givenUp ? this.givenUpInARow + 1 : 0;
    this.totalQueries++;
    const durationMs = Math.round(this.now() - startedAt);
    if (observed()) reportQuery(this.name, this.source.family, outcome, durationMs, this.source.pollTryTimeoutMs?.());
    this.settle(outcome, durationMs, givenUp);
  }

  /** After a poll: what to believe, when to ask next, then what to report and tell. */
  private settle(outcome: Outcome<Answer>, durationMs: number, givenUp: boolean): void {
    const believed = this.believe(outcome);
    const delay = this.scheduleNext(outcome, givenUp, believed.copy);
    reportOutcome(this.name, outcome, believed, this.failures, durationMs, delay);
    tellAll(this.subscribers, this, this.name);
  }

  /** Belief step: the contract's new belief and the counters; then the source hears how the poll ended. */
  private believe(outcome: Outcome<Answer>): Believed {
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
    if (outcome.kind === 'answer') {
      this.failures = 0;
      this.lastError = undefined;
      this.serviceConfig = holdServiceConfig(this.serviceConfig, outcome.resolution.serviceConfig, this.name);
    } else {
      this.lastError = outcome.error;
      if (outcome.error.authoritative) this.failures = 0;
      else {
        this.failures++;
        this.totalFailures++;
      }
    }
    const copy = this.source.settled?.(outcome, previous.kind === 'addresses' && !setChanged, this.now());
    return { previous, belief: this.belief, setChanged, copy };
  }

  /** Addresses the set held before `maxAddresses` picked from it. */
  private countAvailable(belief: Extract<Belief, { kind: 'addresses' }>): void {
    const { available } = belief;
    if (available === undefined) {
      this.addressesAvailable = distinctCount(belief.addresses);
      return;
    }
    this.addressesAvailable = available;
    trace(() => `${this.name}: ${available} addresses; using this process's stable random subset of ${this.options.maxAddresses} (maxAddresses)`);
  }

  /** Schedule step: by the TTL or the failure count; at once after a poll given up at its deadline. Returns the delay. */
  private scheduleNext(outcome: Outcome<Answer>, givenUp: boolean, copy: CachedCopy | undefined): number {
    const now = this.now();
    const ran = now - (this.lastQueryAt ?? now);
    const earliest = earliestRequestedRun(now, this.lastQueryAt, this.options.minInterval) - now;
    let delay: number;
    if (givenUp) delay = earliest;
    else if (outcome.kind === 'error' && !outcome.error.authoritative) delay = delayAfterFailedPoll(this.options, this.failures, outcome.error.code === 'TIMEOUT', ran, this.random);
    // A family that could not be asked: its tries were the wait, so the interval counts from the poll's start.
    else if (outcome.kind === 'answer' && outcome.resolution.failedFamilies.length > 0) delay = Math.max(earliest, this.delayAfterAnswer(copy) - ran);
    else delay = this.delayAfterAnswer(copy);
    this.scheduleAt(now + delay);
    return delay;
  }

  /**
   * After an answer: with `respectTtl` and a cached copy whose expiry is
   * known, just after that expiry (asking sooner gets the same copy), at
   * most the cap away — or, when the source says so, a probe inside the
   * copy (cache-detect.ts) — and never after a poll the source owes;
   * otherwise by the interval and the records' TTL.
   */
  private delayAfterAnswer(copy: CachedCopy | undefined): number {
    const addresses = this.belief.kind === 'addresses' ? this.belief.addresses : undefined;
    if (copy !== undefined && this.options.respectTtl && addresses) {
      const expiresIn = copy.expiresAt - this.now();
      const probe = copy.probe ? delayForCacheProbe(this.options, expiresIn, this.random) : undefined;
      if (probe !== undefined) trace(() => `${this.name}: checking that a cache still answers, inside its copy (${Math.round(expiresIn / 1_000)} s left)`);
      const wait = probe ?? delayAfterCachedAnswer(this.options, expiresIn, copy.ttl, this.random);
      // A poll the source owes by a time (a demoted family's check) is not put off behind the copy.
      return copy.askDueAt === undefined ? wait : Math.min(wait, Math.max(this.options.minInterval, copy.askDueAt - this.now()));
    }
    return delayAfterSuccess(this.options, addresses ? minTtl(addresses) : Infinity, this.random);
  }

  private deliverPartial(poll: number | undefined, family: 4 | 6, addresses: readonly ResolvedAddress[]): void {
    if (!this.inFlight || this.stopped || this.lastQueryAt !== poll) return;
    const other = family === 4 ? 6 : 4;
    const previous = this.belief;
    const next = nextBelief(previous, { kind: 'answer', resolution: { addresses: [...addresses], failedFamilies: [{ family: other }] } }, this.options.maxAddresses);
    const nextSignature = signature(next);
    if (nextSignature === this.beliefSignature) return;
    this.belief = next;
    this.beliefSignature = nextSignature;
    this.lastChangeAt = this.now();
    // One family: the source goes on asking something else (DNS: the TXT records).
    const still = this.source.family === 0 ? `${recordType(other)} is` : 'the poll is';
    trace(() => `${this.name}: ${recordType(family)} answered while ${still} still being asked; delivering the change now`);
    reportChange(this.name, previous, next);
    tellAll(this.subscribers, this, this.name);
  }
}
