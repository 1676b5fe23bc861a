import type net from 'node:net';
import type * as dnsPacket from 'dns-packet';
import { DnsError, closedError, idsExhausted, type DnsErrorCode } from './errors.js';
import { IdPool } from './id-pool.js';
import { NameserverState, type NameserverStatus } from './nameserver-state.js';
import { QueryGate, groupOf, type GateRefusal } from './query-gate.js';
import { QueryRun } from './query-run.js';
import type { TryQuestion } from './reply-reader.js';
import { formatNameserver as formatServer } from './resolv-conf.js';
import { nextServer, probeTarget } from './server-health.js';
import { tryTimeoutMs } from './server-metrics.js';
import { askOverTcp } from './tcp-exchange.js';
import { systemTimers, type Timers } from './timers.js';
import type { AbortSignalLike, Nameserver } from './types.js';
import { UdpLane } from './udp-lane.js';
import { OVERSIZED, UdpTries } from './udp-tries.js';
import { encodeQuery, questionEnd, type ReplyPacket } from './wire.js';

export { MAX_ANSWER_LABELS, MAX_ANSWER_RECORDS, MAX_POINTER_CHAIN } from './wire.js';
export { MAX_ANSWERS_DECODED_PER_TRY } from './reply-reader.js';
export { MAX_TCP_BYTES_PER_QUERY, MAX_TCP_MESSAGE_SIZE } from './tcp-exchange.js';
export { MAX_TIMEOUT_IO_TURNS, MAX_UDP_REPLY_SIZE } from './udp-tries.js';
export type { NameserverStatus } from './nameserver-state.js';

/** Record types this transport asks for. */
export type QueryType = 'A' | 'AAAA';

/**
 * A reply that passed validation (RFC 5452): it came from the server asked,
 * carries our id and our question, and is a response.
 */
export interface DnsReply {
  rcode: number;
  truncated: boolean;
  answers: dnsPacket.Answer[];
  /** Which transport produced this reply. */
  transport: 'udp' | 'tcp';
}

/**
 * One try of one query that failed (timeout, refused port, SERVFAIL…), on its
 * way to the next nameserver or attempt: what `DnsClientOptions.onAttempt`
 * receives, and the `attempt` event of `observe()`. `server` reads
 * `host:port` (`[v6]:port`); `durationMs` includes any wait in line for the server.
 */
export interface AttemptEvent {
  type: 'attempt';
  name: string;
  recordType: QueryType;
  server: string;
  transport: 'udp' | 'tcp';
  error: DnsError;
  durationMs: number;
  /** The timeout this try had, ms: adaptive over UDP (server-metrics.ts), the configured one over TCP. */
  timeoutMs: number;
}

/** Per-query options of {@link DnsClient.query}. */
export interface QueryOptions {
  /**
   * Gives the query up when it aborts: the try in progress is dropped at once
   * (its id, its slot or place in line, its socket's count and its timer are
   * released), no further try starts, and the query rejects with
   * `signal.reason` when that is a {@link DnsError}, else with a `TIMEOUT`
   * DnsError saying the query was given up.
   */
  signal?: AbortSignalLike | undefined;
}

export interface DnsClientOptions {
  /**
   * Milliseconds a try waits for its reply at most (resolv.conf's `timeout`):
   * the first try's timeout before a server's latency is known, and the
   * ceiling of the adaptive timeouts after (server-metrics.ts).
   */
  timeoutMs: number;
  /** Rounds over the nameserver list. */
  attempts: number;
  /** resolv.conf's `options rotate`: the first server asked advances by one per query (server-health.ts). */
  rotate?: boolean;
  /** EDNS(0) UDP payload size we advertise; 1232 avoids IP fragmentation (DNS flag day 2020). */
  udpPayloadSize?: number;
  /** Queries one UDP source port serves before a fresh one is opened; default {@link UDP_PORT_MAX_QUERIES}. */
  udpPortMaxQueries?: number;
  /** Milliseconds one UDP source port lives at most; default {@link UDP_PORT_MAX_AGE_MS}. */
  udpPortMaxAgeMs?: number;
  /** UDP sockets open at once per nameserver, retired ones included; default {@link MAX_UDP_SOCKETS_PER_NAMESERVER}. */
  maxUdpSocketsPerNameserver?: number;
  /**
   * Tries in flight at once per nameserver at most; default
   * {@link MAX_IN_FLIGHT_PER_NAMESERVER}. The limit starts at
   * {@link INITIAL_IN_FLIGHT_PER_NAMESERVER} (or this, if lower) and grows
   * with answers while tries wait (query-gate.ts).
   */
  maxInFlightPerNameserver?: number;
  /** Tries waiting for a slot per nameserver; default {@link MAX_QUEUED_PER_NAMESERVER}. */
  maxQueuedPerNameserver?: number;
  /** Clock and timers for every timeout, age and latency; default the runtime's. */
  timers?: Timers;
  /** Random numbers in [0, 1) for the retry jitter, probes and the rotation's start; default `Math.random`. */
  random?: () => number;
  /**
   * Told of every failed try. Called with a function that builds the event,
   * so a receiver that nobody listens to builds nothing (`observe.ts`'s `report`).
   */
  onAttempt?: (event: () => AttemptEvent) => void;
  /** Trace lines (answers cut at a limit); called with a function that builds the line. */
  trace?: (line: () => string) => void;
}

