/**
 * The tries in flight to one nameserver: how many, whose, and who goes next.
 *
 * Why a bound at all. Each try in flight holds a query id, a timer and some
 * memory, and costs the server a pending query; a dead server holds every
 * try for its whole timeout. The bound keeps all of that finite however many
 * names are watched and whatever the server does.
 *
 * Why it adapts (Little's law). The tries a server needs in flight are the
 * query rate × the time each holds its slot: at 1,600 queries/s a server
 * that answers in 1 ms needs 2, one that takes 1.8 s needs 2,900, and one
 * that drops most datagrams holds each try for a timeout. No fixed number
 * serves all three: a small one starves a slow but working server (its
 * line grows until tries fail OVERLOADED), a large one lets a dead server
 * hold thousands of ids. So the limit starts at `initialLimit` and grows
 * by one for every answer that comes while tries wait in line — slow start,
 * clocked by answers as TCP's window is by acks: it doubles per round trip
 * while the server answers everything, grows by a tenth of that while it
 * answers a tenth — up to `maxLimit`. It falls back to `initialLimit`
 * when a try times out and the server has answered nothing within a
 * configured timeout (`answering()`): a dead server is never sent more than
 * the initial window at once. Loss alone does not shrink it: a stub
 * resolver's demand is bounded by what its pollers ask (one query per name
 * and family per interval, plus retries), so the window decides only
 * whether queries already due are sent or wait, never how many are made —
 * and a server that answers a tenth of them answers more the more are asked.
 *
 * Why it is shared fairly. Slots are held for as long as a try lasts, so
 * whoever asks slow questions holds them all: 4,000 names behind an upstream
 * that takes 1.8 s would fill every slot and keep a fast name, answered in a
 * millisecond, waiting behind them for seconds. Tries are grouped by the
 * parent domain of the name asked (`web.ns.svc.cluster.local` →
 * `ns.svc.cluster.local`; names under one zone share an upstream and its
 * fate, and a search domain's candidates share its suffix), and one group
 * may hold at most {@link GROUP_SHARE} of the slots: the rest always admits
 * other groups at once. Groups waiting in line take turns (round robin,
 * FIFO within a group), so one group's long line does not hold up another's
 * next try.
 *
 * Waiting. A full line (`maxQueued` over all groups) refuses at once. A try
 * that waited longer than `maxWaitMs` is refused ('expired') when its turn
 * comes — unless the nameserver answers: then a long line means this
 * process is slow (short of CPU, or a burst of start-ups), and it may wait
 * {@link ANSWERING_WAIT_FACTOR} times as long (late, not failed).
 */
import { cannotAsk, type DnsError } from './errors.js';
import { canonicalName } from './names.js';
import type { Timers } from './timers.js';

/** Why a waiting try did not get a slot; 'cancelled' is the waiter's own doing ({@link GateWait.cancel}). */
export type GateRefusal = 'full' | 'expired' | 'closed' | 'cancelled';

/** A place in line: `admitted` resolves when a slot is handed over; `cancel()` gives the place up. */
interface GateWait {
  readonly admitted: Promise<void>;
  /**
   * Leave the line (an aborted query): `admitted` rejects with 'cancelled'.
   * Does nothing once admitted or refused: an admitted try gives its slot
   * back with `leave()`.
   */
  cancel(): void;
}

/**
 * How much longer a try may wait in line while its nameserver answers. A
 * line behind a dead server drains by expiry within about a timeout; behind
 * a server that answers, a long line means this process is slow, and
 * refusing its waiters would turn late polls into failed ones and their
 * retries into more work.
 */
export const ANSWERING_WAIT_FACTOR = 8;

/**
 * The share of the slots one group (one parent domain) may hold: three
 * quarters. The last quarter always admits other domains' tries at once, so
 * a slow domain can delay a fast one by nothing, while a lone domain (the
 * usual case: every name in one namespace) still has most of the window,
 * and the window grows when it needs more.
 */
export const GROUP_SHARE = 0.75;

/**
 * Tries in flight per nameserver when it starts, and again whenever it has
 * been silent for a timeout (the limit grows from here with answers while
 * tries wait: see the notes above). Neither reference caps this by default:
 * CoreDNS's `forward` has `max_concurrent` unset and asks for "at least the
 * upstream query rate × latency", each concurrent query costing it about
 * 2 KB; c-ares has no cap and draws random ids until one is free, which
 * spins once the 65,536 ids are in use. By that rule 256 carries 128,000
 * queries/s at a 2 ms in-cluster latency and 2,560/s at 100 ms, far above
 * what one process polls, while a dead server (slots held for the whole
 * timeout) sees at most 256 / timeout queries a second.
 */
