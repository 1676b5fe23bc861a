import net from 'node:net';
import type * as dnsPacket from 'dns-packet';
import { DnsClient } from './client.js';
import { DnsError, type DnsErrorCode } from './errors.js';
import { HostsFile } from './hosts.js';
import { isAddressOf, mayBeIpLiteral } from './ip-text.js';
import { hostNameProblem, isHostName, sameName, trimDot } from './names.js';
import { DEFAULT_TIMEOUT_MS, readResolvConf, searchCandidates } from './resolv-conf.js';
import type { Timers } from './timers.js';
import type { AttemptEvent, Family, Nameserver, QueryType, ResolvConf, ResolveControl, ResolvedAddress, Resolution } from './types.js';
import { RCODE } from './wire.js';

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
  /** Told of every failed try (see `DnsClientOptions.onAttempt`); the registry wires `observe()`'s reporting here. */
  onAttempt?: (event: () => AttemptEvent) => void;
  /** Trace lines (walk steps, ignored resolv.conf lines, hosts-file problems); called with a function that builds the line. */
  trace?: (line: () => string) => void;
}

/** No trace sink: a line is never built. */
const NO_TRACE = (): void => {};

type FamilyOutcome =
  | { kind: 'addresses'; addresses: ResolvedAddress[] }
  | { kind: 'none'; code: 'NXDOMAIN' | 'NODATA' }
  | { kind: 'failed'; error: DnsError };

/** What one search-list candidate gave, over every family asked. */
type CandidateOutcome =
  | { kind: 'addresses'; addresses: ResolvedAddress[]; failed: Resolution['failedFamilies'] }
  | { kind: 'failed'; error: DnsError }
  | { kind: 'none'; noData: boolean };

/*
 * THE SEARCH-LIST WALK, AS GLIBC'S res_search ENDS IT
 *
 * glibc's `__res_context_search` (resolv/res_query.c) asks the candidates of
 * a relative name in order — the name as written first when it has at least
 * `ndots` dots, else each search domain first and the name as written last —
 * and returns the first that answers with records. What it does after a
 * candidate that did not answer depends on how it failed (the h_errno
 * `__res_context_query` leaves, and the rcode of the last reply seen):
 *
 * | outcome of one candidate        | tried as is, first (dots >= ndots) | a search-list candidate (first, middle, last) | the name as written, last |
 * |---------------------------------|------------------------------------|-----------------------------------------------|---------------------------|
 * | NOERROR with records            | the answer                         | the answer                                    | the answer                |
 * | NODATA                          | the list is walked                 | next candidate (a wildcard of another type must not hide a later one) | end |
 * | NXDOMAIN                        | the list is walked                 | next candidate                                | end                       |
 * | SERVFAIL (every server)         | the list is walked                 | next candidate                                | end                       |
 * | REFUSED (every server)          | the list is walked                 | the list ends; the name as written is tried   | end                       |
 * | timeout                         | the list is walked                 | the list ends; the name as written is tried   | end                       |
 * | FORMERR, NOTIMP, unusable reply | the list is walked                 | the list ends; the name as written is tried   | end                       |
 * | no server reachable (ICMP port unreachable or a send error on every try: ECONNREFUSED) | the list is walked | the search ends at once, the name as written untried | end |
 *
 * We walk the same way (afterFailure: SERVFAIL → next; TIMEOUT, REFUSED,
 * BADRCODE, BADRESPONSE, OVERLOADED → the name as written; CONNREFUSED,
 * NETWORK, CLOSED, a poll given up at its deadline → end), so a search domain whose upstream
 * is dead or refuses costs one candidate, not the name:
 * test/search-walk.test.ts runs every row against a DNS server.
 *
 * When no candidate has records, glibc reports the first query's h_errno if
 * the name was tried as is first, else NO_DATA if any candidate said NODATA,
 * else TRY_AGAIN if any said SERVFAIL, else the last one's. We report NODATA
 * if any candidate said NODATA, else NXDOMAIN if any said NXDOMAIN — "could
 * not ask" only when no candidate answered at all, or the walk was cut short
 * (no server reachable, the poll's deadline). The difference is on purpose:
 * with glibc's rule one search domain that always fails (a dead or refusing
 * upstream) would make a deleted name "could not ask" for ever, and the
 * contract keeps the last good set through "could not ask" — the channel
 * would keep a deleted Service's addresses.
 *
 * Family 0: glibc asks A and AAAA together and a candidate answers when
 * either reply carries records. So here: a candidate with addresses in
 * either family answers (the other family's failure rides along in
 * `failedFamilies`); one without addresses is "could not ask" when either
 * family could not be asked, the step taken by the failure that goes the
 * shorter way (end, then the name as written, then next), and otherwise
 * NODATA or NXDOMAIN.
 *
 * The name polled (see resolve()): the candidate that answered is asked
 * directly at the next poll. When it cannot be asked, that poll is "could
 * not ask" and keeps the last good set; glibc, asking afresh, would go on to
 * the name as written for that one lookup — which answers NXDOMAIN for a
 * short name in a pod, and a one-lookup NXDOMAIN would drop every address.
 *
 * The recheck (`control.recheckEarlier`, after a later candidate took over
 * for one that stopped answering): the candidates before the polled one are
 * asked in the walk's order, beside it; the first with addresses answers, as
 * a fresh lookup would pick it. NXDOMAIN, NODATA and SERVFAIL go on, as in
 * the walk; any other failure ends the recheck without news — glibc would
 * skip to the name as written for that one lookup, but a fault is no reason
 * to leave the name that answers — and the polled name's answer stands.
 *
 * With family 0 each family's addresses are announced as they come in
 * (`control.familyAnswered`), so a watcher delivers a changed set without
 * waiting for the other family's retries.
 */

