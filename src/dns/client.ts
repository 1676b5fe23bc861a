import net from 'node:net';
import type dgram from 'node:dgram';
import type * as dnsPacket from 'dns-packet';
import { DnsError, type DnsErrorCode } from './errors.js';
import { IdPool } from './id-pool.js';
import { QueryGate, type GateRefusal } from './query-gate.js';
import { formatNameserver as formatServer } from './resolv-conf.js';
import { TcpFrameReader, frameMessage } from './tcp-frames.js';
import { systemTimers, type Timers } from './timers.js';
import type { Nameserver } from './types.js';
import { UdpLane, type UdpPort } from './udp-lane.js';
import { MAX_ANSWER_RECORDS, announcedAnswers, answersQuery, decodeReply, encodeQuery, questionEnd, type ReplyPacket } from './wire.js';

export { MAX_ANSWER_LABELS, MAX_ANSWER_RECORDS, MAX_POINTER_CHAIN } from './wire.js';

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
 * way to the next nameserver or attempt: what {@link DnsClientOptions.onAttempt}
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
  signal?: AbortSignal;
}

export interface DnsClientOptions {
  /** Milliseconds to wait for one server's reply on one attempt. */
  timeoutMs: number;
  /** Rounds over the nameserver list. */
  attempts: number;
  /** EDNS(0) UDP payload size we advertise; 1232 avoids IP fragmentation (DNS flag day 2020). */
  udpPayloadSize?: number;
  /** Queries one UDP source port serves before a fresh one is opened; default {@link UDP_PORT_MAX_QUERIES}. */
  udpPortMaxQueries?: number;
  /** Milliseconds one UDP source port lives at most; default {@link UDP_PORT_MAX_AGE_MS}. */
  udpPortMaxAgeMs?: number;
  /** UDP sockets open at once per nameserver, retired ones included; default {@link MAX_UDP_SOCKETS_PER_NAMESERVER}. */
  maxUdpSocketsPerNameserver?: number;
  /** Tries in flight at once per nameserver; default {@link MAX_IN_FLIGHT_PER_NAMESERVER}. */
  maxInFlightPerNameserver?: number;
  /** Tries waiting for a slot per nameserver; default {@link MAX_QUEUED_PER_NAMESERVER}. */
  maxQueuedPerNameserver?: number;
  /** Clock and timers for timeouts and port ages; default the runtime's. */
  timers?: Timers;
  /**
   * Told of every failed try. Called with a function that builds the event,
   * so a receiver that nobody listens to builds nothing (`observe.ts`'s `report`).
   */
  onAttempt?: (event: () => AttemptEvent) => void;
  /** Trace lines (answers cut at a limit); called with a function that builds the line. */
  trace?: (line: () => string) => void;
}

