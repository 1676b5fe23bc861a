/**
 * Family demotion (`family: 0`, unless `askBothFamilies`). In a single-stack
 * cluster one of A and AAAA answers NODATA at every poll of a process's
 * life: half of what a watcher sends. A family that answered NODATA on
 * DEMOTE_AFTER_POLLS polls in a row — each time from the polled candidate
 * that answered the other family with addresses in the same poll — is
 * demoted: asked only at the first poll that starts {@link demotedAskAfterMs}
 * or more after it was last asked. With the defaults (refreshInterval 5 s,
 * jitter 0.2: polls at most 6 s apart) that is 53 s, so it is asked again
 * 53–59 s after the last time: a demoted family that gains records is asked
 * within 59 s of gaining them, and its addresses reach the channel when that
 * answer comes (within the 1 s margin on a cluster DNS: 60 s in all).
 * Behind a cache, where polls wait for a copy's expiry (up to 33 s), the
 * poller pulls the poll that asks it in to {@link FamilyDemotion.nextAskAt}
 * (the DNS source hands it on as `CachedCopy.askDueAt`). The
 * cost: one query per poll for the family that answers, plus one per
 * 53–59 s for the demoted one — 1 + 1/11 ≈ 1.09 queries per poll at 5 s,
 * against 2 (docs/capacity.md).
 *
 * Only an authoritative NODATA counts: a timeout, SERVFAIL, REFUSED or a
 * lost reply is no news about the records, breaks the run, and never
 * demotes; a demoted family whose check could not be asked is asked again
 * at the next poll. A demoted family that answers with addresses is
 * restored at once (its addresses delivered with that answer). NXDOMAIN for
 * the name, a failure to find any record, or another candidate polled
 * restores both: the name is new again. The demoted family held no
 * addresses (it answered NODATA), so skipping it keeps nothing stale.
 *
 * The schedule and the state are pure (the clock is the caller's); the
 * DNS source (dns-source.ts) asks `skipAt` before each poll and tells each
 * answer to `answered`.
 */
import type { Resolution } from '../dns/types.js';
import { recordType } from '../dns/types.js';
import { report } from './observe.js';
import { backoffCap, type ScheduleOptions } from './schedule.js';
import { trace } from './trace.js';

/** NODATA answers in a row (beside the other family's addresses) that demote a family. */
export const DEMOTE_AFTER_POLLS = 3;
/** A demoted family is asked again within this long of the last time it was asked, with its reply: the bound on a new family's addresses, ms. */
export const DEMOTED_BOUND_MS = 60_000;
/** Of {@link DEMOTED_BOUND_MS}, what is left for the demoted family's reply to come, ms (a cluster DNS answers in about a millisecond; a lost datagram costs an adaptive retry of about 250 ms). */
const DEMOTED_REPLY_MARGIN_MS = 1_000;

/** The longest a healthy watcher waits between two polls: the interval or the backoff cap, with jitter. */
function longestPollSpacingMs(options: Pick<ScheduleOptions, 'refreshInterval' | 'jitter' | 'backoff'>): number {
  return Math.max(options.refreshInterval, backoffCap(options)) * (1 + options.jitter);
}

/**
 * How long after a demoted family was last asked the next poll asks it
 * again: {@link DEMOTED_BOUND_MS} less the reply margin and the longest
 * spacing of two polls, so the first poll to start after it is at most the
 * bound less the margin away (53 s with the defaults). 0: demotion would
 * skip no poll (an interval of about 24.6 s or more with jitter 0.2), and a
 * family is never demoted.
 */
export function demotedAskAfterMs(options: Pick<ScheduleOptions, 'refreshInterval' | 'jitter' | 'backoff'>): number {
  const spacing = longestPollSpacingMs(options);
  const after = DEMOTED_BOUND_MS - DEMOTED_REPLY_MARGIN_MS - spacing;
  // Asked again at the very next poll anyway: nothing saved, so nothing demoted.
  return after > spacing ? Math.round(after) : 0;
}

