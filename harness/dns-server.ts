/**
 * An in-process authoritative DNS server on loopback, for tests.
 *
 * Speaks real DNS over UDP and TCP (RFC 1035 / RFC 7766 framing) with
 * `dns-packet`, serves whatever records a test puts in it, logs every query,
 * and can misbehave on demand (drop, error rcodes, truncation, forged replies,
 * replies from another port, delays) so resolver code can be tested against
 * the failure modes of real networks.
 *
 * Behaviour:
 * - Authoritative for every name it holds: AA set, RD copied, RA clear.
 * - Names are case-insensitive and stored without a trailing dot.
 * - Unknown name: NXDOMAIN. Known name without records of the asked type:
 *   NOERROR with no answers (NODATA). Only A, AAAA and CNAME have data.
 * - CNAMEs are followed inside the server (up to 16 steps; a loop stops).
 * - The question section is echoed byte for byte as received.
 * - EDNS: if the query carries OPT, the reply carries OPT too and the UDP
 *   size limit is the client's advertised size (clamped to 512..4096);
 *   without OPT the limit is 512. Bigger UDP replies go out with TC set and no
 *   answers. TCP has no limit below the 65535 framing maximum.
 * - Malformed or non-query packets are ignored (never logged, never answered).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { bindUdp, closeUdp } from './udp-sockets.js';

export type RecordSet = {
  A?: string[];
  AAAA?: string[];
  CNAME?: string;
  /** TXT records: each a string, or its character-strings (each up to 255 bytes). */
  TXT?: (string | string[])[];
  /**
   * Seconds; default 30. Any 32-bit value: above 2^31 − 1 (the top bit set)
   * only to see how a client reads it (RFC 2181 §8: as 0). A function is
   * asked at every reply, so a test can serve a TTL that counts down, as a
   * cache's copy does.
   */
  ttl?: number | (() => number);
};

export type Fault =
  | 'drop'
  | 'servfail'
  | 'refused'
  | 'nxdomain'
  | 'truncate'
  | 'wrong-id'
  | 'wrong-question'
  | 'garbage'
  | 'other-port'
  | { delayMs: number };

export interface FaultOptions {
  /** Only queries for this name (case-insensitive, trailing dot optional). Default: all names. */
  name?: string;
  /** Only queries of this type ('A', 'AAAA', …): "only the AAAA of this name". Default: every type. */
  type?: string;
  /** Only queries for this name or names under it (`slow.test` matches `a.slow.test`). Default: all names. */
  domain?: string;
  /**
   * Each matching query gets the fault with this probability (0 < p ≤ 1,
   * drawn per query; a query spared goes on to the next fault or is
   * answered). Default 1. `{ probability: 0.9 }` with 'drop' is a server that
   * answers a tenth of its queries at random.
   */
  probability?: number;
  /** Default 'udp' for 'truncate' and 'other-port', otherwise 'both'. 'other-port' is UDP-only. */
  transport?: 'udp' | 'tcp' | 'both';
  /** Apply to the next N matching queries, then remove the fault. Default: unlimited. */
  count?: number;
  /**
   * For 'wrong-id', 'wrong-question', 'garbage' and 'other-port': after the
   * forgery, also send the genuine reply on the real socket/connection
   * `thenAnswerDelayMs` later.
   */
  thenAnswer?: boolean;
  /** Gap between the forgery and the genuine reply when `thenAnswer` is set. Default 5 ms. */
  thenAnswerDelayMs?: number;
}

export interface QueryLogEntry {
  /** Question name as received (case preserved, no trailing dot). */
  name: string;
  /** Question type as dns-packet names it ('A', 'AAAA', 'UNKNOWN_65280', ...). */
  type: string;
  transport: 'udp' | 'tcp';
  id: number;
  sourcePort: number;
  sourceHost: string;
  /** Date.now() when the query was received. */
  at: number;
  /** The fault applied to this query, if any ('drop', 'delay', 'wrong-id', ...). */
  fault?: string;
}

export interface QueryFilter {
  name?: string;
  type?: string;
  transport?: 'udp' | 'tcp';
}