/** One nameserver as the client sees it now (see {@link DnsClient.servers}). */
export interface NameserverStatus {
  /** `host:port`, `[v6]:port` for IPv6. */
  server: string;
  /** Tries in flight to it now (UDP, and the TCP fallback holding the same slot). */
  inFlight: number;
  /** Tries waiting in line for a slot. */
  queued: number;
  /** UDP sockets open to it (current and retired). */
  udpSockets: number;
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
 * {@link UDP_PORT_MAX_AGE_MS}; then the next query opens a fresh one. At a 5 s
 * poll of one name (A and AAAA) the age bound rotates the port every other
 * poll; a busy process (many names) rotates every 16 queries. A port that
 * leaves service closes as soon as its in-flight queries settle; while
 * {@link MAX_UDP_SOCKETS_PER_NAMESERVER} are open the current port serves on
 * instead of rotating.
 */
export const UDP_PORT_MAX_QUERIES = 16;
/** See {@link UDP_PORT_MAX_QUERIES}: bounds how long a discovered port (port scan, SAD DNS side channel) stays useful. */
export const UDP_PORT_MAX_AGE_MS = 10_000;

/**
 * UDP sockets open at once per nameserver: the current one and up to three
 * retired ones still waiting for replies. With a server that answers, a
 * retired socket closes within a round trip and one socket is open; with a
 * dead one, retired sockets wait for their queries' timeouts, and without
 * this bound a busy process would hold one socket per 16 queries in flight
 * (3,752 with 30,000 names). resolv.conf names at most 3 nameservers, so a
 * client holds at most 12 UDP sockets.
 */
export const MAX_UDP_SOCKETS_PER_NAMESERVER = 4;

/**
 * Tries in flight at once per nameserver (UDP, and the TCP fallback that
 * follows a truncated reply while it holds the same slot). Neither reference
 * caps this by default: CoreDNS's `forward` has `max_concurrent` unset
 * (unbounded) and asks for "at least the upstream query rate × latency",
 * each concurrent query costing it about 2 KB; c-ares has no cap and draws
 * random ids until one is free, which spins once the 65,536 ids are in use.
 * By that rule 256 carries 128,000 queries/s at a 2 ms in-cluster latency and
 * 2,560/s at 100 ms, far above what one process polls, while a dead server
 * (slots held for the whole timeout) sees at most 256 / timeout queries a
 * second and the id space stays 99 % free.
 */
export const MAX_IN_FLIGHT_PER_NAMESERVER = 256;

/**
 * Tries waiting in line (FIFO) per nameserver behind
 * {@link MAX_IN_FLIGHT_PER_NAMESERVER}. Past it a try fails at once with
 * `OVERLOADED` (the next nameserver is tried); a try that waited longer than
 * the per-try timeout fails with `OVERLOADED` when its turn comes — unless the
 * nameserver answered within the last timeout: then this process, not the
 * server, is slow, and the try may wait `ANSWERING_WAIT_FACTOR` (query-gate.ts) times as
 * long (late, not failed). 64 slots'
 * worth: a start-up burst of 8,000 names (16,384 queries) waits in line
 * against a server that answers; with a dead server the line drains by
 * expiry within about two timeouts. About 100 bytes a waiting try.
 */
export const MAX_QUEUED_PER_NAMESERVER = 16_384;

/**
 * Answer records decoded per try, over every message that carried our id
 * and question (two full replies' worth). A hostile server can put our id and
 * question on messages built to be slow to decode and fail at the end
 * (label ladders, see docs/hostile-input.md); this bounds the decoding work
 * of one try however many such messages fit in {@link MAX_TCP_BYTES_PER_QUERY}
 * or arrive over UDP before the timeout. Past it the try fails with BADRESPONSE.
 */
export const MAX_ANSWERS_DECODED_PER_TRY = 2 * MAX_ANSWER_RECORDS;

/** Largest DNS message over TCP: the 2-byte length prefix of RFC 1035 §4.2.2. */
export const MAX_TCP_MESSAGE_SIZE = 65_535;
/**
 * Bytes read on one TCP connection before giving up without our answer: two
 * maximum-size framed messages. A server sends one reply per query; the slack
 * allows stray messages while bounding what a hostile server can make us
 * buffer and decode (the per-try timeout bounds the time).
 */
export const MAX_TCP_BYTES_PER_QUERY = 2 * (2 + MAX_TCP_MESSAGE_SIZE);

/**
 * Largest UDP reply we decode. We advertise {@link DEFAULT_UDP_PAYLOAD_SIZE}
 * (EDNS, RFC 6891) and a server should not send more; 4096 leaves room for
 * servers that use the old EDNS default regardless. A bigger datagram that
 * passed the id, port and source checks is treated as truncated: the answer is
 * asked for again over TCP, never decoded from UDP.
 */
export const MAX_UDP_REPLY_SIZE = 4096;

/**
 * Node runs expired timers before it reads sockets, so after the event loop
 * was held up (GC, a busy app, a starved CPU) a try's timeout fires while its
 * reply already waits in the socket's buffer — and a process that is merely
 * slow turns every late-read reply into a timeout and a retry, more work
 * on a process that cannot keep up (the collapse docs/benchmarks.md shows
 * under load). c-ares reads before it expires; so do we: a timeout is decided
 * after the next I/O turn (`setImmediate` runs after the loop has read its
 * sockets), and after further turns while UDP replies keep arriving (libuv
 * reads at most 32 datagrams per socket per turn), at most this many turns.
 */
export const MAX_TIMEOUT_IO_TURNS = 8;
interface PendingUdpQuery {
  lane: UdpLane;
  /** The socket the query left from: RFC 5452 wants the reply to come in on it. */
  port: UdpPort;
  name: string;
  type: QueryType;
  /** Our encoded query, and where its question ends: a reply must repeat that question. */
  query: Buffer;
  questionEnd: number;
  /** What was wrong with the last reply that matched id and question but could not be used. */
  defect?: string;
  /** Answer records decoded so far for this try (see {@link MAX_ANSWERS_DECODED_PER_TRY}). */
  decoded: number;
  settle: (outcome: { reply?: ReplyPacket | typeof OVERSIZED; error?: DnsError }) => void;
}

/** A UDP reply larger than {@link MAX_UDP_REPLY_SIZE}: handled like a truncated one. */
const OVERSIZED = Symbol('oversized UDP reply');

/** The transport a try ended on, for the `attempt` event. */
interface TryState {
  transport: 'udp' | 'tcp';
}

/** What the tries of one {@link DnsClient.query} call share. */
interface QueryScope {
  /** Set when the query was given up (its signal aborted): no further try starts. */
  abandoned: DnsError | null;
  /** Drops the try in progress at once (id, slot or place in line, socket count, timer); null between tries. */
  dropTry: ((reason: DnsError) => void) | null;
}

/**
 * DNS transport: per nameserver, a bounded pipeline (at most
 * {@link MAX_IN_FLIGHT_PER_NAMESERVER} tries in flight, a FIFO of at most
 * {@link MAX_QUEUED_PER_NAMESERVER} behind them) and a few connected UDP
 * sockets rotated to fresh random ports (see {@link UdpLane}); ids from an
 * {@link IdPool}; RFC 5452 validation, nameserver failover, retries and TCP
 * fallback on truncation. It knows nothing about search lists, CNAMEs or
 * grpc; {@link query} returns the validated reply of the first server that
 * gave a usable one.
 */
export class DnsClient {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly udpPayloadSize: number;
  private readonly timers: Timers;
  private readonly laneSettings: ConstructorParameters<typeof UdpLane>[1];
  private readonly maxInFlight: number;
  private readonly maxQueued: number;
  private readonly onAttempt: ((event: () => AttemptEvent) => void) | undefined;
  private readonly trace: ((line: () => string) => void) | undefined;
  /** One lane per nameserver asked, by `host|port`. */
  private readonly lanes = new Map<string, { udp: UdpLane; gate: QueryGate }>();
  private readonly laneByServer = new WeakMap<Nameserver, { udp: UdpLane; gate: QueryGate }>();
  /** In-flight UDP queries by id; ids are unique across all sockets (and TCP). */
  private readonly pending = new Map<number, PendingUdpQuery>();
  private readonly ids = new IdPool();
  private readonly tcpSockets = new Set<net.Socket>();
  /** UDP datagrams received, any lane: tells a timed-out try whether the last I/O turn read anything. */
  private udpDatagrams = 0;
  private closed = false;