export const INITIAL_IN_FLIGHT_PER_NAMESERVER = 256;

/**
 * Tries in flight per nameserver at most, however far the limit grew
 * (see the notes above). Little's law for the slowest server this should keep up
 * with: 4,000 names polled for A and AAAA every 5 s (1,600 queries/s) from a
 * server that takes 1.8 s need 2,900 in flight; 4,096 covers it. Bounded
 * with it: query ids (3 servers × (4,096 + MAX_LINGERING_PER_NAMESERVER in udp-tries.ts)
 * = 13,056, a fifth of the id space, so drawing a free id stays cheap) and
 * memory (about 4 KB a query in flight: its promises, timer, buffer and try).
 */
export const MAX_IN_FLIGHT_PER_NAMESERVER = 4_096;

/**
 * Tries waiting in line per nameserver, over all domains, behind the
 * in-flight limit. Past it a try fails at once with `OVERLOADED` (the next
 * nameserver is tried); a try that waited longer than the configured timeout
 * fails with `OVERLOADED` when its turn comes — unless the nameserver
 * answered within the last timeout: then this process, not the server, is
 * slow, and the try may wait {@link ANSWERING_WAIT_FACTOR} times as
 * long (late, not failed). A start-up burst of 8,000 names (16,384 queries)
 * waits in line against a server that answers; with a dead server the line
 * drains by expiry within about two timeouts. About 3 KB a waiting query
 * (its promises and async frames, and its place in line).
 */
export const MAX_QUEUED_PER_NAMESERVER = 16_384;

/** The group a name's tries count in: its parent domain, lower-cased (a single label is its own group). */
export function groupOf(name: string): string {
  const dot = name.indexOf('.');
  return canonicalName(dot === -1 ? name : name.slice(dot + 1));
}

/** A waiter is a node of its group's doubly linked list: leaving the line is O(1) and leaves nothing behind. */
interface Waiter {
  readonly group: Group;
  readonly since: number;
  readonly resolve: () => void;
  readonly reject: (reason: GateRefusal) => void;
  prev: Waiter | null;
  next: Waiter | null;
  /** Still in line (not yet admitted, refused or cancelled). */
  waiting: boolean;
}

/** One parent domain's tries: how many hold a slot, and its line. */
interface Group {
  readonly key: string;
  inFlight: number;
  head: Waiter | null;
  tail: Waiter | null;
}

interface GateSettings {
  /** The limit a gate starts with and returns to when its server stops answering. */
  initialLimit: number;
  /** The limit never grows past this. */
  maxLimit: number;
  /** Tries waiting in line, over all groups. */
  maxQueued: number;
  /** How long a try may wait in line while the server is not answering. */
  maxWaitMs: number;
  timers: Timers;
  /** Whether the nameserver behind this gate answered within the last timeout. */
  answering?: () => boolean;
}

export class QueryGate {
  limit: number;
  readonly maxQueued: number;
  private inFlight = 0;
  private waiting = 0;
  private readonly groups = new Map<string, Group>();
  /** Groups with a line, in turn. */
  private readonly turns = new Map<string, Group>();
  private readonly answering: () => boolean;

  constructor(private readonly settings: GateSettings) {
    this.limit = Math.min(settings.initialLimit, settings.maxLimit);
    this.maxQueued = settings.maxQueued;
    this.answering = settings.answering ?? (() => false);
  }

  /** {@link GROUP_SHARE} of the limit, at least 1. */
  get groupLimit(): number {
    return Math.max(1, Math.floor(this.limit * GROUP_SHARE));
  }

  /** A slot now, if free for `group` and none of it waits. */
  tryEnter(group: string): boolean {
    if (this.inFlight >= this.limit) return false;
    const entry = this.groups.get(group);
    if (entry && (entry.head || entry.inFlight >= this.groupLimit)) return false;
    this.admit(entry ?? this.groupFor(group));
    return true;
  }