/** rcodes (RFC 1035 §4.1.1) the resolver distinguishes. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const DEFAULT_UDP_PAYLOAD_SIZE = 1232;

/**
 * Source-port rotation. RFC 5452 asks for an unpredictable source port
 * per query, so an off-path forger must guess it as well as the 16-bit id; a
 * socket per query costs a bind per query and one descriptor per concurrent
 * query. We take the middle way (c-ares' `udp_max_queries`, port pools in
 * recursive resolvers): a UDP socket, bound by the kernel to a random
 * ephemeral port, serves at most this many queries and lives at most
 * {@link UDP_PORT_MAX_AGE_MS}; then the next query opens a fresh one. A and
 * AAAA leave from sockets of their own (udp-lane.ts), so at a 5 s poll of one
 * name the age bound rotates each every other poll; a busy process (many
 * names) rotates every 16 queries of each type. A port that leaves service
 * closes as soon as its in-flight queries settle; while
 * {@link MAX_UDP_SOCKETS_PER_NAMESERVER} are open the current ports serve on
 * instead of rotating.
 */
export const UDP_PORT_MAX_QUERIES = 16;
/** See {@link UDP_PORT_MAX_QUERIES}: bounds how long a discovered port (port scan, SAD DNS side channel) stays useful. */
export const UDP_PORT_MAX_AGE_MS = 10_000;

/**
 * UDP sockets open at once per nameserver: the current ones (one for A, one
 * for AAAA) and up to two retired ones still waiting for replies. With a
 * server that answers, a retired socket closes within a round trip and two
 * sockets are open; with a dead one, retired sockets wait for their queries'
 * timeouts, and without this bound a busy process would hold one socket per
 * 16 queries in flight (3,752 with 30,000 names). resolv.conf names at most
 * 3 nameservers, so a client holds at most 12 UDP sockets.
 */
export const MAX_UDP_SOCKETS_PER_NAMESERVER = 4;

/**
 * Tries in flight per nameserver when it starts, and again whenever it has
 * been silent for a timeout (query-gate.ts: the limit grows from here with
 * answers while tries wait). Neither reference caps this by default:
 * CoreDNS's `forward` has `max_concurrent` unset and asks for "at least the
 * upstream query rate × latency", each concurrent query costing it about
 * 2 KB; c-ares has no cap and draws random ids until one is free, which
 * spins once the 65,536 ids are in use. By that rule 256 carries 128,000
 * queries/s at a 2 ms in-cluster latency and 2,560/s at 100 ms, far above
 * what one process polls, while a dead server (slots held for the whole
 * timeout) sees at most 256 / timeout queries a second.
 */
export const INITIAL_IN_FLIGHT_PER_NAMESERVER = 256;

/**
 * Tries in flight per nameserver at most, however far the limit grew
 * (query-gate.ts). Little's law for the slowest server this should keep up
 * with: 4,000 names polled for A and AAAA every 5 s (1,600 queries/s) from a
 * server that takes 1.8 s need 2,900 in flight; 4,096 covers it. Bounded
 * with it: query ids (3 servers × (4,096 + {@link MAX_LINGERING_PER_NAMESERVER})
 * = 13,056, a fifth of the id space, so drawing a free id stays cheap) and
 * memory (about 4 KB a query in flight: its promises, timer, buffer and try).
 */
export const MAX_IN_FLIGHT_PER_NAMESERVER = 4_096;