  constructor({
    timeoutMs,
    attempts,
    udpPayloadSize = DEFAULT_UDP_PAYLOAD_SIZE,
    udpPortMaxQueries = UDP_PORT_MAX_QUERIES,
    udpPortMaxAgeMs = UDP_PORT_MAX_AGE_MS,
    maxUdpSocketsPerNameserver = MAX_UDP_SOCKETS_PER_NAMESERVER,
    maxInFlightPerNameserver = MAX_IN_FLIGHT_PER_NAMESERVER,
    maxQueuedPerNameserver = MAX_QUEUED_PER_NAMESERVER,
    timers = systemTimers,
    onAttempt,
    trace,
  }: DnsClientOptions) {
    this.onAttempt = onAttempt;
    this.trace = trace;
    this.timeoutMs = timeoutMs;
    this.attempts = attempts;
    this.udpPayloadSize = udpPayloadSize;
    this.timers = timers;
    this.maxInFlight = maxInFlightPerNameserver;
    this.maxQueued = maxQueuedPerNameserver;
    this.laneSettings = { maxQueriesPerPort: udpPortMaxQueries, maxAgeMs: udpPortMaxAgeMs, maxSockets: maxUdpSocketsPerNameserver, timers };
  }

  /**
   * Ask `servers` (in order, `attempts` rounds) for `name`/`type`. Resolves with
   * the first NOERROR or NXDOMAIN reply; SERVFAIL, REFUSED, timeouts, a refused
   * port, a full queue and socket errors move on to the next server (each
   * reported as an `attempt` event). Rejects with a {@link DnsError} naming the
   * most telling failure when no server gave a usable reply, or at once when
   * `options.signal` aborts (see {@link QueryOptions.signal}).
   */
  query(servers: readonly Nameserver[], name: string, type: QueryType, options: QueryOptions = {}): Promise<DnsReply> {
    const { signal } = options;
    const scope: QueryScope = { abandoned: null, dropTry: null };
    if (!signal) return this.ask(servers, name, type, scope);
    if (signal.aborted) return Promise.reject(givenUp(signal, name, type));
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        const reason = givenUp(signal, name, type);
        scope.abandoned = reason;
        scope.dropTry?.(reason);
        reject(reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      // After an abort the tries end at once (their outcome finds this promise settled).
      this.ask(servers, name, type, scope).then(
        (reply) => {
          signal.removeEventListener('abort', onAbort);
          resolve(reply);
        },
        (error: Error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        },
      );
    });
  }

