/**
 * A loopback DNS server in its own process, for benchmarks whose measured
 * process must not share its CPU or event loop with the server.
 *
 *   node --import tsx bench/dns-server-process.ts [--mode full|fast] [--host 127.0.0.1] [--port 0]
 *
 * Started with an IPC channel (child_process.fork, see bench/lib/dns-child.ts).
 * It reports `{ type: 'ready', host, port }`, then answers requests
 * `{ id, cmd, ... }` with `{ id, ok, result | error }`:
 *
 *   set      { records: [{ name, A?, AAAA?, ttl? }] }   add/replace records
 *   count    { filter?: { name?, type? } }             queries logged since the last reset
 *   windows  { from, to, windowMs, filter? }           queries per window (Date.now() clock)
 *   gaps     { from, to, filter? }                     per name and type, the time between consecutive
 *                                                      queries in [from, to): { queries, names, gaps (sorted ms) }
 *   delay    { ms }                                    full mode: answer every query ms later (0: at once)
 *   reset    {}                                        clear the query log
 *   close    {}                                        close sockets; the process then exits by itself
 *
 * Modes:
 * - `full`: harness/dns-server.ts (DnsTestServer): decodes every query
 *   with dns-packet and encodes every reply; the same server the tests use.
 * - `fast`: a minimal authoritative responder for the same records. Replies
 *   are pre-encoded per question; answering a query is a map lookup on the
 *   raw question bytes, one copy and an id patch: no dns-packet on the hot
 *   path. Used where the server must not be the bottleneck (throughput,
 *   scale) and as the "physical limit" responder. UDP only, no OPT in replies.
 *
 * The process exits by itself once `close` ran or its parent disconnects.
 */
import dgram from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { DnsTestServer, type QueryFilter, type RecordSet } from '../harness/dns-server.js';

/** Records as sent to the child process: JSON, so a TTL is a number (never a function). */
export interface RecordSpec extends Omit<RecordSet, 'ttl'> {
  name: string;
  ttl?: number;
}

export type DnsChildRequest =
  | { id: number; cmd: 'set'; records: RecordSpec[] }
  | { id: number; cmd: 'count'; filter?: QueryFilter }
  | { id: number; cmd: 'windows'; from: number; to: number; windowMs: number; filter?: QueryFilter }
  | { id: number; cmd: 'gaps'; from: number; to: number; filter?: QueryFilter }
  | { id: number; cmd: 'delay'; ms: number }
  | { id: number; cmd: 'reset' }
  | { id: number; cmd: 'close' };

/** Reply to `gaps`: queries in the range, distinct (name, type) pairs, and every gap between two of them (ms, ascending). */
export interface GapsResult {
  queries: number;
  names: number;
  gaps: number[];
}

export type DnsChildMessage =
  | { type: 'ready'; host: string; port: number; mode: 'full' | 'fast' }
  | { type: 'reply'; id: number; ok: true; result: unknown }
  | { type: 'reply'; id: number; ok: false; error: string };

/** What both server kinds offer to the IPC loop. */
interface Backend {
  readonly port: number;
  set(records: RecordSpec[]): void;
  /** [at, name(lowercase), type] of each logged query. */
  forEachQuery(fn: (at: number, name: string, type: string) => void): void;
  reset(): void;
  delay(ms: number): void;
  close(): Promise<void>;
}

function arg(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 && process.argv[index + 1] !== undefined ? process.argv[index + 1]! : fallback;
}

class FullBackend implements Backend {
  private constructor(private readonly server: DnsTestServer) {}

  static async start(host: string, port: number): Promise<FullBackend> {
    const server = await DnsTestServer.start({ host, port });
    // A burst of thousands of queries must not overflow the server's receive
    // buffer: losses are to be the client's, not the test server's. The kernel
    // caps this at net.core.rmem_max. (DnsTestServer keeps its socket private.)
    const udp = (server as unknown as { udp?: dgram.Socket }).udp;
    try {
      udp?.setRecvBufferSize(SERVER_BUFFER_BYTES);
      udp?.setSendBufferSize(SERVER_BUFFER_BYTES);
    } catch {
      /* keep the default */
    }
    return new FullBackend(server);
  }

