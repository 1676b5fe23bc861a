/**
 * One DNS name as an address source for the poller (src/watch/source.ts):
 * the memory a name's polls keep beyond the poller's own.
 *
 * - The name polled: the search-list candidate that answered last is asked
 *   directly at the next poll (`known`); when a later candidate takes over,
 *   the earlier ones are rechecked every RECHECK_EVERY_POLLS-th poll, or
 *   RECHECK_MAX_MS after the last recheck (src/watch/schedule.ts), until
 *   one answers again (docs/design.md, "The name polled").
 * - A cache in front, told by the TTLs of the answers
 *   (src/watch/cache-detect.ts): its copy's expiry is the hint the schedule
 *   waits for.
 * - With family 0, each family's addresses as they arrive, handed to the
 *   poller as a partial answer; a family that answers NODATA poll after
 *   poll while the other answers is asked less often
 *   (src/watch/family-demotion.ts), unless `askBothFamilies`.
 * - For channels that want a service config, the name's TXT records
 *   (src/watch/txt-records.ts), asked after the addresses and handed on
 *   with the answer when they changed.
 *
 * The stub resolver it asks is shared by every name with the same DNS
 * settings and stays stateless: this memory is per name.
 */
import type { NameserverStatus } from '../dns/nameserver-state.js';
import type { Family, ResolveControl, ResolvedAddress, Resolution } from '../dns/types.js';
import { cachedCopyExpiry, NO_CACHE_VIEW, observeTtl, probeDue, type CacheView } from './cache-detect.js';
import type { Outcome } from './contract.js';
import { demotedAskAfterMs, FamilyDemotion, reportFamilyChange, type FamilyChange } from './family-demotion.js';
import { minTtl } from './records.js';
import { cacheStalenessBound, RECHECK_EVERY_POLLS, RECHECK_MAX_MS, type ScheduleOptions } from './schedule.js';
import type { AddressSource, CachedCopy, PollContext } from './source.js';
import { familiesEveryPoll, nameserverStats, type SourceStats } from './stats.js';
import { trace } from './trace.js';
import { TxtRecords, type TxtFn, type TxtServiceConfig } from './txt-records.js';

/**
 * Asks DNS once: addresses with TTLs, or a typed failure. `known` is the
 * fully qualified name that answered last time ({@link Resolution.name}),
 * to be asked directly instead of walking the search list again; `control`
 * is the source itself (see {@link ResolveControl}).
 */
export interface ResolveFn {
  (name: string, family: Family, known?: string, control?: ResolveControl): Promise<Resolution>;
  /** The timeout the first try of a query has now, ms (`StubResolver.firstTryTimeoutMs`): a poll's deadline is never shorter. */
  firstTryTimeoutMs?(): number;
  /** The nameservers asked, as they stand now (`StubResolver.nameservers`), for stats. */
  nameservers?(): NameserverStatus[];
  /** Whether queries wait in line for a nameserver's slot (`StubResolver.waitingInLine`): this process is behind, not the network. */
  waitingInLine?(): boolean;
  /** A name's TXT records (`StubResolver.resolveTxt`), for a service config; without it none is asked. */
  txt?: TxtFn;
}

/** What a DNS poll answers: the resolution, and the name's TXT records when they are news. */
export type DnsAnswer = Resolution & { readonly serviceConfig?: TxtServiceConfig };

/** While a later candidate stands in: the earliest place that answered before, and the next recheck. */
interface Takeover {
  anchor: number;
  pollsToRecheck: number;
  recheckBy: number;
}

export class DnsSource implements AddressSource<DnsAnswer>, ResolveControl {
  /** The poll running, or that ran last: the poller. */
  private poll: PollContext | undefined;
  /** The candidate name that answered last (no trailing dot), asked directly at the next poll. */
  private polledName: string | undefined;
  /** Its place in the search-list walk; -1 when none. */
  private polledIndex = -1;
  private takeover: Takeover | undefined;
  /** @internal This poll also asks the candidates before the polled one. */
  recheckEarlier = false;
  /** What the TTLs of the answers say about a cache in front. */
  private cacheView: CacheView = NO_CACHE_VIEW;
  /** Family 0: the family demoted, if any (none with `askBothFamilies`). */
  private readonly demotion: FamilyDemotion | undefined;
  /** @internal This poll leaves the demoted family out (asked of the polled candidate only). */
  skipFamily: 4 | 6 | undefined;
  /** The name's TXT records, for the subscribers that want a service config. */
  readonly txt: TxtRecords;
  /** The timeout of the running (or last) poll's first try, ms; undefined while none left. */
  private firstTryMs: number | undefined;

