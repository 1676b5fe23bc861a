import net from 'node:net';
import { txtRecords, walkAnswer } from './answer-records.js';
import { DnsClient } from './client.js';
import { DnsError, cannotAsk, nothingThere } from './errors.js';
import type { NameserverStatus } from './nameserver-state.js';
import { HostsFile } from './hosts.js';
import { mayBeIpLiteral } from './ip-text.js';
import { canonicalName, hostNameProblem, isHostName, trimDot } from './names.js';
import { DEFAULT_TIMEOUT_MS, readResolvConf, searchCandidates, withOverrides } from './resolv-conf.js';
import {
  afterFailure,
  answered,
  candidateOutcome,
  type AskedCandidate,
  type CandidateOutcome,
  type EarlierCandidates,
  type FamilyOutcome,
} from './search-walk.js';
import type { Timers } from './timers.js';
import {
  recordType,
  recordTypesText,
  type AbortSignalLike,
  type AttemptEvent,
  type Family,
  type Nameserver,
  type ResolvConf,
  type ResolveControl,
  type Resolution,
} from './types.js';
import { RCODE } from './wire.js';

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

/** What every query of one resolver needs, made once from resolv.conf. */
interface Settings {
  conf: ResolvConf;
  client: DnsClient;
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

  /**
   * The nameservers asked, in the order resolv.conf (or the `nameservers`
   * option) gives them, as they stand now (`DnsClient.statusOf`); empty
   * until resolv.conf has been read, at the first resolution.
   */
  nameservers(): NameserverStatus[] {
    const ready = this.ready;
    return ready ? ready.client.statusOf(ready.conf.nameservers) : [];
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
   * that is not one of `name`'s candidates is ignored. See search-walk.ts
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
    // The name that answered last time, asked directly: one query per family (a demoted one skipped).
    const skip = family === 0 ? control.skipFamily : undefined;
    const asking = this.askCandidate(settings, known!, skip === undefined ? family : skip === 4 ? 6 : 4, control);
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
    if (asked.kind === 'addresses') return answered(asked, known!, knownIndex, skip);
    // Could not ask: the poll fails and the name is kept (see search-walk.ts).
    if (asked.kind === 'failed') throw asked.error;
    const noData = asked.noData;
    this.trace(() => `${name}: ${known}. stopped answering (${noData ? 'NODATA' : 'NXDOMAIN'}); walking the search list again`);
    // Its answer stands in for asking it again in the walk (and so do the earlier candidates just asked): the walk's result is a fresh resolution's.
    // With a family skipped it answered for one family only: the walk asks it again, for both.
    const standIns: AskedCandidate[] = earlier ? [...earlier.asked] : [];
    if (skip === undefined) standIns.push({ candidate: known!, outcome: asked });
    return this.walk(settings, name, candidates, family, control, standIns);
  }

  /**
   * The TXT records of the fully qualified `name` (no search list: the
   * caller passes the name its addresses resolved as), each record's
   * character-strings as Node's `dns.resolveTxt` gives them. NXDOMAIN and
   * NODATA are an answer: no records (`[]`). Could not ask (timeout,
   * SERVFAIL, a bad reply…) rejects with a DnsError. The same transport as
   * addresses: every nameserver and attempt, the same checks of a reply, the
   * same caps, TCP after a truncated reply.
   */
  async resolveTxt(name: string, signal?: AbortSignalLike): Promise<string[][]> {
    assertValidName(name);
    const settings = await this.setup();
    const reply = await settings.client.query(settings.conf.nameservers, name, 'TXT', { signal });
    return reply.rcode === RCODE.NXDOMAIN ? [] : txtRecords(reply.answers, trimDot(name));
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
      const conf = withOverrides(base, this.options);
      this.client = new DnsClient({ timeoutMs: conf.timeoutMs, attempts: conf.attempts, rotate: conf.rotate, timers: this.options.timers, onAttempt: this.options.onAttempt, trace: this.options.trace });
      if (this.closed) this.client.close();
      this.ready = { conf, client: this.client };
      return this.ready;
    })();
    return this.config;
  }

  /** The walk (search-walk.ts); `standIns`: candidates asked already. */
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
    const unasked = failure ? [`${failure.hostname} could not be asked: ${failure.code}`] : [];
    throw sawNoData
      ? nothingThere('NODATA', name, `${name} exists but has no ${recordTypesText(family, 'or')} records`, unasked)
      : nothingThere('NXDOMAIN', name, `${name} does not exist`, ['NXDOMAIN', ...unasked]);
  }

  /** The recheck of the candidates before the polled one (search-walk.ts). */
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
    const type = recordType(family);
    const visited = new Set<string>([canonicalName(fqdn)]);
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
            throw cannotAsk('BADRESPONSE', fqdn, type, `its CNAME chain points to an invalid name ${JSON.stringify(walked.finalName)}`);
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

function assertValidName(name: string): void {
  const problem = hostNameProblem(name);
  if (problem) throw new DnsError('BADNAME', name, `Invalid DNS name ${JSON.stringify(name)}: ${problem}`);
}
