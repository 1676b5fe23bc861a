import net from 'node:net';
import type * as dnsPacket from 'dns-packet';
import { DnsClient, RCODE, type QueryType } from './client.js';
import { DnsError } from './errors.js';
import { HostsFile } from './hosts.js';
import { isAddressOf, mayBeIpLiteral } from './ip-text.js';
import { hostNameProblem, isHostName, sameName, trimDot } from './names.js';
import { readResolvConf, searchCandidates } from './resolv-conf.js';
import type { Timers } from './timers.js';
import { report } from '../observe.js';
import { trace } from '../trace.js';
import type { Family, Nameserver, ResolvConf, ResolvedAddress, Resolution } from './types.js';

/**
 * CNAME hops followed for one question, across answers and re-queries. Real
 * chains are 1-3 hops (CDN, ExternalName Services); 8 matches common stub
 * resolvers' limits and bounds the re-queries one hostile answer can cause.
 */
export const MAX_CNAME_DEPTH = 8;
export interface StubResolverOptions {
  /** Servers to ask instead of resolv.conf's (how `dns://server/name` targets work). */
  nameservers?: readonly Nameserver[];
  /** A parsed resolv.conf to use instead of reading one (tests, embedding). */
  resolvConf?: ResolvConf;
  /** Where to read resolv.conf from when `resolvConf` is not given. */
  resolvConfPath?: string;
  /** Environment for RES_OPTIONS / LOCALDOMAIN; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** hosts file consulted before DNS; `false` skips it. */
  hostsPath?: string | false;
  /** Per-try timeout (ms); default from resolv.conf. */
  timeoutMs?: number;
  /** Rounds over the nameservers; default from resolv.conf. */
  attempts?: number;
  /** The clock for try timeouts, socket ages and hosts-file re-reads; the library's one clock unless given. */
  timers?: Timers;
}

type FamilyOutcome =
  | { kind: 'addresses'; addresses: ResolvedAddress[] }
  | { kind: 'none'; code: 'NXDOMAIN' | 'NODATA' }
  | { kind: 'failed'; error: DnsError };

/** What one search-list candidate gave, over every family asked. */
type CandidateOutcome =
  | { kind: 'addresses'; addresses: ResolvedAddress[]; failed: Resolution['failedFamilies'] }
  | { kind: 'failed'; error: DnsError }
  | { kind: 'none'; noData: boolean };

/** A candidate that answered becomes the resolution; one that could not be asked is the failure. */
function answerOrThrow(asked: Exclude<CandidateOutcome, { kind: 'none' }>, candidate: string): Resolution {
  if (asked.kind === 'failed') throw asked.error;
  return { name: candidate, addresses: asked.addresses, source: 'dns', failedFamilies: asked.failed };
}

/**
 * A stub resolver in the manner of glibc's: /etc/hosts first, then the
 * search list by the ndots rule, A and AAAA in parallel, CNAMEs followed,
 * addresses returned with their TTLs. Failures are typed so callers can tell
 * "DNS says none" from "could not ask".
 */
export class StubResolver {
  private readonly options: StubResolverOptions;
  private readonly hosts: HostsFile | null;
  private config: Promise<{ conf: ResolvConf; client: DnsClient }> | null = null;
  private client: DnsClient | null = null;
  private closed = false;
  /** The hosts-file error or warning last traced, so a persisting one is traced once. */
  private reportedHostsError: string | undefined;

  constructor(options: StubResolverOptions = {}) {
    this.options = options;
    this.hosts = options.hostsPath === false ? null : new HostsFile(options.hostsPath, { clock: options.timers });
  }

  /** resolv.conf as this resolver uses it (after overrides). */
  async resolvConf(): Promise<ResolvConf> {
    return (await this.setup()).conf;
  }

