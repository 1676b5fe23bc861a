/**
 * Where UDP datagrams were lost, from the kernel's own counters (Linux):
 * /proc/net/snmp `Udp: RcvbufErrors` (receive-buffer overflows, all sockets
 * of this network namespace) and the per-socket `drops` column of
 * /proc/net/udp{,6}, to tell the DNS server's socket from the clients'.
 */
import fs from 'node:fs';

export interface UdpCounters {
  /** Receive-buffer overflows, whole network namespace. */
  rcvbufErrors: number;
  /** Drops per local port of the sockets open now. */
  dropsByPort: Map<number, number>;
}

function read(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export function udpCounters(): UdpCounters | null {
  const snmp = read('/proc/net/snmp').split('\n').filter((line) => line.startsWith('Udp:'));
  if (snmp.length < 2) return null;
  const names = snmp[0]!.trim().split(/\s+/);
  const values = snmp[1]!.trim().split(/\s+/);
  const rcvbufErrors = Number(values[names.indexOf('RcvbufErrors')]);
  const dropsByPort = new Map<number, number>();
  for (const file of ['/proc/net/udp', '/proc/net/udp6']) {
    for (const line of read(file).split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length < 13) continue;
      const port = parseInt(fields[1]!.split(':')[1] ?? '', 16);
      const drops = Number(fields[fields.length - 1]);
      if (Number.isFinite(port) && Number.isFinite(drops)) dropsByPort.set(port, (dropsByPort.get(port) ?? 0) + drops);
    }
  }
  return { rcvbufErrors: Number.isFinite(rcvbufErrors) ? rcvbufErrors : 0, dropsByPort };
}

/** Datagrams lost between two readings: at the server's port, and everywhere else (the clients). */
export function dropsBetween(before: UdpCounters | null, after: UdpCounters | null, serverPort: number): { server: number; clients: number } | null {
  if (!before || !after) return null;
  const server = (after.dropsByPort.get(serverPort) ?? 0) - (before.dropsByPort.get(serverPort) ?? 0);
  const total = after.rcvbufErrors - before.rcvbufErrors;
  return { server, clients: Math.max(0, total - server) };
}
