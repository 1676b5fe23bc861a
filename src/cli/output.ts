/**
 * What `grpc-dns-watch` prints: human lines or NDJSON events.
 *
 * Human: stdout carries the address set and the changes, stderr the errors,
 * notes and traces. JSON: every event (addresses, change, error) is one
 * object per line on stdout; stderr only carries notes and traces.
 */
import { isIPv4 } from 'node:net';
import { messageBesideCode, type DnsError, type DnsErrorCode } from '../dns/errors.js';
import { sameName } from '../dns/names.js';
import { recordType, recordTypesText, type Family, type ResolvedAddress } from '../dns/types.js';

/** One address as printed in JSON; `ttl` is null for /etc/hosts entries and IP literals. */
interface JsonRecord {
  address: string;
  family: 4 | 6;
  ttl: number | null;
}

export interface AddressesEvent {
  type: 'addresses';
  at: string;
  name: string;
  /**
   * The fully qualified name that answered (after the search list), without
   * a trailing dot, in both modes; watch mode polls it directly. With
   * --once also the hosts-file name or the IP literal.
   */
  resolvedName?: string;
  /** --once only: where the answer came from. */
  source?: 'dns' | 'hosts' | 'literal';
  count: number;
  /** Shortest TTL in the set, seconds; null when none of them expire. */
  ttl: number | null;
  addresses: JsonRecord[];
  /** --once, family 0: a family whose query failed while the other answered. */
  failedFamilies?: Array<{ family: 4 | 6; code: DnsErrorCode; message: string }>;
}

export interface ChangeEvent {
  type: 'change';
  at: string;
  name: string;
  added: string[];
  removed: string[];
  count: number;
  ttl: number | null;
  addresses: JsonRecord[];
}

interface ErrorEvent {
  type: 'error';
  at: string;
  name: string;
  code: DnsErrorCode;
  /** true: a server answered that there is nothing (NXDOMAIN, NODATA); false: could not ask. */
  authoritative: boolean;
  message: string;
}

/**
 * Watch mode: whether the answers come from a cache, when that changes —
 * detected (the TTL counts down), or no longer detected.
 */
export interface CacheEvent {
  type: 'cache';
  at: string;
  name: string;
  cache: 'unknown' | 'none' | 'detected';
  /** Largest TTL seen while detected, seconds: how long the cache keeps a copy; null otherwise. */
  ttl: number | null;
  /** How late a change can reach the watcher, ms; null unless detected. */
  stalenessBoundMs: number | null;
}

/** Watch mode, family 0: a family demoted (NODATA poll after poll) or restored. */
export interface FamilyEvent {
  type: 'family';
  at: string;
  name: string;
  family: 4 | 6;
  change: 'demoted' | 'restored';
  /** Demoted: when it is next asked (at the first poll from then on); null when restored. */
  nextAskAt: string | null;
  reason: string;
}

type CliEvent = AddressesEvent | ChangeEvent | ErrorEvent | CacheEvent | FamilyEvent;

