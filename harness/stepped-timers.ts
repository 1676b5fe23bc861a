import type { TimerHandle, Timers } from '../src/dns/timers.js';

/**
 * A clock that moves only when the test steps it: `step()` sets the time to
 * the earliest armed timer's due time and runs it. A timer of 0 ms runs in
 * the next turn of the event loop by itself, the clock unmoved. For a poller's timers
 * (a `PollTimers` over it) while its DNS queries run on the real clock: a
 * minute of polling against a real server costs the queries' round trips,
 * not a minute, and every delay the poller asked for is recorded.
 */
export function steppedTimers(): Timers & { delays: number[]; armed(): number; step(): number } {
  const delays: number[] = [];
  const live = new Map<TimerHandle, { due: number; callback: () => void }>();
  const immediates = new Map<TimerHandle, NodeJS.Immediate>();
  let now = 0;
  return {
    delays,
    now: () => now,
    setTimeout: (callback, ms) => {
      delays.push(ms);
      if (ms <= 0) {
        // "In the next turn of the event loop" (a partial answer's delivery, a deadline decided after the sockets are read): no time passes.
        const immediate = setImmediate(callback);
        const handle: TimerHandle = {};
        immediates.set(handle, immediate);
        return handle;
      }
      const handle: TimerHandle = {};
      live.set(handle, { due: now + ms, callback });
      return handle;
    },
    clearTimeout: (handle) => {
      live.delete(handle);
      const immediate = immediates.get(handle);
      if (immediate) clearImmediate(immediate);
      immediates.delete(handle);
    },
    armed: () => live.size,
    /** Runs the earliest armed timer at its due time; returns that time. */
    step: () => {
      let earliest: [TimerHandle, { due: number; callback: () => void }] | undefined;
      for (const entry of live) if (!earliest || entry[1].due < earliest[1].due) earliest = entry;
      if (!earliest) throw new Error('no timer armed');
      live.delete(earliest[0]);
      now = Math.max(now, earliest[1].due);
      earliest[1].callback();
      return now;
    },
  };
}