export interface DnsTestServerOptions {
  /** IP literal to bind; default '127.0.0.1'. '::1' works too. */
  host?: string;
  /** 0 (default) picks a free port; UDP and TCP always share the port number. */
  port?: number;
  /** Also serve DNS over TCP; default true. */
  tcp?: boolean;
  /** If set, TCP replies are written in chunks of this many bytes with a setImmediate between. */
  tcpChunkSize?: number;
}

const DEFAULT_TTL = 30;
const MAX_CNAME_STEPS = 16;
const PLAIN_UDP_LIMIT = 512;
const MAX_UDP_LIMIT = 4096;
const MAX_TCP_MESSAGE = 65535;
const HEADER_BYTES = 12;
const FLAG_AA = 1 << 10;
const FLAG_TC = 1 << 9;
const FLAG_RD = 1 << 8;
const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
const PORT_ATTEMPTS = 25;

interface StoredRecords {
  A: string[];
  AAAA: string[];
  CNAME?: string;
  TXT: string[][];
  ttl: number | (() => number);
}

/** The largest value a TTL field holds on the wire (32 bits). */
const MAX_WIRE_TTL = 0xffffffff;

function checkTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > MAX_WIRE_TTL) {
    throw new TypeError(`ttl must be an integer 0..${MAX_WIRE_TTL} seconds, got ${ttl}`);
  }
  return ttl;
}

/** The TTL to put in a reply now. */
function ttlNow(records: StoredRecords): number {
  return typeof records.ttl === 'function' ? checkTtl(records.ttl()) : records.ttl;
}

type FaultKind = Exclude<Fault, { delayMs: number }> | 'delay';

interface ActiveFault {
  kind: FaultKind;
  delayMs: number;
  name?: string;
  type?: string;
  /** With its leading dot, for a suffix match; the domain itself is `domain.slice(1)`. */
  domain?: string;
  probability: number;
  transport: 'udp' | 'tcp' | 'both';
  remaining: number;
  thenAnswer: boolean;
  thenAnswerDelayMs: number;
}

interface Waiter {
  n: number;
  filter: QueryFilter | undefined;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface TcpConnection {
  socket: net.Socket;
  buffer: Buffer;
  /** Frames waiting to be written (only used in chunked mode). */
  queue: Buffer[];
  /** Offset into queue[0] already written. */
  written: number;
  immediate: NodeJS.Immediate | undefined;
  /** Replies scheduled for later (delay / thenAnswer) on this connection. */
  pending: number;
  /** The client half-closed; end our side once nothing is pending. */
  peerEnded: boolean;
}

/** Where a reply goes: the UDP peer or the TCP connection the query came on. */
interface ReplyChannel {
  transport: 'udp' | 'tcp';
  /** Sends one DNS message on the genuine path (TCP: framed). */
  send(message: Buffer): void;
  /** UDP only: sends from a different socket (another port); `sent` runs once it is out. */
  sendFromOtherPort?(message: Buffer, sent?: () => void): void;
  /** Called when a reply is scheduled for later / when it has been handled. */
  hold?(): void;
  release?(): void;
}

const FORGERY_KINDS: ReadonlySet<FaultKind> = new Set<FaultKind>(['wrong-id', 'wrong-question', 'garbage', 'other-port']);
const SIMPLE_KINDS: ReadonlySet<string> = new Set([
  'drop',
  'servfail',
  'refused',
  'nxdomain',
  'truncate',
  'wrong-id',
  'wrong-question',
  'garbage',
  'other-port',
]);

function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

function normalizeName(name: string): string {
  return stripDot(name).toLowerCase();
}

function validateName(name: unknown, what: string): string {
  if (typeof name !== 'string') throw new TypeError(`${what} must be a string, got ${typeof name}`);
  const stripped = stripDot(name);
  if (stripped.length === 0) throw new TypeError(`${what} must not be empty or the root`);
  if (Buffer.byteLength(stripped) > 253) throw new TypeError(`${what} is longer than 253 bytes: ${name}`);
  for (const label of stripped.split('.')) {
    const len = Buffer.byteLength(label);
    if (len === 0 || len > 63) throw new TypeError(`${what} has an empty or over-long (>63 bytes) label: ${JSON.stringify(name)}`);
  }
  return stripped;
}

function typeMatches(a: string, b: string): boolean {
  return a.toUpperCase() === b.toUpperCase();
}

function matchesFilter(entry: QueryLogEntry, filter: QueryFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.name !== undefined && normalizeName(entry.name) !== normalizeName(filter.name)) return false;
  if (filter.type !== undefined && !typeMatches(entry.type, filter.type)) return false;
  if (filter.transport !== undefined && entry.transport !== filter.transport) return false;
  return true;
}