  constructor(
    readonly name: string,
    readonly family: Family,
    private readonly resolve: ResolveFn,
    private readonly schedule: ScheduleOptions,
    askBothFamilies = false,
  ) {
    const askAfterMs = family === 0 && !askBothFamilies ? demotedAskAfterMs(schedule) : 0;
    this.demotion = askAfterMs > 0 ? new FamilyDemotion(askAfterMs) : undefined;
    this.txt = new TxtRecords(name, resolve.txt);
  }

  /** @internal The running poll's deadline: its queries' signal. */
  get signal(): PollContext['signal'] {
    return this.poll?.signal;
  }

  /** @internal What is left of the running poll, for its queries' extra tries. */
  remainingMs(): number {
    return this.poll?.remainingMs() ?? 0;
  }

  async ask(poll: PollContext): Promise<DnsAnswer> {
    this.poll = poll;
    this.firstTryMs = undefined;
    this.recheckEarlier = this.takeover !== undefined && recheckDue(this.takeover, poll.startedAt);
    this.skipFamily = this.demotion?.skipAt(poll.startedAt);
    const resolution = await this.resolve(this.name, this.family, this.polledName, this);
    if (!this.txt.due(resolution, poll.startedAt)) return resolution;
    // The TXT query must not hold the addresses back: a changed set goes out now (family 0 announced each family as it answered).
    const unannounced = this.family !== 0 ? this.family : this.skipFamily === undefined ? undefined : this.skipFamily === 4 ? 6 : 4;
    if (unannounced !== undefined) poll.partial(unannounced, resolution.addresses.filter((entry) => entry.family === unannounced));
    const serviceConfig = await this.txt.records(resolution, poll.startedAt, poll.signal);
    return serviceConfig ? { ...resolution, serviceConfig } : resolution;
  }

  /** @internal Family 0: one family's addresses as they come in. */
  familyAnswered(_candidate: string, family: 4 | 6, addresses: readonly ResolvedAddress[]): void {
    this.poll?.partial(family, addresses);
  }

  /** @internal A query of this poll sent its first try (client.ts `QueryOptions.firstTry`): the poll's first is kept. */
  firstTry(timeoutMs: number): void {
    this.firstTryMs ??= timeoutMs;
  }

  /** The timeout the running (or last) poll's first try had, ms; undefined when it sent none (hosts file, IP literal). */
  pollTryTimeoutMs(): number | undefined {
    return this.firstTryMs;
  }

  settled(outcome: Outcome<DnsAnswer>, sameSet: boolean, at: number): CachedCopy | undefined {
    if (this.recheckEarlier && this.takeover && this.poll) restartRecheck(this.takeover, this.poll.startedAt);
    if (outcome.kind === 'error') {
      if (outcome.error.authoritative) this.forget(`${outcome.error.code} for the name`);
      return undefined;
    }
    this.remember(outcome.resolution);
    if (this.demotion && this.poll) this.familyChanged(this.demotion.answered(outcome.resolution, this.poll.startedAt));
    this.watchTtl(outcome.resolution, sameSet, at);
    const expiresAt = cachedCopyExpiry(this.cacheView);
    if (expiresAt === undefined) return undefined;
    return { expiresAt, ttl: this.cacheView.largestTtl ?? 0, probe: probeDue(this.cacheView, at), askDueAt: this.demotion?.nextAskAt };
  }

  firstTryTimeoutMs(): number {
    return this.resolve.firstTryTimeoutMs?.() ?? 0;
  }

  waitingInLine(): boolean {
    return this.resolve.waitingInLine?.() === true;
  }

