/**
 * Small helpers shared by the stub-resolver tests (test/dns-client.test.ts,
 * test/lookup.test.ts, test/dnsmasq.lookup.test.ts): active handle counting,
 * dead ports, a TCP listener on a DnsTestServer's port, and the addresses of
 * a reply. The scripted responder is harness/scripted-dns.ts.
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import { expect } from 'vitest';
import { DnsError, type DnsErrorCode } from '../src/dns/errors.js';
import type { DnsReply } from '../src/dns/types.js';
import { bindUdp, closeUdp } from './udp-sockets.js';
import { waitUntil } from './wait.js';

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

/**
 * UDP sockets this process holds a descriptor for (Linux: /proc/self/fd
 * matched against /proc/net/udp and udp6). A closing socket's handle stays
 * among the active resources until its callback, but its descriptor is
 * released at close(): what a socket bound is about.
 */
export function udpDescriptorCount(): number {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 in this kernel
    }
    // Columns: sl local remote st tx:rx tr:when retrnsmt uid timeout inode …
    for (const line of text.split('\n').slice(1)) {
      const inode = line.trim().split(/\s+/)[9];
      if (inode) inodes.add(inode);
    }
  }
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    let target = '';
    try {
      target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      continue; // closed meanwhile (the readdir's own descriptor)
    }
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode !== undefined && inodes.has(inode)) count++;
  }
  return count;
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
  const socket = await bindUdp(host, 0);
  const { port } = socket.address();
  await closeUdp(socket);
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

/** The A and AAAA addresses of a reply, sorted. */
export function addressesOf(reply: DnsReply): string[] {
  return reply.answers.flatMap((answer) => (answer.type === 'A' || answer.type === 'AAAA' ? [answer.data] : [])).sort();
}
