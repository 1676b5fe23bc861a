/**
 * Test output stays short by default: tables, figures and long reports print
 * only when asked with GRPC_DNS_WATCH_TEST_VERBOSE=1. Failures always say
 * what they need in their own messages.
 */
export const VERBOSE = process.env.GRPC_DNS_WATCH_TEST_VERBOSE === '1';

/** Print `text` when the run asked for reports. */
export function verboseLog(text: string): void {
  if (VERBOSE) console.log(text);
}
