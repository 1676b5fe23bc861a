/**
 * harness/nft-loss.ts: kernel packet loss with nftables. The rules are tried
 * for real in a child process inside `unshare --net` (its own loopback, its
 * own nftables), and never outside one.
 */
import { execFile, spawnSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { applyPacketLoss, clearPacketLoss, nftablesUnavailable, notInPrivateNetns, packetLossRuleset } from '../harness/nft-loss.js';

const run = promisify(execFile);
const probe = path.join(import.meta.dirname, 'fixtures', 'nft-loss-probe.ts');

function namespaceUnavailable(): string | null {
  const nft = nftablesUnavailable();
  if (nft) return nft;
  const tried = spawnSync('unshare', ['--net', 'sh', '-c', 'ip link set lo up && nft list ruleset'], { stdio: 'ignore', timeout: 10_000 });
  return tried.error || tried.status !== 0 ? `unshare --net with nft failed (${tried.error?.message ?? `exit ${tried.status}`}); needs root and util-linux` : null;
}

const unavailable = namespaceUnavailable();
if (unavailable) console.warn(`nft-loss.support.test: the namespace run is skipped: ${unavailable}`);

describe('harness/nft-loss', () => {
  it('writes one table whose rules drop the given share of queries and/or replies, and blackholes', () => {
    const text = packetLossRuleset({ server: { host: '127.0.0.1' }, percent: 5, blackholes: ['127.0.0.99', '::2'] });
    expect(text).toContain('ip daddr 127.0.0.1 udp dport 53 numgen random mod 100 < 5 counter name "queries_dropped" drop');
    expect(text).toContain('ip saddr 127.0.0.1 udp sport 53 numgen random mod 100 < 5 counter name "replies_dropped" drop');
    expect(text).toContain('ip daddr 127.0.0.99 counter name "blackholed" drop');
    expect(text).toContain('ip6 daddr ::2 counter name "blackholed" drop');
    const queriesOnly = packetLossRuleset({ server: { host: '::1', port: 5353 }, percent: 20, direction: 'queries' });
    expect(queriesOnly).toContain('ip6 daddr ::1 udp dport 5353 numgen random mod 100 < 20');
    expect(queriesOnly).not.toContain('"replies_dropped" drop');
    expect(packetLossRuleset({ server: { host: '127.0.0.1' }, percent: 0 })).not.toContain('numgen');
  });

  it('rejects bad rules with an error naming the field', () => {
    expect(() => packetLossRuleset({ server: { host: '127.0.0.1' }, percent: 2.5 })).toThrow(/percent must be an integer from 0 to 100, got 2.5/);
    expect(() => packetLossRuleset({ server: { host: 'localhost' }, percent: 1 })).toThrow(/expected an IP literal, got "localhost"/);
    expect(() => packetLossRuleset({ server: { host: '127.0.0.1', port: 0 }, percent: 1 })).toThrow(/server.port/);
    expect(() => packetLossRuleset({ server: { host: '127.0.0.1' }, percent: 1, direction: 'up' as never })).toThrow(/direction/);
  });

  // Only where this test process is in the machine's own namespace: there the rules must never be applied.
  it.skipIf(notInPrivateNetns() === null)('refuses to touch nftables outside a private network namespace', () => {
    expect(() => applyPacketLoss({ server: { host: '127.0.0.1' }, percent: 100 })).toThrow(/refusing to change nftables rules/);
    expect(() => clearPacketLoss()).toThrow(/refusing/);
  });

  it.skipIf(unavailable !== null)('inside unshare --net: drops what the rules say, silently, counts it, and passes everything once cleared', async () => {
    const { stdout } = await run('unshare', ['--net', '--', 'sh', '-c', 'ip link set lo up && exec "$@"', 'sh', process.execPath, '--import', 'tsx', probe], {
      timeout: 60_000,
    });
    type Case = { sent: number; atServer: number; echoed: number; senderErrors: number; counters: { queries: { packets: number; dropped: number }; replies: { packets: number; dropped: number }; blackholed: number } };
    const results = JSON.parse(stdout) as Record<'none' | 'allQueries' | 'allReplies' | 'thirtyBoth' | 'blackhole' | 'cleared', Case>;
    expect(results.none).toMatchObject({ atServer: 200, echoed: 200, counters: { queries: { packets: 200, dropped: 0 }, replies: { packets: 200, dropped: 0 } } });
    expect(results.allQueries).toMatchObject({ atServer: 0, echoed: 0, counters: { queries: { packets: 200, dropped: 200 }, replies: { packets: 0 } } });
    expect(results.allReplies).toMatchObject({ atServer: 200, echoed: 0, counters: { replies: { packets: 200, dropped: 200 } } });
    // 30 % each way: 0.7 × 0.7 = 49 % come back; over 200 datagrams, 30–70 % is more than six standard deviations wide.
    const both = results.thirtyBoth;
    expect(both.echoed / both.sent).toBeGreaterThan(0.3);
    expect(both.echoed / both.sent).toBeLessThan(0.7);
    expect(both.counters.queries.dropped + both.atServer).toBe(200);
    expect(both.counters.replies.dropped + both.echoed).toBe(both.atServer);
    expect(results.blackhole).toMatchObject({ atServer: 0, echoed: 0, counters: { blackholed: 200 } });
    expect(results.cleared).toMatchObject({ atServer: 200, echoed: 200 });
    // Lost on arrival, silently: no EPERM from sendmsg (as a drop on the way out gives), no ICMP error from the blackhole.
    for (const result of Object.values(results)) expect(result.senderErrors).toBe(0);
  });
});