  /**
   * Resolve `name` as glibc would: hosts file, then each search-list
   * candidate in order until one answers. `known` is a candidate that
   * answered before (a previous {@link Resolution.name}): it is asked first,
   * directly, and the list is walked again only when it no longer answers
   * (NXDOMAIN, or NODATA for every family asked) — so a poller pays one query
   * per family per poll whatever form the name was written in. A `known`
   * that is not one of `name`'s candidates is ignored.
   */
  async resolve(name: string, family: Family, known?: string): Promise<Resolution> {
    const literal = mayBeIpLiteral(name) ? net.isIP(name) : 0;
    if (literal !== 0) {
      const literalFamily = literal as 4 | 6;
      if (family !== 0 && family !== literalFamily) {
        throw new DnsError('NODATA', name, `${name} is an IPv${literalFamily} address, but family ${family} was asked for`);
      }
      return { name, addresses: [{ address: name, family: literalFamily, ttl: Infinity }], source: 'literal', failedFamilies: [] };
    }
    assertValidName(name);
    const fromHosts = await this.hosts?.lookup(name, family);
    const hostsProblem = this.hosts?.lastError ?? this.hosts?.lastWarning;
    if (hostsProblem && hostsProblem !== this.reportedHostsError) {
      const used = this.hosts?.lastError ? 'not used' : 'used in part';
      trace(() => `hosts file ${used}: ${hostsProblem}`);
    }
    this.reportedHostsError = hostsProblem;
    if (fromHosts && fromHosts.length > 0) {
      return { name: trimDot(name), addresses: fromHosts, source: 'hosts', failedFamilies: [] };
    }
    const { conf, client } = await this.setup();
    const candidates = searchCandidates(name, conf).filter(isHostName);
    let sawNoData = false;
    let alreadyAsked: string | undefined;
    if (known !== undefined && candidates.includes(known)) {
      // The name that answered last time, asked directly: one query per family.
      const asked = await this.askCandidate(client, conf.nameservers, known, family);
      if (asked.kind !== 'none') return answerOrThrow(asked, known);
      trace(() => `${name}: ${known}. stopped answering (${asked.noData ? 'NODATA' : 'NXDOMAIN'}); walking the search list again`);
      // Its answer stands in for asking it again in the walk: the walk's result is a fresh resolution's.
      alreadyAsked = known;
      sawNoData = asked.noData;
    }
    for (const candidate of candidates) {
      if (candidate === alreadyAsked) continue;
      const asked = await this.askCandidate(client, conf.nameservers, candidate, family);
      // Could not ask: stop here rather than let a later candidate answer for
      // a name an earlier one might own (glibc stops on timeouts likewise).
      if (asked.kind !== 'none') return answerOrThrow(asked, candidate);
      sawNoData ||= asked.noData;
    }
    const familyText = family === 0 ? 'A or AAAA' : family === 4 ? 'A' : 'AAAA';
    throw sawNoData
      ? new DnsError('NODATA', name, `${name} exists but has no ${familyText} records`)
      : new DnsError('NXDOMAIN', name, `${name} does not exist (NXDOMAIN)`);
  }

  /** Close sockets; queries in flight reject with code `CLOSED`. */
  close(): void {
    this.closed = true;
    this.client?.close();
  }

  private setup(): Promise<{ conf: ResolvConf; client: DnsClient }> {
    this.config ??= (async () => {
      const base =
        this.options.resolvConf ?? (await readResolvConf({ path: this.options.resolvConfPath, env: this.options.env ?? process.env }));
      // A mistyped path or a bad line must be findable: say what was ignored, once per resolver.
      for (const warning of base.warnings) trace(() => `resolv.conf: ${warning}`);
      const conf: ResolvConf = {
        ...base,
        nameservers: this.options.nameservers && this.options.nameservers.length > 0 ? [...this.options.nameservers] : base.nameservers,
        timeoutMs: this.options.timeoutMs ?? base.timeoutMs,
        attempts: this.options.attempts ?? base.attempts,
      };
      this.client = new DnsClient({ timeoutMs: conf.timeoutMs, attempts: conf.attempts, rotate: conf.rotate, timers: this.options.timers, onAttempt: report, trace });
      if (this.closed) this.client.close();
      return { conf, client: this.client };
    })();
    return this.config;
  }