function describeFilter(filter: QueryFilter | undefined): string {
  if (!filter || Object.keys(filter).length === 0) return 'any query';
  return JSON.stringify(filter);
}

/** End offset of the question section (walking names by hand, so it can be echoed raw). */
function questionSectionEnd(buf: Buffer, qdcount: number): number {
  let offset = HEADER_BYTES;
  for (let i = 0; i < qdcount; i++) {
    for (;;) {
      const len = buf[offset];
      if (len === undefined) throw new Error('question name overruns the packet');
      if (len === 0) {
        offset += 1;
        break;
      }
      if ((len & 0xc0) === 0xc0) {
        offset += 2;
        break;
      }
      if ((len & 0xc0) !== 0) throw new Error('bad label type');
      offset += 1 + len;
    }
    offset += 4;
    if (offset > buf.length) throw new Error('question overruns the packet');
  }
  return offset;
}

function faultLabel(f: ActiveFault): string {
  return f.kind === 'delay' ? `delay ${f.delayMs}ms` : f.kind;
}

export class DnsTestServer {
  readonly host: string;
  readonly port: number;
  readonly queries: QueryLogEntry[] = [];

  private readonly udp: dgram.Socket;
  private readonly tcpServer: net.Server | undefined;
  private readonly tcpChunkSize: number | undefined;
  private readonly family: 4 | 6;
  private readonly records = new Map<string, StoredRecords>();
  private faults: ActiveFault[] = [];
  private readonly connections = new Set<TcpConnection>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly waiters = new Set<Waiter>();
  private otherPortSocket: Promise<dgram.Socket> | undefined;
  private closing: Promise<void> | undefined;

  private constructor(host: string, port: number, udp: dgram.Socket, tcpServer: net.Server | undefined, tcpChunkSize: number | undefined) {
    this.host = host;
    this.port = port;
    this.udp = udp;
    this.tcpServer = tcpServer;
    this.tcpChunkSize = tcpChunkSize;
    this.family = net.isIPv6(host) ? 6 : 4;
    udp.on('message', (msg, rinfo) => this.onUdpMessage(msg, rinfo));
    tcpServer?.on('connection', (socket) => this.onTcpConnection(socket));
  }

  static async start(options: DnsTestServerOptions = {}): Promise<DnsTestServer> {
    const host = options.host ?? '127.0.0.1';
    if (!net.isIP(host)) throw new TypeError(`host must be an IP literal, got ${JSON.stringify(host)}`);
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError(`port must be an integer 0..65535, got ${port}`);
    const useTcp = options.tcp ?? true;
    const chunk = options.tcpChunkSize;
    if (chunk !== undefined && (!Number.isInteger(chunk) || chunk < 1)) {
      throw new TypeError(`tcpChunkSize must be a positive integer, got ${chunk}`);
    }

    const attempts = port === 0 && useTcp ? PORT_ATTEMPTS : 1;
    let lastError: unknown;
    for (let i = 0; i < attempts; i++) {
      const udp = await bindUdp(host, port);
      const boundPort = udp.address().port;
      if (!useTcp) return new DnsTestServer(host, boundPort, udp, undefined, chunk);
      try {
        const tcpServer = await listenTcp(host, boundPort);
        return new DnsTestServer(host, boundPort, udp, tcpServer, chunk);
      } catch (err) {
        lastError = err;
        await closeUdp(udp);
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') break;
      }
    }
    throw new Error(`DnsTestServer: could not bind UDP and TCP on the same port on ${host}: ${String(lastError)}`);
  }

