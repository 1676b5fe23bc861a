/**
 * Service config from DNS, end to end, on grpc-js 1.8, 1.10, 1.13 and 1.14:
 * a real dnsmasq serves a Service's A records and a TXT `grpc_config` with
 * `round_robin` (split over two character-strings, beside an unrelated TXT
 * record); real grpc-js servers on loopback pods answer. A channel created
 * without a service config spreads its RPCs over every pod, as it does with
 * grpc-js's built-in resolver; `grpc.service_config_disable_resolution: 1`
 * turns it off (pick_first: every RPC to one pod), and a watcher that only
 * such channels and watch() handles use asks no TXT at all. dnsmasq's query
 * log counts the TXT queries.
 *
 * The built-in resolver is compared in the same run on 1.13 and 1.14: there
 * GRPC_NODE_USE_ALTERNATIVE_RESOLVER (vitest.config.ts) makes it ask c-ares,
 * addresses and TXT alike, at the target's `dns://` authority — dnsmasq. On
 * 1.8 and 1.10 the built-in has no such mode: it takes addresses from
 * getaddrinfo, which asks the machine's own nameserver, never the test's.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { register, unregister, watch } from '../src/index.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { GRPC_VERSIONS, grpcVersion, loadGrpc, type GrpcVersionName } from '../harness/grpc-versions.js';
import { PodFleet, createPodClient, type PodClient } from '../harness/pods.js';

const binary = dnsmasqBinary();
if (!binary) console.warn('dns-service-config.test: dnsmasq not found — skipped (apt-get install dnsmasq-base)');

const CONFIG = 'grpc_config=[{"serviceConfig":{"loadBalancingConfig":[{"round_robin":{}}]}}]';
/** One Service name per grpc-js version, so each counts its own TXT queries. */
const nameOf = (version: GrpcVersionName): string => `${version.replace(/[@/.]/g, '-').replace(/^-+/, '')}.svc.test`;
const BUILTIN_COMPARED = new Set<GrpcVersionName>(['grpc-js-1.13', '@grpc/grpc-js']);
/** The name a registration with `dnsServiceConfig: false` watches. */
const OFF_NAME = 'off.svc.test';

let dnsmasq: Dnsmasq;
let fleet: PodFleet;
const clients: PodClient[] = [];

beforeAll(async () => {
  if (!binary) return;
  const txtRecords = [...GRPC_VERSIONS.map(nameOf), OFF_NAME].flatMap((name) => [
    { name, strings: [CONFIG.slice(0, 40), CONFIG.slice(40)] },
    { name, strings: ['v=spf1 -all'] },
  ]);
  dnsmasq = await Dnsmasq.start({ txtRecords, logQueries: true });
  fleet = await PodFleet.create({ pods: 3 });
  for (const name of [...GRPC_VERSIONS.map(nameOf), OFF_NAME]) await dnsmasq.setHost(name, fleet.addresses);
}, 30_000);

afterAll(async () => {
  await dnsmasq?.close();
  await fleet?.close();
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
  unregister();
});

/** TXT queries dnsmasq logged for `name`. */
function txtQueries(name: string): number {
  return dnsmasq.output.split('\n').filter((line) => line.includes(`query[TXT] ${name} from`)).length;
}

const everyPod = (byPod: Map<string, number>): boolean => fleet.pods.every((pod) => (byPod.get(pod.host) ?? 0) > 0);

describe.skipIf(!binary)('service config from a DNS TXT record', () => {
  for (const version of GRPC_VERSIONS) {
    it(`grpc-js ${grpcVersion(version)}: round_robin from TXT spreads RPCs over every pod; service_config_disable_resolution: 1 keeps pick_first`, async () => {
      const grpc = loadGrpc(version);
      const name = nameOf(version);
      register({ grpc, replaceBuiltin: false, nameservers: [`${dnsmasq.host}:${dnsmasq.port}`], hostsPath: false, refreshInterval: 500 });
      const client = (target: string, channelOptions: Record<string, unknown> = {}): PodClient => {
        const made = createPodClient(target, { grpc, roundRobin: false, channelOptions });
        clients.push(made);
        return made;
      };
      const target = `dns-watch:///${name}:${fleet.port}`;

      // Only a channel that turned it off, and a watch() handle: they share one watcher, and it asks no TXT.
      const handle = watch(name, { nameservers: [`${dnsmasq.host}:${dnsmasq.port}`], hostsPath: false, refreshInterval: 500 });
      const off = client(target, { 'grpc.service_config_disable_resolution': 1 });
      const offBurst = await off.burst(30);
      expect(offBurst.failed, offBurst.errors.join('; ')).toBe(0);
      expect(offBurst.byPod.size, `pick_first: one pod (${[...offBurst.byPod.keys()].join(', ')})`).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(txtQueries(name)).toBe(0);

      // A channel created without a service config: the TXT record's round_robin, over every pod.
      const taking = client(target);
      await taking.waitUntil(everyPod, { timeoutMs: 10_000 });
      expect(txtQueries(name)).toBe(1);
      // The channel that turned it off still sends to one pod.
      const stillOff = await off.burst(30);
      expect(stillOff.byPod.size).toBe(1);
      handle.close();

      if (BUILTIN_COMPARED.has(version)) {
        // grpc-js's built-in, asking the same dnsmasq: the same spread, and the same opt-out.
        const builtinTarget = `dns://${dnsmasq.host}:${dnsmasq.port}/${name}:${fleet.port}`;
        await client(builtinTarget).waitUntil(everyPod, { timeoutMs: 10_000 });
        const builtinOff = await client(builtinTarget, { 'grpc.service_config_disable_resolution': 1 }).burst(30);
        expect(builtinOff.failed, builtinOff.errors.join('; ')).toBe(0);
        expect(builtinOff.byPod.size).toBe(1);
      }
    });
  }

  it('register({ dnsServiceConfig: false }): no TXT query, and channels keep their own config (pick_first)', async () => {
    const grpc = loadGrpc('@grpc/grpc-js');
    register({ grpc, replaceBuiltin: false, nameservers: [`${dnsmasq.host}:${dnsmasq.port}`], hostsPath: false, refreshInterval: 500, dnsServiceConfig: false });
    const client = createPodClient(`dns-watch:///${OFF_NAME}:${fleet.port}`, { grpc, roundRobin: false });
    clients.push(client);
    const burst = await client.burst(30);
    expect(burst.failed, burst.errors.join('; ')).toBe(0);
    expect(burst.byPod.size).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(txtQueries(OFF_NAME)).toBe(0);
  });
});
