import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { register, unregister } from '../src/index.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { PodFleet, createPodClient, type Pod, type PodClient } from '../harness/pods.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { verboseLog } from '../harness/verbose.js';
import { escapeRegExp } from '../harness/within.js';

/**
 * Pod rotation end to end: real grpc-js servers on 127.0.0.x behind a real
 * DNS server on loopback, one client on grpc-dns-watch and one on grpc-js's
 * built-in resolver, side by side in the same run.
 *
 * The built-in runs in its c-ares mode (GRPC_NODE_USE_ALTERNATIVE_RESOLVER,
 * set in vitest.config.ts) with the test server as its `dns://` authority:
 * its default getaddrinfo path would ask the machine's own nameserver. Both
 * modes share the trait under test: no polling, and re-resolution only when
 * the channel asks, at most every 30 s.
 */

const NAME = 'svc.rotation.test';
const INTERVAL = 300;
/**
 * How long past one interval a change may take to reach traffic (a poll, a
 * connect, a pick): generous, because a loaded machine slows all three. The
 * contrast is the built-in resolver, which takes 30 s or never gets there.
 */
const MARGIN = 5_000;

let dns: DnsTestServer;
let fleet: PodFleet;
const clients: PodClient[] = [];

function publish(pods: readonly Pod[]): void {
  dns.setRecords(NAME, { A: pods.map((pod) => pod.host), ttl: 30 });
}

function ours(): PodClient {
  const client = createPodClient(`dns-watch:///${NAME}:${fleet.port}`);
  clients.push(client);
  return client;
}

function builtin(): PodClient {
  const client = createPodClient(`dns://${dns.address}/${NAME}:${fleet.port}`);
  clients.push(client);
  return client;
}

/** One client on each resolver, both already sending to every pod in `pods`. */
async function sideBySide(pods: readonly Pod[]): Promise<{ watched: PodClient; stock: PodClient }> {
  const watched = ours();
  const stock = builtin();
  await watched.waitUntil((byPod) => reached(byPod, pods));
  await stock.waitUntil((byPod) => reached(byPod, pods));
  return { watched, stock };
}

const reached = (byPod: Map<string, number>, pods: readonly Pod[]) => pods.every((pod) => (byPod.get(pod.host) ?? 0) > 0);
const servedBy = (byPod: Map<string, number>, pods: readonly Pod[]) => pods.reduce((sum, pod) => sum + (byPod.get(pod.host) ?? 0), 0);

/** Wait until the test server has seen `more` further A queries for NAME: proof that polls happened. */
async function polls(more: number): Promise<void> {
  const seen = dns.countQueries({ name: NAME, type: 'A' });
  await dns.waitForQueries(seen + more, { name: NAME, type: 'A' }, (more + 2) * INTERVAL * 3);
}

const fixture = dnsServerForFile({ resolvConf: 'options ndots:1 timeout:1 attempts:1', label: 'rotation' });

beforeAll(() => {
  const { server, resolvConfPath } = fixture;
  dns = server;
  register({
    replaceBuiltin: false,
    refreshInterval: INTERVAL,
    jitter: 0.1,
    family: 4,
    resolvConfPath,
    hostsPath: false,
    timeout: 250,
    backoff: { initial: 100, max: 400, multiplier: 2 },
  });
});

afterAll(() => {
  unregister();
});

beforeEach(async () => {
  dns.clearRecords();
  dns.setFault(null);
  dns.resetLog();
  fleet = await PodFleet.create();
});

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await fleet.close();
});

