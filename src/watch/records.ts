/**
 * Address sets as the watch side compares, shows and schedules them: a set
 * of records (address, family, TTL) read as its distinct addresses. Pure;
 * the comparisons a poll makes every time (same records, same family's
 * records) allocate nothing.
 */
import type { ResolvedAddress } from '../dns/types.js';

/** The distinct addresses of a set, sorted: how a set is shown and compared. */
export function sortedAddresses(records: readonly ResolvedAddress[]): string[] {
  return [...new Set(records.map((entry) => entry.address))].sort();
}

/** The set as a string: its sorted, distinct addresses. */
export function addressKey(records: readonly ResolvedAddress[]): string {
  return sortedAddresses(records).join(',');
}

/** Added and removed addresses between two sets, each sorted. */
export function diff(before: readonly ResolvedAddress[], after: readonly ResolvedAddress[]): { added: string[]; removed: string[] } {
  const old = new Set(before.map((entry) => entry.address));
  const now = new Set(after.map((entry) => entry.address));
  return {
    added: [...now].filter((address) => !old.has(address)).sort(),
    removed: [...old].filter((address) => !now.has(address)).sort(),
  };
}

/** Distinct addresses; small sets (the usual) counted without building a Set. */
export function distinctCount(records: readonly ResolvedAddress[]): number {
  if (records.length > 16) return new Set(records.map((entry) => entry.address)).size;
  let count = 0;
  for (let i = 0; i < records.length; i++) {
    let seen = false;
    for (let j = 0; j < i && !seen; j++) seen = records[j]!.address === records[i]!.address;
    if (!seen) count++;
  }
  return count;
}

/** The shortest TTL of a set, seconds (`Infinity` for none, and for /etc/hosts and literals). */
export function minTtl(records: readonly ResolvedAddress[]): number {
  return records.reduce((min, entry) => Math.min(min, entry.ttl), Infinity);
}

/** The same records in the same order (address, family, TTL): what a steady server sends poll after poll. */
export function sameRecords(a: readonly ResolvedAddress[], b: readonly ResolvedAddress[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.address !== y.address || x.family !== y.family || x.ttl !== y.ttl) return false;
  }
  return true;
}

/** Whether `records` hold exactly `addresses` for `family` (in order, TTLs aside). */
export function sameFamilyRecords(records: readonly ResolvedAddress[], family: 4 | 6, addresses: readonly ResolvedAddress[]): boolean {
  let i = 0;
  for (const entry of records) {
    if (entry.family !== family) continue;
    if (i >= addresses.length || addresses[i]!.address !== entry.address) return false;
    i++;
  }
  return i === addresses.length;
}
