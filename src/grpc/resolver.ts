import { messageBesideCode } from '../dns/errors.js';
import type { ResolvedOptions } from '../watch/options.js';
import { registry, type Registry } from '../watch/registry.js';
import { TargetError, formatTarget, parseTarget, type ParsedTarget } from '../target.js';
import { trace } from '../watch/trace.js';
import type { ServiceConfigAnswer } from '../watch/contract.js';
import type { Delivery, Subscription } from '../watch/subscribers.js';
import { channelOptions } from './channel-options.js';
import { ListenerAdapter, type HostPort } from './listener.js';
import { claimBind } from './server-bind.js';
import { validatedServiceConfig } from './service-config.js';
import { rollPercentage, selectTxtServiceConfig } from './txt-service-config.js';
import type { GrpcModuleLike, GrpcUriLike, ListenerLike, ResolverConstructorLike, ResolverLike } from './types.js';

/** Our own scheme, usable beside grpc-js's `dns` (which we also take over). */
export const SCHEME = 'dns-watch';

/** grpc-js's channel option that turns service configs from the resolver off (exactly the number 1, as grpc-js reads it). */
const DISABLE_SERVICE_CONFIG_KEY = 'grpc.service_config_disable_resolution';

/** Marks our resolver classes, so `register()` never mistakes one for grpc-js's built-in. */
export const IS_DNS_WATCH = Symbol.for('grpc-dns-watch.resolver');

/**
 * One channel's target, as its scheme's {@link TargetBinding} read it: an
 * address handed over once with no polling (an IP literal), or a target
 * polled — the port is that of addresses that carry none (DNS answers).
 */
type BoundTarget =
  | { readonly literal: HostPort }
  | {
      readonly port: number;
      /** This channel's subscription to the shared poller of its target, told service configs too when it takes them. */
      subscribe(options: ResolvedOptions, deliver: (delivery: Delivery) => void, takesServiceConfig: boolean): Subscription;
    };

/** How a scheme's targets are polled: DNS names ({@link DNS_TARGETS}), or a polling resolver's function. */
export interface TargetBinding {
  /** The target bound to what polls it, or the error its channel is told (a TargetError, …). */
  bind(target: GrpcUriLike, display: string): BoundTarget | Error;
  /** The options one channel runs with: the registration's, with its channel options (a bad one throws a TypeError). */
  channelOptions(registered: ResolvedOptions, options: Record<string, unknown>): ResolvedOptions;
  /** The channel's default `:authority` (grpc-js asks the resolver class); the target's path unless given. */
  defaultAuthority?(target: GrpcUriLike): string;
}

/**
 * DNS names: `dns:[//nameserver/]host[:port]`, an IP literal handed over
 * once, the rest watched in `watchers` (the process's registry; a test
 * passes one on a clock it steps).
 */
export function dnsTargets(watchers: Registry): TargetBinding {
  return {
    bind(target, display) {
      let parsed: ParsedTarget;
      try {
        parsed = parseTarget(target, display);
      } catch (error) {
        if (error instanceof TargetError) return error;
        throw error;
      }
      const { host, port, nameserver } = parsed;
      if (parsed.ipLiteral !== 0) return { literal: { host, port } };
      return {
        port,
        subscribe: (options, deliver, takesServiceConfig) => watchers.subscribe(host, nameserver ? { ...options, nameservers: [nameserver] } : options, deliver, takesServiceConfig),
      };
    },
    channelOptions,
  };
}

const DNS_TARGETS = dnsTargets(registry);

/** One channel's resolver: a subscription to the shared poller of its target (grpc-js gets it bound by {@link createResolverClass}). */
class ChannelResolver implements ResolverLike {
  static readonly [IS_DNS_WATCH] = true;

  private readonly display: string;
  private readonly grpc: GrpcModuleLike;
  private readonly listener: ListenerAdapter;
  /** `grpc.service_config_disable_resolution: 1`: the channel keeps its own service config. */
  private readonly serviceConfigDisabled: boolean;
  private readonly target: BoundTarget | Error;
  private readonly options: ResolvedOptions;
  /** Serves a Server.bindAsync(): one answer per updateResolution(), nothing left polling. */
  private readonly forBind: boolean;
  /**
   * Takes a service config from its source (for DNS, the name's TXT
   * records, asked only while a channel takes them): not with
   * `register({ dnsServiceConfig: false })`, nor with
   * `grpc.service_config_disable_resolution: 1`, nor for a server's bind.
   */
  private readonly takesServiceConfig: boolean;
  /** This channel's side of a TXT config's `percentage` choice: drawn once, as grpc-js draws it per resolver. */
  private readonly percentage = rollPercentage();
  private subscription: Subscription | undefined;
  private returnedLiteral = false;
  /** Bumped by destroy(), so deferred calls scheduled before it are dropped. */
  private generation = 0;

  constructor(
    grpc: GrpcModuleLike,
    registered: ResolvedOptions,
    binding: TargetBinding,
    serviceConfigFromSource: boolean,
    target: GrpcUriLike,
    listener: ListenerLike,
    options: Record<string, unknown>,
  ) {
    this.display = formatTarget(target);
    this.forBind = claimBind(target);
    this.grpc = grpc;
    this.listener = new ListenerAdapter(grpc, listener);
    this.options = binding.channelOptions(registered, options ?? {});
    this.serviceConfigDisabled = options?.[DISABLE_SERVICE_CONFIG_KEY] === 1;
    this.takesServiceConfig = serviceConfigFromSource && !this.serviceConfigDisabled && !this.forBind;
    this.target = binding.bind(target, this.display);
    trace(() => `resolver created for ${this.display}${this.forBind ? ' (server bind: resolved once)' : ''}`);
  }

