/**
 * A UDP DNS proxy on loopback that loses datagrams on purpose, in front of a
 * real DNS server (dnsmasq, Knot, DnsTestServer): real loss for tests that run
 * outside a network namespace, where nftables cannot be used.
 *
 * It forwards each client's queries from a socket of its own (one per client
 * address:port, as a NAT such as kube-proxy's conntrack does), so the server's
 * replies find their way back, and sends replies to the client from the
 * address it asked. On top of that it drops:
 *
 * - at random: a fraction of queries, of replies, or of both;
 * - on command: the next query matching a name and/or type ("the next query",
 *   "only the next AAAA of this name"), see {@link DroppingDnsProxy.dropNext};
 * - Kubernetes' conntrack race: when two queries leave one client socket
 *   within a few milliseconds (glibc's and c-ares' A and AAAA sent together),
 *   the second is dropped; a query sent alone passes. (In the kernel, both
 *   packets race to insert the same conntrack entry before it is confirmed
 *   and the loser is dropped; see kubernetes/kubernetes#56903.)
 *
 * Bounded: client sessions (least recently used evicted, idle ones closed),
 * pending drop orders, and the log of recent drops.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { bindUdp, closeUdp } from './udp-sockets.js';

export type LossDirection = 'queries' | 'replies' | 'both';

export interface DroppingProxyOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Port to listen on; default 0 (a free one). */
  port?: number;
  /** The DNS server queries are forwarded to. */
  upstream: { host: string; port: number };
  /** Fraction 0..1 of datagrams dropped at random; default 0. */
  loss?: number;
  /** Which datagrams `loss` applies to; default 'both' (each direction loses `loss` of its own). */
  lossDirection?: LossDirection;
  /** Drop the second query leaving one client socket within `windowMs` of the first; default off. */
  conntrackRace?: { windowMs?: number } | false;
  /** Random numbers in [0, 1); injected by tests that need a known sequence. Default Math.random. */
  random?: () => number;
  /** Client sessions (upstream sockets) kept at once; default 256. */
  maxSessions?: number;
  /** A session unused for this long is closed, ms; default 10,000. */
  sessionIdleMs?: number;
}

/** What a drop order matches; every given field must match. */
export interface DropMatch {
  /** Question name, case-insensitive, trailing dot optional. */
  name?: string;
  /** Question type: 'A', 'AAAA', … */
  type?: string;
  /** How many matching queries to drop; default 1. */
  count?: number;
}

/** One datagram the proxy dropped. */
export interface DroppedDatagram {
  direction: 'query' | 'reply';
  cause: 'random' | 'order' | 'conntrack-race';
  /** Question name (no trailing dot) and type, when the datagram parsed. */
  name: string | undefined;
  type: string | undefined;
  /** The client socket it came from or was going to. */
  client: string;
  /** Date.now() when it was dropped. */
  at: number;
}

/** A pending {@link DroppingDnsProxy.dropNext} order. */
export interface DropOrder {
  /** Resolves with the dropped queries once `count` have been dropped. */
  readonly done: Promise<DroppedDatagram[]>;
  /** Queries dropped so far. */
  readonly dropped: readonly DroppedDatagram[];
  /** Withdraw what is left of the order; returns how many it dropped. */
  cancel(): number;
}

export interface ProxyCounters {
  queries: number;
  replies: number;
  droppedQueries: number;
  droppedReplies: number;
  /** Drops by cause, both directions. */
  random: number;
  order: number;
  conntrackRace: number;
  /** Sessions evicted because `maxSessions` were open. */
  evictedSessions: number;
}

interface Session {
  key: string;
  clientHost: string;
  clientPort: number;
  socket: dgram.Socket;
  lastUsed: number;
  /** performance.now() of the last query from this client socket that was let through. */
  lastQueryAt: number;
}

interface PendingOrder {
  name: string | undefined;
  type: string | undefined;
  left: number;
  dropped: DroppedDatagram[];
  resolve: (dropped: DroppedDatagram[]) => void;
}