/**
 * Tries waiting in line per nameserver, over all domains, behind the
 * in-flight limit. Past it a try fails at once with `OVERLOADED` (the next
 * nameserver is tried); a try that waited longer than the configured timeout
 * fails with `OVERLOADED` when its turn comes — unless the nameserver
 * answered within the last timeout: then this process, not the server, is
 * slow, and the try may wait `ANSWERING_WAIT_FACTOR` (query-gate.ts) times as
 * long (late, not failed). A start-up burst of 8,000 names (16,384 queries)
 * waits in line against a server that answers; with a dead server the line
 * drains by expiry within about two timeouts. About 3 KB a waiting query
 * (its promises and async frames, and its place in line).
 */
export const MAX_QUEUED_PER_NAMESERVER = 16_384;

/**
 * Tries per nameserver that timed out and still listen for their reply
 * (udp-tries.ts): enough to measure a server that slowed down past its
 * timeout and to take the answers of the queries waiting on it, while the
 * ids one server holds stay within {@link MAX_IN_FLIGHT_PER_NAMESERVER} + 256.
 */
export const MAX_LINGERING_PER_NAMESERVER = 256;

/** What one try reports when it fails: the transport it ended on and the timeout it had. */
interface TryReport {
  transport: 'udp' | 'tcp';
  timeoutMs: number;
}

/** SERVFAIL, REFUSED and NOTIMP move a query on to the next server and count against this one's health (c-ares). */
const FAILING_RCODES: ReadonlySet<number> = new Set([RCODE.SERVFAIL, RCODE.REFUSED, RCODE.NOTIMP]);

/**
 * DNS transport: per nameserver, a bounded pipeline (tries in flight from
 * {@link INITIAL_IN_FLIGHT_PER_NAMESERVER}, growing with answers up to
 * {@link MAX_IN_FLIGHT_PER_NAMESERVER}, shared fairly between domains; a line
 * of at most {@link MAX_QUEUED_PER_NAMESERVER} behind them), a few connected UDP
 * sockets rotated to fresh random ports (see {@link UdpLane}), its measured
 * latency (try timeouts, server-metrics.ts) and its health (which server a
 * try goes to, server-health.ts); ids from an {@link IdPool}; RFC 5452
 * validation, retries and TCP fallback on truncation. It knows nothing about
 * search lists, CNAMEs or grpc; {@link query} returns the validated reply of
 * the first server that gave a usable one.
 *
 * A query asks its servers in `attempts` rounds, each server once a round,
 * healthiest first. It resolves with the first NOERROR or NXDOMAIN reply —
 * from the try in progress or from an earlier one that timed out but was
 * answered late; SERVFAIL, REFUSED, timeouts, a refused port, a full line and
 * socket errors move on to the next server (each reported to `onAttempt`).
 * It rejects with a {@link DnsError} naming the most telling failure when no
 * server gave a usable reply, or at once when its signal aborts. A truncated
 * UDP reply is asked again over TCP with the configured timeout, not the
 * adaptive one: TCP does not lose datagrams (the kernel retransmits), so a
 * short timeout would only cut off a long answer on its way. (Comments on
 * members are kept in the package's bundles, so the reasoning lives here.)
 */
export class DnsClient {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly rotate: boolean;
  private readonly udpPayloadSize: number;
  private readonly timers: Timers;
  private readonly random: () => number;
  private readonly laneSettings: ConstructorParameters<typeof UdpLane>[1];
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly onAttempt: ((event: () => AttemptEvent) => void) | undefined;
  private readonly trace: ((line: () => string) => void) | undefined;
  private readonly states = new Map<string, NameserverState>();
  private readonly stateByServer = new WeakMap<Nameserver, NameserverState>();
  private readonly ids = new IdPool();
  private readonly udp: UdpTries<QueryRun<DnsReply>>;
  private readonly tcpSockets = new Set<net.Socket>();
  private rotation: number;
  private closed = false;

