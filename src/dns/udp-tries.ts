import type dgram from 'node:dgram';
import net from 'node:net';
import { DnsError, closedError, idsExhausted, socketError } from './errors.js';
import type { IdPool } from './id-pool.js';
import type { NameserverState } from './nameserver-state.js';
import { TryQuestion, readReply, unansweredError } from './reply-reader.js';
import type { TimerHandle, Timers } from './timers.js';
import type { PortSlot, UdpPort } from './udp-lane.js';
import type { QueryType } from './types.js';
import { answersQuery } from './wire.js';
import type { ReplyPacket } from './fast-wire.js';

/**
 * Largest UDP reply we decode. We advertise 1232 bytes (EDNS, RFC 6891) and
 * a server should not send more; 4096 leaves room for servers that use the
 * old EDNS default regardless. A bigger datagram that passed the id, port and
 * source checks is treated as truncated: the answer is asked for again over
 * TCP, never decoded from UDP.
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
const MAX_TIMEOUT_IO_TURNS = 8;

/**
 * Tries per nameserver that timed out and still listen for their reply
 * (see the notes of {@link UdpTries}): enough to measure a server that slowed down past its
 * timeout and to take the answers of the queries waiting on it, while the
 * ids one server holds stay within MAX_IN_FLIGHT_PER_NAMESERVER (query-gate.ts) + 256.
 */
export const MAX_LINGERING_PER_NAMESERVER = 256;

/** A UDP reply larger than {@link MAX_UDP_REPLY_SIZE}: handled like a truncated one. */
export const OVERSIZED = Symbol('oversized UDP reply');

/** How a UDP try ends for its query: the reply, {@link OVERSIZED}, the error that ended it, or null when dropped. */
type UdpOutcome = ReplyPacket | typeof OVERSIZED | DnsError | null;

/** The query a try belongs to (a `QueryRun`): what the try needs of it. */
interface TryOwner {
  readonly name: string;
  readonly type: QueryType;
  /** Settled: a late reply has nothing left to answer. */
  readonly done: boolean;
  /** Keep `drop` until the query settles; returns its release. */
  hold(drop: () => void): () => void;
}

/**
 * One UDP try: its question, the socket it left from (RFC 5452 wants the
 * reply to come in on it), when it was sent (the reply's latency runs from
 * there, on the client's clock), its timer (the try timeout, then — lingering:
 * timed out and asked again, but still listening for its own reply until the
 * configured timeout — the end of its listening), `resolve` (ends the try for
 * its query; called at most once, never once lingering) and `release` (lets
 * go of the query's hold on it).
 */
class UdpTry<Owner extends TryOwner> extends TryQuestion {
  port!: UdpPort;
  sentAt = 0;
  timer!: TimerHandle;
  lingering = false;
  release: () => void = () => undefined;

  constructor(
    id: number,
    readonly run: Owner,
    readonly state: NameserverState,
    udpPayloadSize: number,
    readonly timeoutMs: number,
    readonly resolve: (outcome: UdpOutcome) => void,
  ) {
    super(id, run.name, run.type, state.label, udpPayloadSize);
  }
}

interface UdpTriesSettings<Owner extends TryOwner> {
  ids: IdPool;
  timers: Timers;
  /** The configured timeout: how long a try listens for its reply in all, timed out or not. */
  timeoutMs: number;
  udpPayloadSize: number;
  /** Tries that timed out and still listen, per nameserver at most. */
  maxLingeringPerServer: number;
  trace: ((line: () => string) => void) | undefined;
  /** A validated reply to a try (current or lingering) that took `latencyMs` from that try's send. */
  replied(state: NameserverState, packet: ReplyPacket, latencyMs: number): void;
  /** A try to `state` failed (timeout, bad reply, socket error). */
  failed(state: NameserverState): void;
  /** A reply to a try that had timed out, while its query still waits: it may answer the query. */
  answeredLate(run: Owner, packet: ReplyPacket): void;
}

/**
 * The UDP tries in flight, over every nameserver, by query id (ids are unique
 * across sockets and TCP): sending, matching replies (RFC 5452: the socket
 * the query left from, the server asked, our id and question), timeouts, and
 * the tries that timed out but listen on.
 *
 * A try that times out is reported failed and its query asks again (after
 * an adaptive timeout, long before the configured one); the try itself keeps
 * its id and socket and listens until the configured timeout since its send,
 * as long as its query waits. Its reply then still answers the query, and
 * measures the server's latency: when a server slows down past its adaptive
 * timeout, these replies are what raise the timeout again. c-ares keeps one
 * id per query across its retries and accepts a reply to any of them from
 * any connection; a try here accepts only its own reply, on its own socket,
 * from its own server. At most `maxLingeringPerServer` tries listen on per
 * server; past that a try ends at its timeout, as it always did.
 *
 * ECONNREFUSED on a connected socket is an ICMP port unreachable from its
 * nameserver: nothing listens there, so every try on that socket fails now
 * instead of at its timeout. Any other socket error has closed the socket.
 */
export class UdpTries<Owner extends TryOwner> {
  private readonly pending = new Map<number, UdpTry<Owner>>();
  /** Datagrams received: did the last I/O turn read any? */
  private datagrams = 0;

  constructor(private readonly settings: UdpTriesSettings<Owner>) {}

