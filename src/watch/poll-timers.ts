/**
 * One timer for every watcher's next poll. A Node `Timeout` per watcher
 * costs about 180 bytes (the object, its callback closure, its boxed start
 * time) — a tenth of a watched name's whole budget at 10,000 names
 * (docs/benchmarks.md, "Load"). Instead the watchers themselves sit in a
 * binary min-heap ordered by when they are due, and one unref'd timer is
 * armed for the earliest: scheduling, moving and cancelling a poll are
 * O(log n) with nothing allocated.
 */

import { MAX_TIMER_MS, systemTimers, type Timers } from '../dns/timers.js';

/** What the heap holds: a watcher, with two fields owned by {@link PollTimers}. */
export interface PollEntry {
  /** Index in the heap, or -1 when not scheduled. Set only by PollTimers. */
  pollSlot: number;
  /** When it is due, on the timers' clock. Set only by PollTimers. */
  pollDue: number;
  /** Called once when due (not when cancelled). */
  onPollDue(): void;
}

/**
 * Node's timers run on the event loop's cached clock, which can lag
 * `performance.now()` by the length of the task that armed them: a timer
 * may fire a little before the entry it was armed for is due by this clock.
 * Entries this close are run rather than re-armed for a millisecond.
 */
const EARLY_TOLERANCE_MS = 2;

export class PollTimers {
  private readonly heap: PollEntry[] = [];
  private timer: { unref?(): unknown } | undefined;
  /** When the armed timer fires, on this clock (Infinity: none armed). */
  private armedFor = Infinity;

  /** `clock`: the one clock (dns/timers.ts); its readings are what {@link PollEntry.pollDue} holds. */
  constructor(readonly clock: Timers = systemTimers) {}

  /** Entries scheduled now. */
  get size(): number {
    return this.heap.length;
  }

  /** Run `entry.onPollDue()` in `delayMs`, replacing any time it was scheduled for. */
  schedule(entry: PollEntry, delayMs: number): void {
    // NaN (never from the schedule, which clamps) would break the heap order: treated as 0, as setTimeout does.
    entry.pollDue = this.clock.now() + (Number.isNaN(delayMs) ? 0 : Math.max(0, delayMs));
    if (entry.pollSlot < 0) {
      entry.pollSlot = this.heap.length;
      this.heap.push(entry);
    }
    this.restore(entry.pollSlot);
    this.arm();
  }

  /** Forget `entry`'s scheduled poll, if any. */
  cancel(entry: PollEntry): void {
    const slot = entry.pollSlot;
    if (slot < 0) return;
    entry.pollSlot = -1;
    const last = this.heap.pop()!;
    if (last !== entry) {
      this.heap[slot] = last;
      last.pollSlot = slot;
      this.restore(slot);
    }
    if (this.heap.length === 0) this.disarm();
  }

  /** Milliseconds until `entry` is due (0 if overdue), or undefined when not scheduled. */
  remaining(entry: PollEntry): number | undefined {
    return entry.pollSlot < 0 ? undefined : Math.max(0, entry.pollDue - this.clock.now());
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    this.armedFor = Infinity;
    const until = this.clock.now() + EARLY_TOLERANCE_MS;
    // At most the entries present now: one that reschedules itself at once runs at the next timer.
    for (let budget = this.heap.length; budget > 0; budget--) {
      const first = this.heap[0];
      if (!first || first.pollDue > until) break;
      this.cancel(first);
      first.onPollDue();
    }
    this.arm();
  };

  /** Keep one timer armed for the earliest entry. */
  private arm(): void {
    const first = this.heap[0];
    if (!first) return this.disarm();
    if (first.pollDue >= this.armedFor) return;
    this.disarm();
    this.armedFor = first.pollDue;
    // Node fires a longer timer after 1 ms: a far entry is reached in steps of the longest one.
    this.timer = this.clock.setTimeout(this.fire, Math.min(MAX_TIMER_MS, Math.max(0, first.pollDue - this.clock.now())));
    // Polling alone never keeps a process alive.
    this.timer.unref?.();
  }

  private disarm(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = Infinity;
  }

  /** Move the entry at `slot` up or down until the heap is ordered again. */
  private restore(slot: number): void {
    const heap = this.heap;
    const entry = heap[slot]!;
    let at = slot;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (heap[parent]!.pollDue <= entry.pollDue) break;
      heap[at] = heap[parent]!;
      heap[at]!.pollSlot = at;
      at = parent;
    }
    if (at === slot) {
      for (;;) {
        const left = 2 * at + 1;
        if (left >= heap.length) break;
        const right = left + 1;
        const child = right < heap.length && heap[right]!.pollDue < heap[left]!.pollDue ? right : left;
        if (heap[child]!.pollDue >= entry.pollDue) break;
        heap[at] = heap[child]!;
        heap[at]!.pollSlot = at;
        at = child;
      }
    }
    heap[at] = entry;
    entry.pollSlot = at;
  }
}

/** The process's poll timers, shared by every watcher. */
export const pollTimers = new PollTimers();
