/** DNS name rules shared by the stub resolver and target parsing (RFC 1035 §2.3.4). */

/** Longest name, without the trailing dot. */
export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

/** The name without one trailing dot (the dot only marks it absolute). */
export function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** The form DNS compares names in: lower case, without the trailing dot (a key for lookups). */
export function canonicalName(name: string): string {
  return trimDot(name).toLowerCase();
}

/** Names compared as DNS compares them: case-insensitively, trailing dot ignored. */
export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}
