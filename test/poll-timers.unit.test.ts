import { describe, expect, it } from 'vitest';
import { MAX_TIMER_MS, type Timers } from '../src/dns/timers.js';
import { PollTimers, type PollEntry } from '../src/watch/poll-timers.js';

/**
 * The shared poll timer: one heap, one armed timer. A scripted clock records
 * every timer asked for, so the tests assert what was scheduled.
 */
function scriptedClock() {
  let now = 1_000;
  let nextId = 1;
  const armed = new Map<number, { callback: () => void; at: number; unref: boolean }>();
  const requested: number[] = [];
  const clock: Timers = {
    now: () => now,
    setTimeout: (callback, ms) => {
      const id = nextId++;
      const timer = { callback, at: now + ms, unref: false };
      armed.set(id, timer);
      requested.push(ms);
      return { id, unref: () => (timer.unref = true) } as unknown as { unref(): unknown };
    },
    clearTimeout: (handle) => void armed.delete((handle as unknown as { id: number }).id),
  };
  /** Move the clock to `to`, firing armed timers in order as they fall due. */
  const advanceTo = (to: number): void => {
    for (;;) {
      const due = [...armed].filter(([, timer]) => timer.at <= to).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      armed.delete(due[0]);
      now = Math.max(now, due[1].at);
      due[1].callback();
    }
    now = to;
  };
  const set = (to: number): void => {
    now = to;
  };
  return {
    clock,
    armed,
    requested,
    advanceTo,
    set,
    get now() {
      return now;
    },
  };
}

function entry(name: string, fired: string[], onDue?: () => void): PollEntry & { name: string } {
  return {
    name,
    pollSlot: -1,
    pollDue: 0,
    onPollDue() {
      fired.push(name);
      onDue?.();
    },
  };
}

describe('PollTimers', () => {
  it('fires entries in order of due time, with one timer armed at a time, unref()d', () => {
    const clock = scriptedClock();
    const timers = new PollTimers(clock.clock);
    const fired: string[] = [];
    const entries = [5_000, 1_000, 3_000, 2_000, 4_000].map((delay) => {
      const one = entry(`at ${delay}`, fired);
      timers.schedule(one, delay);
      return one;
    });
    expect(timers.size).toBe(5);
    expect(clock.armed.size).toBe(1);
    expect([...clock.armed.values()].every((timer) => timer.unref)).toBe(true);
    // Armed for the first, re-armed only when an earlier one arrived (5,000 then 1,000).
    expect(clock.requested).toEqual([5_000, 1_000]);
    clock.advanceTo(clock.now + 5_000);
    expect(fired).toEqual(['at 1000', 'at 2000', 'at 3000', 'at 4000', 'at 5000']);
    expect(entries.every((one) => one.pollSlot === -1)).toBe(true);
    expect(timers.size).toBe(0);
    expect(clock.armed.size).toBe(0);
  });

  it('rescheduling moves an entry; cancelling removes it and disarms when none is left', () => {
    const clock = scriptedClock();
    const timers = new PollTimers(clock.clock);
    const fired: string[] = [];
    const a = entry('a', fired);
    const b = entry('b', fired);
    timers.schedule(a, 1_000);
    timers.schedule(b, 2_000);
    timers.schedule(a, 3_000);
    expect(timers.remaining(a)).toBe(3_000);
    expect(timers.remaining(b)).toBe(2_000);
    clock.advanceTo(clock.now + 2_500);
    expect(fired).toEqual(['b']);
    timers.cancel(a);
    expect(timers.remaining(a)).toBeUndefined();
    expect(clock.armed.size).toBe(0);
    clock.advanceTo(clock.now + 10_000);
    expect(fired).toEqual(['b']);
    timers.cancel(a); // twice: nothing
    expect(timers.size).toBe(0);
  });

  it('keeps heap order through random schedules, moves and cancels', () => {
    const clock = scriptedClock();
    const timers = new PollTimers(clock.clock);
    const fired: string[] = [];
    const pool = Array.from({ length: 200 }, (_, i) => entry(`e${i}`, fired));
    const dueAt = new Map<string, number>();
    let seed = 7;
    const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
    for (let step = 0; step < 2_000; step++) {
      const one = pool[Math.floor(random() * pool.length)]!;
      if (random() < 0.2) {
        timers.cancel(one);
        dueAt.delete(one.name);
      } else {
        const delay = Math.floor(random() * 10_000);
        timers.schedule(one, delay);
        dueAt.set(one.name, clock.now + delay);
      }
    }
    expect(timers.size).toBe(dueAt.size);
    clock.advanceTo(clock.now + 10_000);
    const expected = [...dueAt].sort((x, y) => x[1] - y[1]).map(([name]) => name);
    // Equal due times may fire in either order: compare the due times in firing order.
    expect(fired.map((name) => dueAt.get(name))).toEqual(expected.map((name) => dueAt.get(name)));
    expect(new Set(fired)).toEqual(new Set(expected));
  });

  it('a timer that fires a little early (the loop clock lags) still runs what is due within the tolerance', () => {
    const clock = scriptedClock();
    const timers = new PollTimers(clock.clock);
    const fired: string[] = [];
    timers.schedule(entry('a', fired), 1_000);
    const [only] = [...clock.armed.values()];
    // Node fired the timer 1 ms before it is due on performance.now().
    only!.at -= 1;
    clock.advanceTo(clock.now + 999);
    expect(fired).toEqual(['a']);
  });

  it('an entry further away than Node timers reach is armed in steps of the longest timer, and fires once when due', () => {
    const clock = scriptedClock();
    const timers = new PollTimers(clock.clock);
    const fired: string[] = [];
    const far = entry('far', fired);
    timers.schedule(far, 2 * MAX_TIMER_MS + 10);
    expect(clock.requested).toEqual([MAX_TIMER_MS]);
    clock.advanceTo(clock.now + 2 * MAX_TIMER_MS);
    expect(fired).toEqual([]);
    expect(clock.requested).toEqual([MAX_TIMER_MS, MAX_TIMER_MS, 10]);
    clock.advanceTo(clock.now + 10);
    expect(fired).toEqual(['far']);
    // NaN is due at once, not lost in the heap.
    timers.schedule(far, Number.NaN);
    clock.advanceTo(clock.now);
    expect(fired).toEqual(['far', 'far']);
  });

  it('an entry that reschedules itself at once runs at the next timer, not in a loop', () => {
    const clock = scriptedClock();
    const timers = new PollTimers(clock.clock);
    const fired: string[] = [];
    const again: PollEntry = entry('again', fired, () => timers.schedule(again, 0));
    timers.schedule(again, 100);
    const fireArmed = () => {
      const [id, timer] = [...clock.armed][0]!;
      clock.armed.delete(id);
      clock.set(timer.at);
      timer.callback();
    };
    fireArmed();
    expect(fired).toEqual(['again']);
    expect(clock.armed.size).toBe(1);
    fireArmed();
    expect(fired).toEqual(['again', 'again']);
    expect(clock.requested).toEqual([100, 0, 0]);
    timers.cancel(again);
    expect(clock.armed.size).toBe(0);
  });
});
