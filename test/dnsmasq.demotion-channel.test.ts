/**
 * Issue 24 end to end, in real time (about 80 s: test:stress runs it, with
 * GRPC_DNS_WATCH_HEAVY=1; test/dnsmasq.demotion.test.ts proves the same
 * schedule in npm test on a stepped clock). A grpc-js channel and a
 * `watch()` handle on an IPv4-only name served by a real dnsmasq, with the
 * library's defaults (5 s, jitter 0.2): the AAAA is demoted after 3 NODATA
 * polls; an AAAA record is then added, and its address reaches `watch()` and
 * the channel (an RPC answered by the server on ::1) at the demoted
 * family's next ask. What is asserted is what was scheduled — that ask is
 * due at most 53 s after the last one, and the poll that made it started
 * by then plus one poll spacing — with wall time only as a generous limit.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { observe, register, unregister, watch, type WatchEvent } from '../src/index.js';
import { DEMOTED_BOUND_MS } from '../src/watch/family-demotion.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { POD_SERVICE, Pod, createPodClient, podHost } from '../harness/pods.js';

const NAME = 'grows.ns.svc.cluster.local';
const V4 = podHost(41);

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

describe.runIf(process.env.GRPC_DNS_WATCH_HEAVY === '1' && dnsmasqBinary() !== null)('an AAAA added to a demoted name, in real time (test:stress)', () => {
  let dnsmasq: Dnsmasq;
  let v4: Pod;
  let v6: grpc.Server;

  beforeAll(async () => {
    dnsmasq = await Dnsmasq.start({ ttl: 30 });
    v4 = await Pod.start(V4, 0);
    v6 = await startV6Pod(v4.port);
    await dnsmasq.setHost(NAME, [V4]);
  }, 30_000);

  afterAll(async () => {
    unregister();
    v6?.forceShutdown();
    v4?.kill();
    await dnsmasq?.close();
  });

  it('reaches watch() and a grpc-js channel at the next ask of the demoted AAAA: within 60 s, as scheduled', async () => {
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
