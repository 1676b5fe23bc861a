import { trace } from '../watch/trace.js';
import type { GrpcModuleLike, ListenerLike, StatusObjectLike } from './types.js';

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
   * Hand over a non-empty address list with the service config: a validated
   * config, null for the channel's own default (grpc-js reads a null config
   * with no error as "back to the default", so the current config goes with
   * every call), or an Error for a config the channel cannot use — handed
   * over as grpc-js's own dns resolver hands a TXT config it cannot parse
   * (1.8–1.13: the previous config is kept, else the addresses still go to
   * the default policy; 1.14: the previous config is kept, else grpc-js
   * rejects the result). Returns false when grpc-js says its load balancer
   * rejected it (1.14+), true otherwise. `{}` attributes: a changing
   * attribute value would make grpc-js reconnect every subchannel.
   */
  addresses(list: readonly HostPort[], serviceConfig: object | null | Error = null): boolean {
    if (list.length === 0) throw new Error('grpc-dns-watch never hands grpc-js an empty address list');
    list = capAddresses(list);
    const payload = this.takesEndpoints
      ? list.map((address) => ({ addresses: [{ host: address.host, port: address.port }] }))
      : list.map((address) => ({ host: address.host, port: address.port }));
    const configError = serviceConfig instanceof Error ? this.status(serviceConfig.message) : null;
    const config = serviceConfig instanceof Error ? null : serviceConfig;
    if (typeof this.listener === 'function') {
      const configResult = configError ? { ok: false as const, error: configError } : config && { ok: true as const, value: config };
      return this.listener({ ok: true, value: payload }, {}, configResult, '') !== false;
    }
    this.listener.onSuccessfulResolution(payload, config, configError, null, {});
    return true;
  }

  /** Report an UNAVAILABLE resolution failure with `details`. */
  error(details: string): void {
    const status = this.status(details);
    if (typeof this.listener === 'function') {
      this.listener({ ok: false, error: status }, {}, null, '');
      return;
    }
    this.listener.onError(status);
  }

  private status(details: string): StatusObjectLike {
    return { code: this.grpc.status.UNAVAILABLE, details, metadata: new this.grpc.Metadata() };
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
