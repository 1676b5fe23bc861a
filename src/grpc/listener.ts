import { trace } from '../watch/trace.js';
import type { GrpcModuleLike, ListenerLike } from './types.js';

/**
 * Most addresses handed to grpc-js in one update: twice what one maximum DNS
 * message can carry (MAX_ANSWER_RECORDS, 4,096 in src/dns/client.ts), so a
 * full dual-stack answer passes whole and the cap only catches lists built
 * some other way (a huge /etc/hosts). Fewer per client is the `maxAddresses`
 * option, which picks a per-client random subset instead. Over this cap the
 * kept addresses are the lowest by (host, port) string order, in the order
 * they came: the same set always keeps the same subset, so a shuffled answer
 * never churns subchannels. A trace line says so.
 */
export const MAX_ADDRESSES_TO_GRPC = 8_192;

export interface HostPort {
  host: string;
  port: number;
}

/**
 * Speaks to a channel's resolver listener in whichever shape its grpc-js
 * version uses; everything else in the adapter says just "addresses" or
 * "error". Shapes are told apart by feature, never by version string:
 * - 1.14+: a function taking StatusOr<Endpoint[]>, returning a boolean;
 * - 1.10–1.13: an object taking Endpoint[] (`experimental.endpointToString` exists);
 * - 1.8–1.9: an object taking plain SubchannelAddress[].
 */
export class ListenerAdapter {
  private readonly takesEndpoints: boolean;

  constructor(
    private readonly grpc: GrpcModuleLike,
    private readonly listener: ListenerLike,
  ) {
    this.takesEndpoints = typeof listener === 'function' || typeof grpc.experimental.endpointToString === 'function';
  }

  /**
   * Hand over a non-empty address list. Returns false when grpc-js says its
   * load balancer rejected it (1.14+), true otherwise. `{}` attributes: a
   * changing attribute value would make grpc-js reconnect every subchannel.
   */
  addresses(list: readonly HostPort[]): boolean {
    if (list.length === 0) throw new Error('grpc-dns-watch never hands grpc-js an empty address list');
    list = capAddresses(list);
    const payload = this.takesEndpoints
      ? list.map((address) => ({ addresses: [{ host: address.host, port: address.port }] }))
      : list.map((address) => ({ host: address.host, port: address.port }));
    if (typeof this.listener === 'function') {
      return this.listener({ ok: true, value: payload }, {}, null, '') !== false;
    }
    this.listener.onSuccessfulResolution(payload, null, null, null, {});
    return true;
  }

  /** Report an UNAVAILABLE resolution failure with `details`. */
  error(details: string): void {
    const status = { code: this.grpc.status.UNAVAILABLE, details, metadata: new this.grpc.Metadata() };
    if (typeof this.listener === 'function') {
      this.listener({ ok: false, error: status }, {}, null, '');
      return;
    }
    this.listener.onError(status);
  }
}

/** At most {@link MAX_ADDRESSES_TO_GRPC} addresses: the lowest by string order, order kept. */
function capAddresses(list: readonly HostPort[]): readonly HostPort[] {
  if (list.length <= MAX_ADDRESSES_TO_GRPC) return list;
  const key = (address: HostPort): string => `${address.host} ${address.port}`;
  const kept = new Set(list.map(key).sort().slice(0, MAX_ADDRESSES_TO_GRPC));
  trace(() => `${list.length} addresses resolved; handing grpc-js the lowest ${MAX_ADDRESSES_TO_GRPC} (MAX_ADDRESSES_TO_GRPC)`);
  // `delete` also drops a repeated entry, so the result never exceeds the cap.
  return list.filter((address) => kept.delete(key(address)));
}