  constructor({
    timeoutMs,
    attempts,
    rotate = false,
    udpPayloadSize = DEFAULT_UDP_PAYLOAD_SIZE,
    udpPortMaxQueries = UDP_PORT_MAX_QUERIES,
    udpPortMaxAgeMs = UDP_PORT_MAX_AGE_MS,
    maxUdpSocketsPerNameserver = MAX_UDP_SOCKETS_PER_NAMESERVER,
    maxInFlightPerNameserver = MAX_IN_FLIGHT_PER_NAMESERVER,
    maxQueuedPerNameserver = MAX_QUEUED_PER_NAMESERVER,
    timers = systemTimers,
    random = Math.random,
    onAttempt,
    trace,
  }: DnsClientOptions) {
    this.timeoutMs = timeoutMs;
    this.attempts = attempts;
    this.rotate = rotate;
    this.udpPayloadSize = udpPayloadSize;
    this.timers = timers;
    this.random = random;
    this.rotation = Math.floor(random() * 0x10000);
    this.maxInFlight = maxInFlightPerNameserver;
    this.maxQueued = maxQueuedPerNameserver;
    this.onAttempt = onAttempt;
    this.trace = trace;
    this.laneSettings = { maxQueriesPerPort: udpPortMaxQueries, maxAgeMs: udpPortMaxAgeMs, maxSockets: maxUdpSocketsPerNameserver, timers };
    this.udp = new UdpTries({
      ids: this.ids,
      timers,
      timeoutMs,
      udpPayloadSize,
      maxLingeringPerServer: Math.min(MAX_LINGERING_PER_NAMESERVER, maxInFlightPerNameserver),
      trace,
      replied: (state, packet, latencyMs) => this.replied(state, packet, latencyMs),
      failed: (state) => {
        state.health.failed(this.timers.now());
        state.gate.timedOut();
      },
      answeredLate: (run, packet) => {
        if (usable(rcodeOf(packet)) && !packet.flag_tc) run.succeed(toReply(packet, 'udp'));
      },
    });
  }

