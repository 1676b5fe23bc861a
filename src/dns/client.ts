import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { trace } from '../trace.js';
import { DnsError, type DnsErrorCode } from './errors.js';
import { sameName } from './names.js';
import type { Nameserver } from './types.js';

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
 * leaves service closes as soon as its in-flight queries settle, so a family
 * rarely holds more than one socket and never holds a port open for longer
 * than the age bound plus one timeout.
 */
export const UDP_PORT_MAX_QUERIES = 16;
/** See {@link UDP_PORT_MAX_QUERIES}: bounds how long a discovered port (port scan, SAD DNS side channel) stays useful. */
export const UDP_PORT_MAX_AGE_MS = 10_000;

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
 * Longest chain of compression pointers pointing at pointers that a message
 * may hold. dns-packet follows pointers without a hop limit (it only forbids
 * forward ones), so a "ladder" of pointers each pointing at the one before
 * makes every name in a 64 KiB message cost thousands of hops: about 0.2 s of
 * blocked event loop per message. Real encoders point at labels, never at
 * pointers, so a chain of 8 is already absurd.
 */
export const MAX_POINTER_CHAIN = 8;

/**
 * Answer records decoded from one response; the rest are ignored. Two per
 * usable address (MAX_ADDRESSES_PER_FAMILY = 512 in lookup.ts) leaves
 * room for duplicates and a CNAME chain; more is no realistic headless
 * Service. Bounds the decoding work a response can demand: dns-packet decodes
 * every record it is told of, and a record's owner name may be 127 labels.
 */
export const MAX_ANSWER_RECORDS = 1_024;

/** A DNS header is 12 bytes; anything shorter cannot be a reply. */
const HEADER_SIZE = 12;

/** One UDP socket: one source port, shared by the queries sent from it. */
interface UdpPort {
  family: 4 | 6;
  socket: dgram.Socket;
  /** Queries sent from this port so far. */
  sent: number;
  /** Queries sent from this port and not yet settled: with none, it must not keep the process alive. */
  inFlight: number;
  /** No new query goes out from it; it closes when `inFlight` reaches 0. */
  retired: boolean;
  closed: boolean;
  /** Retires the port at {@link UDP_PORT_MAX_AGE_MS}; unref'ed. */
  ageTimer: NodeJS.Timeout;
}

interface PendingUdpQuery {
  server: Nameserver;
  name: string;
  type: QueryType;
  /** The socket the query left from: RFC 5452 wants the reply to come in on it. */
  port: UdpPort;
  settle: (outcome: { reply?: dnsPacket.DecodedPacket | typeof OVERSIZED; error?: DnsError }) => void;
}

/** A UDP reply larger than {@link MAX_UDP_REPLY_SIZE}: handled like a truncated one. */
const OVERSIZED = Symbol('oversized UDP reply');

/**
 * DNS transport: one current UDP socket per address family, shared by the
 * queries of this client and rotated to a fresh random port every
 * {@link UDP_PORT_MAX_QUERIES} queries or {@link UDP_PORT_MAX_AGE_MS}, with
 * RFC 5452 validation, nameserver failover, retries and TCP fallback on
 * truncation. It knows nothing about search lists, CNAMEs or
 * grpc; {@link query} returns the validated reply of the first server that
 * gave a usable one.
 */
export class DnsClient {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly udpPayloadSize: number;
  private readonly udpPortMaxQueries: number;
  private readonly udpPortMaxAgeMs: number;
  /** The port each family's next query leaves from. */
  private readonly currentPorts = new Map<4 | 6, UdpPort>();
  /** Every open port: current ones and retired ones still waiting for replies. */
  private readonly openPorts = new Set<UdpPort>();
  /** In-flight UDP queries by id; ids are unique across all sockets. */
  private readonly pending = new Map<number, PendingUdpQuery>();
  private readonly tcpSockets = new Set<net.Socket>();
  private closed = false;

  constructor({
    timeoutMs,
    attempts,
    udpPayloadSize = DEFAULT_UDP_PAYLOAD_SIZE,
    udpPortMaxQueries = UDP_PORT_MAX_QUERIES,
    udpPortMaxAgeMs = UDP_PORT_MAX_AGE_MS,
  }: DnsClientOptions) {
    this.timeoutMs = timeoutMs;
    this.attempts = attempts;
    this.udpPayloadSize = udpPayloadSize;
    this.udpPortMaxQueries = udpPortMaxQueries;
    this.udpPortMaxAgeMs = udpPortMaxAgeMs;
  }