  stats(date: (at: number) => Date | undefined = () => undefined): SourceStats {
    const { verdict, largestTtl } = this.cacheView;
    const detected = verdict === 'detected' && largestTtl !== undefined;
    const demoted = this.demotion?.family;
    const nextAskAt = date(this.demotion?.nextAskAt ?? 0);
    return {
      polledName: this.polledName === undefined ? undefined : `${this.polledName}.`,
      cache: verdict,
      cacheTtl: detected ? largestTtl : undefined,
      stalenessBoundMs: detected ? cacheStalenessBound(this.schedule, largestTtl) : undefined,
      familiesEveryPoll: familiesEveryPoll(this.family, demoted),
      demotedFamily: demoted === undefined || nextAskAt === undefined ? undefined : { family: demoted, nextAskAt },
      nameservers: this.resolve.nameservers?.().map(nameserverStats) ?? [],
    };
  }

  /** The whole list was walked and nothing answered: start from it again (`why`), both families included. */
  private forget(why: string): void {
    this.polledName = undefined;
    this.polledIndex = -1;
    this.takeover = undefined;
    this.familyChanged(this.demotion?.reset(why));
  }

  private familyChanged(change: FamilyChange | undefined): void {
    if (change) reportFamilyChange(this.name, change);
  }

  /** Poll the candidate that answered; after a later one took over, recheck the earlier ones. */
  private remember(resolution: Resolution): void {
    const polled = resolution.source === 'dns' ? resolution.name : undefined;
    const index = polled === undefined ? -1 : (resolution.searchIndex ?? -1);
    let takeover = this.takeover;
    if (polled !== undefined && this.polledName !== undefined && index > this.polledIndex) {
      const anchor = Math.min(takeover?.anchor ?? this.polledIndex, this.polledIndex);
      takeover ??= restartRecheck({ anchor, pollsToRecheck: 0, recheckBy: 0 }, this.poll?.startedAt ?? 0);
      takeover.anchor = anchor;
      const before = this.polledName;
      trace(() => `${this.name}: ${polled}. answers where ${before}. stopped; asking the earlier candidates again every ${RECHECK_EVERY_POLLS} polls until one answers`);
    }
    if (takeover && (polled === undefined || index <= takeover.anchor)) takeover = undefined;
    this.takeover = takeover;
    this.polledIndex = index;
    if (polled === this.polledName) return;
    // Another name polled: its families are news.
    if (this.polledName !== undefined) {
      const now = polled === undefined ? 'the hosts file' : `${polled}.`;
      this.familyChanged(this.demotion?.reset(`${now} answers in place of ${this.polledName}.`));
    }
    this.polledName = polled;
    // An absolute name has no list to walk: only a relative one is news.
    if (polled !== undefined && !this.name.endsWith('.')) {
      trace(() => `${this.name} resolved as ${polled}. via the search list; polling it directly`);
    }
  }

  /** Feed the answer's TTL to the cache detector; a trace line when its verdict changes. */
  private watchTtl(resolution: Resolution, sameSet: boolean, at: number): void {
    // A half answer's TTL is one family's; the next whole answer tells more.
    if (resolution.failedFamilies.length > 0) return;
    const before = this.cacheView.verdict;
    this.cacheView = observeTtl(this.cacheView, { at, ttl: minTtl(resolution.addresses) }, !sameSet);
    const { verdict } = this.cacheView;
    if (verdict === before) return;
    if (verdict === 'detected') {
      trace(() => {
        const { cacheTtl, stalenessBoundMs } = this.stats();
        return (
          `${this.name}: answers come from a cache (the TTL counts down, ${cacheTtl} s at most); ` +
          `a change can take up to ${stalenessBoundMs} ms to reach this watcher`
        );
      });
    } else if (before === 'detected') {
      trace(() => `${this.name}: answers no longer come from a cache (the TTL ${verdict === 'none' ? 'repeats' : 'says nothing'})`);
    }
  }
}

/** A recheck at the poll starting at `startedAt`: the RECHECK_EVERY_POLLS-th since the last, or RECHECK_MAX_MS after it. */
function recheckDue(takeover: Takeover, startedAt: number): boolean {
  return --takeover.pollsToRecheck <= 0 || startedAt >= takeover.recheckBy;
}

function restartRecheck(takeover: Takeover, at: number): Takeover {
  takeover.pollsToRecheck = RECHECK_EVERY_POLLS;
  takeover.recheckBy = at + RECHECK_MAX_MS;
  return takeover;
}
