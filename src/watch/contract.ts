/**
 * The behaviour contract (the README's table "What the channel is told"), in one
 * place. Two pure steps: what the watcher now believes after a DNS outcome,
 * and what a subscriber (a channel) is told given what it was told before.
 *
 * | DNS outcome                                       | belief becomes        | channel is told                      |
 * |---------------------------------------------------|-----------------------|--------------------------------------|
 * | same address set as last time (any order)         | that set              | nothing                              |
 * | a different, non-empty set                        | the new set           | one update with the whole list       |
 * | authoritative none (NXDOMAIN / NODATA)            | none                  | UNAVAILABLE "no addresses"           |
 * | could not ask, with a last good set               | the last good set     | nothing (retry with backoff)         |
 * | could not ask, no set yet                         | failed                | UNAVAILABLE with the cause, once     |
 * | channel asked (updateResolution)                  | (as above)            | one call with the current belief     |
 * | same set, a different service config              | that set              | channels: one update, the same list  |
 *
 * A source may answer a service config beside its addresses (DNS TXT
 * records, or a config of a custom source): the poller holds the latest
 * beside the belief (service-config.ts), and a change of it alone reaches
 * channels as an update with the same list — never watch() handles, which
 * take addresses only.
 *
 * A half answer (family 0, one family could not be asked) keeps the last
 * good addresses of the family that failed, so a lost AAAA reply never
 * removes IPv6 pods. `maxAddresses` applies to the set that results, last
 * good addresses included: this process's stable subset of it (subset.ts),
 * so a family that fails and recovers changes nothing that is delivered.
 */
import type { DnsError } from '../dns/errors.js';
import { addressKey, distinctCount, type SourceAddress } from './records.js';
import { pickSubset } from './subset.js';

/**
 * What a source answered: its addresses, and the families it could not
 * ask this time (a half answer: their last good addresses are kept). A DNS
 * `Resolution` is one, with more beside.
 */
export interface SourceAnswer {
  readonly addresses: readonly SourceAddress[];
  readonly failedFamilies: readonly { readonly family: 4 | 6 }[];
  /**
   * The service config this poll learnt: `undefined` when it brought no news
   * about it (what is held is kept).
   */
  readonly serviceConfig?: ServiceConfigAnswer;
}

/**
 * A service config as a source answers it: `json` a config object, or
 * `null` when the source says there is none (the channel's own default
 * applies); `txt` the DNS TXT records of the name, from which each channel
 * selects its config by grpc-js's rules.
 */
export type ServiceConfigAnswer =
  | { readonly kind: 'json'; readonly config: object | null }
  | { readonly kind: 'txt'; readonly records: readonly (readonly string[])[] };

export type Belief =
  | { kind: 'unknown' }
  | {
      kind: 'addresses';
      addresses: readonly SourceAddress[];
      /** Distinct addresses before `maxAddresses` picked `addresses` from them; set only when it did. */
      available?: number;
    }
  | { kind: 'none'; error: DnsError }
  | { kind: 'failed'; error: DnsError };

/** How a poll ended: an answer, or a DnsError — authoritative "none" (NXDOMAIN, NODATA) or "could not ask". */
export type Outcome<Answer extends SourceAnswer = SourceAnswer> = { kind: 'answer'; resolution: Answer } | { kind: 'error'; error: DnsError };

export type Told =
  | { kind: 'update'; addresses: readonly SourceAddress[] }
  | { kind: 'error'; error: DnsError; authoritative: boolean };

export const UNKNOWN: Belief = Object.freeze({ kind: 'unknown' });

export function nextBelief(previous: Belief, outcome: Outcome, maxAddresses?: number): Belief {
  if (outcome.kind === 'answer') {
    return capped(withLastGoodOfFailedFamilies(previous, outcome.resolution), maxAddresses);
  }
  if (outcome.error.authoritative) return { kind: 'none', error: outcome.error };
  if (previous.kind === 'addresses') return previous;
  return { kind: 'failed', error: outcome.error };
}

/**
 * What to call a subscriber with, or null for no call. `lastTold` is the
 * {@link signature} of what it was last told; `asked` is true when it called
 * updateResolution() since, which is always answered. A caller telling many
 * subscribers passes the belief's signature, computed once.
 * `serviceConfigNews`: the subscriber takes service configs and the one held
 * is not the one it was last told — with a set, that alone is an update.
 */
export function whatToTell(
  belief: Belief,
  lastTold: string | undefined,
  asked: boolean,
  current: string | undefined = signature(belief),
  serviceConfigNews = false,
): Told | null {
  if (belief.kind === 'unknown') return null;
  if (!asked && current === lastTold && !(serviceConfigNews && belief.kind === 'addresses')) return null;
  switch (belief.kind) {
    case 'addresses':
      return { kind: 'update', addresses: belief.addresses };
    case 'none':
      return { kind: 'error', error: belief.error, authoritative: true };
    case 'failed':
      return { kind: 'error', error: belief.error, authoritative: false };
  }
}

/**
 * Identity of a belief for "did it change": the address set (order and TTLs
 * ignored), or the failure's code. Repeating the same failure is no news.
 */
export function signature(belief: Belief): string | undefined {
  switch (belief.kind) {
    case 'unknown':
      return undefined;
    case 'addresses':
      return `addresses:${addressKey(belief.addresses)}`;
    case 'none':
    case 'failed':
      return `${belief.kind}:${belief.error.code}`;
  }
}

/** The set as delivered: every address, or this process's subset of them past `maxAddresses`. */
function capped(addresses: SourceAddress[], maxAddresses: number | undefined): Belief {
  if (maxAddresses === undefined || addresses.length <= maxAddresses) return { kind: 'addresses', addresses };
  const available = distinctCount(addresses);
  if (available <= maxAddresses) return { kind: 'addresses', addresses };
  return { kind: 'addresses', addresses: [...pickSubset(addresses, maxAddresses)], available };
}

function withLastGoodOfFailedFamilies(previous: Belief, resolution: SourceAnswer): SourceAddress[] {
  const addresses = [...resolution.addresses];
  if (previous.kind !== 'addresses' || resolution.failedFamilies.length === 0) return addresses;
  for (const { family } of resolution.failedFamilies) {
    addresses.push(...previous.addresses.filter((entry) => entry.family === family));
  }
  return addresses;
}