/** Where the walk goes after a candidate that could not be asked (see the essay above). */
type Step = 'next' | 'as-written' | 'end';

function afterFailure(code: DnsErrorCode): Step {
  switch (code) {
    case 'SERVFAIL':
      return 'next';
    case 'CONNREFUSED':
    case 'NETWORK':
    case 'CLOSED':
      return 'end';
    default:
      return 'as-written';
  }
}

const STEP_ORDER: Record<Step, number> = { end: 0, 'as-written': 1, next: 2 };

/** What every query of one resolver needs, made once from resolv.conf. */
interface Settings {
  conf: ResolvConf;
  client: DnsClient;
}

/** One candidate's outcome from its families' (the second, AAAA, with family 0). */
function candidateOutcome(first: FamilyOutcome, firstFamily: 4 | 6, second?: FamilyOutcome): CandidateOutcome {
  const failed: Resolution['failedFamilies'] = [];
  let addresses: ResolvedAddress[] = [];
  if (first.kind === 'addresses') addresses = first.addresses;
  else if (first.kind === 'failed') failed.push({ family: firstFamily, error: first.error });
  if (second?.kind === 'addresses') addresses = addresses.length === 0 ? second.addresses : addresses.concat(second.addresses);
  else if (second?.kind === 'failed') failed.push({ family: 6, error: second.error });
  if (addresses.length > 0) return { kind: 'addresses', addresses, failed };
  if (failed.length > 0) {
    // The failure that goes the shorter way decides the walk's next step.
    let error = failed[0]!.error;
    for (const other of failed) if (STEP_ORDER[afterFailure(other.error.code)] < STEP_ORDER[afterFailure(error.code)]) error = other.error;
    return { kind: 'failed', error };
  }
  const noData = (first.kind === 'none' && first.code === 'NODATA') || (second?.kind === 'none' && second.code === 'NODATA');
  return { kind: 'none', noData };
}

/** A candidate and what it gave. */
interface AskedCandidate {
  candidate: string;
  outcome: CandidateOutcome;
}

/** What asking the candidates before the polled one found: one with addresses, or the ones that said none. */
interface EarlierCandidates {
  found?: Resolution;
  asked: AskedCandidate[];
}

/** A candidate that answered becomes the resolution. */
function answered(asked: Extract<CandidateOutcome, { kind: 'addresses' }>, candidate: string, searchIndex: number): Resolution {
  return { name: candidate, addresses: asked.addresses, source: 'dns', failedFamilies: asked.failed, searchIndex };
}

const NO_CONTROL: ResolveControl = Object.freeze({});

/**
 * A stub resolver in the manner of glibc's: /etc/hosts first, then the
 * search list by the ndots rule, A and AAAA in parallel, CNAMEs followed,
 * addresses returned with their TTLs. Failures are typed so callers can tell
 * "DNS says none" from "could not ask".
 */
export class StubResolver {
  private readonly options: StubResolverOptions;
  private readonly trace: (line: () => string) => void;
  private readonly hosts: HostsFile | null;
  private config: Promise<Settings> | null = null;
  /** The settings once made. */
  private ready: Settings | undefined;
  private client: DnsClient | null = null;
  private closed = false;
  /** The hosts-file error or warning last traced, so a persisting one is traced once. */
  private reportedHostsError: string | undefined;

  constructor(options: StubResolverOptions = {}) {
    this.options = options;
    this.trace = options.trace ?? NO_TRACE;
    this.hosts = options.hostsPath === false ? null : new HostsFile(options.hostsPath, { clock: options.timers });
  }

  /** The first try's timeout now, ms (a poll's deadline is never shorter). */
  firstTryTimeoutMs(): number {
    const ready = this.ready;
    if (ready) return ready.client.firstTryTimeoutMs(ready.conf.nameservers);
    return this.options.timeoutMs ?? this.options.resolvConf?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  }

