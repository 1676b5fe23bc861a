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

/** Longest delay Node's timers accept (2^31 - 1 ms, about 24.8 days): a longer one fires after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemTimers: Timers = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
