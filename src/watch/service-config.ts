/**
 * A source's service config as a poller holds it beside the belief: the
 * latest answer that brought news about it, and its canonical JSON (object
 * keys sorted, array order kept), so "did it change" is one string
 * comparison and a config that comes back with its keys in another order is
 * no news.
 */
import type { ServiceConfigAnswer } from './contract.js';
import { trace } from './trace.js';

export interface HeldServiceConfig {
  readonly answer: ServiceConfigAnswer;
  readonly key: string;
}

/**
 * What the poller of `name` holds after a poll: `previous` when the poll
 * brought no news (`undefined`) or the same config again, else the new one.
 */
export function holdServiceConfig(previous: HeldServiceConfig | undefined, answer: ServiceConfigAnswer | undefined, name: string): HeldServiceConfig | undefined {
  if (answer === undefined) return previous;
  const key = canonicalJson(answer);
  if (key === previous?.key) return previous;
  trace(() => `${name}: service config changed: ${key}`);
  return { answer, key };
}

/** JSON with every object's keys sorted: equal for equal configs whatever order their keys came in. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
