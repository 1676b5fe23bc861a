import { systemTimers, type Timers } from '../src/dns/timers.js';

/**
 * Real timers on a clock that runs `factor` times faster than the machine's:
 * a delay of `ms` fires after `ms / factor` real milliseconds, and `now()`
 * advances `factor` ms for every real one, so every delay, age and timeout
 * the code decides keeps its meaning and its order — the walk after glibc's
 * 5 s timeout is the same walk — while a test waits a fraction of it.
 * Sockets stay real: a loopback round trip reads `factor` times longer, so
 * keep `factor` where a slow machine's round trip stays well inside the
 * shortest timeout (10: a 5 s try is 500 ms of real time). Every delay asked
 * for is recorded, on the code's own scale (assert what was scheduled).
 */
export function fastTimers(factor: number): Timers & { delays: number[] } {
  if (!(factor >= 1)) throw new RangeError(`factor must be at least 1, got ${factor}`);
  const delays: number[] = [];
  const start = systemTimers.now();
  return {
    delays,
    now: () => start + (systemTimers.now() - start) * factor,
    setTimeout: (callback, ms) => {
      delays.push(ms);
      return systemTimers.setTimeout(callback, ms / factor);
    },
    clearTimeout: (handle) => systemTimers.clearTimeout(handle),
  };
}
