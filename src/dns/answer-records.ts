/**
 * The records of one answer the stub resolver uses: the CNAME chain of the
 * name asked, followed inside the answer (and across re-queries through
 * `visited`), and the A/AAAA records of class IN owned by the chain's last
 * name — never records owned by other names in the same reply; the TXT
 * records of a name the same way.
 */
import type * as dnsPacket from 'dns-packet';
import { cannotAsk } from './errors.js';
import { isAddressOf } from './ip-text.js';
import { canonicalName, sameName, trimDot } from './names.js';
import { familyOf, type AddressType, type ResolvedAddress } from './types.js';

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
  type: AddressType,
  visited: Set<string>,
  originalName: string,
): { addresses: ResolvedAddress[]; finalName: string; chainTtl: number } {
  const walked = followChain(answers, start, visited, originalName, type, (name) => addressRecords(answers, name, type));
  return { addresses: walked.records, finalName: walked.finalName, chainTtl: walked.chainTtl };
}

/**
 * The TXT records of `name` in one answer, after its CNAME chain inside the
 * answer: each record's character-strings as Node's `dns.resolveTxt` gives
 * them (each byte one character, latin1, as c-ares hands them to Node), so a
 * `grpc_config=` read from them is the text grpc-js's built-in resolver
 * reads. Unlike c-ares, records owned by other names in the reply are never
 * used, as for addresses. At most MAX_ANSWER_RECORDS records reach here,
 * each at most one message's bytes (wire.ts).
 */
export function txtRecords(answers: readonly dnsPacket.Answer[], name: string): string[][] {
  return followChain(answers, name, new Set([canonicalName(name)]), name, 'TXT', (owner) => {
    const records: string[][] = [];
    for (const answer of answers) {
      if (answer.type !== 'TXT' || !isInternet(answer) || !sameName(answer.name, owner)) continue;
      const data = answer.data as unknown;
      const strings = Array.isArray(data) ? data : [data];
      records.push(strings.map((part: unknown) => (Buffer.isBuffer(part) ? part.toString('latin1') : String(part))));
    }
    return records;
  }).records;
}

/** The chain from `start` to the first name `collect` finds records of (or the chain's end), within one answer. */
function followChain<T>(
  answers: readonly dnsPacket.Answer[],
  start: string,
  visited: Set<string>,
  originalName: string,
  type: string,
  collect: (name: string) => T[],
): { records: T[]; finalName: string; chainTtl: number } {
  let name = start;
  let chainTtl = Infinity;
  for (;;) {
    const records = collect(name);
    if (records.length > 0) return { records, finalName: name, chainTtl };
    const alias = answers.find((answer) => answer.type === 'CNAME' && isInternet(answer) && sameName(answer.name, name));
    if (!alias || alias.type !== 'CNAME' || typeof alias.data !== 'string') return { records: [], finalName: name, chainTtl };
    chainTtl = Math.min(chainTtl, alias.ttl ?? 0);
    const target = trimDot(alias.data);
    const key = canonicalName(target);
    if (visited.has(key)) {
      throw cannotAsk('BADRESPONSE', originalName, type, `its CNAME chain loops back to ${target}`);
    }
    visited.add(key);
    if (visited.size - 1 > MAX_CNAME_DEPTH) {
      throw cannotAsk('BADRESPONSE', originalName, type, `its CNAME chain is longer than ${MAX_CNAME_DEPTH} hops`);
    }
    name = target;
  }
}

function addressRecords(answers: readonly dnsPacket.Answer[], name: string, type: AddressType): ResolvedAddress[] {
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
