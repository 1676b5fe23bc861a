import net from 'node:net';
import { MAX_LABEL_LENGTH, MAX_NAME_LENGTH, trimDot } from './dns/names.js';
import { MAX_PORT, parsePort } from './dns/port.js';
import { parseNameserver } from './dns/resolv-conf.js';
import type { Nameserver } from './dns/types.js';

/** grpc's default port for `dns:` targets without one. */
export const DEFAULT_PORT = 443;

export interface ParsedTarget {
  /** Host name (as written, trailing dot kept: it means "absolute") or IP literal without brackets. */
  host: string;
  port: number;
  /** 4 or 6 for an IP literal (returned once, never polled), else 0. */
  ipLiteral: 0 | 4 | 6;
  /** From `dns://server:port/name`: the DNS server to ask instead of resolv.conf's. */
  nameserver: Nameserver | undefined;
}

/** A target grpc-dns-watch cannot use; the message names it and the accepted forms. */
export class TargetError extends Error {
  override name = 'TargetError';
  constructor(
    readonly target: string,
    reason: string,
  ) {
    super(`Invalid target "${target}": ${reason}; expected dns:[//nameserver[:port]/]host[:port] with host a DNS name, an IPv4 address or a bracketed IPv6 address`);
  }
}

/** RFC 1035 §2.3.4: 255 octets on the wire, so 253 characters written out (without the trailing dot). */
export const MAX_HOST_NAME_LENGTH = MAX_NAME_LENGTH;
export { MAX_LABEL_LENGTH };
/**
 * Characters a host label may hold: letters, digits and "-" (RFC 952/1123),
 * plus "_" because Kubernetes and SRV-style names use it. Anything else —
 * spaces, "/", "@", "%", non-ASCII (write IDNs in punycode, xn--…) — is a
 * typo or an injection attempt, refused before any query is sent.
 */
const LABEL_CHARACTER = /^[A-Za-z0-9_-]$/;

/**
 * Parse the parts grpc-js hands a resolver: `path` is `host[:port]`
 * (`[v6]:port` for IPv6), `authority` the optional nameserver.
 */
export function parseTarget(parts: { authority?: string; path: string }, display = formatTarget(parts)): ParsedTarget {
  const { host, portText } = splitHostPort(parts.path, display);
  const port = portText === undefined ? DEFAULT_PORT : targetPort(portText, display);
  let nameserver: Nameserver | undefined;
  if (parts.authority) {
    try {
      nameserver = parseNameserver(parts.authority);
    } catch (error) {
      throw new TargetError(display, `bad nameserver in authority: ${(error as Error).message}`);
    }
  }
  const ipLiteral = net.isIP(host) as 0 | 4 | 6;
  if (ipLiteral === 0) validateHostName(host, display);
  return { host, port, ipLiteral, nameserver };
}

/** `dns://authority/path` as the user would have written it. */
export function formatTarget(parts: { scheme?: string; authority?: string; path: string }): string {
  const scheme = parts.scheme ?? 'dns';
  return parts.authority !== undefined ? `${scheme}://${parts.authority}/${parts.path}` : `${scheme}:${parts.path}`;
}

function splitHostPort(path: string, display: string): { host: string; portText: string | undefined } {
  if (path.length === 0) throw new TargetError(display, 'no host');
  if (path.startsWith('[')) {
    const close = path.indexOf(']');
    if (close < 0) throw new TargetError(display, 'unclosed "[" in IPv6 address');
    const host = path.slice(1, close);
    const rest = path.slice(close + 1);
    if (!net.isIPv6(host)) throw new TargetError(display, `"${host}" in brackets is not an IPv6 address`);
    if (rest === '') return { host, portText: undefined };
    if (!rest.startsWith(':')) throw new TargetError(display, `unexpected "${rest}" after "]"`);
    return { host, portText: rest.slice(1) };
  }
  const colons = path.split(':').length - 1;
  // Several colons without brackets can only be a bare IPv6 address.
  if (colons > 1) {
    if (net.isIPv6(path)) return { host: path, portText: undefined };
    throw new TargetError(display, 'an IPv6 address with a port must be in brackets, like [::1]:50051');
  }
  if (colons === 1) {
    const index = path.indexOf(':');
    return { host: path.slice(0, index), portText: path.slice(index + 1) };
  }
  return { host: path, portText: undefined };
}

/**
 * Digits only, as grpc-js's own splitHostPort reads them (leading zeros
 * allowed), and port 0 because `Server.bindAsync('host:0')` resolves its
 * address through this resolver (issue 16). Above 65535 is refused: grpc-js
 * would hand on a port no socket can use, and the failure would not say why.
 */
function targetPort(text: string, display: string): number {
  const parsed = parsePort(text, 0);
  if ('port' in parsed) return parsed.port;
  throw new TargetError(display, `port "${text}" is not a number from 0 to ${MAX_PORT}`);
}

function validateHostName(host: string, display: string): void {
  if (host.length === 0) throw new TargetError(display, 'no host');
  const bare = trimDot(host);
  if (bare.length === 0) throw new TargetError(display, 'the host is only the root "."');
  if (bare.length > MAX_HOST_NAME_LENGTH) {
    throw new TargetError(display, `host name is ${bare.length} characters, more than ${MAX_HOST_NAME_LENGTH}`);
  }
  for (const label of bare.split('.')) {
    const reason = labelProblem(label);
    if (reason) throw new TargetError(display, reason);
  }
}

/** Why `label` is not a valid host label, or undefined when it is. */
function labelProblem(label: string): string | undefined {
  if (label.length === 0) return 'empty label in host name (two dots in a row, or a leading dot)';
  if (label.length > MAX_LABEL_LENGTH) {
    return `label ${JSON.stringify(`${label.slice(0, 20)}…`)} is ${label.length} characters, more than ${MAX_LABEL_LENGTH}`;
  }
  for (const character of label) {
    if (!LABEL_CHARACTER.test(character)) {
      return `${JSON.stringify(label)} is not a valid DNS label: character ${JSON.stringify(character)} is not allowed (letters, digits, "-" and "_"; IDNs in punycode)`;
    }
  }
  if (label.startsWith('-') || label.endsWith('-')) return `${JSON.stringify(label)} is not a valid DNS label: it starts or ends with "-"`;
  return undefined;
}