  get port(): number {
    return this.server.port;
  }

  set(records: RecordSpec[]): void {
    for (const { name, ...set } of records) this.server.setRecords(name, set);
  }

  forEachQuery(fn: (at: number, name: string, type: string) => void): void {
    for (const q of this.server.queries) fn(q.at, q.name.toLowerCase(), q.type);
  }

  reset(): void {
    this.server.resetLog();
  }

  delay(ms: number): void {
    this.server.setFault(null);
    if (ms > 0) this.server.setFault({ delayMs: ms });
  }

  close(): Promise<void> {
    return this.server.close();
  }
}

const SERVER_BUFFER_BYTES = 8 << 20;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_RD = 0x0100;
const RCODE_NXDOMAIN = 3;

interface Template {
  name: string;
  type: string;
  ancount: number;
  /** Answer section bytes (dns-packet does not compress names, so they are position-independent). */
  answers: Buffer;
}

/** Pre-encoded answers keyed by the raw question bytes (name labels + type + class). */
class FastBackend implements Backend {
  private readonly templates = new Map<string, Template>();
  private at: number[] = [];
  private keys: Array<Template | undefined> = [];

  private constructor(private readonly socket: dgram.Socket) {
    socket.on('message', (message, remote) => this.onMessage(message, remote));
    socket.on('error', () => {
      /* nothing actionable in a benchmark server */
    });
  }