  get nameserver(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  get address(): string {
    return this.family === 6 ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  // ---------------------------------------------------------------- records

  /** Replaces whatever `name` had. A name with a CNAME may have no A/AAAA (RFC 1034 §3.6.2). */
  setRecords(name: string, records: RecordSet): void {
    const stored = validateName(name, 'name');
    const ttl = records.ttl ?? DEFAULT_TTL;
    if (typeof ttl !== 'function') checkTtl(ttl);
    const a = [...(records.A ?? [])];
    const aaaa = [...(records.AAAA ?? [])];
    for (const ip of a) if (!net.isIPv4(ip)) throw new TypeError(`A record for ${name} is not an IPv4 address: ${ip}`);
    for (const ip of aaaa) if (!net.isIPv6(ip)) throw new TypeError(`AAAA record for ${name} is not an IPv6 address: ${ip}`);
    const txt = (records.TXT ?? []).map((record) => (typeof record === 'string' ? [record] : [...record]));
    for (const record of txt) {
      for (const part of record) if (Buffer.byteLength(part) > 255) throw new TypeError(`TXT string for ${name} is over 255 bytes`);
    }
    let cname: string | undefined;
    if (records.CNAME !== undefined) {
      cname = validateName(records.CNAME, `CNAME target of ${name}`);
      if (a.length > 0 || aaaa.length > 0) {
        throw new TypeError(`${name}: a name with a CNAME cannot also have A/AAAA records`);
      }
    }
    this.records.set(stored.toLowerCase(), { A: a, AAAA: aaaa, CNAME: cname, TXT: txt, ttl });
  }

  deleteName(name: string): void {
    this.records.delete(normalizeName(name));
  }

  clearRecords(): void {
    this.records.clear();
  }

  // ----------------------------------------------------------------- faults

  /**
   * Adds a fault (most recently added is checked first; the first match
   * wins), or with `null` removes every fault.
   */
  setFault(fault: Fault | null, options: FaultOptions = {}): void {
    if (fault === null) {
      this.faults = [];
      return;
    }
    let kind: FaultKind;
    let delayMs = 0;
    if (typeof fault === 'string') {
      if (!SIMPLE_KINDS.has(fault)) throw new TypeError(`unknown fault ${JSON.stringify(fault)}`);
      kind = fault;
    } else if (typeof fault === 'object' && fault !== null && typeof fault.delayMs === 'number') {
      if (!Number.isFinite(fault.delayMs) || fault.delayMs < 0) {
        throw new TypeError(`delayMs must be a finite number >= 0, got ${fault.delayMs}`);
      }
      kind = 'delay';
      delayMs = fault.delayMs;
    } else {
      throw new TypeError(`unknown fault ${JSON.stringify(fault)}`);
    }
    const transport = options.transport ?? (kind === 'truncate' || kind === 'other-port' ? 'udp' : 'both');
    if (transport !== 'udp' && transport !== 'tcp' && transport !== 'both') {
      throw new TypeError(`transport must be 'udp', 'tcp' or 'both', got ${JSON.stringify(transport)}`);
    }
    if (kind === 'other-port' && transport !== 'udp') {
      throw new TypeError(`the 'other-port' fault exists only for UDP`);
    }
    const count = options.count ?? Infinity;
    if (count !== Infinity && (!Number.isInteger(count) || count < 1)) {
      throw new TypeError(`count must be a positive integer, got ${count}`);
    }
    const thenAnswer = options.thenAnswer ?? false;
    if (thenAnswer && !FORGERY_KINDS.has(kind)) {
      throw new TypeError(`thenAnswer applies only to wrong-id, wrong-question, garbage and other-port, not ${kind}`);
    }
    const thenAnswerDelayMs = options.thenAnswerDelayMs ?? 5;
    if (!Number.isFinite(thenAnswerDelayMs) || thenAnswerDelayMs < 0) {
      throw new TypeError(`thenAnswerDelayMs must be a finite number >= 0, got ${thenAnswerDelayMs}`);
    }
    const probability = options.probability ?? 1;
    if (!(probability > 0 && probability <= 1)) throw new TypeError(`probability must be a number in (0, 1], got ${probability}`);
    const active: ActiveFault = { kind, delayMs, transport, remaining: count, thenAnswer, thenAnswerDelayMs, probability };
    if (options.name !== undefined) active.name = normalizeName(validateName(options.name, 'fault name'));
    if (options.type !== undefined) active.type = options.type;
    if (options.domain !== undefined) active.domain = `.${normalizeName(validateName(options.domain, 'fault domain'))}`;
    this.faults.unshift(active);
  }

  /** Finds the fault for this query and consumes one use of it. */
  private takeFault(name: string, type: string, transport: 'udp' | 'tcp'): ActiveFault | undefined {
    const key = normalizeName(name);
    const index = this.faults.findIndex(
      (f) =>
        (f.name === undefined || f.name === key) &&
        (f.type === undefined || typeMatches(f.type, type)) &&
        (f.domain === undefined || key.endsWith(f.domain) || key === f.domain.slice(1)) &&
        (f.transport === 'both' || f.transport === transport) &&
        (f.probability === 1 || Math.random() < f.probability),
    );
    const fault = this.faults[index];
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.faults.splice(index, 1);
    return fault;
  }

  // ------------------------------------------------------------------- log

  countQueries(filter?: QueryFilter): number {
    let n = 0;
    for (const q of this.queries) if (matchesFilter(q, filter)) n++;
    return n;
  }

  resetLog(): void {
    this.queries.length = 0;
  }

  /** Resolves once at least `n` logged queries match `filter`; rejects after `timeoutMs` (default 5000). */
  waitForQueries(n: number, filter?: QueryFilter, timeoutMs = 5000): Promise<void> {
    if (this.countQueries(filter) >= n) return Promise.resolve();
    if (this.closing) return Promise.reject(new Error(`DnsTestServer ${this.address} is closed`));
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        n,
        filter,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const seen = this.queries.slice(-10).map((q) => `${q.transport} ${q.type} ${q.name}`);
          reject(
            new Error(
              `DnsTestServer ${this.address}: timed out after ${timeoutMs} ms waiting for ${n} ${describeFilter(filter)}; ` +
                `saw ${this.countQueries(filter)} matching of ${this.queries.length} total` +
                (seen.length ? ` (last: ${seen.join(', ')})` : ''),
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private log(entry: QueryLogEntry): void {
    this.queries.push(entry);
    for (const w of this.waiters) {
      if (this.countQueries(w.filter) >= w.n) {
        clearTimeout(w.timer);
        this.waiters.delete(w);
        w.resolve();
      }
    }
  }

  // --------------------------------------------------------------- closing

  /** Closes every socket, connection and timer. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`DnsTestServer ${this.address} closed while waiting for ${w.n} ${describeFilter(w.filter)}`));
    }
    this.waiters.clear();
    for (const c of this.connections) {
      if (c.immediate) clearImmediate(c.immediate);
      c.socket.destroy();
    }
    this.connections.clear();
    const tasks: Promise<unknown>[] = [closeUdp(this.udp)];
    if (this.tcpServer) {
      const server = this.tcpServer;
      tasks.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    if (this.otherPortSocket) {
      tasks.push(this.otherPortSocket.then(closeUdp, () => undefined));
    }
    await Promise.all(tasks);
  }

  private get closed(): boolean {
    return this.closing !== undefined;
  }

  private schedule(ms: number, fn: () => void): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(timer);
  }

  /** Sends `message` on `channel` after `ms`. */
  private sendLater(channel: ReplyChannel, ms: number, message: Buffer): void {
    channel.hold?.();
    this.schedule(ms, () => {
      channel.send(message);
      channel.release?.();
    });
  }

  // ------------------------------------------------------------ transports

  private onUdpMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    const channel: ReplyChannel = {
      transport: 'udp',
      send: (reply) => this.udpSend(this.udp, reply, rinfo),
      sendFromOtherPort: (reply, sent) => {
        this.getOtherPortSocket().then(
          (sock) => this.udpSend(sock, reply, rinfo, sent),
          () => undefined,
        );
      },
    };
    this.handle(msg, channel, rinfo.address, rinfo.port);
  }

  private udpSend(socket: dgram.Socket, message: Buffer, rinfo: dgram.RemoteInfo, sent?: () => void): void {
    if (this.closed) return;
    try {
      // Errors (peer gone, socket closed) are irrelevant to a test server.
      socket.send(message, rinfo.port, rinfo.address, () => sent?.());
    } catch {
      /* socket already closed */
    }
  }

  private getOtherPortSocket(): Promise<dgram.Socket> {
    if (!this.otherPortSocket) {
      this.otherPortSocket = bindUdp(this.host, 0);
      // Never leave a rejection unhandled; callers handle it themselves.
      this.otherPortSocket.catch(() => undefined);
    }
    return this.otherPortSocket;
  }

  private onTcpConnection(socket: net.Socket): void {
    socket.on('error', () => {
      /* resets etc.; 'close' follows */
    });
    if (this.closed) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    const conn: TcpConnection = {
      socket,
      buffer: Buffer.alloc(0),
      queue: [],
      written: 0,
      immediate: undefined,
      pending: 0,
      peerEnded: false,
    };
    this.connections.add(conn);
    const remoteHost = socket.remoteAddress ?? '';
    const remotePort = socket.remotePort ?? 0;
    const channel: ReplyChannel = {
      transport: 'tcp',
      send: (reply) => this.tcpSend(conn, reply),
      hold: () => {
        conn.pending += 1;
      },
      release: () => {
        conn.pending -= 1;
        this.maybeEndTcp(conn);
      },
    };

    socket.on('data', (chunk: Buffer) => {
      conn.buffer = conn.buffer.length === 0 ? chunk : Buffer.concat([conn.buffer, chunk]);
      while (conn.buffer.length >= 2) {
        const len = conn.buffer.readUInt16BE(0);
        if (conn.buffer.length < 2 + len) break;
        const message = conn.buffer.subarray(2, 2 + len);
        conn.buffer = conn.buffer.subarray(2 + len);
        if (len > 0) this.handle(message, channel, remoteHost, remotePort);
        if (socket.destroyed) return;
      }
    });
    socket.on('end', () => {
      conn.peerEnded = true;
      this.maybeEndTcp(conn);
    });
    socket.on('close', () => {
      if (conn.immediate) clearImmediate(conn.immediate);
      conn.immediate = undefined;
      conn.queue = [];
      this.connections.delete(conn);
    });
  }

  /** After the client half-closed: end our side once every reply it is owed has been written. */
  private maybeEndTcp(conn: TcpConnection): void {
    if (conn.peerEnded && conn.pending <= 0 && conn.queue.length === 0 && !conn.socket.destroyed) conn.socket.end();
  }

  private tcpSend(conn: TcpConnection, message: Buffer): void {
    if (this.closed || conn.socket.destroyed || !conn.socket.writable) return;
    if (message.length > MAX_TCP_MESSAGE) return; // cannot be framed; callers avoid this
    const frame = Buffer.allocUnsafe(2 + message.length);
    frame.writeUInt16BE(message.length, 0);
    message.copy(frame, 2);
    if (this.tcpChunkSize === undefined) {
      conn.socket.write(frame);
      return;
    }
    // Chunked mode: one queue per connection so replies never interleave.
    conn.queue.push(frame);
    if (conn.queue.length === 1) this.pumpTcp(conn);
  }

  private pumpTcp(conn: TcpConnection): void {
    conn.immediate = undefined;
    const size = this.tcpChunkSize ?? MAX_TCP_MESSAGE;
    const head = conn.queue[0];
    if (!head || this.closed || conn.socket.destroyed || !conn.socket.writable) return;
    const end = Math.min(conn.written + size, head.length);
    conn.socket.write(head.subarray(conn.written, end));
    conn.written = end;
    if (end >= head.length) {
      conn.queue.shift();
      conn.written = 0;
    }
    if (conn.queue.length > 0) conn.immediate = setImmediate(() => this.pumpTcp(conn));
    else this.maybeEndTcp(conn);
  }

  // ------------------------------------------------------------- answering

  private handle(msg: Buffer, channel: ReplyChannel, sourceHost: string, sourcePort: number): void {
    try {
      this.handleUnsafe(msg, channel, sourceHost, sourcePort);
    } catch {
      // A test server must never crash on what a client sends.
    }
  }

  private handleUnsafe(msg: Buffer, channel: ReplyChannel, sourceHost: string, sourcePort: number): void {
    if (this.closed) return;
    let query: dnsPacket.DecodedPacket;
    let questionEnd: number;
    try {
      query = dnsPacket.decode(msg);
      questionEnd = questionSectionEnd(msg, query.questions?.length ?? 0);
    } catch {
      return; // malformed: ignored
    }
    if (query.flag_qr) return; // a response, not a query
    const question = query.questions?.[0];
    const id = query.id ?? 0;
    const entry: QueryLogEntry = {
      name: question?.name ?? '',
      type: question ? String(question.type) : '',
      transport: channel.transport,
      id,
      sourcePort,
      sourceHost,
      at: Date.now(),
    };
    const fault = this.takeFault(entry.name, entry.type, channel.transport);
    if (fault) entry.fault = faultLabel(fault);
    this.log(entry);

    const limit = channel.transport === 'udp' ? udpLimit(query) : MAX_TCP_MESSAGE;
    const genuine = (): Buffer => this.buildReply(msg, query, questionEnd, limit);

    if (!fault) {
      channel.send(genuine());
      return;
    }
    switch (fault.kind) {
      case 'drop':
        return;
      case 'servfail':
        channel.send(this.encodeReply(msg, query, questionEnd, { rcode: RCODE.SERVFAIL, aa: false }));
        return;
      case 'refused':
        channel.send(this.encodeReply(msg, query, questionEnd, { rcode: RCODE.REFUSED, aa: false }));
        return;
      case 'nxdomain':
        channel.send(this.encodeReply(msg, query, questionEnd, { rcode: RCODE.NXDOMAIN }));
        return;
      case 'truncate':
        channel.send(this.encodeReply(msg, query, questionEnd, { rcode: RCODE.NOERROR, tc: true }));
        return;
      case 'delay': {
        const reply = genuine();
        this.sendLater(channel, fault.delayMs, reply);
        return;
      }
      case 'wrong-id': {
        const reply = genuine();
        const forged = Buffer.from(reply);
        forged.writeUInt16BE(id ^ 0x5a5a, 0);
        channel.send(forged);
        break;
      }
      case 'wrong-question': {
        const q = question ?? { name: 'example', type: 'A' as const };
        channel.send(
          this.encodeReply(msg, query, questionEnd, {
            rcode: RCODE.NOERROR,
            questionOverride: { ...q, name: `evil.${q.name}` },
            answers: this.resolve(q.name, String(q.type)).answers,
          }),
        );
        break;
      }
      case 'garbage': {
        const junk = randomBytes(randomInt(12, 61));
        junk.writeUInt16BE(id, 0);
        channel.send(junk);
        break;
      }
      case 'other-port': {
        if (!channel.sendFromOtherPort) return;
        const reply = genuine();
        if (!fault.thenAnswer) {
          channel.sendFromOtherPort(reply);
          return;
        }
        // The extra socket may still be binding: time the genuine reply from when the forgery is out.
        channel.sendFromOtherPort(reply, () => this.sendLater(channel, fault.thenAnswerDelayMs, reply));
        return;
      }
    }
    if (fault.thenAnswer) this.sendLater(channel, fault.thenAnswerDelayMs, genuine());
  }

  /** The correct reply to `query`, truncated (TC, no answers) if it exceeds `limit`. */
  private buildReply(raw: Buffer, query: dnsPacket.DecodedPacket, questionEnd: number, limit: number): Buffer {
    const opcode = ((query.flags ?? 0) >> 11) & 0xf;
    const questions = query.questions ?? [];
    if (opcode !== 0) return this.encodeReply(raw, query, questionEnd, { rcode: RCODE.NOTIMP, aa: false });
    const question = questions[0];
    if (questions.length !== 1 || !question) {
      return this.encodeReply(raw, query, questionEnd, { rcode: RCODE.FORMERR, aa: false });
    }
    if (question.class !== undefined && question.class !== 'IN') {
      return this.encodeReply(raw, query, questionEnd, { rcode: RCODE.REFUSED, aa: false });
    }
    const { rcode, answers } = this.resolve(question.name, String(question.type));
    const full = this.encodeReply(raw, query, questionEnd, { rcode, answers });
    if (full.length <= limit) return full;
    return this.encodeReply(raw, query, questionEnd, { rcode, tc: true });
  }

  /** Answers for (name, type) from the records, following CNAMEs held by this server. */
  private resolve(qname: string, qtype: string): { rcode: number; answers: dnsPacket.Answer[] } {
    const first = this.records.get(normalizeName(qname));
    if (!first) return { rcode: RCODE.NXDOMAIN, answers: [] };
    const answers: dnsPacket.Answer[] = [];
    const type = qtype.toUpperCase();
    const visited = new Set<string>([normalizeName(qname)]);
    let owner = qname;
    let current: StoredRecords = first;
    for (let steps = 0; ; steps++) {
      if (current.CNAME !== undefined) {
        answers.push({ type: 'CNAME', class: 'IN', name: owner, ttl: ttlNow(current), data: current.CNAME });
        if (type === 'CNAME' || steps >= MAX_CNAME_STEPS) break;
        const key = normalizeName(current.CNAME);
        const next = this.records.get(key);
        if (!next || visited.has(key)) break;
        visited.add(key);
        owner = current.CNAME;
        current = next;
        continue;
      }
      if (type === 'A' || type === 'AAAA') {
        const ttl = ttlNow(current);
        for (const data of current[type]) answers.push({ type, class: 'IN', name: owner, ttl, data });
      } else if (type === 'TXT') {
        const ttl = ttlNow(current);
        for (const data of current.TXT) answers.push({ type, class: 'IN', name: owner, ttl, data });
      }
      break;
    }
    return { rcode: RCODE.NOERROR, answers };
  }

  /**
   * Encodes a reply. The question section is copied byte for byte from the
   * query unless `questionOverride` is given.
   */
  private encodeReply(
    raw: Buffer,
    query: dnsPacket.DecodedPacket,
    questionEnd: number,
    opts: { rcode: number; aa?: boolean; tc?: boolean; answers?: dnsPacket.Answer[]; questionOverride?: dnsPacket.Question },
  ): Buffer {
    const queryFlags = query.flags ?? 0;
    const flags =
      (((queryFlags >> 11) & 0xf) << 11) |
      ((opts.aa ?? true) ? FLAG_AA : 0) |
      (opts.tc ? FLAG_TC : 0) |
      (queryFlags & FLAG_RD) |
      (opts.rcode & 0xf);
    const additionals: dnsPacket.Answer[] = [];
    if (findOpt(query)) {
      additionals.push({
        type: 'OPT',
        name: '.',
        udpPayloadSize: MAX_UDP_LIMIT,
        extendedRcode: 0,
        ednsVersion: 0,
        flags: 0,
        flag_do: false,
        options: [],
      });
    }
    const packet: dnsPacket.Packet = {
      type: 'response',
      id: query.id ?? 0,
      flags,
      questions: opts.questionOverride ? [opts.questionOverride] : [],
      answers: opts.tc ? [] : (opts.answers ?? []),
      additionals,
    };
    const encoded = dnsPacket.encode(packet);
    if (opts.questionOverride) return encoded;
    // Splice the query's own question section in, so it is echoed exactly.
    const qdcount = raw.readUInt16BE(4);
    const out = Buffer.concat([encoded.subarray(0, HEADER_BYTES), raw.subarray(HEADER_BYTES, questionEnd), encoded.subarray(HEADER_BYTES)]);
    out.writeUInt16BE(qdcount, 4);
    return out;
  }
}

function findOpt(query: dnsPacket.DecodedPacket): dnsPacket.OptAnswer | undefined {
  for (const a of query.additionals ?? []) if (a && a.type === 'OPT') return a;
  return undefined;
}

function udpLimit(query: dnsPacket.DecodedPacket): number {
  const opt = findOpt(query);
  if (!opt) return PLAIN_UDP_LIMIT;
  return Math.min(Math.max(opt.udpPayloadSize, PLAIN_UDP_LIMIT), MAX_UDP_LIMIT);
}

/** A TCP server listening on host:port (exclusive), half-open connections allowed; later server errors swallowed. */
export function listenTcp(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    // allowHalfOpen: a client that half-closes after its query still gets (delayed) replies.
    const server = net.createServer({ allowHalfOpen: true });
    const onError = (err: Error): void => {
      server.close();
      reject(err);
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true, ipv6Only: net.isIPv6(host) }, () => {
      server.off('error', onError);
      server.on('error', () => {
        /* a listening server's errors are not actionable here */
      });
      resolve(server);
    });
  });
}