  /** Every family asked of one candidate name, in parallel. */
  private async askCandidate(client: DnsClient, servers: readonly Nameserver[], candidate: string, family: Family): Promise<CandidateOutcome> {
    // Runs at every poll: no wrapper promise or object per family, no intermediate arrays.
    const families = familiesOf(family);
    const outcomes = await Promise.all(families.map((fam) => this.resolveFamily(client, servers, candidate, fam)));
    let addresses: ResolvedAddress[] = [];
    const failed: Resolution['failedFamilies'] = [];
    for (let i = 0; i < outcomes.length; i++) {
      const outcome = outcomes[i]!;
      if (outcome.kind === 'addresses') addresses = addresses.length === 0 ? outcome.addresses : addresses.concat(outcome.addresses);
      else if (outcome.kind === 'failed') failed.push({ family: families[i]!, error: outcome.error });
    }
    if (addresses.length > 0) return { kind: 'addresses', addresses, failed };
    const [firstFailure] = failed;
    if (firstFailure) return { kind: 'failed', error: firstFailure.error };
    return { kind: 'none', noData: outcomes.some((outcome) => outcome.kind === 'none' && outcome.code === 'NODATA') };
  }

  /** One family of one fully qualified name, following CNAMEs across re-queries. */
  private async resolveFamily(client: DnsClient, servers: readonly Nameserver[], fqdn: string, family: 4 | 6): Promise<FamilyOutcome> {
    const type: QueryType = family === 4 ? 'A' : 'AAAA';
    const visited = new Set<string>([fqdn.toLowerCase()]);
    let current = fqdn;
    let chainTtl = Infinity;
    try {
      for (;;) {
        const reply = await client.query(servers, current, type);
        if (reply.rcode === RCODE.NXDOMAIN) return { kind: 'none', code: 'NXDOMAIN' };
        const walked = walkAnswer(reply.answers, current, type, visited, fqdn);
        chainTtl = Math.min(chainTtl, walked.chainTtl);
        if (walked.addresses.length > 0) {
          // Without a CNAME on the way (the usual case) the TTLs stand as they are.
          const addresses = chainTtl === Infinity ? walked.addresses : walked.addresses.map((record) => ({ ...record, ttl: Math.min(record.ttl, chainTtl) }));
          return { kind: 'addresses', addresses };
        }
        // The answer pointed elsewhere without that name's records: ask for the target.
        if (walked.finalName !== current) {
          if (!isHostName(walked.finalName)) {
            throw new DnsError('BADRESPONSE', fqdn, `CNAME chain for ${fqdn} points to an invalid name ${JSON.stringify(walked.finalName)}`);
          }
          current = walked.finalName;
          continue;
        }
        return { kind: 'none', code: 'NODATA' };
      }
    } catch (error) {
      if (error instanceof DnsError) return { kind: 'failed', error };
      throw error;
    }
  }
}

/**
 * Follow the CNAME chain for `start` inside one answer section and collect the
 * records of `type` owned by the last name in the chain. `visited` spans
 * re-queries so a loop across answers is caught too.
 */
function walkAnswer(
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
    if (visited.has(target.toLowerCase())) {
      throw new DnsError('BADRESPONSE', originalName, `CNAME loop for ${originalName}: ${target} points back into the chain`);
    }
    visited.add(target.toLowerCase());
    if (visited.size - 1 > MAX_CNAME_DEPTH) {
      throw new DnsError('BADRESPONSE', originalName, `CNAME chain for ${originalName} is longer than ${MAX_CNAME_DEPTH} hops`);
    }
    name = target;
  }
}

function addressRecords(answers: readonly dnsPacket.Answer[], name: string, type: QueryType): ResolvedAddress[] {
  const family = type === 'A' ? 4 : 6;
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
  // client of a fleet. Fewer per client is `maxAddresses` (src/subset.ts).
  return [...byAddress.values()];
}

function isInternet(answer: dnsPacket.Answer): boolean {
  const { class: cls, flush } = answer as { class?: string; flush?: boolean };
  // dns-packet strips the top class bit into `flush` (mDNS cache-flush), so
  // class 0x8001 would read as IN: in unicast DNS it is not.
  return (cls === undefined || cls === 'IN') && flush !== true;
}

function familiesOf(family: Family): Array<4 | 6> {
  return family === 0 ? [4, 6] : [family];
}

function assertValidName(name: string): void {
  const problem = hostNameProblem(name);
  if (problem) throw new DnsError('BADNAME', name, `Invalid DNS name ${JSON.stringify(name)}: ${problem}`);
}
