/**
 * The clock and timers the transport schedules with. Injectable so tests
 * assert what was scheduled (the delays asked for) instead of how long a busy
 * machine took, as p-retry's tests record the delays handed to `setTimeout`.
 */
export interface Timers {
  /** Milliseconds on a monotonic clock (only differences are used). */
  now(): number;
  setTimeout(callback: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** What `setTimeout` returns; `unref()` where the runtime has it. */
export interface TimerHandle {
  unref?(): unknown;
}

export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