describe('pod rotation: grpc-dns-watch vs the built-in resolver', () => {
  it('scale-up: new pods get round_robin traffic after a poll; the built-in never sends them any', async () => {
    const old = await fleet.add(2);
    publish(old);
    const { watched, stock } = await sideBySide(old);

    const added = await fleet.add(2);
    publish([...old, ...added]);
    const elapsed = await watched.waitUntil((byPod) => reached(byPod, added), { timeoutMs: INTERVAL + MARGIN });
    verboseLog(`scale-up: new pods reached after ${Math.round(elapsed)} ms`);

    // Give the built-in many intervals' worth of RPCs: it still never asks DNS again.
    const after = await stock.burst(200, { concurrency: 4 });
    await polls(3);
    const later = await stock.burst(200, { concurrency: 4 });
    expect(after.failed + later.failed).toBe(0);
    expect(servedBy(after.byPod, added) + servedBy(later.byPod, added)).toBe(0);
  });

  it('rolling update with graceful termination: zero failed RPCs; the built-in is left with no pods', async () => {
    const old = await fleet.add(2);
    publish(old);
    const { watched, stock } = await sideBySide(old);
    const watchedLoad = watched.startLoad({ intervalMs: 5, maxMs: 30_000 });
    const stockLoad = stock.startLoad({ intervalMs: 5, maxMs: 30_000 });

    const current = [...old];
    for (const leaving of old) {
      const [arriving] = await fleet.add(1);
      current.push(arriving!);
      publish(current);
      // Kubernetes removes the endpoint, then the pod drains during its grace period.
      current.splice(current.indexOf(leaving), 1);
      publish(current);
      await polls(2);
      await leaving.stopGracefully();
    }
    await polls(2);
    const watchedReport = await watchedLoad.stop();
    const stockReport = await stockLoad.stop();
    expect(watchedReport.failed, watchedReport.errors.join('\n')).toBe(0);
    expect(reached(watchedReport.byPod, current)).toBe(true);
    // The built-in cannot know the new pods yet: every RPC after the last old pod left failed.
    expect(stockReport.failed).toBeGreaterThan(0);
    expect(servedBy(stockReport.byPod, current)).toBe(0);
  });

  it('hard kill while DNS still lists the pod: recovery, no lasting failures', async () => {
    const pods = await fleet.add(3);
    publish(pods);
    const { watched, stock } = await sideBySide(pods);
    const load = watched.startLoad({ intervalMs: 5, maxMs: 30_000 });
    const stockLoad = stock.startLoad({ intervalMs: 5, maxMs: 30_000 });
    const [victim, ...survivors] = pods as [Pod, ...Pod[]];
    victim.kill();
    await polls(2); // DNS still lists the dead pod for a while
    publish(survivors);
    await polls(2);
    const during = await load.stop();
    const stockDuring = await stockLoad.stop();
    // RPCs in flight on the killed connection may fail; round_robin routes around it at once.
    expect(during.failed).toBeLessThanOrEqual(5);
    const after = await watched.burst(100, { concurrency: 4 });
    expect(after.failed).toBe(0);
    expect(reached(after.byPod, survivors)).toBe(true);
    // No difference here, and the test says so: round_robin routes around a reset
    // connection whatever the resolver does, so the built-in recovers as well.
    expect(stockDuring.failed).toBeLessThanOrEqual(5);
    expect((await stock.burst(100, { concurrency: 4 })).failed).toBe(0);
  });

  it('all pods replaced: traffic moves entirely to the new set; the built-in fails', async () => {
    const old = await fleet.add(2);
    publish(old);
    const { watched, stock } = await sideBySide(old);

    const replacement = await fleet.add(2);
    publish(replacement);
    await watched.waitUntil((byPod) => servedBy(byPod, old) === 0 && reached(byPod, replacement), { timeoutMs: INTERVAL + MARGIN });
    await Promise.all(old.map((pod) => pod.stopGracefully()));

    const watchedAfter = await watched.burst(100, { concurrency: 4 });
    expect(watchedAfter.failed).toBe(0);
    expect(servedBy(watchedAfter.byPod, replacement)).toBe(100);
    const stockAfter = await stock.burst(50, { concurrency: 4, deadlineMs: 500 });
    expect(stockAfter.failed).toBe(50);
  });

  it('DNS outage in steady state: no failed RPCs; rotation resumes when DNS returns', async () => {
    const pods = await fleet.add(2);
    publish(pods);
    const { watched, stock } = await sideBySide(pods);
    const load = watched.startLoad({ intervalMs: 5, maxMs: 30_000 });
    dns.setFault('drop');
    await polls(3); // three polls into the outage (each times out, then backs off)
    const [added] = await fleet.add(1);
    publish([...pods, added!]); // changed while DNS is unreachable: nobody can see it yet
    const during = load.snapshot();
    expect(during.failed).toBe(0);
    expect(servedBy(during.byPod, [added!])).toBe(0);
    dns.setFault(null);
    const report = await load.stop();
    expect(report.failed).toBe(0);
    await watched.waitUntil((byPod) => reached(byPod, [...pods, added!]), { timeoutMs: 400 + INTERVAL + MARGIN });
    // The built-in never asked during the outage and does not ask after it either.
    await polls(2);
    const stockAfter = await stock.burst(100, { concurrency: 4 });
    expect(stockAfter.failed).toBe(0);
    expect(servedBy(stockAfter.byPod, [added!])).toBe(0);
  });

  it('NXDOMAIN first: UNAVAILABLE naming the target; recovery after a poll once the records appear', async () => {
    const watched = ours();
    const error = await watched.whoAmI(2_000).then(
      () => null,
      (failure: { code: number; details: string }) => failure,
    );
    expect(error?.code).toBe(14); // UNAVAILABLE
    expect(error?.details).toMatch(new RegExp(`No addresses for dns-watch:///${escapeRegExp(NAME)}`));

    const stock = builtin();
    const stockError = await stock.whoAmI(2_000).then(
      () => null,
      (failure: { code: number }) => failure,
    );
    expect(stockError?.code).toBe(14);

    const pods = await fleet.add(2);
    publish(pods);
    const started = Date.now();
    await watched.waitUntil((byPod) => reached(byPod, pods), { timeoutMs: INTERVAL + MARGIN });
    const ourRecovery = Date.now() - started;
    // The built-in recovers through its own backoff (1 s, growing); how soon is
    // printed, not asserted: it depends on where its backoff stands.
    const stockStarted = Date.now();
    const stockRecovered = await stock.waitUntil((byPod) => reached(byPod, pods), { timeoutMs: 5_000 }).then(
      () => `${Date.now() - stockStarted} ms`,
      () => 'not within 5 s',
    );
    verboseLog(`NXDOMAIN recovery: grpc-dns-watch ${ourRecovery} ms; built-in ${stockRecovered}`);
  });

  it('50 channels to one target: one query per interval per family, counted at the server', async () => {
    const pods = await fleet.add(2);
    publish(pods);
    const channels = Array.from({ length: 50 }, () => ours());
    await Promise.all(channels.map((channel) => channel.waitUntil((byPod) => reached(byPod, pods))));
    dns.resetLog();
    const started = Date.now();
    await dns.waitForQueries(5, { name: NAME, type: 'A' }, 10 * INTERVAL);
    const elapsed = Date.now() - started;
    // ±10 % jitter: at most one extra query in this window, never one per channel.
    expect(dns.countQueries({ name: NAME, type: 'A' })).toBeLessThanOrEqual(Math.ceil(elapsed / (INTERVAL * 0.9)) + 1);

    const stockChannels = Array.from({ length: 50 }, () => builtin());
    dns.resetLog();
    await Promise.all(stockChannels.map((channel) => channel.waitUntil((byPod) => reached(byPod, pods))));
    // The built-in resolves once per channel.
    expect(dns.countQueries({ name: NAME, type: 'A' })).toBeGreaterThanOrEqual(50);
  });
});