const DEFAULT_MAX_SESSIONS = 256;
const DEFAULT_IDLE_MS = 10_000;
const DEFAULT_RACE_WINDOW_MS = 5;
/** Pending drop orders at once: more is a test's bug, not a scenario. */
const MAX_ORDERS = 64;
/** Recent drops kept in {@link DroppingDnsProxy.drops}. */
const MAX_LOGGED_DROPS = 1_000;

function normalizeName(name: string): string {
  return name.replace(/\.$/, '').toLowerCase();
}

function checkFraction(value: number, what: string): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new TypeError(`${what} must be a fraction from 0 to 1, got ${String(value)}`);
  }
  return value;
}

function checkWindow(value: number): number {
  if (!Number.isFinite(value) || value <= 0 || value > 1_000) {
    throw new TypeError(`conntrackRace.windowMs must be > 0 and ≤ 1000 ms, got ${String(value)}`);
  }
  return value;
}

/** Question name and type of a DNS message, or undefined when it does not parse. */
function question(message: Buffer): { name: string; type: string } | undefined {
  try {
    const packet = dnsPacket.decode(message);
    const first = packet.questions?.[0];
    return first ? { name: normalizeName(first.name), type: first.type } : undefined;
  } catch {
    return undefined;
  }
}

export class DroppingDnsProxy {
  readonly #socket: dgram.Socket;
  readonly #upstream: { host: string; port: number };
  readonly #random: () => number;
  readonly #maxSessions: number;
  readonly #idleMs: number;
  readonly #sessions = new Map<string, Session>();
  readonly #orders = new Set<PendingOrder>();
  readonly #drops: DroppedDatagram[] = [];
  readonly #sweep: NodeJS.Timeout;
  #loss = 0;
  #lossDirection: LossDirection = 'both';
  #raceWindowMs: number | undefined;
  #closed: Promise<void> | undefined;
  readonly counters: ProxyCounters = { queries: 0, replies: 0, droppedQueries: 0, droppedReplies: 0, random: 0, order: 0, conntrackRace: 0, evictedSessions: 0 };

