import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { DnsError, type DnsErrorCode } from './errors.js';
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
  authorities: dnsPacket.Answer[];
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
}

/** rcodes (RFC 1035 §4.1.1) the resolver distinguishes. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const DEFAULT_UDP_PAYLOAD_SIZE = 1232;

interface PendingUdpQuery {
  server: Nameserver;
  name: string;
  type: QueryType;
  settle: (outcome: { reply?: dnsPacket.DecodedPacket; error?: DnsError }) => void;
}

/**
 * DNS transport: one UDP socket per address family, shared by every query of
 * this client, with RFC 5452 validation, nameserver failover, retries and
 * TCP fallback on truncation. It knows nothing about search lists, CNAMEs or
 * grpc; {@link query} returns the validated reply of the first server that
 * gave a usable one.
 */
export class DnsClient {
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly udpPayloadSize: number;
  private readonly sockets = new Map<4 | 6, dgram.Socket>();
  /** In-flight UDP queries by id; ids are unique across both sockets. */
  private readonly pending = new Map<number, PendingUdpQuery>();
  /** Queries in flight per socket: a socket with none must not keep the process alive. */
  private readonly inFlightBySocket = new Map<4 | 6, number>();
  private readonly tcpSockets = new Set<net.Socket>();
  private closed = false;

  constructor({ timeoutMs, attempts, udpPayloadSize = DEFAULT_UDP_PAYLOAD_SIZE }: DnsClientOptions) {
    this.timeoutMs = timeoutMs;
    this.attempts = attempts;
    this.udpPayloadSize = udpPayloadSize;
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
    for (const socket of this.sockets.values()) socket.close();
    this.sockets.clear();
    for (const socket of this.tcpSockets) socket.destroy();
    this.tcpSockets.clear();
  }

  /** One question to one server: UDP, then TCP if the UDP reply was truncated. */
  private async exchange(server: Nameserver, name: string, type: QueryType): Promise<DnsReply> {
    const udpReply = await this.exchangeUdp(server, name, type);
    if (!udpReply.flag_tc) return toReply(udpReply, 'udp');
    // close() may have run while the truncated reply was being handled.
    this.assertOpen(name);
    const tcpReply = await this.exchangeTcp(server, name, type);
    return toReply(tcpReply, 'tcp');
  }

  private exchangeUdp(server: Nameserver, name: string, type: QueryType): Promise<dnsPacket.DecodedPacket> {
    const family = net.isIPv6(server.host) ? 6 : 4;
    const socket = this.udpSocket(family);
    const id = this.freeId();
    const message = this.encodeQuery(id, name, type, true);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        settle({ error: new DnsError('TIMEOUT', name, `No reply from ${formatServer(server)} for ${name} ${type} within ${this.timeoutMs} ms`) });
      }, this.timeoutMs);
      const settle: PendingUdpQuery['settle'] = ({ reply, error }) => {
        if (this.pending.get(id)?.settle !== settle) return;
        clearTimeout(timer);
        this.pending.delete(id);
        // Counted per socket: an idle IPv4 socket must be released even while
        // an IPv6 query is still out, and vice versa. A socket replaced after
        // an error is already closed, so the current one is the one to unref.
        const left = (this.inFlightBySocket.get(family) ?? 1) - 1;
        this.inFlightBySocket.set(family, left);
        if (left === 0) this.sockets.get(family)?.unref();
        if (reply) resolve(reply);
        else reject(error);
      };
      this.pending.set(id, { server, name, type, settle });
      this.inFlightBySocket.set(family, (this.inFlightBySocket.get(family) ?? 0) + 1);
      // A query in flight keeps the process alive until it settles (bounded by the timeout).
      socket.ref();
      socket.send(message, server.port, server.host, (error) => {
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
      let received: Buffer = Buffer.alloc(0);
      let done = false;
      const finish = (error: DnsError | null, reply?: dnsPacket.DecodedPacket): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.tcpSockets.delete(socket);
        socket.destroy();
        if (reply) resolve(reply);
        else reject(error);
      };
      const timer = setTimeout(() => {
        finish(new DnsError('TIMEOUT', name, `No TCP reply from ${formatServer(server)} for ${name} ${type} within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      socket.on('connect', () => socket.write(framed));
      socket.on('data', (chunk: Buffer) => {
        received = received.length === 0 ? chunk : Buffer.concat([received, chunk]);
        // A server may send several messages on one connection; read until ours.
        while (received.length >= 2) {
          const length = received.readUInt16BE(0);
          if (received.length < 2 + length) return;
          const packet = decodeSafely(received.subarray(2, 2 + length));
          received = received.subarray(2 + length);
          if (packet && isValidReply(packet, id, name, type)) {
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

  private udpSocket(family: 4 | 6): dgram.Socket {
    const existing = this.sockets.get(family);
    if (existing) return existing;
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    socket.on('message', (message, remote) => this.onUdpMessage(message, remote));
    // A socket-level error must never escape as an uncaught exception; the
    // queries it affected time out and fail over like any lost packet.
    socket.on('error', () => {
      if (this.sockets.get(family) === socket) this.sockets.delete(family);
      socket.close();
    });
    socket.unref();
    this.sockets.set(family, socket);
    return socket;
  }

  private onUdpMessage(message: Buffer, remote: dgram.RemoteInfo): void {
    const packet = decodeSafely(message);
    if (!packet || packet.id === undefined) return;
    const query = this.pending.get(packet.id);
    if (!query) return;
    // RFC 5452: the reply must come from the address and port we sent to.
    if (remote.port !== query.server.port || !sameHost(remote.address, query.server.host)) return;
    if (!isValidReply(packet, packet.id, query.name, query.type)) return;
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

function decodeSafely(message: Buffer): dnsPacket.DecodedPacket | null {
  try {
    return dnsPacket.decode(message);
  } catch {
    return null;
  }
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

export function sameName(a: string, b: string): boolean {
  return trimDot(a).toLowerCase() === trimDot(b).toLowerCase();
}

function trimDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
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
    authorities: packet.authorities ?? [],
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
