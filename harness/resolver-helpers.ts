/**
 * Small helpers shared by the stub-resolver tests (test/dns-client.test.ts,
 * test/lookup.test.ts, test/dnsmasq.lookup.test.ts): active handle counting,
 * dead ports, a TCP listener on a DnsTestServer's port, and a scripted UDP
 * responder for behaviours DnsTestServer cannot express (a fault
 * on one record type only).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { expect } from 'vitest';
import { DnsError, type DnsErrorCode } from '../src/dns/errors.js';
import { waitUntil } from './wait.js';

// Bounded polling lives in ./wait.ts; still importable from here.
export { waitUntil };

export interface HandleCounts {
  udp: number;
  tcp: number;
  timeout: number;
}

/** Ref'ed UDP sockets, TCP sockets and timers keeping the process alive right now. */
export function activeHandleCounts(): HandleCounts {
  const counts: HandleCounts = { udp: 0, tcp: 0, timeout: 0 };
  for (const name of process.getActiveResourcesInfo()) {
    if (/^UDP/i.test(name)) counts.udp++;
    else if (/^TCP/i.test(name)) counts.tcp++;
    else if (name === 'Timeout') counts.timeout++;
  }
  return counts;
}

/** Wait (bounded) until no more UDP/TCP handles or timers are active than in `baseline`. */
export async function waitForHandlesAtMost(baseline: HandleCounts, timeoutMs = 2_000): Promise<void> {
  let last = activeHandleCounts();
  try {
    await waitUntil(
      () => {
        last = activeHandleCounts();
        return last.udp <= baseline.udp && last.tcp <= baseline.tcp && last.timeout <= baseline.timeout;
      },
      'the resolver released its handles',
      timeoutMs,
    );
  } catch {
    throw new Error(
      `handles still active after ${timeoutMs} ms: now ${JSON.stringify(last)}, before ${JSON.stringify(baseline)} ` +
        `(${process.getActiveResourcesInfo().join(', ')})`,
    );
  }
}

/** A UDP port on `host` that nothing listens on (bound, then released). */
export async function unusedUdpPort(host = '127.0.0.1'): Promise<number> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(0, host, () => resolve());
  });
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/**
 * Listen on TCP `host:port` (e.g. the port of a UDP-only DnsTestServer) with
 * `onConnection`; the returned `close()` also destroys open connections.
 */
export async function listenTcpOn(
  host: string,
  port: number,
  onConnection: (socket: net.Socket) => void,
): Promise<{ server: net.Server; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    onConnection(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, exclusive: true }, () => resolve());
  });
  const close = (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(() => resolve()));
  };
  return { server, close };
}

/** Await `promise`, expect it to reject with a DnsError of `code`, and return that error. */
export async function expectDnsError(promise: Promise<unknown>, code: DnsErrorCode): Promise<DnsError> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(DnsError);
    expect((error as DnsError).code, (error as Error).message).toBe(code);
    return error as DnsError;
  }
  throw new Error(`expected a DnsError ${code}, but it resolved with ${JSON.stringify(outcome)}`);
}

/** What a scripted responder does with one query: a reply packet to send, or null to stay silent. */
export type ScriptedAnswer = { rcode?: number; answers?: dnsPacket.Answer[] } | null;

export interface ScriptedQuery {
  name: string;
  type: string;
  id: number;
  sourcePort: number;
}

/**
 * A UDP-only DNS responder driven by a function, for per-type behaviour: the
 * reply echoes the id and question of the query, as a well-behaved server does.
 */
export class ScriptedDnsServer {
  readonly queries: ScriptedQuery[] = [];

  private constructor(
    private readonly socket: dgram.Socket,
    readonly host: string,
    readonly port: number,
  ) {}

  static async start(script: (query: ScriptedQuery) => ScriptedAnswer, host = '127.0.0.1'): Promise<ScriptedDnsServer> {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => resolve());
    });
    socket.on('error', () => undefined);
    const server = new ScriptedDnsServer(socket, host, socket.address().port);
    socket.on('message', (message, remote) => {
      let query: dnsPacket.DecodedPacket;
      try {
        query = dnsPacket.decode(message);
      } catch {
        return;
      }
      const question = query.questions?.[0];
      if (!question || query.flag_qr) return;
      const entry = { name: question.name, type: String(question.type), id: query.id ?? 0, sourcePort: remote.port };
      server.queries.push(entry);
      const answer = script(entry);
      if (!answer) return;
      const reply = dnsPacket.encode({
        type: 'response',
        id: query.id ?? 0,
        flags: dnsPacket.AUTHORITATIVE_ANSWER | ((answer.rcode ?? 0) & 0xf),
        questions: [question],
        answers: answer.answers ?? [],
      });
      socket.send(reply, remote.port, remote.address);
    });
    return server;
  }

  get nameserver(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      try {
        this.socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }
}