  private constructor(socket: dgram.Socket, options: DroppingProxyOptions) {
    this.#socket = socket;
    this.#upstream = { ...options.upstream };
    this.#random = options.random ?? Math.random;
    this.#maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    this.#idleMs = options.sessionIdleMs ?? DEFAULT_IDLE_MS;
    this.setLoss(options.loss ?? 0, options.lossDirection ?? 'both');
    this.setConntrackRace(options.conntrackRace ?? false);
    socket.on('message', (message, remote) => this.#onQuery(message, remote));
    this.#sweep = setInterval(() => this.#closeIdleSessions(), Math.max(100, Math.min(this.#idleMs, 1_000)));
    this.#sweep.unref();
  }

  static async start(options: DroppingProxyOptions): Promise<DroppingDnsProxy> {
    const host = options.host ?? '127.0.0.1';
    if (!net.isIP(host)) throw new TypeError(`host must be an IP literal, got ${JSON.stringify(host)}`);
    const { upstream } = options;
    if (!upstream || !net.isIP(upstream.host) || !Number.isInteger(upstream.port) || upstream.port < 1 || upstream.port > 65535) {
      throw new TypeError(`upstream must be { host: IP literal, port: 1..65535 }, got ${JSON.stringify(upstream)}`);
    }
    const maxSessions = options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (!Number.isInteger(maxSessions) || maxSessions < 1 || maxSessions > 65_536) {
      throw new TypeError(`maxSessions must be an integer from 1 to 65536, got ${String(maxSessions)}`);
    }
    const idleMs = options.sessionIdleMs ?? DEFAULT_IDLE_MS;
    if (!Number.isFinite(idleMs) || idleMs < 10) throw new TypeError(`sessionIdleMs must be ≥ 10 ms, got ${String(idleMs)}`);
    // Checked before the socket is bound, so a bad option leaves nothing open.
    checkFraction(options.loss ?? 0, 'loss');
    if (options.conntrackRace) checkWindow(options.conntrackRace.windowMs ?? DEFAULT_RACE_WINDOW_MS);
    return new DroppingDnsProxy(await bindUdp(host, options.port ?? 0), options);
  }

  get host(): string {
    return this.#socket.address().address;
  }

  get port(): number {
    return this.#socket.address().port;
  }

  /** `host:port` (`[v6]:port`), as the library's `nameservers` option and c-ares' setServers take it. */
  get address(): string {
    return net.isIPv6(this.host) ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  get nameserver(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** Client sessions open now. */
  get sessions(): number {
    return this.#sessions.size;
  }

  /** The most recent drops, oldest first (at most 1,000). */
  get drops(): readonly DroppedDatagram[] {
    return this.#drops;
  }

  /** Drop `fraction` (0..1) of the datagrams going `direction` at random; 0 stops random loss. */
  setLoss(fraction: number, direction: LossDirection = 'both'): void {
    this.#loss = checkFraction(fraction, 'loss');
    if (direction !== 'queries' && direction !== 'replies' && direction !== 'both') {
      throw new TypeError(`loss direction must be 'queries', 'replies' or 'both', got ${JSON.stringify(direction)}`);
    }
    this.#lossDirection = direction;
  }

  /** Turn the conntrack-race pattern on (`{ windowMs }`, default 5 ms) or off (`false`). */
  setConntrackRace(race: { windowMs?: number } | false): void {
    this.#raceWindowMs = race ? checkWindow(race.windowMs ?? DEFAULT_RACE_WINDOW_MS) : undefined;
  }

  /**
   * Drop the next `count` (default 1) queries matching `match` that reach the
   * proxy from now on; `{}` matches any query. Orders are checked in the
   * order given; a query is dropped once, by the first order it matches.
   */
  dropNext(match: DropMatch = {}): DropOrder {
    const count = match.count ?? 1;
    if (!Number.isInteger(count) || count < 1 || count > 1_000) throw new TypeError(`count must be an integer from 1 to 1000, got ${String(count)}`);
    if (match.name !== undefined && (typeof match.name !== 'string' || normalizeName(match.name) === '')) {
      throw new TypeError(`name must be a non-empty DNS name, got ${JSON.stringify(match.name)}`);
    }
    if (this.#orders.size >= MAX_ORDERS) throw new Error(`at most ${MAX_ORDERS} drop orders may be pending at once`);
    let resolve!: (dropped: DroppedDatagram[]) => void;
    const done = new Promise<DroppedDatagram[]>((r) => (resolve = r));
    const order: PendingOrder = {
      name: match.name === undefined ? undefined : normalizeName(match.name),
      type: match.type?.toUpperCase(),
      left: count,
      dropped: [],
      resolve,
    };
    this.#orders.add(order);
    return {
      done,
      dropped: order.dropped,
      cancel: () => {
        this.#orders.delete(order);
        return order.dropped.length;
      },
    };
  }

  /** Stop listening, close every session; pending orders are withdrawn. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      clearInterval(this.#sweep);
      this.#orders.clear();
      const sockets = [this.#socket, ...[...this.#sessions.values()].map((session) => session.socket)];
      this.#sessions.clear();
      await Promise.all(sockets.map(closeUdp));
    })();
    return this.#closed;
  }

  #onQuery(message: Buffer, remote: dgram.RemoteInfo): void {
    if (this.#closed) return;
    this.counters.queries++;
    const asked = question(message);
    const session = this.#session(remote);
    const now = performance.now();
    const order = asked ? this.#matchingOrder(asked) : undefined;
    if (order) {
      // Lost before it reached the NAT: it starts no race window.
      order.dropped.push(this.#drop('query', 'order', asked, session));
      if (--order.left === 0) {
        this.#orders.delete(order);
        order.resolve(order.dropped);
      }
      return;
    }
    if (this.#raceWindowMs !== undefined && now - session.lastQueryAt < this.#raceWindowMs) {
      // The window runs from the first query of a burst: once its entry is confirmed, later packets pass.
      this.#drop('query', 'conntrack-race', asked, session);
      return;
    }
    session.lastQueryAt = now;
    if (this.#lossDirection !== 'replies' && this.#loss > 0 && this.#random() < this.#loss) {
      this.#drop('query', 'random', asked, session);
      return;
    }
    session.socket.send(message, this.#upstream.port, this.#upstream.host);
  }

  #onReply(session: Session, message: Buffer, remote: dgram.RemoteInfo): void {
    if (this.#closed || remote.address !== this.#upstream.host || remote.port !== this.#upstream.port) return;
    this.counters.replies++;
    this.#touch(session);
    if (this.#lossDirection !== 'queries' && this.#loss > 0 && this.#random() < this.#loss) {
      this.#drop('reply', 'random', question(message), session);
      return;
    }
    this.#socket.send(message, session.clientPort, session.clientHost);
  }

  #matchingOrder(asked: { name: string; type: string }): PendingOrder | undefined {
    for (const order of this.#orders) {
      if (order.name !== undefined && order.name !== asked.name) continue;
      if (order.type !== undefined && order.type !== asked.type.toUpperCase()) continue;
      return order;
    }
    return undefined;
  }

  #drop(direction: 'query' | 'reply', cause: DroppedDatagram['cause'], asked: { name: string; type: string } | undefined, session: Session): DroppedDatagram {
    if (direction === 'query') this.counters.droppedQueries++;
    else this.counters.droppedReplies++;
    if (cause === 'random') this.counters.random++;
    else if (cause === 'order') this.counters.order++;
    else this.counters.conntrackRace++;
    const client = net.isIPv6(session.clientHost) ? `[${session.clientHost}]:${session.clientPort}` : `${session.clientHost}:${session.clientPort}`;
    const drop: DroppedDatagram = { direction, cause, name: asked?.name, type: asked?.type, client, at: Date.now() };
    this.#drops.push(drop);
    if (this.#drops.length > MAX_LOGGED_DROPS) this.#drops.shift();
    return drop;
  }

  /** The client socket's session, opened (evicting the least recently used when full) or refreshed. */
  #session(remote: dgram.RemoteInfo): Session {
    const key = `${remote.address}|${remote.port}`;
    const existing = this.#sessions.get(key);
    if (existing) {
      this.#touch(existing);
      return existing;
    }
    if (this.#sessions.size >= this.#maxSessions) {
      // Map order is use order (see #touch): the first is the least recently used.
      const [oldestKey, oldest] = this.#sessions.entries().next().value as [string, Session];
      this.#sessions.delete(oldestKey);
      void closeUdp(oldest.socket);
      this.counters.evictedSessions++;
    }
    const socket = dgram.createSocket(net.isIPv6(this.#upstream.host) ? 'udp6' : 'udp4');
    socket.on('error', () => {
      /* ICMP port unreachable from a dead upstream: the client times out, as it would */
    });
    const session: Session = { key, clientHost: remote.address, clientPort: remote.port, socket, lastUsed: performance.now(), lastQueryAt: -Infinity };
    socket.on('message', (message, from) => this.#onReply(session, message, from));
    this.#sessions.set(key, session);
    return session;
  }

  /** Mark used now, and move to the end of the map (most recently used). */
  #touch(session: Session): void {
    session.lastUsed = performance.now();
    if (this.#sessions.get(session.key) !== session) return;
    this.#sessions.delete(session.key);
    this.#sessions.set(session.key, session);
  }

  #closeIdleSessions(): void {
    const now = performance.now();
    for (const [key, session] of this.#sessions) {
      if (now - session.lastUsed < this.#idleMs) continue;
      this.#sessions.delete(key);
      void closeUdp(session.socket);
    }
  }
}