/** IPv4 before IPv6; IPv4 numerically (10.0.0.9 before 10.0.0.10), IPv6 as text. */
function compareAddresses(a: string, b: string): number {
  const a4 = isIPv4(a);
  const b4 = isIPv4(b);
  if (a4 !== b4) return a4 ? -1 : 1;
  if (a4) {
    const pa = a.split('.').map(Number);
    const pb = b.split('.').map(Number);
    for (let i = 0; i < 4; i++) {
      const diff = (pa[i] ?? 0) - (pb[i] ?? 0);
      if (diff !== 0) return diff;
    }
    return 0;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortRecords(records: readonly ResolvedAddress[]): ResolvedAddress[] {
  // One line per address even if a record set repeats one (a half answer merged with the last good set).
  const unique = new Map<string, ResolvedAddress>();
  for (const record of records) {
    const seen = unique.get(record.address);
    if (!seen || record.ttl < seen.ttl) unique.set(record.address, record);
  }
  return [...unique.values()].sort((a, b) => compareAddresses(a.address, b.address));
}

export function jsonTtl(ttl: number): number | null {
  return Number.isFinite(ttl) ? ttl : null;
}

export function toJsonRecords(records: readonly ResolvedAddress[]): JsonRecord[] {
  return sortRecords(records).map(({ address, family, ttl }) => ({ address, family, ttl: jsonTtl(ttl) }));
}

/** A duration as the command's flags take it: `5s`, `1m`, `500ms`. */
export function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}

/** `families` names what was asked (or what failed): a TIMEOUT then names both A and AAAA. */
export function errorEvent(name: string, error: DnsError, at: Date, families: Family): ErrorEvent {
  return { type: 'error', at: at.toISOString(), name, code: error.code, authoritative: error.authoritative, message: errorMessage(error, families) };
}

/**
 * The error's message as printed: the code not repeated (it is printed
 * beside it), and naming both record types where it names the one asked
 * when both were (the resolver reports the first family's failure).
 */
export function errorMessage(error: DnsError, families: Family): string {
  return messageBesideCode(error, families === 0 ? recordTypesText(0) : undefined);
}

export function jsonLine(event: CliEvent): string {
  return `${JSON.stringify(event)}\n`;
}

/** `1 address`, `2 addresses`, `1 attempt`, `3 attempts`. */
export function plural(n: number, word: string): string {
  const many = word.endsWith('s') ? `${word}es` : `${word}s`;
  return `${n} ${n === 1 ? word : many}`;
}

function ttlText(ttl: number): string {
  return Number.isFinite(ttl) ? `ttl ${ttl}s` : 'ttl -';
}

/**
 * The address block: a first line with the name and count, then one line per
 * address with family and TTL.
 */
export function humanAddresses(
  name: string,
  records: readonly ResolvedAddress[],
  extra: { resolvedName?: string; source?: 'dns' | 'hosts' | 'literal' } = {},
): string {
  const sorted = sortRecords(records);
  const details: string[] = [];
  if (extra.resolvedName && !sameName(extra.resolvedName, name)) {
    details.push(`found as ${extra.resolvedName}`);
  }
  if (extra.source === 'hosts') details.push('from the hosts file, no TTL');
  if (extra.source === 'literal') details.push('an IP literal, never changes');
  const width = Math.max(...sorted.map((record) => record.address.length), 0);
  const lines = [`${name}: ${plural(sorted.length, 'address')}${details.length > 0 ? ` (${details.join('; ')})` : ''}`];
  for (const record of sorted) {
    lines.push(`  ${record.address.padEnd(width)}  IPv${record.family}  ${ttlText(record.ttl)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** One line per change: timestamp, +added -removed, the new total. */
export function humanChange(at: Date, added: readonly string[], removed: readonly string[], count: number): string {
  const changes = [
    ...[...added].sort(compareAddresses).map((address) => `+${address}`),
    ...[...removed].sort(compareAddresses).map((address) => `-${address}`),
  ];
  const what = changes.length > 0 ? changes.join(' ') : '= same set again';
  return `${at.toISOString()}  ${what}  (${plural(count, 'address')})\n`;
}

/** The note on stderr when the cache verdict changes. */
export function humanCache(at: Date, event: Pick<CacheEvent, 'cache' | 'ttl' | 'stalenessBoundMs'>): string {
  if (event.cache === 'detected') {
    return (
      `${at.toISOString()}  note: answers come from a cache (the TTL counts down; it keeps a copy up to ${event.ttl ?? '?'}s): ` +
      `a change can take up to ${formatSeconds(event.stalenessBoundMs ?? 0)} to show here; polling as each copy expires\n`
    );
  }
  return `${at.toISOString()}  note: answers no longer come from a cache (${event.cache === 'none' ? 'the TTL repeats' : 'the TTL says nothing'})\n`;
}

/** A family demoted or restored, as a `note:` line. */
export function humanFamily(at: Date, event: Pick<FamilyEvent, 'family' | 'change' | 'nextAskAt' | 'reason'>): string {
  const type = recordType(event.family);
  if (event.change === 'demoted') {
    return `${at.toISOString()}  note: ${type} asked less often (${event.reason}): next at the first poll from ${event.nextAskAt ?? '?'}, about once a minute until it has records\n`;
  }
  return `${at.toISOString()}  note: ${type} asked at every poll again (${event.reason})\n`;
}

/** 37000 → "37s", 37400 → "37.4s". */
function formatSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10}s`;
}

/**
 * An error line for stderr, one sentence with the name first and at most
 * one parenthesis: timestamp, code, then the message (src/dns/errors.ts
 * makes each one so): `could not ask DNS for NAME A and AAAA: CAUSE
 * (NOTES)`, or what DNS said (`NAME does not exist`).
 */
export function humanError(at: Date, error: DnsError, families: Family): string {
  return `${at.toISOString()}  error ${error.code}: ${lowerFirstWord(errorMessage(error, families))}\n`;
}

/** "No reply from …" → "no reply from …" after a colon; "UDP …", "10.0.0.1:53 …" stay. */
export function lowerFirstWord(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0]!.toLowerCase() + text.slice(1) : text;
}
