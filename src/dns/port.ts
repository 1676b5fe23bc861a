/** Port numbers, read the same way for grpc targets and for nameservers. */

export const MAX_PORT = 65_535;

/**
 * `text` as a port from `min` to {@link MAX_PORT}: decimal digits only, leading
 * zeros allowed (as grpc-js's own splitHostPort reads them). When it is not
 * one, says why instead of throwing, so that each caller words its own error.
 */
export function parsePort(text: string, min: 0 | 1): { port: number } | { problem: 'not a number' | 'out of range' } {
  if (!/^\d+$/.test(text)) return { problem: 'not a number' };
  const port = Number(text);
  return port >= min && port <= MAX_PORT ? { port } : { problem: 'out of range' };
}