  /** Whether queries wait in line for a nameserver's slot now. */
  waitingInLine(): boolean {
    return this.ready?.client.servers().some((server) => server.queued > 0) ?? false;
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
   * that is not one of `name`'s candidates is ignored. See the essay above
   * for `control.recheckEarlier`.
   */
  async resolve(name: string, family: Family, known?: string, control: ResolveControl = NO_CONTROL): Promise<Resolution> {
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
      this.trace(() => `hosts file ${used}: ${hostsProblem}`);
    }
    this.reportedHostsError = hostsProblem;
    if (fromHosts && fromHosts.length > 0) {
      return { name: trimDot(name), addresses: fromHosts, source: 'hosts', failedFamilies: [] };
    }
    const settings = await this.setup();
    const candidates = searchCandidates(name, settings.conf).filter(isHostName);
    const knownIndex = known === undefined ? -1 : candidates.indexOf(known);
    if (knownIndex < 0) return this.walk(settings, name, candidates, family, control);
    // The name that answered last time, asked directly: one query per family.
    const asking = this.askCandidate(settings, known!, family, control);
    let earlier: EarlierCandidates | undefined;
    let asked: CandidateOutcome;
    if (control.recheckEarlier && knownIndex > 0) {
      // The earlier candidates' answers are not announced early: the polled one's are.
      const quiet: ResolveControl = { signal: control.signal };
      [earlier, asked] = await Promise.all([this.askEarlier(settings, name, candidates, knownIndex, family, quiet), asking]);
      if (earlier.found) return earlier.found;
    } else {
      asked = await asking;
    }
    if (asked.kind === 'addresses') return answered(asked, known!, knownIndex);
    // Could not ask: the poll fails and the name is kept (see the essay above).
    if (asked.kind === 'failed') throw asked.error;
    const noData = asked.noData;
    this.trace(() => `${name}: ${known}. stopped answering (${noData ? 'NODATA' : 'NXDOMAIN'}); walking the search list again`);
    // Its answer stands in for asking it again in the walk (and so do the earlier candidates just asked): the walk's result is a fresh resolution's.
    const standIns: AskedCandidate[] = earlier ? [...earlier.asked, { candidate: known!, outcome: asked }] : [{ candidate: known!, outcome: asked }];
    return this.walk(settings, name, candidates, family, control, standIns);
  }

  /** Close sockets; queries in flight reject with code `CLOSED`. */
  close(): void {
    this.closed = true;
    this.client?.close();
  }

  private setup(): Promise<Settings> {
    this.config ??= (async () => {
      const base =
        this.options.resolvConf ?? (await readResolvConf({ path: this.options.resolvConfPath, env: this.options.env ?? process.env }));
      // A mistyped path or a bad line must be findable: say what was ignored, once per resolver.
      for (const warning of base.warnings) this.trace(() => `resolv.conf: ${warning}`);
      const conf: ResolvConf = {
        ...base,
        nameservers: this.options.nameservers && this.options.nameservers.length > 0 ? [...this.options.nameservers] : base.nameservers,
        timeoutMs: this.options.timeoutMs ?? base.timeoutMs,
        attempts: this.options.attempts ?? base.attempts,
      };
      this.client = new DnsClient({ timeoutMs: conf.timeoutMs, attempts: conf.attempts, rotate: conf.rotate, timers: this.options.timers, onAttempt: this.options.onAttempt, trace: this.options.trace });
      if (this.closed) this.client.close();
      this.ready = { conf, client: this.client };
      return this.ready;
    })();
    return this.config;
  }

