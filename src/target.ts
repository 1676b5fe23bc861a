import net from 'node:net';
import { hostNameProblem } from './dns/names.js';
import { MAX_PORT, parsePort } from './dns/port.js';
import { parseNameserver } from './dns/resolv-conf.js';
import type { Nameserver } from './dns/types.js';

/** grpc's default port for `dns:` targets without one. */
const DEFAULT_PORT = 443;

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
    /** What is wrong with it, without the target and the accepted forms. */
    readonly reason: string,
  ) {
    super(`Invalid target "${target}": ${reason}; expected dns:[//nameserver[:port]/]host[:port] with host a DNS name, an IPv4 address or a bracketed IPv6 address`);
  }
}

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

/** grpc target schemes that are not DNS: nothing to resolve. */
const OTHER_SCHEMES = new Set(['unix', 'unix-abstract', 'ipv4', 'ipv6', 'xds', 'vsock', 'http', 'https']);
const DNS_SCHEMES = new Set(['dns', 'dns-watch']);

/** What a person wrote for a service, read as grpc-js reads a target: which form it had, and its parts. */
interface WrittenTarget extends ParsedTarget {
  /** `name`: a bare host (a DNS name or IP literal); `target`: with a scheme; `address`: a host with a port, or a bracketed IPv6 address. */
  form: 'name' | 'target' | 'address';
}

/**
 * A DNS name, an IP literal, or a grpc target whose host is meant
 * (`dns:///my-svc:50051`, `my-svc:50051`, `dns://10.0.0.10:53/my-svc`), as
 * a person pastes it into the command line. Throws {@link TargetError}.
 */
export function parseWrittenTarget(input: string): WrittenTarget {
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(input);
  let authority: string | undefined;
  let path = input;
  let form: WrittenTarget['form'] = 'name';
  if (scheme) {
    const schemeName = (scheme[1] ?? '').toLowerCase();
    const rest = scheme[2] ?? '';
    if (DNS_SCHEMES.has(schemeName)) {
      form = 'target';
      const withAuthority = /^\/\/([^/]*)\/(.*)$/s.exec(rest);
      if (withAuthority) {
        authority = withAuthority[1] || undefined;
        path = withAuthority[2] ?? '';
      } else if (rest.startsWith('//')) {
        throw new TargetError(input, 'the host must follow a "/" after the nameserver');
      } else {
        path = rest;
      }
    } else if (OTHER_SCHEMES.has(schemeName) || rest.startsWith('//')) {
      throw new TargetError(input, `"${schemeName}:" targets do not use DNS`);
    }
    // Otherwise `my-svc:50051`: a host and a port, as grpc-js reads it.
  }
  const parsed = parseTarget({ authority, path }, input);
  if (form === 'name' && parsed.host !== input) form = 'address';
  return { ...parsed, form };
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
  const problem = hostNameProblem(host);
  if (problem) throw new TargetError(display, problem);
}
