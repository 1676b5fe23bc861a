/**
 * A channel's service config out of its name's TXT records, chosen as
 * grpc-js's built-in `dns` resolver chooses it: by calling that grpc-js
 * copy's own `extractAndSelectServiceConfig` (its `service-config.js`,
 * present with the same signature in 1.8 to 1.14), so the rules are the
 * app's grpc-js's by construction, not a copy that could drift:
 *
 * - the first record whose first string starts with `grpc_config=` (case
 *   sensitive) is used, its strings joined with nothing; no such record: no
 *   config (`null`);
 * - its value is a JSON array of choices, each validated (grpc-js's
 *   `validateServiceConfig` for its `serviceConfig`; `clientLanguage`,
 *   `clientHostname`, `percentage` 0–100, nothing else) before the first
 *   one that matches is taken: `percentage` against the channel's roll,
 *   `clientHostname` against `os.hostname()`, `clientLanguage` against
 *   `'node'`, all exactly;
 * - bad JSON, a bad choice before the match, or no choice matching: an
 *   Error (grpc-js hands the channel "Parsing service config failed with
 *   error …").
 */
import { requireGrpcFile } from './internals.js';

/** What grpc-js's service-config.js exports for this (1.8–1.14). */
interface ServiceConfigFile {
  extractAndSelectServiceConfig(records: string[][], percentage: number): object | null;
}

/** What one channel brings to the choice: its roll, and its grpc-js copy (whose rules decide). */
interface TxtChoice {
  /** The channel's roll in [0, 100), drawn once per resolver as grpc-js draws it ({@link rollPercentage}). */
  readonly percentage: number;
  /** The app's `@grpc/grpc-js` module. */
  readonly grpc: unknown;
}

const selectors = new WeakMap<object, ServiceConfigFile['extractAndSelectServiceConfig'] | null>();

/**
 * The roll a `percentage` choice is compared with: `Math.random() * 100`,
 * drawn once per resolver (a channel keeps its side of a canary across
 * re-resolutions), as grpc-js's DnsResolver draws it in its constructor.
 */
export function rollPercentage(random: () => number = Math.random): number {
  return random() * 100;
}

/**
 * The service config the channel's grpc-js would take from `records` (see
 * the notes above): the validated config, `null` for none, or an Error
 * saying why none could be taken. Also `null` when the grpc-js copy's
 * service-config.js cannot be reached (a bundled grpc-js; see
 * {@link txtSelectionAvailable}): a config nobody validated is never handed
 * to a channel.
 */
export function selectTxtServiceConfig(records: readonly (readonly string[])[], choice: TxtChoice): object | null | Error {
  const select = selectorOf(choice.grpc);
  if (!select) return null;
  try {
    return select(records.map((record) => [...record]), choice.percentage);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Whether `grpc`'s own selection is reachable (a CommonJS grpc-js on disk, as npm installs it). */
export function txtSelectionAvailable(grpc: unknown): boolean {
  return selectorOf(grpc) !== null;
}

function selectorOf(grpc: unknown): ServiceConfigFile['extractAndSelectServiceConfig'] | null {
  if (grpc === null || typeof grpc !== 'object') return null;
  let select = selectors.get(grpc);
  if (select === undefined) {
    // `import * as grpc` of the CommonJS module: its exports are the namespace's default.
    const file =
      requireGrpcFile<Partial<ServiceConfigFile>>(grpc, 'service-config.js') ??
      requireGrpcFile<Partial<ServiceConfigFile>>((grpc as { default?: unknown }).default, 'service-config.js');
    select = typeof file?.extractAndSelectServiceConfig === 'function' ? file.extractAndSelectServiceConfig.bind(file) : null;
    selectors.set(grpc, select);
  }
  return select;
}
