/**
 * The scripted DNS responder: a UDP server on loopback whose every reply is
 * decided by a per-query hook, for what DnsTestServer cannot express (a
 * fault on one record type, a reply built byte by byte, forged datagrams, a
 * query held until the test answers it). Optionally TCP on the same port,
 * with a hook of its own. The one copy the tests share.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { listenTcp } from './dns-server.js';
import { bindUdp, closeUdp, sendUdp } from './udp-sockets.js';

/** One query as it reached the responder. */
export interface ScriptedQuery {
  id: number;
  /** Question name as asked (case kept, no trailing dot). */
  name: string;
  /** Question type as dns-packet names it ('A', 'AAAA', …). */
  type: string;
  transport: 'udp' | 'tcp';
  sourceHost: string;
  sourcePort: number;
  /** Date.now() at arrival. */
  at: number;
  /** The query decoded, and its bytes as they came. */
  packet: dnsPacket.DecodedPacket;
  message: Buffer;
}

/** A datagram to send, a pause before the next step, or a datagram from a second socket (another source port). */
export type ScriptStep = Buffer | { delayMs: number } | { fromOtherPort: Buffer };

/**
 * What the UDP hook does with one query: nothing (null or undefined: the
 * query is held, the test may answer with `send()`), a well-behaved reply
 * (the query's id and question echoed, AA set, with these answers and
 * rcode), or datagrams sent in order, each once the previous one left.
 */
export type ScriptedReply = null | undefined | { rcode?: number; answers?: dnsPacket.Answer[] } | Buffer | ScriptStep[];

export type UdpScript = (query: ScriptedQuery) => ScriptedReply;
/** What the TCP hook does with one framed query on a connection: it writes (or not) on `socket` itself. */
export type TcpScript = (query: ScriptedQuery, socket: net.Socket) => void;

export interface ScriptedDnsServerOptions {
  /** IP literal to bind; default 127.0.0.1. */
  host?: string;
  /** Also listen on TCP on the same port, handing each framed query to this hook. */
  tcp?: TcpScript;
}

/** How often a UDP port is tried again when its TCP twin is taken. */
const PORT_ATTEMPTS = 20;

export class ScriptedDnsServer {
  readonly queries: ScriptedQuery[] = [];
  private readonly connections = new Set<net.Socket>();
  private other: dgram.Socket | undefined;
  private closed = false;

  private constructor(
    /** The UDP hook; a test may swap it between queries. */
    public script: UdpScript,
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server | undefined,
    readonly host: string,
    readonly port: number,
  ) {
    udp.on('message', (message, remote) => {
      const query = parseQuery(message, 'udp', remote.address, remote.port);
      if (!query) return;
      this.queries.push(query);
      void this.play(this.script(query), query);
    });
  }

  static async start(script: UdpScript, options: ScriptedDnsServerOptions = {}): Promise<ScriptedDnsServer> {
    const host = options.host ?? '127.0.0.1';
    for (let attempt = 1; ; attempt++) {
      const udp = await bindUdp(host, 0);
      const { port } = udp.address();
      if (!options.tcp) return new ScriptedDnsServer(script, udp, undefined, host, port);
      try {
        const tcp = await listenTcp(host, port);
        const server = new ScriptedDnsServer(script, udp, tcp, host, port);
        tcp.on('connection', (socket) => server.onConnection(socket, options.tcp!));
        return server;
      } catch (error) {
        await closeUdp(udp);
        if (attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  }

  get nameserver(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** `host:port` as resolv.conf and error messages write it. */
  get address(): string {
    return net.isIPv6(this.host) ? `[${this.host}]:${this.port}` : `${this.host}:${this.port}`;
  }

  /** The well-behaved reply to `query`: its id and question (or `question`), AA set, `answers`. */
  reply(query: Pick<ScriptedQuery, 'id' | 'packet'>, answers: dnsPacket.Answer[] = [], options: { rcode?: number; flags?: number; question?: dnsPacket.Question } = {}): Buffer {
    return dnsPacket.encode({
      type: 'response',
      id: query.id,
      flags: (options.flags ?? dnsPacket.AUTHORITATIVE_ANSWER) | ((options.rcode ?? 0) & 0xf),
      questions: options.question ? [options.question] : (query.packet.questions ?? []),
      answers,
    });
  }

  /** Send `message` from the server's own address and port. */
  send(message: Buffer, port: number, host = this.host): Promise<void> {
    return sendUdp(this.udp, message, port, host);
  }

  /** Send `message` from a second socket on the server's address: right address, wrong port. */
  async sendFromOtherPort(message: Buffer, port: number, host = this.host): Promise<void> {
    this.other ??= await bindUdp(this.host, 0);
    await sendUdp(this.other, message, port, host);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const socket of this.connections) socket.destroy();
    await Promise.all([
      closeUdp(this.udp),
      this.other ? closeUdp(this.other) : undefined,
      this.tcp ? new Promise<void>((resolve) => this.tcp!.close(() => resolve())) : undefined,
    ]);
  }

  private async play(reply: ScriptedReply, query: ScriptedQuery): Promise<void> {
    if (!reply) return;
    const steps: ScriptStep[] = Buffer.isBuffer(reply) || Array.isArray(reply) ? [reply].flat() : [this.reply(query, reply.answers, { rcode: reply.rcode })];
    for (const step of steps) {
      if (this.closed) return;
      if (Buffer.isBuffer(step)) await this.send(step, query.sourcePort, query.sourceHost);
      else if ('fromOtherPort' in step) await this.sendFromOtherPort(step.fromOtherPort, query.sourcePort, query.sourceHost);
      else await new Promise((resolve) => setTimeout(resolve, step.delayMs));
    }
  }

  private onConnection(socket: net.Socket, script: TcpScript): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => undefined); // the client may hang up as soon as it has its answer
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        const message = buffer.subarray(2, 2 + buffer.readUInt16BE(0));
        buffer = buffer.subarray(2 + message.length);
        const query = parseQuery(message, 'tcp', socket.remoteAddress ?? this.host, socket.remotePort ?? 0);
        if (!query) continue;
        this.queries.push(query);
        script(query, socket);
      }
    });
  }
}

/** `message` with its two-byte TCP length prefix (`length` to lie about it, modulo 2^16). */
export function tcpFrame(message: Buffer, length = message.length): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(length & 0xffff, 0);
  return Buffer.concat([prefix, message]);
}

/** Write `data` on `socket` in chunks of `sizes` (cycled), a setImmediate between chunks. */
export async function writeChunked(socket: net.Socket, data: Buffer, sizes: number[]): Promise<void> {
  let offset = 0;
  for (let i = 0; offset < data.length; i++) {
    const size = Math.max(1, sizes[i % sizes.length]!);
    socket.write(data.subarray(offset, offset + size));
    offset += size;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function parseQuery(message: Buffer, transport: 'udp' | 'tcp', sourceHost: string, sourcePort: number): ScriptedQuery | undefined {
  let packet: dnsPacket.DecodedPacket;
  try {
    packet = dnsPacket.decode(message);
  } catch {
    return undefined;
  }
  const question = packet.questions?.[0];
  if (!question || packet.flag_qr) return undefined;
  return { id: packet.id ?? 0, name: question.name, type: String(question.type), transport, sourceHost, sourcePort, at: Date.now(), packet, message };
}
