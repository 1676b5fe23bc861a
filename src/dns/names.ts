/** DNS name rules shared by the stub resolver and target parsing (RFC 1035 §2.3.4). */

/** Longest name written out, without the trailing dot: 255 octets on the wire (RFC 1035 §2.3.4). */
export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

const DOT = 0x2e;
const HYPHEN = 0x2d;

/** The name without one trailing dot (the dot only marks it absolute). */
export function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/**
 * The form names and domains are compared and kept in: lower case, without
 * trailing dots (every one: `corp.example.com..` in a search line is
 * `corp.example.com`). Hosts-file names, search domains, CNAME chains and
 * the names a reply's records are owned by all go through it.
 */
export function canonicalName(name: string): string {
  let end = name.length;
  while (end > 0 && name.charCodeAt(end - 1) === DOT) end--;
  return (end === name.length ? name : name.slice(0, end)).toLowerCase();
}

/** Names compared as DNS compares them: case-insensitively, trailing dots ignored. */
export function sameName(a: string, b: string): boolean {
  return canonicalName(a) === canonicalName(b);
}

/**
 * A name as written, for telling two watched names apart: lower case, the
 * trailing dot kept — `my-svc.` is absolute and `my-svc` goes through the
 * search list, so they are different names to watch.
 */
export function writtenNameKey(name: string): string {
  return name.toLowerCase();
}

/**
 * Why `name` is not a host name, or undefined when it is: the one rule for
 * every name this package asks DNS about — a target's host, a `watch()` name,
 * a search-list candidate, a CNAME's target. Labels of 1-63 letters, digits,
 * "-" (not first or last) and "_" (RFC 952/1123; "_" because Kubernetes and
 * SRV-style names use it), at most 253 characters without the optional
 * trailing dot. Anything else — spaces, "/", "@", "%", non-ASCII (IDNs are
 * written in punycode, xn--…) — is a typo or an injection attempt; glibc's
 * res_hnok refuses the same characters in answers. One pass, nothing built
 * unless the name is refused: it runs on every poll.
 */
export function hostNameProblem(name: string): string | undefined {
  const end = name.length > 0 && name.charCodeAt(name.length - 1) === DOT ? name.length - 1 : name.length;
  if (name.length === 0) return 'the name is empty';
  if (end === 0) return 'the host is only the root "."';
  if (end > MAX_NAME_LENGTH) return `host name is ${end} characters, more than ${MAX_NAME_LENGTH}`;
  let start = 0;
  for (let i = 0; i <= end; i++) {
    const code = i === end ? DOT : name.charCodeAt(i);
    if (code === DOT) {
      const problem = labelShapeProblem(name, start, i);
      if (problem) return problem;
      start = i + 1;
    } else if (!isLabelCharacter(code)) {
      const next = name.indexOf('.', i);
      const labelEnd = next < 0 || next > end ? end : next;
      if (labelEnd - start > MAX_LABEL_LENGTH) return labelShapeProblem(name, start, labelEnd);
      const character = String.fromCodePoint(name.codePointAt(i)!);
      return (
        `${JSON.stringify(name.slice(start, labelEnd))} is not a valid DNS label: character ${JSON.stringify(character)} is not allowed ` +
        '(letters, digits, "-" and "_"; IDNs in punycode)'
      );
    }
  }
  return undefined;
}

/** Whether `name` is a host name by {@link hostNameProblem}'s rule. */
export function isHostName(name: string): boolean {
  return hostNameProblem(name) === undefined;
}

/** The length and hyphen rules for the label `name[start, end)`, whose characters are allowed. */
function labelShapeProblem(name: string, start: number, end: number): string | undefined {
  const length = end - start;
  if (length === 0) return 'empty label in host name (two dots in a row, or a leading dot)';
  if (length > MAX_LABEL_LENGTH) {
    return `label ${JSON.stringify(`${name.slice(start, start + 20)}…`)} is ${length} characters, more than ${MAX_LABEL_LENGTH}`;
  }
  if (name.charCodeAt(start) === HYPHEN || name.charCodeAt(end - 1) === HYPHEN) {
    return `${JSON.stringify(name.slice(start, end))} is not a valid DNS label: it starts or ends with "-"`;
  }
  return undefined;
}

/** Letters, digits, "-" and "_". */
function isLabelCharacter(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === HYPHEN ||
    code === 0x5f // _
  );
}