  /** Tries in flight or listening on. */
  get size(): number {
    return this.pending.size;
  }

  /** Send `run`'s question; resolves when the try ends for its query. */
  ask(run: Owner, state: NameserverState, slot: PortSlot, timeoutMs: number, mayLinger: boolean): Promise<UdpOutcome> {
    const { ids, timers, udpPayloadSize } = this.settings;
    const id = ids.take();
    if (id === undefined) return Promise.resolve(idsExhausted(run.name, run.type));
    return new Promise((resolve) => {
      const attempt = new UdpTry(id, run, state, udpPayloadSize, timeoutMs, resolve);
      // Taken after the query is made: from here the port counts this query as in flight until it ends.
      attempt.port = state.udp.take(slot);
      attempt.sentAt = timers.now();
      attempt.timer = timers.setTimeout(() => this.expireAfterReads(attempt, mayLinger), timeoutMs);
      // The port's socket keeps the process alive while the query is in flight
      // (UdpLane.take). A ref'd timer on top would make Node create and drop
      // its timer list for this duration at every query when few are in flight.
      attempt.timer.unref?.();
      attempt.release = run.hold(() => this.end(attempt, null));
      this.pending.set(id, attempt);
      state.udp.send(attempt.port, attempt.query, (error) => {
        this.settings.failed(state);
        this.end(attempt, socketError(run.name, run.type, state.label, 'send', error));
      });
    });
  }

  /** A datagram on one of `state`'s sockets. */
  message(state: NameserverState, port: UdpPort, message: Buffer, remote: dgram.RemoteInfo): void {
    this.datagrams++;
    // Cheap checks first, so a flood of forgeries costs no decoding.
    if (message.length < 2) return;
    const attempt = this.pending.get(message.readUInt16BE(0));
    // RFC 5452: the reply must arrive on the port the query left from…
    if (!attempt || attempt.port !== port) return;
    // …come from the address and port we sent to (the connected socket's
    // kernel filter says so too)…
    const { server } = state;
    if (remote.port !== server.port || !sameHost(remote.address, server.host)) return;
    // …and answer our question (readReply checks it for the others).
    if (message.length > MAX_UDP_REPLY_SIZE) {
      if (answersQuery(message, attempt.query, attempt.questionEnd)) this.end(attempt, OVERSIZED);
      return;
    }
    const read = readReply(attempt, message, 'UDP', this.settings.trace);
    if (read === null) return;
    if (read instanceof DnsError) {
      this.settings.failed(state);
      this.end(attempt, read);
      return;
    }
    const latencyMs = this.settings.timers.now() - attempt.sentAt;
    const { lingering, run } = attempt;
    this.end(attempt, read);
    this.settings.replied(state, read, latencyMs);
    if (lingering && !run.done) this.settings.answeredLate(run, read);
  }

  /** A socket error: every try on the socket fails now (see the notes above). */
  error(state: NameserverState, port: UdpPort, error: NodeJS.ErrnoException): void {
    for (const attempt of [...this.pending.values()]) {
      if (attempt.port !== port) continue;
      this.settings.failed(state);
      this.end(attempt, socketError(attempt.name, attempt.type, state.label, 'UDP', error));
    }
  }

  /** Every try ends with CLOSED. */
  close(): void {
    for (const attempt of [...this.pending.values()]) this.end(attempt, closedError(attempt.name));
  }

  /** Decided after the sockets are read ({@link MAX_TIMEOUT_IO_TURNS}). */
  private expireAfterReads(attempt: UdpTry<Owner>, mayLinger: boolean): void {
    let turns = 0;
    let seen = this.datagrams;
    const decide = (): void => {
      if (this.pending.get(attempt.id) !== attempt) return; // answered meanwhile, or closed
      if (this.datagrams !== seen && ++turns < MAX_TIMEOUT_IO_TURNS) {
        seen = this.datagrams;
        setImmediate(decide);
        return;
      }
      this.timeOut(attempt, mayLinger);
    };
    setImmediate(decide);
  }

  private timeOut(attempt: UdpTry<Owner>, mayLinger: boolean): void {
    const { state } = attempt;
    const { settings } = this;
    settings.failed(state);
    // A fresh source port for the tries that follow (see UdpLane.retire).
    state.udp.retire(attempt.port);
    const failure = unansweredError(attempt, 'UDP', attempt.timeoutMs);
    const listenMs = settings.timeoutMs - attempt.timeoutMs;
    if (!mayLinger || listenMs <= 0 || state.lingering >= settings.maxLingeringPerServer) {
      this.end(attempt, failure);
      return;
    }
    attempt.lingering = true;
    state.lingering++;
    attempt.timer = settings.timers.setTimeout(() => this.end(attempt, null), listenMs);
    attempt.timer.unref?.();
    attempt.resolve(failure);
  }

  /** Release all it holds; tell its query unless lingering. */
  private end(attempt: UdpTry<Owner>, outcome: UdpOutcome): void {
    if (this.pending.get(attempt.id) !== attempt) return;
    const { settings } = this;
    settings.timers.clearTimeout(attempt.timer);
    this.pending.delete(attempt.id);
    settings.ids.release(attempt.id);
    attempt.state.udp.release(attempt.port);
    attempt.release();
    if (attempt.lingering) attempt.state.lingering--;
    else attempt.resolve(outcome);
  }
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