  /**
   * Ask `servers` (in order, `attempts` rounds) for `name`/`type`. Resolves with
   * the first NOERROR or NXDOMAIN reply; SERVFAIL, REFUSED, timeouts and socket
   * errors move on to the next server. Rejects with a {@link DnsError} naming the
   * most telling failure when no server gave a usable reply.
   */
  async query(servers: readonly Nameserver[], name: string, type: QueryType): Promise<DnsReply> {
    if (servers.length === 0) {
      throw new DnsError('NETWORK', name, `No nameserver to ask for ${name}`);
    }
    const failures: DnsError[] = [];
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      for (const server of servers) {
        this.assertOpen(name);
        try {
          const reply = await this.exchange(server, name, type);
          if (reply.rcode === RCODE.NOERROR || reply.rcode === RCODE.NXDOMAIN) return reply;
          failures.push(rcodeError(reply.rcode, name, server));
        } catch (error) {
          if (!(error instanceof DnsError) || error.code === 'CLOSED') throw error;
          failures.push(error);
        }
      }
    }
    throw mostTelling(failures, name, servers, this.attempts);
  }

  /** Close every socket; in-flight queries reject with code `CLOSED`. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, query] of this.pending) {
      query.settle({ error: new DnsError('CLOSED', query.name, `Resolver closed while asking for ${query.name}`) });
    }
    this.pending.clear();
    for (const port of [...this.openPorts]) this.closePort(port);
    this.currentPorts.clear();
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
  }

  /** One question to one server: UDP, then TCP if the UDP reply was truncated. */
  private async exchange(server: Nameserver, name: string, type: QueryType): Promise<DnsReply> {
    const udpReply = await this.exchangeUdp(server, name, type);
    if (udpReply !== OVERSIZED && !udpReply.flag_tc) return toReply(udpReply, 'udp');
    // close() may have run while the truncated reply was being handled.
    this.assertOpen(name);
    const tcpReply = await this.exchangeTcp(server, name, type);
    return toReply(tcpReply, 'tcp');
  }

  /** The validated reply, or {@link OVERSIZED} for a reply too big to decode from UDP. */
  private exchangeUdp(server: Nameserver, name: string, type: QueryType): Promise<dnsPacket.DecodedPacket | typeof OVERSIZED> {
    const id = this.freeId();
    const message = this.encodeQuery(id, name, type, true);
    // Taken last: from here the port counts this query as in flight until it settles.
    const port = this.takeUdpPort(net.isIPv6(server.host) ? 6 : 4);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        settle({ error: new DnsError('TIMEOUT', name, `No reply from ${formatServer(server)} for ${name} ${type} within ${this.timeoutMs} ms`) });
      }, this.timeoutMs);
      const settle: PendingUdpQuery['settle'] = ({ reply, error }) => {
        // Settles once: a duplicate or late reply finds no pending query.
        if (this.pending.get(id)?.settle !== settle) return;
        clearTimeout(timer);
        this.pending.delete(id);
        this.releaseUdpPort(port);
        if (reply) resolve(reply);
        else reject(error!);
      };
      this.pending.set(id, { server, name, type, port, settle });
      port.socket.send(message, server.port, server.host, (error) => {
        if (error) {
          settle({ error: new DnsError('NETWORK', name, `Cannot send to ${formatServer(server)}: ${error.message}`, { cause: error }) });
        }
      });
    });
  }

  private exchangeTcp(server: Nameserver, name: string, type: QueryType): Promise<dnsPacket.DecodedPacket> {
    const id = this.freeId();
    const message = this.encodeQuery(id, name, type, false);
    const framed = Buffer.alloc(2 + message.length);
    framed.writeUInt16BE(message.length, 0);
    message.copy(framed, 2);
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: server.host, port: server.port });
      this.tcpSockets.add(socket);
      // Chunks not yet framed, joined only once a whole message is there (a
      // trickling server must not make us copy the buffer on every byte).
      let chunks: Buffer[] = [];
      let buffered = 0;
      let total = 0;
      let done = false;
      const finish = (error: DnsError | null, reply?: dnsPacket.DecodedPacket): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpSockets.delete(socket);
        socket.destroy();
        if (reply) resolve(reply);
        else reject(error!);
      };
      const timer = setTimeout(() => {
        finish(new DnsError('TIMEOUT', name, `No TCP reply from ${formatServer(server)} for ${name} ${type} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.on('connect', () => socket.write(framed));
      const joined = (): Buffer => {
        if (chunks.length !== 1) chunks = [Buffer.concat(chunks, buffered)];
        return chunks[0]!;
      };
      socket.on('data', (chunk: Buffer) => {
        total += chunk.length;
        if (total > MAX_TCP_BYTES_PER_QUERY) {
          finish(
            new DnsError(
              'BADRESPONSE',
              name,
              `${formatServer(server)} sent more than ${MAX_TCP_BYTES_PER_QUERY} bytes over TCP without answering ${name} ${type}`,
            ),
          );
          return;
        }
        chunks.push(chunk);
        buffered += chunk.length;
        // A server may send several messages on one connection; read until ours.
        while (buffered >= 2) {
          const length = (chunks[0]!.length >= 2 ? chunks[0]! : joined()).readUInt16BE(0);
          if (buffered < 2 + length) return;
          const all = joined();
          const frame = all.subarray(2, 2 + length);
          const announced = announcedAnswers(frame);
          const packet = decodeSafely(frame);
          const rest = all.subarray(2 + length);
          chunks = rest.length > 0 ? [rest] : [];
          buffered = rest.length;
          if (packet && isValidReply(packet, id, name, type)) {
            traceCappedAnswers(announced, name, type);
            finish(null, packet);
            return;
          }
        }
      });
      socket.on('error', (error) => {
        finish(new DnsError('NETWORK', name, `TCP to ${formatServer(server)} failed: ${error.message}`, { cause: error }));
      });
      socket.on('close', () => {
        finish(
          this.closed
            ? new DnsError('CLOSED', name, `Resolver closed while asking for ${name}`)
            : new DnsError('BADRESPONSE', name, `${formatServer(server)} closed the TCP connection before answering ${name} ${type}`),
        );
      });
    });
  }

  /**
   * The port the next query of `family` leaves from, counted as in flight:
   * the current one, or a fresh one once the current has served its queries
   * or its time (see {@link UDP_PORT_MAX_QUERIES}).
   */
  private takeUdpPort(family: 4 | 6): UdpPort {
    const port = this.currentPorts.get(family) ?? this.openUdpPort(family);
    port.sent++;
    port.inFlight++;
    // A query in flight keeps the process alive until it settles (bounded by the timeout).
    port.socket.ref();
    if (port.sent >= this.udpPortMaxQueries) this.retireUdpPort(port);
    return port;
  }

  private openUdpPort(family: 4 | 6): UdpPort {
    // Bound implicitly by the first send, to a kernel-chosen random ephemeral port.
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    const port: UdpPort = {
      family,
      socket,
      sent: 0,
      inFlight: 0,
      retired: false,
      closed: false,
      ageTimer: setTimeout(() => this.retireUdpPort(port), this.udpPortMaxAgeMs),
    };
    port.ageTimer.unref();
    socket.on('message', (message, remote) => this.onUdpMessage(port, message, remote));
    // A socket-level error must never escape as an uncaught exception: the
    // queries it carried fail as a network error and move on to the next try.
    socket.on('error', (error) => {
      this.retireUdpPort(port);
      for (const query of [...this.pending.values()]) {
        if (query.port !== port) continue;
        query.settle({
          error: new DnsError('NETWORK', query.name, `UDP socket error while asking ${formatServer(query.server)}: ${error.message}`, { cause: error }),
        });
      }
      this.closePort(port);
    });
    socket.unref();
    this.currentPorts.set(family, port);
    this.openPorts.add(port);
    return port;
  }

  private releaseUdpPort(port: UdpPort): void {
    port.inFlight--;
    if (port.inFlight > 0) return;
    if (port.retired) this.closePort(port);
    else port.socket.unref();
  }

  /** No new query leaves from `port`; it closes once its in-flight queries have settled. */
  private retireUdpPort(port: UdpPort): void {
    if (this.currentPorts.get(port.family) === port) this.currentPorts.delete(port.family);
    port.retired = true;
    clearTimeout(port.ageTimer);
    if (port.inFlight === 0) this.closePort(port);
  }

  private closePort(port: UdpPort): void {
    if (port.closed) return;
    port.closed = true;
    clearTimeout(port.ageTimer);
    this.openPorts.delete(port);
    if (this.currentPorts.get(port.family) === port) this.currentPorts.delete(port.family);
    try {
      port.socket.close();
    } catch {
      // Already closed by the runtime (an error during bind): nothing left to release.
    }
  }

  private onUdpMessage(port: UdpPort, message: Buffer, remote: dgram.RemoteInfo): void {
    // Cheap checks first, so a flood of forgeries costs no decoding.
    if (message.length < HEADER_SIZE) return;
    const query = this.pending.get(message.readUInt16BE(0));
    // RFC 5452: the reply must arrive on the port the query left from…
    if (!query || query.port !== port) return;
    // …and come from the address and port we sent to.
    if (remote.port !== query.server.port || !sameHost(remote.address, query.server.host)) return;
    if (message.length > MAX_UDP_REPLY_SIZE) {
      query.settle({ reply: OVERSIZED });
      return;
    }
    const announced = announcedAnswers(message);
    const packet = decodeSafely(message);
    if (!packet || packet.id === undefined) return;
    if (!isValidReply(packet, packet.id, query.name, query.type)) return;
    traceCappedAnswers(announced, query.name, query.type);
    query.settle({ reply: packet });
  }

  private encodeQuery(id: number, name: string, type: QueryType, edns: boolean): Buffer {
    return dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, class: 'IN', name }],
      additionals: edns
        ? [{ type: 'OPT', name: '.', udpPayloadSize: this.udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
        : [],
    });
  }

  /** A random id not used by any query in flight, so replies cannot be confused. */
  private freeId(): number {
    for (;;) {
      const id = randomInt(0, 65_536);
      if (!this.pending.has(id)) return id;
    }
  }

  private assertOpen(name: string): void {
    if (this.closed) throw new DnsError('CLOSED', name, `Resolver closed while asking for ${name}`);
  }
}

/**
 * The decoded message, or null for anything malformed (never a throw). At
 * most {@link MAX_ANSWER_RECORDS} answers are decoded, and neither the
 * authority nor the additional section: a stub resolver reads neither, and
 * every record decoded is work a hostile server chooses. dns-packet decodes
 * as many records as the header announces, so the header is rewritten *in
 * place*: `message` must be a buffer we own (a received datagram or TCP frame)
 * and is read afterwards only through the returned packet.
 */
function decodeSafely(message: Buffer): dnsPacket.DecodedPacket | null {
  if (message.length < HEADER_SIZE || hasPointerLadder(message)) return null;
  const answers = message.readUInt16BE(6);
  if (answers > MAX_ANSWER_RECORDS) message.writeUInt16BE(MAX_ANSWER_RECORDS, 6);
  message.writeUInt32BE(0, 8); // authority and additional counts
  try {
    return dnsPacket.decode(message);
  } catch {
    return null;
  }
}

/** Answer records a reply announces (before {@link decodeSafely} caps them). */
function announcedAnswers(message: Buffer): number {
  return message.length >= HEADER_SIZE ? message.readUInt16BE(6) : 0;
}

/** Trace a valid reply whose answers went past {@link MAX_ANSWER_RECORDS}. */
function traceCappedAnswers(announced: number, name: string, type: QueryType): void {
  if (announced > MAX_ANSWER_RECORDS) {
    trace(() => `${name} ${type}: reply holds ${announced} answer records; using the first ${MAX_ANSWER_RECORDS} (MAX_ANSWER_RECORDS)`);
  }
}

/**
 * Whether some compression pointer starts a chain of more than
 * {@link MAX_POINTER_CHAIN} pointers pointing at pointers. Linear: every byte
 * pair that looks like a backward pointer gets the depth of its target plus
 * one. It over-approximates (rdata bytes may look like pointers), which only
 * matters for chains longer than the limit, which random data does not form.
 */
function hasPointerLadder(message: Buffer): boolean {
  const depth = new Uint8Array(message.length);
  for (let i = HEADER_SIZE; i + 1 < message.length; i++) {
    if ((message[i]! & 0xc0) !== 0xc0) continue;
    const target = ((message[i]! & 0x3f) << 8) | message[i + 1]!;
    if (target >= i) continue;
    const chain = depth[target]! + 1;
    if (chain > MAX_POINTER_CHAIN) return true;
    depth[i] = chain;
  }
  return false;
}

/** Same id, a response, and exactly our question (name compared case-insensitively). */
function isValidReply(packet: dnsPacket.DecodedPacket, id: number, name: string, type: QueryType): boolean {
  if (packet.id !== id || !packet.flag_qr) return false;
  const questions = packet.questions ?? [];
  if (questions.length !== 1) return false;
  const [question] = questions;
  return (
    question !== undefined &&
    question.type === type &&
    (question.class === undefined || question.class === 'IN') &&
    sameName(question.name, name)
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

function toReply(packet: dnsPacket.DecodedPacket, transport: 'udp' | 'tcp'): DnsReply {
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
  const rank: Partial<Record<DnsErrorCode, number>> = { SERVFAIL: 5, REFUSED: 4, BADRCODE: 3, BADRESPONSE: 2, NETWORK: 1, TIMEOUT: 0 };
  const best = failures.reduce<DnsError | undefined>(
    (chosen, failure) => (!chosen || (rank[failure.code] ?? 0) > (rank[chosen.code] ?? 0) ? failure : chosen),
    undefined,
  );
  const asked = servers.map(formatServer).join(', ');
  const summary = `${attempts} attempt${attempts === 1 ? '' : 's'} on ${asked}`;
  return new DnsError(best?.code ?? 'TIMEOUT', name, `${best?.message ?? `No reply for ${name}`} (${summary})`, { cause: best });
}

export function formatServer(server: Nameserver): string {
  return net.isIPv6(server.host) ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}