  private async ask(servers: readonly Nameserver[], name: string, type: QueryType, scope: QueryScope): Promise<DnsReply> {
    if (servers.length === 0) {
      throw new DnsError('NETWORK', name, `No nameserver to ask for ${name}`);
    }
    const failures: DnsError[] = [];
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      for (const server of servers) {
        this.assertOpen(name);
        throwIfAbandoned(scope);
        const started = this.timers.now();
        const state: TryState = { transport: 'udp' };
        let failure: DnsError;
        try {
          const reply = await this.exchange(server, name, type, state, scope);
          if (reply.rcode === RCODE.NOERROR || reply.rcode === RCODE.NXDOMAIN) return reply;
          failure = rcodeError(reply.rcode, name, server);
        } catch (error) {
          if (!(error instanceof DnsError) || error.code === 'CLOSED' || scope.abandoned) throw error;
          failure = error;
        }
        failures.push(failure);
        this.onAttempt?.(() => ({
          type: 'attempt',
          name,
          recordType: type,
          server: formatServer(server),
          transport: state.transport,
          error: failure,
          durationMs: this.timers.now() - started,
        }));
      }
    }
    throw mostTelling(failures, name, servers, this.attempts);
  }

  /** Close every socket; in-flight and queued queries reject with code `CLOSED`. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, query] of this.pending) {
      query.settle({ error: new DnsError('CLOSED', query.name, `Resolver closed while asking for ${query.name}`) });
    }
    this.pending.clear();
    for (const { udp, gate } of this.lanes.values()) {
      gate.close();
      udp.close();
    }
    this.lanes.clear();
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
  }

  /** Every nameserver this client has asked, in the order first asked. */
  servers(): NameserverStatus[] {
    return [...this.lanes.values()].map(({ udp, gate }) => ({
      server: formatServer(udp.server),
      inFlight: gate.active,
      queued: gate.queued,
      udpSockets: udp.socketCount,
    }));
  }

  /** Query ids held now: one per UDP or TCP try in flight. */
  get idsInUse(): number {
    return this.ids.inUse;
  }

  /** UDP sockets open now, over every nameserver (current and retired). */
  get udpSocketCount(): number {
    let count = 0;
    for (const { udp } of this.lanes.values()) count += udp.socketCount;
    return count;
  }

  /** One question to one server, in its pipeline: UDP, then TCP if the UDP reply was truncated. */
  private async exchange(server: Nameserver, name: string, type: QueryType, state: TryState, scope: QueryScope): Promise<DnsReply> {
    const lane = this.laneFor(server);
    if (!lane.gate.tryEnter()) await this.waitForSlot(lane.gate, server, name, type, scope);
    try {
      this.assertOpen(name);
      // The query may have been given up while the slot was being handed over.
      throwIfAbandoned(scope);
      const udpReply = await this.exchangeUdp(lane.udp, name, type, scope);
      if (udpReply !== OVERSIZED && !udpReply.flag_tc) return toReply(udpReply, 'udp');
      // close() or an abort may have come while the truncated reply was being handled.
      this.assertOpen(name);
      throwIfAbandoned(scope);
      state.transport = 'tcp';
      const tcpReply = await this.exchangeTcp(server, name, type, scope);
      lane.udp.lastAnswerAt = this.timers.now();
      return toReply(tcpReply, 'tcp');
    } finally {
      lane.gate.leave();
    }
  }

  private async waitForSlot(gate: QueryGate, server: Nameserver, name: string, type: QueryType, scope: QueryScope): Promise<void> {
    const place = gate.wait();
    scope.dropTry = () => place.cancel();
    try {
      await place.admitted;
    } catch (reason) {
      const why = reason as GateRefusal;
      if (why === 'cancelled' && scope.abandoned) throw scope.abandoned;
      if (why === 'closed') throw new DnsError('CLOSED', name, `Resolver closed while asking for ${name}`);
      const line =
        why === 'full'
          ? `${gate.queued} queries already wait`
          : `waited more than ${gate.longestWait()} ms in line`;
      throw new DnsError(
        'OVERLOADED',
        name,
        `Not asking ${formatServer(server)} for ${name} ${type}: ${gate.limit} queries in flight to it and ${line} (MAX_IN_FLIGHT_PER_NAMESERVER ${gate.limit}, MAX_QUEUED_PER_NAMESERVER ${gate.maxQueued})`,
      );
    } finally {
      scope.dropTry = null;
    }
  }

  private laneFor(server: Nameserver): { udp: UdpLane; gate: QueryGate } {
    // Callers pass the same nameserver objects poll after poll: skip the key.
    const known = this.laneByServer.get(server);
    if (known) return known;
    const key = `${server.host}|${server.port}`;
    let lane = this.lanes.get(key);
    if (!lane) {
      const udp: UdpLane = new UdpLane(server, this.laneSettings, {
        message: (port, message, remote) => this.onUdpMessage(udp, port, message, remote),
        error: (port, error) => this.onUdpError(udp, port, error),
      });
      // A server that answered within a timeout is alive: a long line then means this process is slow, not the server dead.
      const answering = (): boolean => this.timers.now() - udp.lastAnswerAt <= this.timeoutMs;
      lane = { udp, gate: new QueryGate(this.maxInFlight, this.maxQueued, this.timeoutMs, this.timers, answering) };
      this.lanes.set(key, lane);
    }
    this.laneByServer.set(server, lane);
    return lane;
  }

  /** The validated reply, or {@link OVERSIZED} for a reply too big to decode from UDP. */
  private exchangeUdp(lane: UdpLane, name: string, type: QueryType, scope: QueryScope): Promise<ReplyPacket | typeof OVERSIZED> {
    const id = this.takeId(name);
    const query = encodeQuery(id, name, type, this.udpPayloadSize);
    const server = lane.server;
    // Taken last: from here the port counts this query as in flight until it settles.
    const port = lane.take();
    return new Promise((resolve, reject) => {
      const expire = (): void => {
        const { defect } = pendingQuery;
        settle({
          error: defect
            ? new DnsError('BADRESPONSE', name, `${formatServer(server)} sent an unusable reply for ${name} ${type}: ${defect}`)
            : new DnsError('TIMEOUT', name, `No reply from ${formatServer(server)} for ${name} ${type} within ${this.timeoutMs} ms`),
        });
      };
      const timer = this.timers.setTimeout(() => this.expireAfterReads(id, pendingQuery, expire), this.timeoutMs);
      // The port's socket keeps the process alive while the query is in flight
      // (UdpLane.take). A ref'd timer on top would make Node create and drop
      // its timer list for this duration at every query when few are in flight.
      timer.unref?.();
      const settle: PendingUdpQuery['settle'] = ({ reply, error }) => {
        // Settles once: a duplicate or late reply finds no pending query.
        if (this.pending.get(id) !== pendingQuery) return;
        scope.dropTry = null;
        this.timers.clearTimeout(timer);
        this.pending.delete(id);
        this.ids.release(id);
        lane.release(port);
        if (reply) resolve(reply);
        else reject(error!);
      };
      const pendingQuery: PendingUdpQuery = { lane, port, name, type, query, questionEnd: questionEnd(query, this.udpPayloadSize > 0), decoded: 0, settle };
      this.pending.set(id, pendingQuery);
      scope.dropTry = (reason) => settle({ error: reason });
      lane.send(port, query, (error) => {
        settle({ error: new DnsError('NETWORK', name, `Cannot send to ${formatServer(server)}: ${error.message}`, { cause: error }) });
      });
    });
  }

  /** A try's timeout, decided once the sockets have been read (see {@link MAX_TIMEOUT_IO_TURNS}). */
  private expireAfterReads(id: number, query: PendingUdpQuery, expire: () => void): void {
    let turns = 0;
    let seen = this.udpDatagrams;
    const decide = (): void => {
      if (this.pending.get(id) !== query) return; // answered meanwhile, or closed
      if (this.udpDatagrams !== seen && ++turns < MAX_TIMEOUT_IO_TURNS) {
        seen = this.udpDatagrams;
        setImmediate(decide);
        return;
      }
      expire();
    };
    setImmediate(decide);
  }

  private exchangeTcp(server: Nameserver, name: string, type: QueryType, scope: QueryScope): Promise<ReplyPacket> {
    const id = this.takeId(name);
    const query = encodeQuery(id, name, type, 0);
    const end = questionEnd(query, false);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: server.host, port: server.port });
      this.tcpSockets.add(socket);
      const reader = new TcpFrameReader(MAX_TCP_BYTES_PER_QUERY);
      let answersDecoded = 0;
      let defect: string | undefined;
      let done = false;
      const finish = (error: DnsError | null, reply?: ReplyPacket): void => {
        if (done) return;
        done = true;
        scope.dropTry = null;
        this.timers.clearTimeout(timer);
        this.ids.release(id);
        this.tcpSockets.delete(socket);
        socket.destroy();
        if (reply) resolve(reply);
        else reject(error!);
      };
      const timer = this.timers.setTimeout(() => {
        finish(
          new DnsError(
            defect ? 'BADRESPONSE' : 'TIMEOUT',
            name,
            defect
              ? `${formatServer(server)} sent an unusable TCP reply for ${name} ${type}: ${defect}`
              : `No TCP reply from ${formatServer(server)} for ${name} ${type} within ${this.timeoutMs} ms`,
          ),
        );
      }, this.timeoutMs);
      scope.dropTry = (reason) => finish(reason);
      socket.on('connect', () => socket.write(frameMessage(query)));
      socket.on('data', (chunk: Buffer) => {
        const frames = reader.push(chunk);
        if (!frames) {
          finish(new DnsError('BADRESPONSE', name, `${formatServer(server)} sent more than ${MAX_TCP_BYTES_PER_QUERY} bytes over TCP without answering ${name} ${type}`));
          return;
        }
        // A server may send several messages on one connection; read until ours.
        for (const frame of frames) {
          if (!answersQuery(frame, query, end)) continue;
          const announced = announcedAnswers(frame);
          answersDecoded += Math.min(announced, MAX_ANSWER_RECORDS);
          if (answersDecoded > MAX_ANSWERS_DECODED_PER_TRY) {
            finish(tooManyAnswers(server, name, type, 'TCP'));
            return;
          }
          const packet = decodeReply(frame, end);
          if (typeof packet === 'string') {
            defect = packet;
            continue;
          }
          this.traceCappedAnswers(announced, packet.answers?.length ?? 0, name, type);
          finish(null, packet);
          return;
        }
      });
      socket.on('error', (error) => {
        finish(new DnsError('NETWORK', name, `TCP to ${formatServer(server)} failed: ${error.message}`, { cause: error }));
      });
      socket.on('close', () => {
        finish(
          this.closed
            ? new DnsError('CLOSED', name, `Resolver closed while asking for ${name}`)
            : new DnsError(
                'BADRESPONSE',
                name,
                `${formatServer(server)} closed the TCP connection before answering ${name} ${type}${defect ? ` (it sent an unusable reply: ${defect})` : ''}`,
              ),
        );
      });
    });
  }

  private onUdpMessage(lane: UdpLane, port: UdpPort, message: Buffer, remote: dgram.RemoteInfo): void {
    this.udpDatagrams++;
    // Cheap checks first, so a flood of forgeries costs no decoding.
    if (message.length < 2) return;
    const query = this.pending.get(message.readUInt16BE(0));
    // RFC 5452: the reply must arrive on the port the query left from…
    if (!query || query.port !== port) return;
    // …come from the address and port we sent to (the connected socket's
    // kernel filter says so too)…
    const server = lane.server;
    if (remote.port !== server.port || !sameHost(remote.address, server.host)) return;
    // …and answer our question.
    if (!answersQuery(message, query.query, query.questionEnd)) return;
    if (message.length > MAX_UDP_REPLY_SIZE) {
      query.settle({ reply: OVERSIZED });
      return;
    }
    const announced = announcedAnswers(message);
    query.decoded += Math.min(announced, MAX_ANSWER_RECORDS);
    if (query.decoded > MAX_ANSWERS_DECODED_PER_TRY) {
      query.settle({ error: tooManyAnswers(lane.server, query.name, query.type, 'UDP') });
      return;
    }
    const packet = decodeReply(message, query.questionEnd);
    if (typeof packet === 'string') {
      // Dropped, not fatal: anyone who guessed id and port could send it, and
      // the genuine reply may still come. The try's error says what it was.
      query.defect = packet;
      return;
    }
    this.traceCappedAnswers(announced, packet.answers?.length ?? 0, query.name, query.type);
    lane.lastAnswerAt = this.timers.now();
    query.settle({ reply: packet });
  }

  /**
   * ECONNREFUSED on a connected socket is an ICMP port unreachable from its
   * nameserver: nothing listens there, so every query in flight on it fails
   * now instead of at its timeout. Any other error has closed the socket.
   */
  private onUdpError(lane: UdpLane, port: UdpPort, error: NodeJS.ErrnoException): void {
    const refused = error.code === 'ECONNREFUSED';
    const server = formatServer(lane.server);
    for (const query of [...this.pending.values()]) {
      if (query.port !== port) continue;
      query.settle({
        error: refused
          ? new DnsError('CONNREFUSED', query.name, `${server}: connection refused (ICMP port unreachable: nothing listens on that port) for ${query.name} ${query.type}`, {
              cause: error,
            })
          : new DnsError('NETWORK', query.name, `UDP socket error while asking ${server}: ${error.message}`, { cause: error }),
      });
    }
  }

  /** Trace a valid reply whose answers were not all decoded (MAX_ANSWER_RECORDS, MAX_ANSWER_LABELS in wire.ts). */
  private traceCappedAnswers(announced: number, decoded: number, name: string, type: QueryType): void {
    if (announced > decoded && this.trace) {
      const limit = announced > MAX_ANSWER_RECORDS && decoded === MAX_ANSWER_RECORDS ? 'MAX_ANSWER_RECORDS' : 'MAX_ANSWER_LABELS';
      this.trace(() => `${name} ${type}: reply holds ${announced} answer records; using the first ${decoded} (${limit})`);
    }
  }

  private takeId(name: string): number {
    const id = this.ids.take();
    if (id === undefined) throw new DnsError('OVERLOADED', name, `All 65536 query ids are in use; not asking for ${name}`);
    return id;
  }

  private assertOpen(name: string): void {
    if (this.closed) throw new DnsError('CLOSED', name, `Resolver closed while asking for ${name}`);
  }
}