/** A family demoted or restored: what the trace line, the `family` event and the command say. */
export interface FamilyChange {
  family: 4 | 6;
  change: 'demoted' | 'restored';
  /** Demoted: the first poll to start this long from now asks it again, ms. */
  nextAskInMs: number | undefined;
  /** Why, in words. */
  reason: string;
}

/** One name's families: the runs of NODATA, and the family demoted (at most one: the other answers). */
export class FamilyDemotion {
  private noDataInARow4 = 0;
  private noDataInARow6 = 0;
  private demoted: 4 | 6 | undefined;
  /** When the demoted family was last asked and answered NODATA (the poll's start). */
  private askedAt = 0;

  constructor(private readonly askAfterMs: number) {}

  /** The family demoted now, if any. */
  get family(): 4 | 6 | undefined {
    return this.demoted;
  }

  /** When the demoted family is asked again: at the first poll starting at or after this (caller's clock). */
  get nextAskAt(): number | undefined {
    return this.demoted === undefined ? undefined : this.askedAt + this.askAfterMs;
  }

  /** The family a poll starting at `at` leaves out: the demoted one, until it is due. */
  skipAt(at: number): 4 | 6 | undefined {
    if (this.demoted === undefined || at >= this.askedAt + this.askAfterMs) return undefined;
    return this.demoted;
  }

  /** The polled candidate's answer at the poll that started at `startedAt`: a family demoted or restored, if one was. */
  answered(resolution: Resolution, startedAt: number): FamilyChange | undefined {
    if (resolution.source !== 'dns') return this.reset('the name is not asked of DNS');
    return this.family4or6(resolution, 4, startedAt) ?? this.family4or6(resolution, 6, startedAt);
  }

  /** Both families matter again (the name gone, or another name polled): a demoted one is restored. */
  reset(reason: string): FamilyChange | undefined {
    this.noDataInARow4 = 0;
    this.noDataInARow6 = 0;
    const family = this.demoted;
    if (family === undefined) return undefined;
    this.demoted = undefined;
    return { family, change: 'restored', nextAskInMs: undefined, reason };
  }

  private family4or6(resolution: Resolution, family: 4 | 6, startedAt: number): FamilyChange | undefined {
    if (resolution.unaskedFamily === family) return undefined;
    const run = this.bump(family, resolution.noDataFamily === family);
    if (run === 0) {
      if (this.demoted !== family || !hasFamily(resolution, family)) return undefined;
      this.demoted = undefined;
      return { family, change: 'restored', nextAskInMs: undefined, reason: `${recordType(family)} records again` };
    }
    if (this.demoted === family) {
      this.askedAt = startedAt;
      return undefined;
    }
    if (run < DEMOTE_AFTER_POLLS || this.askAfterMs === 0) return undefined;
    this.demoted = family;
    this.askedAt = startedAt;
    const other = recordType(family === 4 ? 6 : 4);
    return { family, change: 'demoted', nextAskInMs: this.askAfterMs, reason: `NODATA on ${run} polls in a row while ${other} answers` };
  }

  /** The family's run of NODATA answers, lengthened by one or broken (addresses, a failure). */
  private bump(family: 4 | 6, noData: boolean): number {
    if (family === 4) return (this.noDataInARow4 = noData ? this.noDataInARow4 + 1 : 0);
    return (this.noDataInARow6 = noData ? this.noDataInARow6 + 1 : 0);
  }
}

function hasFamily(resolution: Resolution, family: 4 | 6): boolean {
  for (const address of resolution.addresses) if (address.family === family) return true;
  return false;
}

/** A trace line and a `family` event for a change of `name`'s families. */
export function reportFamilyChange(name: string, change: FamilyChange): void {
  const type = recordType(change.family);
  trace(() =>
    change.change === 'demoted'
      ? `${name}: ${type} demoted (${change.reason}): asked only at the first poll ${change.nextAskInMs} ms or more after it was last asked, until it has records`
      : `${name}: ${type} restored (${change.reason}): asked at every poll`,
  );
  report(() => ({ type: 'family', name, family: change.family, change: change.change, nextAskInMs: change.nextAskInMs, reason: change.reason }));
}
