/**
 * Issue 24, the channel half: an AAAA record added to an IPv4-only name
 * whose AAAA was demoted reaches a grpc-js channel (an RPC answered by the
 * server on ::1) within the stated bound, 60 s, at the demoted family's
 * next ask. A real dnsmasq, a real grpc-js channel (round_robin) and the
 * library's defaults (5 s, jitter 0.2).
 *
 * - In `npm test`: the channel's resolver (`createResolverClass` over
 *   `dnsTargets` of a registry of its own) polls on a clock the test steps
 *   from one scheduled timer to the next, its queries and the channel on the
 *   real clock: a minute of polling costs the round trips, not a minute.
 *   On a stepped clock the spacing of two polls is the delay the poller
 *   scheduled; what is asserted is those delays and the stepped time at
 *   which the address reached the channel (the clock stands still while the
 *   RPCs go out).
 * - In real time (about 80 s: test:stress runs it, with
 *   GRPC_DNS_WATCH_HEAVY=1), through `register()` and `watch()`, wall time
 *   only as a generous limit.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createResolverClass, dnsTargets } from '../src/grpc/resolver.js';
import type { GrpcModuleLike } from '../src/grpc/types.js';
import { observe, register, unregister, watch, type WatchEvent } from '../src/index.js';
import { DEMOTE_AFTER_POLLS, DEMOTED_BOUND_MS } from '../src/watch/family-demotion.js';
import { DEFAULTS, resolveOptions } from '../src/watch/options.js';
import { PollTimers } from '../src/watch/poll-timers.js';
import { Registry } from '../src/watch/registry.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { POD_SERVICE, Pod, createPodClient, podHost } from '../harness/pods.js';
import { steppedTimers } from '../harness/stepped-timers.js';

const NAME = 'grows.ns.svc.cluster.local';
const V4 = podHost(41);
/** The longest spacing of two polls with the defaults: refreshInterval × (1 + jitter). */
const LONGEST_SPACING = DEFAULTS.refreshInterval * (1 + DEFAULTS.jitter);

/** A pod on ::1 at `port`, answering WhoAmI with "::1". */
async function startV6Pod(port: number): Promise<grpc.Server> {
  const server = new grpc.Server();
  server.addService(POD_SERVICE, {
    WhoAmI: (_call: unknown, callback: (error: Error | null, value?: Buffer) => void) => callback(null, Buffer.from('::1', 'utf8')),
  });
  await new Promise<number>((resolve, reject) =>
    server.bindAsync(`[::1]:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
  );
  return server;
}

/**
 * dnsmasq serving `name` with the IPv4 address `v4Host` alone, a pod there and one on ::1 at the same port: started
 * before the describe's tests, closed after them. Read the fields inside tests.
 */
function servedName(name: string, v4Host: string): { dnsmasq: Dnsmasq; v4: Pod } {
  const setup = {} as { dnsmasq: Dnsmasq; v4: Pod; v6: grpc.Server };
  beforeAll(async () => {
    setup.dnsmasq = await Dnsmasq.start({ ttl: 30 });
    setup.v4 = await Pod.start(v4Host, 0);
    setup.v6 = await startV6Pod(setup.v4.port);
    await setup.dnsmasq.setHost(name, [v4Host]);
  }, 30_000);
  afterAll(async () => {
    setup.v6?.forceShutdown();
    setup.v4?.kill();
    await setup.dnsmasq?.close();
  });
  return setup;
}

describe.runIf(process.env.GRPC_DNS_WATCH_HEAVY === '1' && dnsmasqBinary() !== null)('an AAAA added to a demoted name, in real time (test:stress)', () => {
  const served = servedName(NAME, V4);

  afterAll(() => {
    unregister();
  });

  it('reaches watch() and a grpc-js channel at the next ask of the demoted AAAA: within 60 s, as scheduled', async () => {
    const { dnsmasq, v4 } = served;
    const events: Array<Extract<WatchEvent, { type: 'family' }> & { at: number }> = [];
    const queries: number[] = [];
    const stop = observe((event) => {
      if (event.type === 'family' && event.name === `${NAME}.`) events.push({ ...event, at: performance.now() });
      if (event.type === 'query' && event.name === `${NAME}.`) queries.push(performance.now() - event.durationMs);
    });
    // Defaults but the server asked: never the machine's own nameserver.
    const options = { nameservers: [`${dnsmasq.host}:${dnsmasq.port}`], hostsPath: false as const };
    register(options);
    const handle = watch(`${NAME}.`, options);
    const client = createPodClient(`dns:///${NAME}.:${v4.port}`);
    try {
      expect(await client.whoAmI(10_000)).toBe(V4);
      await vi.waitFor(() => expect(events.map((event) => event.change)).toEqual(['demoted']), { timeout: 30_000, interval: 100 });
      const demoted = handle.stats()!.demotedFamily!;
      expect(demoted.family).toBe(6);
      const addedAt = performance.now();
      const nextAskIn = demoted.nextAskAt.getTime() - Date.now();
      await dnsmasq.setHost(NAME, [V4, '::1']);
      // Scheduled: asked again at most 53 s after the demoting poll, which came before the record.
      expect(nextAskIn).toBeLessThanOrEqual(53_000);
      await vi.waitFor(() => expect(handle.current?.addresses).toContain('::1'), { timeout: 75_000, interval: 100 });
      await client.waitUntil((byPod) => (byPod.get('::1') ?? 0) > 0, { timeoutMs: 15_000 });
      const restored = events.find((event) => event.change === 'restored');
      expect(restored).toMatchObject({ family: 6, reason: 'AAAA records again' });
      // The poll that asked it: the first to start at or after the scheduled ask, at most one spacing (6 s) later.
      const askedAt = queries.find((at) => at >= addedAt + nextAskIn - 50);
      expect(askedAt).toBeDefined();
      expect(askedAt! - (addedAt + nextAskIn)).toBeLessThanOrEqual(6_000 + 100);
      expect(askedAt! - addedAt).toBeLessThanOrEqual(DEMOTED_BOUND_MS - 1_000);
      expect(handle.stats()!.familiesEveryPoll).toEqual([4, 6]);
    } finally {
      stop();
      client.close();
      handle.close();
    }
  }, 120_000);
});