  /** Ask `servers` for `name`/`type` (see the class notes and {@link QueryOptions.signal}). */
  query(servers: readonly Nameserver[], name: string, type: QueryType, options: QueryOptions = {}): Promise<DnsReply> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(givenUp(signal, name, type));
    const run = new QueryRun<DnsReply>(name, type, signal, (aborted) => givenUp(aborted, name, type));
    void this.drive(run, servers);
    return run.outcome;
  }

  /** Close every socket; queries in flight or in line reject with `CLOSED`. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.udp.close();
    for (const state of this.states.values()) {
      state.gate.close();
      state.udp.close();
    }
    this.states.clear();
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
  }

  /** Every nameserver asked, in the order first asked. */
  servers(): NameserverStatus[] {
    const now = this.timers.now();
    return [...this.states.values()].map((state) => state.status(now));
  }

  /** The first try's timeout to `servers` now, ms: the longest among the healthiest (a watcher's deadline is never shorter). */
  firstTryTimeoutMs(servers: readonly Nameserver[]): number {
    const now = this.timers.now();
    let fewestFailures = Infinity;
    let longest = 0;
    for (const server of servers) {
      const state = this.stateByServer.get(server);
      const failures = state ? state.health.failures : 0;
      const timeout = state ? state.baseTimeoutMs(now) : this.timeoutMs;
      if (failures < fewestFailures) {
        fewestFailures = failures;
        longest = timeout;
      } else if (failures === fewestFailures) {
        longest = Math.max(longest, timeout);
      }
    }
    return servers.length === 0 ? this.timeoutMs : longest;
  }

  /** Query ids held now. */
  get idsInUse(): number {
    return this.ids.inUse;
  }

  get udpSocketCount(): number {
    let count = 0;
    for (const { udp } of this.states.values()) count += udp.socketCount;
    return count;
  }

  private async drive(run: QueryRun<DnsReply>, servers: readonly Nameserver[]): Promise<void> {
    try {
      if (servers.length === 0) throw new DnsError('NETWORK', run.name, `No nameserver to ask for ${run.name}`);
      const states = servers.map((server) => this.stateFor(server));
      const offset = this.rotate ? this.rotation++ % states.length : 0;
      const failures: DnsError[] = [];
      const asked = states.map(() => false);
      for (let round = 0; round < this.attempts; round++) {
        asked.fill(false);
        for (let step = 0; step < states.length; step++) {
          if (this.closed) throw closedError(run.name);
          if (run.done) return;
          const index = nextServer(states, asked, offset);
          asked[index] = true;
          const state = states[index]!;
          if (round === 0 && step === 0) this.maybeProbe(states, state, run);
          const started = this.timers.now();
          const report: TryReport = { transport: 'udp', timeoutMs: this.timeoutMs };
          const outcome = await this.tryServer(run, state, round, report, false);
          if (outcome === null || run.done) return;
          if (outcome instanceof DnsError && outcome.code === 'CLOSED') throw outcome;
          if (!(outcome instanceof DnsError) && usable(outcome.rcode)) {
            run.succeed(outcome);
            return;
          }
          const failure = outcome instanceof DnsError ? outcome : rcodeError(outcome.rcode, run.name, state.label);
          failures.push(failure);
          this.onAttempt?.(() => ({
            type: 'attempt',
            name: run.name,
            recordType: run.type,
            server: state.label,
            transport: report.transport,
            error: failure,
            durationMs: this.timers.now() - started,
            timeoutMs: report.timeoutMs,
          }));
        }
      }
      throw mostTelling(failures, run.name, servers, this.attempts);
    } catch (error) {
      run.fail(error as Error);
    }
  }

  /** A slot, UDP, then TCP after truncation; null when given up (or a probe found no slot). */
  private async tryServer(run: QueryRun<DnsReply>, state: NameserverState, round: number, report: TryReport, probe: boolean): Promise<DnsReply | DnsError | null> {
    const { gate } = state;
    const group = groupOf(run.name);
    if (!gate.tryEnter(group)) {
      if (probe) return null;
      // In line; a query given up leaves it at once.
      const place = gate.wait(group);
      const letGoOfPlace = run.hold(() => place.cancel());
      try {
        await place.admitted;
      } catch (reason) {
        return this.refusal(reason as GateRefusal, run, state, group);
      } finally {
        letGoOfPlace();
      }
    }
    // The slot goes back at once if the query is given up, or when the try ends.
    let holding = true;
    const leave = (): void => {
      if (holding) gate.leave(group);
      holding = false;
    };
    const letGo = run.hold(leave);
    try {
      if (run.done) return null;
      if (this.closed) return closedError(run.name);
      const timeoutMs = tryTimeoutMs(state.baseTimeoutMs(this.timers.now()), round, this.timeoutMs, this.random);
      report.timeoutMs = timeoutMs;
      const udp = await this.udp.ask(run, state, run.type === 'A' ? 0 : 1, timeoutMs, !probe);
      if (udp === null || udp instanceof DnsError) return udp;
      if (udp !== OVERSIZED && !udp.flag_tc) return toReply(udp, 'udp');
      if (run.done) return null;
      if (this.closed) return closedError(run.name);
      report.transport = 'tcp';
      report.timeoutMs = this.timeoutMs;
      return await this.askTcp(run, state);
    } finally {
      letGo();
      leave();
    }
  }

  private refusal(why: GateRefusal, run: QueryRun<DnsReply>, state: NameserverState, group: string): DnsError | null {
    if (why === 'cancelled') return null;
    if (why === 'closed') return closedError(run.name);
    const { gate } = state;
    const line = why === 'full' ? `${gate.queued} queries already wait (MAX_QUEUED_PER_NAMESERVER ${gate.maxQueued})` : `waited more than ${gate.longestWait()} ms in line`;
    return new DnsError(
      'OVERLOADED',
      run.name,
      `Not asking ${state.label} for ${run.name} ${run.type}: ${gate.active} queries in flight to it (its limit now ${gate.limit}, ${gate.groupLimit} for names under ${group}) and ${line}`,
    );
  }

  /** The question again over TCP, with the configured timeout (see the class notes). */
  private async askTcp(run: QueryRun<DnsReply>, state: NameserverState): Promise<DnsReply | DnsError | null> {
    const id = this.ids.take();
    if (id === undefined) return idsExhausted(run.name);
    const query = encodeQuery(id, run.name, run.type, 0);
    const question: TryQuestion = { name: run.name, type: run.type, query, questionEnd: questionEnd(query, false), server: state.label, decoded: 0, defect: undefined };
    const tcp = askOverTcp(state.server, question, {
      timeoutMs: this.timeoutMs,
      timers: this.timers,
      trace: this.trace,
      sockets: this.tcpSockets,
      closing: () => this.closed,
      ended: () => this.ids.release(id),
    });
    const letGo = run.hold(() => tcp.drop());
    const outcome = await tcp.outcome;
    letGo();
    if (outcome === null) return null;
    if (outcome instanceof DnsError) {
      if (outcome.code !== 'CLOSED') state.health.failed(this.timers.now());
      return outcome;
    }
    this.replied(state, outcome, this.timers.now() - tcp.sentAt);
    return toReply(outcome, 'tcp');
  }

  private maybeProbe(states: readonly NameserverState[], asking: NameserverState, run: QueryRun<DnsReply>): void {
    if (states.length < 2) return;
    const target = probeTarget(states, asking, this.timers.now(), this.random);
    if (!target) return;
    target.health.probing = true;
    void this.probe(target, run.name, run.type);
  }

  private async probe(state: NameserverState, name: string, type: QueryType): Promise<void> {
    try {
      await this.tryServer(new QueryRun<DnsReply>(name, type), state, 0, { transport: 'udp', timeoutMs: 0 }, true);
    } finally {
      state.health.probing = false;
    }
  }

  private replied(state: NameserverState, packet: ReplyPacket, latencyMs: number): void {
    const rcode = rcodeOf(packet);
    const now = this.timers.now();
    if (usable(rcode)) {
      state.answered(latencyMs, now);
      state.gate.answered();
    }
    else if (FAILING_RCODES.has(rcode)) state.health.failed(now);
    else state.health.good();
  }

  private stateFor(server: Nameserver): NameserverState {
    // Callers pass the same nameserver objects poll after poll: skip the key.
    const known = this.stateByServer.get(server);
    if (known) return known;
    const key = `${server.host}|${server.port}`;
    let state = this.states.get(key);
    if (!state) {
      const created: { state?: NameserverState } = {};
      const udp = new UdpLane(server, this.laneSettings, {
        message: (port, message, remote) => this.udp.message(created.state!, port, message, remote),
        error: (port, error) => this.udp.error(created.state!, port, error),
      });
      // A server that answered within a timeout is alive: a long line then means this process is slow, not the server dead.
      const answering = (): boolean => this.timers.now() - created.state!.lastAnswerAt <= this.timeoutMs;
      const gate = new QueryGate({
        initialLimit: INITIAL_IN_FLIGHT_PER_NAMESERVER,
        maxLimit: this.maxInFlight,
        maxQueued: this.maxQueued,
        maxWaitMs: this.timeoutMs,
        timers: this.timers,
        answering,
      });
      state = created.state = new NameserverState(server, formatServer(server), udp, gate, this.timeoutMs);
      this.states.set(key, state);
    }
    this.stateByServer.set(server, state);
    return state;
  }
}