  updateResolution(): void {
    const target = this.target;
    if (target instanceof Error) {
      this.defer(() => this.listener.error(target.message));
      return;
    }
    if ('literal' in target) {
      // An address needs no DNS: hand it over once, never poll.
      if (!this.returnedLiteral) {
        this.returnedLiteral = true;
        this.defer(() => this.listener.addresses([target.literal], null));
      }
      return;
    }
    if (this.subscription) {
      this.subscription.request();
      return;
    }
    this.subscribe(target);
  }

  destroy(): void {
    this.generation++;
    this.subscription?.close();
    this.subscription = undefined;
    this.returnedLiteral = false;
  }

  static getDefaultAuthority(target: GrpcUriLike): string {
    return target.path;
  }

  private subscribe(target: Exclude<BoundTarget, { literal: HostPort }>): void {
    const generation = this.generation;
    // Deliveries are asynchronous by construction (after a query or setImmediate).
    const subscription = target.subscribe(
      this.options,
      (delivery) => {
        if (this.forBind) {
          // A server looks at the first answer only and never destroys its resolver:
          // leave the watcher now, so it stops (and closes its sockets) unless a channel shares it.
          subscription.close();
          if (this.subscription === subscription) this.subscription = undefined;
        }
        if (generation === this.generation) this.deliver(delivery, target.port);
      },
      this.takesServiceConfig,
    );
    this.subscription = subscription;
  }

  private deliver(delivery: Delivery, port: number): void {
    if (delivery.kind === 'update') {
      trace(() => `${this.display}: update with ${delivery.addresses.length} addresses (+${delivery.added.length} -${delivery.removed.length})`);
      const serviceConfig = this.serviceConfigFor(delivery.serviceConfig);
      if (serviceConfig instanceof Error) trace(() => `${this.display}: ${serviceConfig.message}`);
      const accepted = this.listener.addresses(
        delivery.addresses.map((entry) => ({ host: entry.address, port: entry.port ?? port })),
        serviceConfig,
      );
      // A rejection for a config the channel cannot use would come back with every answer: wait for news instead.
      if (!accepted && !(serviceConfig instanceof Error)) {
        trace(() => `${this.display}: load balancer rejected the update; asking again`);
        this.subscription?.request();
      }
      return;
    }
    // The status every RPC on the channel fails with until an answer comes:
    // the DNS cause in full (code, server, name), where an app's logs show it.
    const cause = `${delivery.error.code}: ${messageBesideCode(delivery.error)}`;
    const details = delivery.authoritative ? `No addresses for ${this.display}: ${cause}` : `Name resolution failed for ${this.display}: ${cause}`;
    trace(() => `${this.display}: error to channel: ${details}`);
    this.listener.error(details);
  }

  /**
   * The one place a source's service config becomes what this channel is
   * handed: a config validated by the app's grpc-js, null for the channel's
   * own (`grpc.service_config`, or none), or an Error for one it cannot use.
   * TXT records are chosen from by the app's grpc-js, as its own `dns`
   * resolver chooses (txt-service-config.ts), with this channel's roll.
   */
  private serviceConfigFor(answer: ServiceConfigAnswer | undefined): object | null | Error {
    if (!this.takesServiceConfig || answer === undefined) return null;
    if (answer.kind === 'txt') {
      const chosen = selectTxtServiceConfig(answer.records, { percentage: this.percentage, grpc: this.grpc });
      // grpc-js's own words for a grpc_config it cannot use.
      return chosen instanceof Error ? new Error(`Parsing service config failed with error ${chosen.message}`) : chosen;
    }
    return answer.config === null ? null : validatedServiceConfig(this.grpc, answer.config, this.display);
  }

  private defer(call: () => void): void {
    const generation = this.generation;
    setImmediate(() => {
      if (generation === this.generation) call();
    });
  }
}

/**
 * A grpc-js resolver class bound to one grpc-js module, a source of options
 * (read when each channel is created, so `register()` again reconfigures new
 * channels) and what its scheme's targets are polled through (DNS unless
 * given). Each instance is one channel's view of a shared poller.
 */
export function createResolverClass(
  grpc: GrpcModuleLike,
  currentOptions: () => ResolvedOptions,
  binding: TargetBinding = DNS_TARGETS,
  /** Whether channels take a service config from the source: `register()`'s `dnsServiceConfig`, read when each channel is created. */
  serviceConfigFromSource: () => boolean = () => true,
): ResolverConstructorLike {
  return class DnsWatchResolver extends ChannelResolver {
    constructor(target: GrpcUriLike, listener: ListenerLike, options: Record<string, unknown>) {
      super(grpc, currentOptions(), binding, serviceConfigFromSource(), target, listener, options);
    }

    static override getDefaultAuthority(target: GrpcUriLike): string {
      return binding.defaultAuthority?.(target) ?? target.path;
    }
  };
}
