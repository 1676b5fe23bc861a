import type net from 'node:net';
import { DnsError, abortedError, cannotAsk, closedError, mostTellingError, rcodeError } from './errors.js';
import { IdPool } from './id-pool.js';
import { NameserverState, unaskedStatus, type NameserverSettings, type NameserverStatus } from './nameserver-state.js';
import { MAX_IN_FLIGHT_PER_NAMESERVER, MAX_QUEUED_PER_NAMESERVER, groupOf, type GateRefusal } from './query-gate.js';
import { QueryRun } from './query-run.js';
import { formatNameserver } from './resolv-conf.js';
import { askInRounds, type RoundsAsker } from './query-rounds.js';
import { probeTarget } from './server-health.js';
import { tryTimeoutMs } from './server-metrics.js';
import { askOverTcp } from './tcp-exchange.js';
import { systemTimers, type Timers } from './timers.js';
import type { AbortSignalLike, AttemptEvent, DnsReply, Nameserver, QueryType } from './types.js';
import { MAX_UDP_SOCKETS_PER_NAMESERVER, UDP_PORT_MAX_AGE_MS, UDP_PORT_MAX_QUERIES } from './udp-lane.js';
import { MAX_LINGERING_PER_NAMESERVER, OVERSIZED, UdpTries } from './udp-tries.js';
import { rcodeOf, usableRcode } from './wire.js';
import type { ReplyPacket } from './fast-wire.js';

