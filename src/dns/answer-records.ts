/**
 * The records of one answer the stub resolver uses: the CNAME chain of the
 * name asked, followed inside the answer (and across re-queries through
 * `visited`), and the A/AAAA records of class IN owned by the chain's last
 * name — never records owned by other names in the same reply.
 */
import type * as dnsPacket from 'dns-packet';
import { DnsError } from './errors.js';
import { isAddressOf } from './ip-text.js';
import { canonicalName, sameName, trimDot } from './names.js';
import { familyOf, type QueryType, type ResolvedAddress } from './types.js';

/**
 * CNAME hops followed for one question, across answers and re-queries. Real
 * chains are 1-3 hops (CDN, ExternalName Services); 8 matches common stub
 * resolvers' limits and bounds the re-queries one hostile answer can cause.
 */
export const MAX_CNAME_DEPTH = 8;

/**
 * Follow the CNAME chain for `start` inside one answer section and collect the
 * records of `type` owned by the last name in the chain. `visited` spans
 * re-queries so a loop across answers is caught too.
 */
export function walkAnswer(
  answers: readonly dnsPacket.Answer[],
  start: string,
  type: QueryType,
  visited: Set<string>,
  originalName: string,
): { addresses: ResolvedAddress[]; finalName: string; chainTtl: number } {
  let name = start;
  let chainTtl = Infinity;
  for (;;) {
    const addresses = addressRecords(answers, name, type);
    if (addresses.length > 0) return { addresses, finalName: name, chainTtl };
    const alias = answers.find((answer) => answer.type === 'CNAME' && isInternet(answer) && sameName(answer.name, name));
    if (!alias || alias.type !== 'CNAME' || typeof alias.data !== 'string') return { addresses: [], finalName: name, chainTtl };
    chainTtl = Math.min(chainTtl, alias.ttl ?? 0);
    const target = trimDot(alias.data);
    const key = canonicalName(target);
    if (visited.has(key)) {
      throw new DnsError('BADRESPONSE', originalName, `CNAME loop for ${originalName}: ${target} points back into the chain`);
    }
    visited.add(key);
    if (visited.size - 1 > MAX_CNAME_DEPTH) {
      throw new DnsError('BADRESPONSE', originalName, `CNAME chain for ${originalName} is longer than ${MAX_CNAME_DEPTH} hops`);
    }
    name = target;
  }
}

function addressRecords(answers: readonly dnsPacket.Answer[], name: string, type: QueryType): ResolvedAddress[] {
  const family = familyOf(type);
  const byAddress = new Map<string, ResolvedAddress>();
  for (const answer of answers) {
    // Only records of our type, class IN, owned by the name asked: records for
    // other names in the same reply are never used (no bailiwick games).
    if (answer.type !== type || !isInternet(answer) || !sameName(answer.name, name)) continue;
    const address = answer.data;
    // A record whose data is not an address of its family is forged or broken: skip it.
    if (typeof address !== 'string' || !isAddressOf(address, family) || byAddress.has(address)) continue;
    byAddress.set(address, { address, family, ttl: answer.ttl ?? 0 });
  }
  // Every address: the answer is bounded by one message (MAX_ANSWER_RECORDS in
  // client.ts), and a cap here would leave the same pods unused by every
  // client of a fleet. Fewer per client is `maxAddresses` (src/watch/subset.ts).
  return [...byAddress.values()];
}

function isInternet(answer: dnsPacket.Answer): boolean {
  const { class: cls, flush } = answer as { class?: string; flush?: boolean };
  // dns-packet strips the top class bit into `flush` (mDNS cache-flush), so
  // class 0x8001 would read as IN: in unicast DNS it is not.
  return (cls === undefined || cls === 'IN') && flush !== true;
}
