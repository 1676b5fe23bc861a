import { systemTimers, type TimerHandle, type Timers } from '../src/dns/timers.js';
import { fastTimers } from './fast-timers.js';

/**
 * Real timers on a clock a test can move forward: `now()` is the runtime's
 * monotonic clock plus what `advance()` added, so what is decided by age (a
 * failed nameserver probed 5 s after its failure, a latency window) is
 * driven by the test while sockets and timeouts run for real. Every delay
 * asked for is recorded (assert what was scheduled, as p-retry's tests do),
 * and `armed()` counts the timers still set: neither fired nor cleared.
 * With `factor` above 1 the clock also runs that many times faster than
 * the machine's, as harness/fast-timers.ts's does, until `setFactor()`.
 */
export function shiftedTimers(
  factor = 1,
): Timers & { delays: number[]; advance(ms: number): void; armed(ms?: number): number; setFactor(factor: number): void } {
  const clock = fastTimers(factor);
  const delays: number[] = [];
  const live = new Map<TimerHandle, number>();
  let shift = 0;
  return {
    delays,
    now: () => clock.now() + shift,
    setTimeout: (callback, ms) => {
      delays.push(ms);
      const handle: TimerHandle = clock.setTimeout(() => {
        live.delete(handle);
        callback();
      }, ms);
      live.set(handle, ms);
      return handle;
    },
    clearTimeout: (handle) => {
      live.delete(handle);
      systemTimers.clearTimeout(handle);
    },
    advance: (ms) => {
      shift += ms;
    },
    armed: (ms) => [...live.values()].filter((delay) => ms === undefined || delay === ms).length,
    setFactor: (next) => clock.setFactor(next),
  };
}
