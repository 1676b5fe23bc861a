import { afterAll, beforeAll } from 'vitest';

/**
 * Collect uncaught exceptions and unhandled rejections for the calling test
 * file, so a test can assert that hostile input never escapes the resolver.
 * Call at module level; the returned array fills as escapes happen.
 */
export function trackEscapes(): unknown[] {
  const escaped: unknown[] = [];
  const onEscape = (error: unknown): void => {
    escaped.push(error);
  };
  beforeAll(() => {
    process.on('uncaughtException', onEscape);
    process.on('unhandledRejection', onEscape);
  });
  afterAll(() => {
    process.off('uncaughtException', onEscape);
    process.off('unhandledRejection', onEscape);
  });
  return escaped;
}