  /** The walk (the essay above); `standIns`: candidates asked already. */
  private async walk(
    settings: Settings,
    name: string,
    candidates: readonly string[],
    family: Family,
    control: ResolveControl,
    standIns: readonly AskedCandidate[] = [],
  ): Promise<Resolution> {
    const asWritten = trimDot(name);
    // Absolute names, and names with at least ndots dots, are tried as written first.
    const asWrittenFirst = candidates[0] === asWritten;
    let toAsWritten = false;
    let sawNone = false;
    let sawNoData = false;
    let failure: DnsError | undefined;
    let cutShort = false;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[i]!;
      if (toAsWritten && candidate !== asWritten) continue;
      const asked = standIns.find((standIn) => standIn.candidate === candidate)?.outcome ?? (await this.askCandidate(settings, candidate, family, control));
      if (asked.kind === 'addresses') return answered(asked, candidate, i);
      if (asked.kind === 'none') {
        sawNone = true;
        sawNoData ||= asked.noData;
        continue;
      }
      failure ??= asked.error;
      // The name tried as written first: whatever went wrong, glibc walks the list.
      if (i === 0 && asWrittenFirst && !control.signal?.aborted) continue;
      // A poll given up (its deadline) asks nothing more.
      const step = control.signal?.aborted ? 'end' : afterFailure(asked.error.code);
      if (step === 'next') continue;
      if (step === 'end') {
        // Nothing reachable: the candidates left were never asked, so "none" cannot be said.
        cutShort = true;
        failure = asked.error;
        break;
      }
      // The list ends here; the name as written is still tried, unless it was tried first.
      if (asWrittenFirst) break;
      toAsWritten = true;
    }
    if (!sawNone || cutShort) throw failure!;
    const familyText = family === 0 ? 'A or AAAA' : family === 4 ? 'A' : 'AAAA';
    const unasked = failure ? `; ${failure.hostname} could not be asked (${failure.code})` : '';
    throw sawNoData
      ? new DnsError('NODATA', name, `${name} exists but has no ${familyText} records${unasked}`)
      : new DnsError('NXDOMAIN', name, `${name} does not exist (NXDOMAIN)${unasked}`);
  }

  /** The recheck of the candidates before the polled one (the essay above). */
  private async askEarlier(
    settings: Settings,
    name: string,
    candidates: readonly string[],
    before: number,
    family: Family,
    control: ResolveControl,
  ): Promise<EarlierCandidates> {
    const asked: AskedCandidate[] = [];
    for (let i = 0; i < before; i++) {
      const candidate = candidates[i]!;
      const outcome = await this.askCandidate(settings, candidate, family, control);
      if (outcome.kind === 'addresses') {
        this.trace(() => `${name}: ${candidate}. answers again, before the name polled; polling it instead`);
        return { found: answered(outcome, candidate, i), asked };
      }
      if (outcome.kind === 'none') {
        asked.push({ candidate, outcome });
        continue;
      }
      const writtenFirst = i === 0 && candidate === trimDot(name);
      if (!writtenFirst && afterFailure(outcome.error.code) !== 'next') break;
    }
    return { asked };
  }

  /** Every family of one candidate: in parallel, or A then AAAA with `single-request` (glibc's RES_SNGLKUP). */
  private async askCandidate(settings: Settings, candidate: string, family: Family, control: ResolveControl): Promise<CandidateOutcome> {
    // Runs at every poll: no wrapper promise or object per family, no intermediate arrays.
    if (family !== 0) return candidateOutcome(await this.resolveFamily(settings, candidate, family, control, false), family);
    const announce = control.familyAnswered !== undefined;
    if (settings.conf.singleRequest) {
      const a = await this.resolveFamily(settings, candidate, 4, control, announce);
      return candidateOutcome(a, 4, await this.resolveFamily(settings, candidate, 6, control, announce));
    }
    const [a, aaaa] = await Promise.all([this.resolveFamily(settings, candidate, 4, control, announce), this.resolveFamily(settings, candidate, 6, control, announce)]);
    return candidateOutcome(a, 4, aaaa);
  }

  /** One family of one fully qualified name, following CNAMEs across re-queries. */
  private async resolveFamily(settings: Settings, fqdn: string, family: 4 | 6, control: ResolveControl, announce: boolean): Promise<FamilyOutcome> {
    const { client } = settings;
    const servers = settings.conf.nameservers;
    const type: QueryType = family === 4 ? 'A' : 'AAAA';
    const visited = new Set<string>([fqdn.toLowerCase()]);
    let current = fqdn;
    let chainTtl = Infinity;
    try {
      for (;;) {
        // The control is the query's options too: its signal gives the query up.
        const reply = await client.query(servers, current, type, control);
        if (reply.rcode === RCODE.NXDOMAIN) return { kind: 'none', code: 'NXDOMAIN' };
        const walked = walkAnswer(reply.answers, current, type, visited, fqdn);
        chainTtl = Math.min(chainTtl, walked.chainTtl);
        if (walked.addresses.length > 0) {
          // Without a CNAME on the way (the usual case) the TTLs stand as they are.
          const addresses = chainTtl === Infinity ? walked.addresses : walked.addresses.map((record) => ({ ...record, ttl: Math.min(record.ttl, chainTtl) }));
          if (announce) control.familyAnswered!(fqdn, family, addresses);
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
  // client of a fleet. Fewer per client is `maxAddresses` (src/watch/subset.ts).
  return [...byAddress.values()];
}

function isInternet(answer: dnsPacket.Answer): boolean {
  const { class: cls, flush } = answer as { class?: string; flush?: boolean };
  // dns-packet strips the top class bit into `flush` (mDNS cache-flush), so
  // class 0x8001 would read as IN: in unicast DNS it is not.
  return (cls === undefined || cls === 'IN') && flush !== true;
}

function assertValidName(name: string): void {
  const problem = hostNameProblem(name);
  if (problem) throw new DnsError('BADNAME', name, `Invalid DNS name ${JSON.stringify(name)}: ${problem}`);
}