describe.skipIf(dnsmasqBinary() === null)('an AAAA added to a demoted name, on a stepped clock (npm test)', () => {
  const name = 'gains-channel.ns.svc.cluster.local';
  const v4Host = podHost(42);
  const served = servedName(name, v4Host);

  it('reaches a grpc-js channel at the demoted family\'s next ask, 53–59 s after the demoting poll: within 60 s of being added, as scheduled', async () => {
    const { dnsmasq, v4 } = served;
    // Only dnsmasq is asked: a resolv.conf of its own, glibc's timeout and attempts.
    const resolvConfPath = path.join(dnsmasq.directory, 'resolv.conf');
    await writeFile(resolvConfPath, `nameserver ${dnsmasq.host}:${dnsmasq.port}\n`);
    const clock = steppedTimers();
    const registry = new Registry(new PollTimers(clock));
    const options = resolveOptions({ resolvConfPath, hostsPath: false });
    const Resolver = createResolverClass(grpc as unknown as GrpcModuleLike, () => options, dnsTargets(registry));
    grpc.experimental.registerResolver('dns-stepped', Resolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1]);

    // Each poll's start on the stepped clock (it stands still while a poll runs): their spacing is the delay the poller scheduled.
    const pollStarts: number[] = [];
    const families: Array<Extract<WatchEvent, { type: 'family' }> & { at: number }> = [];
    const stop = observe((event) => {
      if (event.type === 'query' && event.name === `${name}.`) pollStarts.push(clock.now());
      if (event.type === 'family' && event.name === `${name}.`) families.push({ ...event, at: clock.now() });
    });
    const watcher = () => registry.stats().find((stats) => stats.name === `${name}.`);
    /** Steps the clock from timer to timer (DNS sockets' timers among them) until the next poll has run to its end; its start. */
    const nextPoll = async (): Promise<number> => {
      const polls = pollStarts.length;
      while (pollStarts.length === polls) {
        await vi.waitFor(() => expect(watcher()?.querying).toBe(false), { timeout: 10_000, interval: 2 });
        clock.step();
        await vi.waitFor(() => expect(watcher()?.querying).toBe(false), { timeout: 10_000, interval: 2 });
      }
      // Its deliveries wait a turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
      return pollStarts.at(-1)!;
    };

    const client = createPodClient(`dns-stepped:///${name}.:${v4.port}`);
    try {
      expect(await client.whoAmI(10_000)).toBe(v4Host);
      while (pollStarts.length < DEMOTE_AFTER_POLLS) await nextPoll();
      expect(families).toMatchObject([{ family: 6, change: 'demoted', nextAskInMs: 53_000 }]);
      const demotedAt = pollStarts.at(-1)!;
      expect(watcher()?.familiesEveryPoll).toEqual([4]);

      // Added just after the demoting poll: the longest wait there is for the next ask.
      const addedAt = clock.now();
      await dnsmasq.setHost(name, [v4Host, '::1']);
      const pollsBefore = pollStarts.length;
      while (!watcher()?.addresses.includes('::1') && clock.now() < addedAt + 2 * DEMOTED_BOUND_MS) await nextPoll();
      const deliveredAt = clock.now();
      expect(watcher()?.addresses, 'the AAAA record reached the watcher').toContain('::1');
      // RPCs reach the server on ::1, the stepped clock standing still at the poll that brought the address.
      await client.waitUntil((byPod) => (byPod.get('::1') ?? 0) > 0, { timeoutMs: 15_000 });
      expect(clock.now()).toBe(deliveredAt);

      // Within the stated bound, at the ask the demotion scheduled (53 s after the demoting poll, at the first poll from then on)...
      expect(deliveredAt - addedAt).toBeLessThanOrEqual(DEMOTED_BOUND_MS - 1_000);
      expect(deliveredAt - demotedAt).toBeGreaterThanOrEqual(53_000);
      expect(deliveredAt - demotedAt).toBeLessThanOrEqual(53_000 + LONGEST_SPACING);
      expect(families.at(-1)).toMatchObject({ family: 6, change: 'restored', reason: 'AAAA records again', at: deliveredAt });
      // ...with every delay the poller scheduled on the way between minInterval and the longest spacing: no poll put off.
      const delays = pollStarts.slice(pollsBefore).map((at, i) => at - pollStarts[pollsBefore - 1 + i]!);
      expect(delays.length).toBeGreaterThanOrEqual(9);
      expect(delays.filter((delay) => delay < DEFAULTS.minInterval || delay > LONGEST_SPACING)).toEqual([]);
      // Each is a timer the poll timers asked the clock for.
      expect(clock.delays).toEqual(expect.arrayContaining(delays));
      expect(watcher()?.familiesEveryPoll).toEqual([4, 6]);
    } finally {
      stop();
      client.close();
    }
  }, 60_000);
});