/** Per-query options of {@link DnsClient.query}. */
interface QueryOptions {
  /**
   * Gives the query up when it aborts: the try in progress is dropped at once
   * (its id, its slot or place in line, its socket's count and its timer are
   * released), no further try starts, and the query rejects with
   * `signal.reason` when that is a {@link DnsError}, else with a `TIMEOUT`
   * DnsError saying the query was given up.
   */
  signal?: AbortSignalLike | undefined;
  /**
   * Milliseconds left, from now, of the poll that asks (its deadline): while
   * a try with the first round's timeout fits, the query keeps asking past
   * `attempts` rounds (query-rounds.ts). Without it, `attempts`
   * rounds and no more, as glibc asks.
   */
  remainingMs?(): number;
  /** Told the timeout of the query's first try (adaptive, server-metrics.ts) as it leaves; not called when no try leaves. */
  firstTry?(timeoutMs: number): void;
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
   * INITIAL_IN_FLIGHT_PER_NAMESERVER (query-gate.ts) (or this, if lower) and grows
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

const DEFAULT_UDP_PAYLOAD_SIZE = 1232;

/** What one try reports when it fails: the transport it ended on and the timeout it had. */
interface TryReport {
  transport: 'udp' | 'tcp';
  timeoutMs: number;
}

/**
 * DNS transport: per nameserver, a bounded pipeline (tries in flight from
 * INITIAL_IN_FLIGHT_PER_NAMESERVER (query-gate.ts), growing with answers up to
 * {@link MAX_IN_FLIGHT_PER_NAMESERVER}, shared fairly between domains; a line
 * of at most {@link MAX_QUEUED_PER_NAMESERVER} behind them), a few connected UDP
 * sockets rotated to fresh random ports (see udp-lane.ts), its measured
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
  private readonly nameserverSettings: NameserverSettings;
  private readonly onAttempt: ((event: () => AttemptEvent) => void) | undefined;
  private readonly trace: ((line: () => string) => void) | undefined;
  private readonly states = new Map<string, NameserverState>();
  private readonly stateByServer = new WeakMap<Nameserver, NameserverState>();
  private readonly ids = new IdPool();
  private readonly udp: UdpTries<QueryRun<DnsReply>>;
  private readonly tcpSockets = new Set<net.Socket>();
  private rotation: number;
  private closed = false;
  /** How a query's tries are made, for query-rounds.ts: one object for every query. */
  private readonly asker: RoundsAsker<QueryRun<DnsReply>>;

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
    this.asker = {
      attempts,
      now: () => this.timers.now(),
      tryOnce: (run, state, round) => this.askOnce(run, state, round),
      beforeFirstTry: (run, states, state) => this.maybeProbe(states, state, run),
      unanswered: (run) => run.failures.every((failure) => failure.code === 'TIMEOUT'),
      trace: (run, line) => this.trace?.(() => `${run.name} ${run.type}: ${line()}`),
    };
    this.rotate = rotate;
    this.udpPayloadSize = udpPayloadSize;
    this.timers = timers;
    this.random = random;
    this.rotation = Math.floor(random() * 0x10000);
    this.onAttempt = onAttempt;
    this.trace = trace;
    const lane = { maxQueriesPerPort: udpPortMaxQueries, maxAgeMs: udpPortMaxAgeMs, maxSockets: maxUdpSocketsPerNameserver, timers };
    this.nameserverSettings = { timeoutMs, timers, lane, maxInFlight: maxInFlightPerNameserver, maxQueued: maxQueuedPerNameserver };
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
        if (usableRcode(rcodeOf(packet)) && !packet.flag_tc) run.succeed(toReply(packet, 'udp'));
      },
    });
  }

  /** Ask `servers` for `name`/`type` (see the class notes and {@link QueryOptions.signal}). */
  query(servers: readonly Nameserver[], name: string, type: QueryType, options: QueryOptions = {}): Promise<DnsReply> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(abortedError(signal, name, type));
    const run = new QueryRun<DnsReply>(name, type, signal, (aborted) => abortedError(aborted, name, type), options.firstTry ? options : undefined);
    void this.drive(run, servers, options);
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

  /** `servers` as they stand now, in that order; one never asked shows the configured timeout, healthy. */
  statusOf(servers: readonly Nameserver[]): NameserverStatus[] {
    const now = this.timers.now();
    return servers.map((server) => this.knownState(server)?.status(now) ?? unaskedStatus(server, this.timeoutMs));
  }

  /** The first try's timeout to `servers` now, ms: the longest among the healthiest (a watcher's deadline is never shorter). */
  firstTryTimeoutMs(servers: readonly Nameserver[]): number {
    const now = this.timers.now();
    let fewestFailures = Infinity;
    let longest = 0;
    for (const server of servers) {
      const state = this.knownState(server);
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

  private async drive(run: QueryRun<DnsReply>, servers: readonly Nameserver[], options: QueryOptions): Promise<void> {
    try {
      if (servers.length === 0) throw cannotAsk('NETWORK', run.name, run.type, 'no nameserver to ask');
      const states = servers.map((server) => this.stateFor(server));
      const offset = this.rotate ? this.rotation++ % states.length : 0;
      if (await askInRounds(run, states, offset, options, this.asker)) return;
      const extraTries = run.failures.length - this.attempts * states.length;
      throw mostTellingError(run.failures, run.name, run.type, servers.map(formatNameserver), this.attempts, extraTries);
    } catch (error) {
      run.fail(error as Error);
    }
  }

  /** One try of `run` to `state`; true when the query is settled (answered or given up), else its failure is recorded. */
  private async askOnce(run: QueryRun<DnsReply>, state: NameserverState, round: number): Promise<boolean> {
    if (this.closed) throw closedError(run.name);
    if (run.done) return true;
    const started = this.timers.now();
    const report: TryReport = { transport: 'udp', timeoutMs: this.timeoutMs };
    const outcome = await this.tryServer(run, state, round, report, false);
    if (outcome === null || run.done) return true;
    if (outcome instanceof DnsError && outcome.code === 'CLOSED') throw outcome;
    if (!(outcome instanceof DnsError) && usableRcode(outcome.rcode)) {
      run.succeed(outcome);
      return true;
    }
    const failure = outcome instanceof DnsError ? outcome : rcodeError(outcome.rcode, run.name, run.type, state.label);
    run.failures.push(failure);
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
    return false;
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
      run.tried(timeoutMs);
      // TXT leaves from A's socket: it is asked after the addresses are in, never beside them (udp-lane.ts PortSlot).
      const udp = await this.udp.ask(run, state, run.type === 'AAAA' ? 1 : 0, timeoutMs, !probe);
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
    return state.gate.overloadedError(why, state.label, run.name, run.type, group);
  }

  /** The question again over TCP, with the configured timeout (see the class notes). */
  private async askTcp(run: QueryRun<DnsReply>, state: NameserverState): Promise<DnsReply | DnsError | null> {
    const settings = { ids: this.ids, timeoutMs: this.timeoutMs, timers: this.timers, trace: this.trace, sockets: this.tcpSockets, closing: () => this.closed };
    const tcp = askOverTcp(state.server, state.label, run.name, run.type, settings);
    if (tcp instanceof DnsError) return tcp;
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
    state.replied(rcodeOf(packet), latencyMs, this.timers.now());
  }

  private stateFor(server: Nameserver): NameserverState {
    // Callers pass the same nameserver objects poll after poll: skip the key.
    const known = this.stateByServer.get(server);
    if (known) return known;
    const key = stateKey(server);
    const state = this.states.get(key) ?? new NameserverState(server, this.nameserverSettings, this.udp);
    this.states.set(key, state);
    this.stateByServer.set(server, state);
    return state;
  }

  /** The state kept for `server`, if it was asked. */
  private knownState(server: Nameserver): NameserverState | undefined {
    return this.stateByServer.get(server) ?? this.states.get(stateKey(server));
  }
}

const stateKey = (server: Nameserver): string => `${server.host}|${server.port}`;

function toReply(packet: ReplyPacket, transport: 'udp' | 'tcp'): DnsReply {
  return { rcode: rcodeOf(packet), truncated: packet.flag_tc, answers: packet.answers ?? [], transport };
}
