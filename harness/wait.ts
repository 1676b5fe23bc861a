/**
 * Bounded polling, the one copy shared by tests, bench and examples: wait for
 * a condition with a deadline, never a bare sleep standing in for one.
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** Poll `condition` every `everyMs` until it holds or `timeoutMs` passes; whether it held. */
export async function pollUntil(condition: () => boolean, timeoutMs: number, everyMs = 10): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(everyMs);
  }
}

/**
 * Poll `condition` until it holds; after `timeoutMs` throw naming `what`
 * (a function is called only then, to describe the state it found).
 */
export async function waitUntil(
  condition: () => boolean,
  what: string | (() => string),
  timeoutMs = 5_000,
  everyMs = 10,
): Promise<void> {
  if (await pollUntil(condition, timeoutMs, everyMs)) return;
  throw new Error(`timed out after ${timeoutMs} ms waiting until ${typeof what === 'function' ? what() : what}`);
}
