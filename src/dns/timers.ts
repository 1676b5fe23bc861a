/**
 * The one clock of the library. Every delay, age and timeout — poll
 * scheduling, start-up pacing, cache detection, hosts-file re-reads, DNS
 * try timeouts, socket ages — is measured on a monotonic clock
 * (`performance.now`), never on `Date`: the wall clock steps (NTP
 * corrections, a VM resumed, an operator's `date -s`), and a step backwards
 * would stall anything timed by it. `Date` appears only where a time is
 * shown to people (event `at`, `lastChangeAt`), converted by
 * {@link wallClockDate} at the moment it is shown.
 *
 * Injectable so tests drive every scheduling path and assert what was
 * scheduled (the delays asked for) instead of how long a busy machine took,
 * as p-retry's tests record the delays handed to `setTimeout`.
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
  // Looked up at each call, so fake timers in tests apply.
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** The wall-clock time of `at`, a reading of `clock` (for display only). */
export function wallClockDate(clock: Pick<Timers, 'now'>, at: number): Date {
  return new Date(Date.now() - (clock.now() - at));
}
