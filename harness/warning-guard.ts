/**
 * A setup file of both test projects (vitest.config.ts `setupFiles`): a
 * process warning that reaches the process's `warning` listeners during a
 * test file fails that file — the test it came in (`afterEach`), or the
 * file when it came outside a test (`afterAll`). A test that provokes a
 * warning on purpose takes it with `captureWarnings()` (harness/warnings.ts),
 * which this guard never sees; so `npm test` prints no warning it did not
 * fail on (issue 22: four `GRPC_DNS_WATCH_LATE_REGISTER` warnings in its
 * output). Node's own printer still prints an uncaptured one, beside the
 * failure that names it.
 */
import { afterAll, afterEach, beforeEach } from 'vitest';

/** Warnings not yet checked, and those that came outside a test (loading the file, beforeAll), reported at its end. */
const uncaptured: string[] = [];
const outsideTests: string[] = [];

function record(warning: Error): void {
  const code = (warning as Error & { code?: string }).code;
  uncaptured.push(`${warning.name}${code ? ` [${code}]` : ''}: ${warning.message}`);
}

/** The real one: a test may leave fake timers installed. */
const { setImmediate } = globalThis;

/** process.emitWarning() delivers on the next tick. */
async function delivered(): Promise<string[]> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  return uncaptured.splice(0);
}

function fail(seen: readonly string[], where: string): void {
  if (seen.length === 0) return;
  throw new Error(
    `${seen.length} process warning${seen.length === 1 ? '' : 's'} ${where} that no test captured ` +
      `(take a warning provoked on purpose with captureWarnings() from harness/warnings.ts): ${seen.join('; ')}`,
  );
}

process.on('warning', record);
beforeEach(async () => {
  outsideTests.push(...(await delivered()));
});
afterEach(async () => fail(await delivered(), 'during this test'));
afterAll(async () => {
  try {
    fail([...outsideTests.splice(0), ...(await delivered())], 'in this file outside its tests');
  } finally {
    process.off('warning', record);
  }
});
