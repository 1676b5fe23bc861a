import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ListenerAdapter } from '../src/grpc/listener.js';
import { validatedServiceConfig } from '../src/grpc/service-config.js';
import type { GrpcModuleLike, GrpcUriLike, ListenerLike } from '../src/grpc/types.js';
import { GRPC_VERSIONS, grpcVersion, loadGrpc } from '../harness/grpc-versions.js';
import { PodFleet, createPodClient, type GrpcLike, type PodClient } from '../harness/pods.js';

/**
 * The grpc-js half of a service config's way to the channel, on each listener
 * shape (1.8, 1.10, 1.13, 1.14): a config validated by the app's own grpc-js
 * and handed over with the addresses reaches a real channel's resolving load
 * balancer (round_robin spreads RPCs over every pod of a channel created
 * without a service config); a config grpc-js rejects is handed over as the
 * service-config error each version expects, and the addresses keep working
 * exactly where grpc-js's own resolver's would: 1.8–1.13 report the error
 * and use the addresses with the default policy, 1.14 rejects the result and
 * fails RPCs with the error's details.
 */

let fleet: PodFleet;

beforeAll(async () => {
  fleet = await PodFleet.create({ pods: 2 });
});

afterAll(async () => {
  await fleet.close();
});

/** A resolver class for a test scheme handing every resolution `config` through the adapter (the ChannelResolver's path). */
function schemeHanding(grpc: GrpcModuleLike, scheme: string, hosts: () => string[], config: () => object | null | Error) {
  class Handing {
    private readonly adapter: ListenerAdapter;
    constructor(_target: GrpcUriLike, listener: ListenerLike) {
      this.adapter = new ListenerAdapter(grpc, listener);
    }
    updateResolution(): void {
      setImmediate(() => this.adapter.addresses(hosts().map((host) => ({ host, port: fleet.port })), config()));
    }
    destroy(): void {}
    static getDefaultAuthority(target: GrpcUriLike): string {
      return target.path;
    }
  }
  grpc.experimental.registerResolver(scheme, Handing);
}

describe.each(GRPC_VERSIONS)('service config to a channel on %s', (name) => {
  const grpc = loadGrpc(name);
  const grpcLike = grpc as unknown as GrpcModuleLike;
  const version = grpcVersion(name);
  const clients: PodClient[] = [];
  const client = (target: string): PodClient => {
    const made = createPodClient(target, { grpc: grpc as unknown as GrpcLike, roundRobin: false });
    clients.push(made);
    return made;
  };

  afterAll(() => {
    for (const made of clients.splice(0)) made.close();
  });

  it(`(grpc-js ${version}) a round_robin config validated by that grpc-js spreads RPCs over every pod`, async () => {
    const config = validatedServiceConfig(grpcLike, { loadBalancingConfig: [{ round_robin: {} }] }, 'sc-rr:///pods');
    expect(config).not.toBeInstanceOf(Error);
    schemeHanding(grpcLike, 'sc-rr', () => fleet.addresses, () => config);
    const rr = client('sc-rr:///pods');
    await rr.waitUntil((byPod) => fleet.addresses.every((host) => (byPod.get(host) ?? 0) > 0), { timeoutMs: 10_000 });
    // Without the config (null: the channel's default, pick_first), one pod serves every RPC.
    schemeHanding(grpcLike, 'sc-none', () => fleet.addresses, () => null);
    const window = await client('sc-none:///pods').burst(20);
    expect(window.failed).toBe(0);
    expect(window.byPod.size).toBe(1);
  });

  it(`(grpc-js ${version}) an invalid config: the error in the version's shape, addresses working where grpc-js's own would`, async () => {
    const invalid = validatedServiceConfig(grpcLike, { loadBalancingConfig: 'round_robin' }, 'sc-bad:///pods');
    expect(invalid).toBeInstanceOf(Error);
    expect((invalid as Error).message).toMatch(/^Invalid service config from sc-bad:\/\/\/pods: .*loadBalancingConfig/);
    schemeHanding(grpcLike, 'sc-bad', () => fleet.addresses, () => invalid);
    const bad = client('sc-bad:///pods');
    if (name === '@grpc/grpc-js') {
      await expect(bad.whoAmI(2_000)).rejects.toMatchObject({ code: grpc.status.UNAVAILABLE, details: (invalid as Error).message });
    } else {
      // grpc-js reports the error while its child policy is idle, and uses the addresses with its default policy.
      await bad.waitUntil((byPod) => [...byPod.keys()].some((host) => fleet.addresses.includes(host)), { timeoutMs: 10_000 });
    }
  });
});
