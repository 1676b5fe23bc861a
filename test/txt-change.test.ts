/**
 * A changed TXT record reaches the channels of a shared watcher, end to end
 * through the registry, the poller, StubResolver and DnsClient against the
 * in-process DNS server, on a clock the test moves forward (real sockets and
 * timers, `now()` shifted): the first answer brings the records, polls within
 * the minute ask no TXT, the first poll a minute on brings the changed
 * records as an update with the same addresses, and each channel's grpc-js
 * chooses its config from them. A TXT query that fails changes nothing and
 * the addresses keep flowing. Counted at the server.
 */
import { describe, expect, it } from 'vitest';
import { selectTxtServiceConfig } from '../src/grpc/txt-service-config.js';
import { resolveOptions } from '../src/watch/options.js';
import { PollTimers } from '../src/watch/poll-timers.js';
import { Registry } from '../src/watch/registry.js';
import type { Delivery } from '../src/watch/subscribers.js';
import { TXT_INTERVAL_MS } from '../src/watch/txt-records.js';
import { GRPC_VERSIONS, loadGrpc } from '../harness/grpc-versions.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { shiftedTimers } from '../harness/shifted-timers.js';
import { waitUntil } from '../harness/wait.js';

const NAME = 'txt-change.test';
const ROUND_ROBIN = 'grpc_config=[{"serviceConfig":{"loadBalancingConfig":[{"round_robin":{}}]}}]';
const PICK_FIRST = 'grpc_config=[{"serviceConfig":{"loadBalancingConfig":[{"pick_first":{}}]}}]';

const setup = dnsServerForFile({ label: 'txt-change' });

/**
 * The load-balancing policy a channel's grpc-js chooses from a delivery's TXT
 * records (the newest grpc-js unless given): a name in 1.10+, a config object
 * that tells its name in 1.8.
 */
function policyChosen(delivery: Delivery | undefined, grpc: object = loadGrpc('@grpc/grpc-js')): string | undefined {
  const answer = delivery?.serviceConfig;
  if (answer?.kind !== 'txt') return undefined;
  const config = selectTxtServiceConfig(answer.records, { percentage: 0, grpc }) as { loadBalancingConfig?: unknown[] } | null;
  const first = config?.loadBalancingConfig?.[0] as { getLoadBalancerName?: () => string } | undefined;
  if (!first) return undefined;
  return typeof first.getLoadBalancerName === 'function' ? first.getLoadBalancerName() : Object.keys(first)[0];
}

describe('a changed TXT record', () => {
  it('reaches the channels at the first poll a minute on, not before; a failed TXT query changes nothing', async () => {
    setup.server.setRecords(NAME, { A: ['10.0.0.1'], TXT: [ROUND_ROBIN] });
    // The first TXT reply comes 200 ms late: the addresses must not wait for it.
    setup.server.setFault({ delayMs: 200 }, { name: NAME, type: 'TXT', count: 1 });
    const timers = shiftedTimers();
    const registry = new Registry(new PollTimers(timers));
    const options = resolveOptions({ refreshInterval: 200, jitter: 0, family: 4, resolvConfPath: setup.resolvConfPath, hostsPath: false });
    const channel: Delivery[] = [];
    const handle: Delivery[] = [];
    const subscription = registry.subscribe(NAME, options, (delivery) => channel.push(delivery), true);
    const watching = registry.subscribe(NAME, options, (delivery) => handle.push(delivery));
    const txtQueries = () => setup.server.countQueries({ name: NAME, type: 'TXT' });
    try {
      await waitUntil(() => policyChosen(channel.at(-1)) === 'round_robin', 'the first config', 5_000);
      expect(txtQueries()).toBe(1);
      // The addresses went out first, not held back by the TXT query; the config followed with the same list.
      expect(channel.map((delivery) => [delivery.kind, delivery.added])).toEqual([
        ['update', ['10.0.0.1']],
        ['update', []],
      ]);
      expect(channel[0]!.serviceConfig).toBeUndefined();

      // Changed now, but within the minute no poll asks TXT again.
      setup.server.setRecords(NAME, { A: ['10.0.0.1'], TXT: [PICK_FIRST] });
      const polled = subscription.stats().queries;
      await waitUntil(() => subscription.stats().queries >= polled + 5, 'five more polls', 5_000);
      expect(txtQueries()).toBe(1);
      expect(channel).toHaveLength(2);

      // A minute on: the next poll asks, and the change alone is an update with the same addresses.
      timers.advance(TXT_INTERVAL_MS);
      await waitUntil(() => channel.length === 3, 'the changed config', 5_000);
      expect(channel[2]).toMatchObject({ kind: 'update', added: [], removed: [] });
      for (const version of GRPC_VERSIONS) expect(policyChosen(channel[2], loadGrpc(version)), version).toBe('pick_first');
      expect(txtQueries()).toBe(2);
      // A watch() handle hears of addresses only: the config change was no news to it.
      expect(handle).toHaveLength(1);

      // TXT failing a minute later: no config news, and a changed address set still arrives.
      setup.server.setFault('servfail', { name: NAME, type: 'TXT' });
      timers.advance(TXT_INTERVAL_MS);
      const asked = txtQueries();
      await waitUntil(() => txtQueries() > asked, 'the next TXT query', 5_000);
      setup.server.setRecords(NAME, { A: ['10.0.0.2'], TXT: [ROUND_ROBIN] });
      await waitUntil(() => channel.some((delivery) => delivery.kind === 'update' && delivery.added.includes('10.0.0.2')), 'the new address', 5_000);
      expect(policyChosen(channel.at(-1))).toBe('pick_first');
    } finally {
      subscription.close();
      watching.close();
      setup.server.setFault(null);
    }
  }, 30_000);

  it('a first channel on a watcher only watch() used asks TXT at a poll now, not an interval later', async () => {
    const name = 'txt-join.test';
    setup.server.setRecords(name, { A: ['10.0.0.1'], TXT: [ROUND_ROBIN] });
    const registry = new Registry(new PollTimers(shiftedTimers()));
    // An interval far longer than the test: only the channel's arrival can make the watcher poll again.
    const options = resolveOptions({ refreshInterval: 600_000, family: 4, resolvConfPath: setup.resolvConfPath, hostsPath: false });
    const handle: Delivery[] = [];
    const watching = registry.subscribe(name, options, (delivery) => handle.push(delivery));
    const channel: Delivery[] = [];
    let subscription: ReturnType<Registry['subscribe']> | undefined;
    try {
      await waitUntil(() => handle.length === 1, 'the first answer', 5_000);
      expect(setup.server.countQueries({ name, type: 'TXT' })).toBe(0);
      subscription = registry.subscribe(name, options, (delivery) => channel.push(delivery), true);
      await waitUntil(() => policyChosen(channel.at(-1)) === 'round_robin', 'the config', 5_000);
      expect(setup.server.countQueries({ name, type: 'TXT' })).toBe(1);
      expect(handle).toHaveLength(1);
    } finally {
      subscription?.close();
      watching.close();
    }
  });
});
