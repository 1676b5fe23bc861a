import { systemTimers, type Timers } from '../src/dns/timers.js';

/**
 * Real timers that remember every delay asked for, so a test asserts what
 * the code scheduled (p-retry's tests do the same) instead of how long a busy
 * machine took to run it.
 */
export function recordingTimers(): Timers & { delays: number[] } {
  const delays: number[] = [];
  return {
    delays,
    now: () => systemTimers.now(),
    setTimeout: (callback, ms) => {
      delays.push(ms);
      return systemTimers.setTimeout(callback, ms);
    },
    clearTimeout: (timer) => systemTimers.clearTimeout(timer),
  };
}
