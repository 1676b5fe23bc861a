/**
 * Address sets as the watch side compares, shows and schedules them: a set
 * of records (address, family, TTL) read as its distinct addresses — with
 * the port for an address that carries its own (`10.0.0.1:8080`,
 * `[::1]:8080`). Pure; the comparisons a poll makes every time (same
 * records, same family's records) allocate nothing.
 */
import type { ResolvedAddress } from '../dns/types.js';

/**
 * An address as sources answer it: a DNS record's (the target's port
 * applies), or one that carries its own port (a polling resolver's
 * `{ host, port }`).
 */
export type SourceAddress = ResolvedAddress & { readonly port?: number };

/** An address as sets are shown and compared: with its own port when it has one. */
function endpointText(entry: SourceAddress): string {
  if (entry.port === undefined) return entry.address;
  return entry.family === 6 ? `[${entry.address}]:${entry.port}` : `${entry.address}:${entry.port}`;
}

/** The distinct addresses of a set, sorted: how a set is shown and compared. */
export function sortedAddresses(records: readonly SourceAddress[]): string[] {
  return [...new Set(records.map(endpointText))].sort();
}

/** The set as a string: its sorted, distinct addresses. */
export function addressKey(records: readonly SourceAddress[]): string {
  return sortedAddresses(records).join(',');
}

/** Added and removed addresses between two sets, each sorted. */
export function diff(before: readonly SourceAddress[], after: readonly SourceAddress[]): { added: string[]; removed: string[] } {
  const old = new Set(before.map(endpointText));
  const now = new Set(after.map(endpointText));
  return {
    added: [...now].filter((address) => !old.has(address)).sort(),
    removed: [...old].filter((address) => !now.has(address)).sort(),
  };
}

/** Distinct addresses; small sets (the usual) counted without building a Set. */
export function distinctCount(records: readonly SourceAddress[]): number {
  if (records.length > 16) return new Set(records.map(endpointText)).size;
  let count = 0;
  for (let i = 0; i < records.length; i++) {
    let seen = false;
    for (let j = 0; j < i && !seen; j++) seen = records[j]!.address === records[i]!.address && records[j]!.port === records[i]!.port;
    if (!seen) count++;
  }
  return count;
}

/** The shortest TTL of a set, seconds (`Infinity` for none, and for /etc/hosts and literals). */
export function minTtl(records: readonly SourceAddress[]): number {
  return records.reduce((min, entry) => Math.min(min, entry.ttl), Infinity);
}

/** The same records in the same order (address, family, TTL): what a steady server sends poll after poll. */
export function sameRecords(a: readonly SourceAddress[], b: readonly SourceAddress[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.family !== y.family || x.ttl !== y.ttl || x.port !== y.port) return false;
  }
  return true;
}

/** Whether `records` hold exactly `addresses` for `family` (in order, TTLs aside). */
export function sameFamilyRecords(records: readonly SourceAddress[], family: 4 | 6, addresses: readonly SourceAddress[]): boolean {
  let i = 0;
  for (const entry of records) {
    if (entry.family !== family) continue;
    if (i >= addresses.length || addresses[i]!.address !== entry.address) return false;
    i++;
  }
  return i === addresses.length;
}