/** After each wait: a query given up meanwhile starts nothing more. */
function throwIfAbandoned(scope: QueryScope): void {
  if (scope.abandoned) throw scope.abandoned;
}

/** The error an aborted query rejects with: the signal's reason when it is a DnsError, else a TIMEOUT saying so. */
function givenUp(signal: AbortSignal, name: string, type: QueryType): DnsError {
  const reason: unknown = signal.reason;
  if (reason instanceof DnsError) return reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return new DnsError('TIMEOUT', name, `Gave up asking for ${name} ${type} before an answer came (${why})`, { cause: reason });
}

function tooManyAnswers(server: Nameserver, name: string, type: QueryType, transport: 'UDP' | 'TCP'): DnsError {
  return new DnsError(
    'BADRESPONSE',
    name,
    `${formatServer(server)} sent more than ${MAX_ANSWERS_DECODED_PER_TRY} answer records over ${transport} without a usable answer for ${name} ${type} (MAX_ANSWERS_DECODED_PER_TRY)`,
  );
}


function sameHost(remote: string, asked: string): boolean {
  return remote === asked || canonicalHost(remote) === canonicalHost(asked);
}

/** The kernel may report an IPv6 source in another spelling (zeros, case, zone, v4-mapped). */
function canonicalHost(host: string): string {
  const bare = host.replace(/%.*$/, '');
  if (!net.isIPv6(bare)) return bare;
  const canonical = new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(canonical);
  if (!mapped) return canonical;
  const high = parseInt(mapped[1]!, 16);
  const low = parseInt(mapped[2]!, 16);
  return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
}

function toReply(packet: ReplyPacket, transport: 'udp' | 'tcp'): DnsReply {
  return {
    rcode: (packet.flags ?? 0) & 0xf,
    truncated: packet.flag_tc,
    answers: packet.answers ?? [],
    transport,
  };
}

function rcodeError(rcode: number, name: string, server: Nameserver): DnsError {
  const code: DnsErrorCode = rcode === RCODE.SERVFAIL ? 'SERVFAIL' : rcode === RCODE.REFUSED ? 'REFUSED' : 'BADRCODE';
  return new DnsError(code, name, `${formatServer(server)} answered ${rcodeName(rcode)} for ${name}`);
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
