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
 * `setFactor()` changes the pace from then on (the clock never jumps; a
 * timer already set keeps the pace it was set at): a test can wait out a
 * dead server's 5 s fast, then measure round trips on the machine's clock.
 */
export function fastTimers(factor: number): Timers & { delays: number[]; setFactor(factor: number): void } {
  checkFactor(factor);
  const delays: number[] = [];
  // The clock's reading when the pace last changed, and the machine's then.
  let base = systemTimers.now();
  let since = base;
  const now = () => base + (systemTimers.now() - since) * factor;
  return {
    delays,
    now,
    setTimeout: (callback, ms) => {
      delays.push(ms);
      return systemTimers.setTimeout(callback, ms / factor);
    },
    clearTimeout: (handle) => systemTimers.clearTimeout(handle),
    setFactor: (next) => {
      checkFactor(next);
      base = now();
      since = systemTimers.now();
      factor = next;
    },
  };
}

function checkFactor(factor: number): void {
  if (!(factor >= 1)) throw new RangeError(`factor must be at least 1, got ${factor}`);
}