  /** Wait in `group`'s line; refusals are {@link GateRefusal}s. */
  wait(group: string): GateWait {
    if (this.waiting >= this.maxQueued) {
      // A refusal is a tag the client turns into a DnsError naming the server, not an error of its own.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return { admitted: Promise.reject<void>('full'), cancel: () => undefined };
    }
    const entry = this.groupFor(group);
    let waiter!: Waiter;
    const admitted = new Promise<void>((resolve, reject) => {
      waiter = { group: entry, since: this.settings.timers.now(), resolve, reject, prev: entry.tail, next: null, waiting: true };
    });
    if (entry.tail) entry.tail.next = waiter;
    else {
      entry.head = waiter;
      this.turns.set(entry.key, entry);
    }
    entry.tail = waiter;
    this.waiting++;
    // A slot may be free for this group already (its line was only behind its own share).
    this.dispatch();
    return {
      admitted,
      cancel: () => {
        if (!waiter.waiting) return;
        this.unlink(waiter);
        this.forgetIfIdle(entry);
        waiter.reject('cancelled');
      },
    };
  }

  /** A try of `group` gave its slot back. */
  leave(group: string): void {
    const entry = this.groups.get(group);
    if (!entry) return;
    this.inFlight--;
    entry.inFlight--;
    this.forgetIfIdle(entry);
    this.dispatch();
  }

  /** An answer: +1 to the limit while tries wait. */
  answered(): void {
    if (this.waiting === 0 || this.limit >= this.settings.maxLimit) return;
    this.limit++;
    this.dispatch();
  }

  /** A timeout: back to the initial limit if the server is silent. */
  timedOut(): void {
    if (!this.answering()) this.limit = Math.min(this.settings.initialLimit, this.settings.maxLimit);
  }

  longestWait(): number {
    return this.answering() ? this.settings.maxWaitMs * ANSWERING_WAIT_FACTOR : this.settings.maxWaitMs;
  }

  /**
   * The OVERLOADED error of a try that got no slot (`why`: the line was
   * full, or it waited too long): `server` is the one asked, `group` the
   * names it counts with.
   */
  overloadedError(why: 'full' | 'expired', server: string, name: string, type: string, group: string): DnsError {
    const line = why === 'full' ? `${this.queued} queries already wait` : `this one waited more than ${this.longestWait()} ms in line`;
    const notes = [`its limit now ${this.limit}`, `${this.groupLimit} for names under ${group}`];
    if (why === 'full') notes.push(`MAX_QUEUED_PER_NAMESERVER ${this.maxQueued}`);
    return cannotAsk('OVERLOADED', name, type, `${server} has ${this.active} queries in flight and ${line}`, notes);
  }

  close(): void {
    for (const entry of [...this.groups.values()]) {
      for (let waiter = entry.head; waiter; waiter = entry.head) {
        this.unlink(waiter);
        waiter.reject('closed');
      }
    }
    this.groups.clear();
    this.turns.clear();
  }

  get queued(): number {
    return this.waiting;
  }

  get active(): number {
    return this.inFlight;
  }

  /** Free slots to waiting groups in turn. */
  private dispatch(): void {
    let maxWait: number | undefined;
    while (this.inFlight < this.limit) {
      const entry = this.nextInTurn();
      if (!entry) return;
      const waiter = entry.head!;
      this.unlink(waiter);
      const waited = this.settings.timers.now() - waiter.since;
      if (waited > this.settings.maxWaitMs && waited > (maxWait ??= this.longestWait())) {
        this.forgetIfIdle(entry);
        waiter.reject('expired');
        continue;
      }
      // In; if its line goes on, it waits for its next turn at the back.
      if (entry.head) {
        this.turns.delete(entry.key);
        this.turns.set(entry.key, entry);
      }
      this.admit(entry);
      waiter.resolve();
    }
  }

  /** The first group in turn under its share. */
  private nextInTurn(): Group | undefined {
    const share = this.groupLimit;
    for (const entry of this.turns.values()) if (entry.inFlight < share) return entry;
    return undefined;
  }

  private admit(entry: Group): void {
    this.inFlight++;
    entry.inFlight++;
  }

  private groupFor(key: string): Group {
    let entry = this.groups.get(key);
    if (!entry) {
      entry = { key, inFlight: 0, head: null, tail: null };
      this.groups.set(key, entry);
    }
    return entry;
  }

  private forgetIfIdle(entry: Group): void {
    if (entry.inFlight === 0 && !entry.head) this.groups.delete(entry.key);
  }

  private unlink(waiter: Waiter): void {
    const entry = waiter.group;
    waiter.waiting = false;
    if (waiter.prev) waiter.prev.next = waiter.next;
    else entry.head = waiter.next;
    if (waiter.next) waiter.next.prev = waiter.prev;
    else entry.tail = waiter.prev;
    waiter.prev = waiter.next = null;
    this.waiting--;
    if (!entry.head) this.turns.delete(entry.key);
  }
}
