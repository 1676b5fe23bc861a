/**
 * Process warnings a test provokes on purpose, taken instead of printed.
 *
 * `process.emitWarning()` delivers a `warning` event on the next tick; Node's
 * own listener for that event prints it to stderr. A test that provokes a
 * warning to check it takes it from the real event here, with Node's printer
 * set aside meanwhile, so `npm test` prints nothing it did not fail on.
 * Warnings with other codes still go to the listeners that were there.
 */
export interface CapturedWarnings {
  /** The warnings with the code asked for, in order. */
  readonly warnings: Error[];
  /** Put the listeners back (always, in an afterEach or finally). */
  restore(): void;
}

export function captureWarnings(code: string): CapturedWarnings {
  const previous = process.listeners('warning');
  const warnings: Error[] = [];
  const listener = (warning: Error): void => {
    if ((warning as Error & { code?: string }).code === code) warnings.push(warning);
    else for (const other of previous) other.call(process, warning);
  };
  process.removeAllListeners('warning');
  process.on('warning', listener);
  return {
    warnings,
    restore() {
      process.off('warning', listener);
      for (const other of previous) process.on('warning', other);
    },
  };
}
