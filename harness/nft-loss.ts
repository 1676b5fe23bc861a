/**
 * Kernel packet loss for DNS traffic on loopback, with nftables, inside a
 * private network namespace (`unshare --net`): netem is not in this kernel.
 *
 * One table (`inet grpc_dns_watch_loss`) with one input chain: a given
 * percentage of UDP queries to a DNS server and/or of its replies is dropped
 * (`numgen random mod 100 < N drop`), and "blackhole" addresses swallow every
 * packet sent to them — a dead nameserver that never answers, not even with
 * ICMP, so the asker waits out its timeout. Named counters say how many
 * datagrams passed the rules and how many were dropped.
 *
 * The input hook, not output: a packet dropped on its way out fails the
 * sender's sendmsg() with EPERM, which a resolver sees at once and acts on;
 * dropped on arrival it is lost silently, as on a real network.
 *
 * Every function refuses to run unless this process is in a network
 * namespace of its own (not init's, and only `lo` in it): the rules must
 * never reach the machine's own firewall.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';

const TABLE = 'grpc_dns_watch_loss';
const COUNTERS = ['queries_seen', 'queries_dropped', 'replies_seen', 'replies_dropped', 'blackholed'] as const;
type CounterName = (typeof COUNTERS)[number];

export type LossDirection = 'queries' | 'replies' | 'both';

export interface PacketLossRules {
  /** The DNS server whose UDP traffic loses datagrams: queries to it, replies from it. Port default 53. */
  server: { host: string; port?: number };
  /** Percentage (integer 0..100) of datagrams dropped in each direction the rules cover. */
  percent: number;
  /** Default 'both': queries and replies each lose `percent` of their own. */
  direction?: LossDirection;
  /** Addresses that swallow every packet sent to them (dead nameservers). */
  blackholes?: readonly string[];
}

export interface PacketLossCounters {
  queries: { packets: number; dropped: number };
  replies: { packets: number; dropped: number };
  /** Packets swallowed by the blackhole addresses. */
  blackholed: number;
}

/** Why nftables cannot be used here, or null when it can. */
export function nftablesUnavailable(): string | null {
  if (process.platform !== 'linux') return 'nftables needs Linux';
  const probe = spawnSync('nft', ['--version'], { encoding: 'utf8', timeout: 5_000 });
  if (probe.error || probe.status !== 0) return `nft is not installed (apt-get install nftables): ${probe.error?.message ?? probe.stderr.trim()}`;
  return null;
}

/** Why this process is not in a private network namespace, or null when it is. */
export function notInPrivateNetns(): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  try {
    if (fs.readlinkSync('/proc/self/ns/net') === fs.readlinkSync('/proc/1/ns/net')) return 'this process shares the network namespace of PID 1 (run it under unshare --net)';
  } catch {
    // /proc/1 not readable (not root): the interface check below still applies.
  }
  const interfaces = Object.keys(os.networkInterfaces());
  if (interfaces.some((name) => name !== 'lo')) return `network interfaces other than lo are present (${interfaces.join(', ')}); run under unshare --net`;
  return null;
}

function assertUsable(): void {
  const why = notInPrivateNetns() ?? nftablesUnavailable();
  if (why) throw new Error(`refusing to change nftables rules: ${why}`);
}

function nft(args: readonly string[], input?: string): string {
  const result = spawnSync('nft', args, { input, encoding: 'utf8', timeout: 10_000 });
  if (result.error || result.status !== 0) {
    throw new Error(`nft ${args.join(' ')} failed: ${result.error?.message ?? result.stderr.trim()}${input ? `\n${input}` : ''}`);
  }
  return result.stdout;
}

function ipMatch(address: string, side: 'saddr' | 'daddr'): string {
  const family = net.isIPv6(address) ? 'ip6' : net.isIPv4(address) ? 'ip' : undefined;
  if (!family) throw new TypeError(`expected an IP literal, got ${JSON.stringify(address)}`);
  return `${family} ${side} ${address}`;
}

/** The ruleset text for `rules` (exported for tests of the text itself). */
export function packetLossRuleset(rules: PacketLossRules): string {
  const { percent } = rules;
  if (!Number.isInteger(percent) || percent < 0 || percent > 100) throw new TypeError(`percent must be an integer from 0 to 100, got ${String(percent)}`);
  const direction = rules.direction ?? 'both';
  if (direction !== 'queries' && direction !== 'replies' && direction !== 'both') {
    throw new TypeError(`direction must be 'queries', 'replies' or 'both', got ${JSON.stringify(direction)}`);
  }
  const port = rules.server.port ?? 53;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`server.port must be 1..65535, got ${String(port)}`);
  const toServer = `${ipMatch(rules.server.host, 'daddr')} udp dport ${port}`;
  const fromServer = `${ipMatch(rules.server.host, 'saddr')} udp sport ${port}`;
  // numgen's range is 0..99: 100 % is a plain drop.
  const chance = percent === 100 ? '' : `numgen random mod 100 < ${percent} `;
  const lines = [...(rules.blackholes ?? []).map((address) => `${ipMatch(address, 'daddr')} counter name "blackholed" drop`)];
  lines.push(`${toServer} counter name "queries_seen"`);
  if (percent > 0 && direction !== 'replies') lines.push(`${toServer} ${chance}counter name "queries_dropped" drop`);
  lines.push(`${fromServer} counter name "replies_seen"`);
  if (percent > 0 && direction !== 'queries') lines.push(`${fromServer} ${chance}counter name "replies_dropped" drop`);
  // Add, delete, then define: one transaction that replaces the table whether or not it existed.
  return [
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    ...COUNTERS.map((name) => `  counter ${name} { }`),
    '  chain input {',
    '    type filter hook input priority filter; policy accept;',
    ...lines.map((line) => `    ${line}`),
    '  }',
    '}',
    '',
  ].join('\n');
}

/** Replace the loss rules (and zero the counters). */
export function applyPacketLoss(rules: PacketLossRules): void {
  const ruleset = packetLossRuleset(rules);
  assertUsable();
  nft(['-f', '-'], ruleset);
}

/** Remove the loss rules; nothing is dropped afterwards. */
export function clearPacketLoss(): void {
  assertUsable();
  nft(['-f', '-'], `table inet ${TABLE}\ndelete table inet ${TABLE}\n`);
}

/** Datagrams counted since the rules were applied. */
export function packetLossCounters(): PacketLossCounters {
  assertUsable();
  const parsed = JSON.parse(nft(['-j', 'list', 'counters', 'table', 'inet', TABLE])) as { nftables: Array<{ counter?: { name: string; packets: number } }> };
  const value = (name: CounterName): number => parsed.nftables.find((entry) => entry.counter?.name === name)?.counter?.packets ?? 0;
  return {
    queries: { packets: value('queries_seen'), dropped: value('queries_dropped') },
    replies: { packets: value('replies_seen'), dropped: value('replies_dropped') },
    blackholed: value('blackholed'),
  };
}