  static start(host: string, port: number): Promise<FastBackend> {
    return new Promise((resolve, reject) => {
      const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4', recvBufferSize: SERVER_BUFFER_BYTES, sendBufferSize: SERVER_BUFFER_BYTES });
      socket.once('error', reject);
      socket.bind({ address: host, port, exclusive: true }, () => {
        socket.off('error', reject);
        resolve(new FastBackend(socket));
      });
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  set(records: RecordSpec[]): void {
    for (const record of records) {
      const ttl = record.ttl ?? 30;
      for (const type of ['A', 'AAAA'] as const) {
        const name = record.name.toLowerCase();
        const question = dnsPacket.encode({ type: 'query', id: 0, questions: [{ type, class: 'IN', name }] }).subarray(12);
        const data = record[type] ?? [];
        const answers = data.map((address) => ({ type, class: 'IN' as const, name, ttl, data: address }));
        const whole = dnsPacket.encode({ type: 'response', id: 0, questions: [{ type, class: 'IN', name }], answers });
        this.templates.set(question.toString('latin1'), {
          name,
          type,
          ancount: answers.length,
          answers: Buffer.from(whole.subarray(12 + question.length)),
        });
      }
    }
  }

  forEachQuery(fn: (at: number, name: string, type: string) => void): void {
    for (let i = 0; i < this.at.length; i++) {
      const template = this.keys[i];
      fn(this.at[i]!, template?.name ?? '', template?.type ?? '');
    }
  }

  reset(): void {
    this.at = [];
    this.keys = [];
  }

  delay(): void {
    throw new Error('delay is only supported in full mode');
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }

  private onMessage(message: Buffer, remote: dgram.RemoteInfo): void {
    if (message.length < 17 || (message.readUInt16BE(2) & FLAG_QR) !== 0 || message.readUInt16BE(4) !== 1) return;
    // Walk the question name's labels (no compression in a question we accept).
    let offset = 12;
    for (;;) {
      const length = message[offset];
      if (length === undefined || length > 63) return;
      offset += 1 + length;
      if (length === 0) break;
    }
    const end = offset + 4;
    if (end > message.length) return;
    const template = this.templates.get(message.toString('latin1', 12, end).toLowerCase());
    this.at.push(Date.now());
    this.keys.push(template);
    const answers = template?.answers;
    const reply = Buffer.allocUnsafe(end + (answers?.length ?? 0));
    message.copy(reply, 0, 0, 2); // id
    const rd = message.readUInt16BE(2) & FLAG_RD;
    reply.writeUInt16BE(FLAG_QR | FLAG_AA | rd | (template ? 0 : RCODE_NXDOMAIN), 2);
    reply.writeUInt16BE(1, 4);
    reply.writeUInt16BE(template?.ancount ?? 0, 6);
    reply.writeUInt32BE(0, 8); // nscount, arcount
    message.copy(reply, 12, 12, end);
    answers?.copy(reply, end);
    this.socket.send(reply, remote.port, remote.address);
  }
}

function matches(name: string, type: string, filter: QueryFilter | undefined): boolean {
  if (!filter) return true;
  if (filter.name !== undefined && name !== filter.name.toLowerCase().replace(/\.$/, '')) return false;
  if (filter.type !== undefined && type.toUpperCase() !== filter.type.toUpperCase()) return false;
  return true;
}

async function main(): Promise<void> {
  if (typeof process.send !== 'function') {
    throw new Error('dns-server-process.ts must be started with an IPC channel (child_process.fork)');
  }
  const send = process.send.bind(process);
  const mode = arg('mode', 'full') === 'fast' ? 'fast' : 'full';
  const host = arg('host', '127.0.0.1');
  const port = Number(arg('port', '0'));
  const backend: Backend = mode === 'fast' ? await FastBackend.start(host, port) : await FullBackend.start(host, port);
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= backend.close().then(() => process.disconnect?.());
    return closing;
  };
  process.on('disconnect', () => void close());
  process.on('message', (request: DnsChildRequest) => {
    const reply = (result: unknown): void => void send({ type: 'reply', id: request.id, ok: true, result } satisfies DnsChildMessage);
    try {
      switch (request.cmd) {
        case 'set':
          backend.set(request.records);
          reply(null);
          return;
        case 'count': {
          let n = 0;
          backend.forEachQuery((_at, name, type) => {
            if (matches(name, type, request.filter)) n++;
          });
          reply(n);
          return;
        }
        case 'windows': {
          const count = Math.max(1, Math.ceil((request.to - request.from) / request.windowMs));
          const windows = new Array<number>(count).fill(0);
          backend.forEachQuery((at, name, type) => {
            if (at < request.from || at >= request.to || !matches(name, type, request.filter)) return;
            const index = Math.floor((at - request.from) / request.windowMs);
            windows[index] = (windows[index] ?? 0) + 1;
          });
          reply(windows);
          return;
        }
        case 'gaps': {
          // Computed here, so 10,000 names' timestamps never cross the IPC channel.
          const last = new Map<string, number>();
          const gaps: number[] = [];
          let queries = 0;
          backend.forEachQuery((at, name, type) => {
            if (at < request.from || at >= request.to || !matches(name, type, request.filter)) return;
            queries++;
            const key = `${name} ${type}`;
            const previous = last.get(key);
            if (previous !== undefined) gaps.push(at - previous);
            last.set(key, at);
          });
          reply({ queries, names: last.size, gaps: gaps.sort((a, b) => a - b) } satisfies GapsResult);
          return;
        }
        case 'delay':
          backend.delay(request.ms);
          reply(null);
          return;
        case 'reset':
          backend.reset();
          reply(null);
          return;
        case 'close':
          // Answer first; the channel closes after the sockets.
          reply(null);
          void close();
          return;
      }
    } catch (error) {
      send({ type: 'reply', id: request.id, ok: false, error: String((error as Error)?.stack ?? error) } satisfies DnsChildMessage);
    }
  });
  send({ type: 'ready', host, port: backend.port, mode } satisfies DnsChildMessage);
}

main().catch((error: unknown) => {
  console.error(`dns-server-process: ${String((error as Error)?.stack ?? error)}`);
  process.exitCode = 1;
  process.disconnect?.();
});
