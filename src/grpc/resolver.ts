import { messageBesideCode } from '../dns/errors.js';
import type { ResolvedOptions } from '../watch/options.js';
import { registry } from '../watch/registry.js';
import { TargetError, formatTarget, parseTarget, type ParsedTarget } from '../target.js';
import { trace } from '../watch/trace.js';
import type { ServiceConfigAnswer } from '../watch/contract.js';
import type { Delivery, Subscription } from '../watch/subscribers.js';
import { channelOptions } from './channel-options.js';
import { ListenerAdapter } from './listener.js';
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

/** One channel's resolver: a subscription to the shared watcher of its target (grpc-js gets it bound by {@link createResolverClass}). */
class ChannelResolver implements ResolverLike {
  static readonly [IS_DNS_WATCH] = true;

  private readonly display: string;
  private readonly grpc: GrpcModuleLike;
  private readonly listener: ListenerAdapter;
  /** `grpc.service_config_disable_resolution: 1`: the channel keeps its own service config. */
  private readonly serviceConfigDisabled: boolean;
  private readonly target: ParsedTarget | TargetError;
  private readonly options: ResolvedOptions;
  /** Serves a Server.bindAsync(): one answer per updateResolution(), nothing left polling. */
  private readonly forBind: boolean;
  /**
   * Takes a service config from the source (for DNS, the name's TXT
   * records, asked only while a channel takes them): off with
   * `register({ dnsServiceConfig: false })`, with
   * `grpc.service_config_disable_resolution: 1`, and for a server's bind.
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
    serviceConfigFromDns: boolean,
    target: GrpcUriLike,
    listener: ListenerLike,
    options: Record<string, unknown>,
  ) {
    this.display = formatTarget(target);
    this.forBind = claimBind(target);
    this.grpc = grpc;
    this.listener = new ListenerAdapter(grpc, listener);
    this.options = channelOptions(registered, options ?? {});
    this.serviceConfigDisabled = options?.[DISABLE_SERVICE_CONFIG_KEY] === 1;
    this.takesServiceConfig = serviceConfigFromDns && !this.serviceConfigDisabled && !this.forBind;
    try {
      this.target = parseTarget(target, this.display);
    } catch (error) {
      if (!(error instanceof TargetError)) throw error;
      this.target = error;
    }
    trace(() => `resolver created for ${this.display}${this.forBind ? ' (server bind: resolved once)' : ''}`);
  }

  updateResolution(): void {
    const target = this.target;
    if (target instanceof TargetError) {
      this.defer(() => this.listener.error(target.message));
      return;
    }
    if (target.ipLiteral !== 0) {
      // An address needs no DNS: hand it over once, never poll.
      if (!this.returnedLiteral) {
        this.returnedLiteral = true;
        this.defer(() => this.listener.addresses([{ host: target.host, port: target.port }], null));
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

  private subscribe(target: ParsedTarget): void {
    const options = target.nameserver ? { ...this.options, nameservers: [target.nameserver] } : this.options;
    const generation = this.generation;
    // Deliveries are asynchronous by construction (after a query or setImmediate).
    const subscription = registry.subscribe(
      target.host,
      options,
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
        delivery.addresses.map((entry) => ({ host: entry.address, port })),
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
 * A grpc-js resolver class bound to one grpc-js module and a source of
 * options (read when each channel is created, so `register()` again
 * reconfigures new channels). Each instance is one channel's view of a
 * shared watcher.
 */
export function createResolverClass(
  grpc: GrpcModuleLike,
  currentOptions: () => ResolvedOptions,
  serviceConfigFromDns: () => boolean = () => true,
): ResolverConstructorLike {
  return class DnsWatchResolver extends ChannelResolver {
    constructor(target: GrpcUriLike, listener: ListenerLike, options: Record<string, unknown>) {
      super(grpc, currentOptions(), serviceConfigFromDns(), target, listener, options);
    }
  };
}
