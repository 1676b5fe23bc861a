import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);

/**
 * A file of the grpc-js copy whose exports are `grpc` (e.g. 'resolver.js'),
 * for what that version does not export. Undefined when the copy is not a
 * CommonJS module on disk (bundled) or lacks the file: callers then do
 * without, never guess.
 */
export function requireGrpcFile<T>(grpc: unknown, file: string): T | undefined {
  const loaded = Object.values(require.cache).find((entry) => entry?.exports === grpc);
  if (!loaded) return undefined;
  try {
    return require(path.join(path.dirname(loaded.filename), file)) as T;
  } catch {
    return undefined;
  }
}