function rcodeOf(packet: ReplyPacket): number {
  return (packet.flags ?? 0) & 0xf;
}

function usable(rcode: number): boolean {
  return rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN;
}

/** The error an aborted query rejects with: the signal's reason when it is a DnsError, else a TIMEOUT saying so. */
function givenUp(signal: AbortSignalLike, name: string, type: QueryType): DnsError {
  const reason: unknown = signal.reason;
  if (reason instanceof DnsError) return reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return new DnsError('TIMEOUT', name, `Gave up asking for ${name} ${type} before an answer came (${why})`, { cause: reason });
}

function toReply(packet: ReplyPacket, transport: 'udp' | 'tcp'): DnsReply {
  return {
    rcode: rcodeOf(packet),
    truncated: packet.flag_tc,
    answers: packet.answers ?? [],
    transport,
  };
}

function rcodeError(rcode: number, name: string, server: string): DnsError {
  const code: DnsErrorCode = rcode === RCODE.SERVFAIL ? 'SERVFAIL' : rcode === RCODE.REFUSED ? 'REFUSED' : 'BADRCODE';
  return new DnsError(code, name, `${server} answered ${rcodeName(rcode)} for ${name}`);
}

function rcodeName(rcode: number): string {
  const names: Record<number, string> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };
  return names[rcode] ?? `rcode ${rcode}`;
}

/** Prefer an answer a server gave (SERVFAIL, REFUSED) over silence, so the cause reads true. */
function mostTelling(failures: DnsError[], name: string, servers: readonly Nameserver[], attempts: number): DnsError {
  // A refused port beats a timeout elsewhere: it names a cause the user can fix.
  const rank: Partial<Record<DnsErrorCode, number>> = { SERVFAIL: 7, REFUSED: 6, BADRCODE: 5, BADRESPONSE: 4, CONNREFUSED: 3, NETWORK: 2, OVERLOADED: 1, TIMEOUT: 0 };
  const best = failures.reduce<DnsError | undefined>(
    (chosen, failure) => (!chosen || (rank[failure.code] ?? 0) > (rank[chosen.code] ?? 0) ? failure : chosen),
    undefined,
  );
  const asked = servers.map(formatServer).join(', ');
  const summary = `${attempts} attempt${attempts === 1 ? '' : 's'} on ${asked}`;
  return new DnsError(best?.code ?? 'TIMEOUT', name, `${best?.message ?? `No reply for ${name}`} (${summary})`, { cause: best });
}
