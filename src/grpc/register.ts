import { createRequire } from 'node:module';
import { resolveOptions, type ResolvedOptions, type WatchOptions } from '../watch/options.js';
import { requireGrpcFile } from './internals.js';
import { channelMark, rememberOurChannels, warnIfLate } from './late-register.js';
import { IS_DNS_WATCH, SCHEME, createResolverClass } from './resolver.js';
import { trackBinds } from './server-bind.js';
import { connectTracing } from './trace.js';
import type { GrpcJsModule, GrpcModuleLike, ListenerLike, ResolverConstructorLike } from './types.js';

export interface RegisterOptions extends WatchOptions {
  /**
   * The app's own `@grpc/grpc-js` module, for apps with several copies
   * installed; default: the copy this package resolves as its peer dependency.
   */
  grpc?: GrpcJsModule;
  /**
   * Take over grpc-js's `dns` scheme (and with it bare `host:port` targets).
   * Default true; false registers only the `dns-watch` scheme, leaving
   * grpc-js's built-in resolver in place beside it.
   */
  replaceBuiltin?: boolean;
  /**
   * Apply the service config a name publishes in its DNS TXT records
   * (`grpc_config=…`), as grpc-js's built-in `dns` resolver does: asked
   * after the first answer, then at most once a minute. Default true; a
   * channel opts out with `grpc.service_config_disable_resolution: 1`.
   */
  dnsServiceConfig?: boolean;
}

interface Registration {
  grpc: GrpcModuleLike;
  options: ResolvedOptions;
  /** The `dnsServiceConfig` option. */
  dnsServiceConfig: boolean;
  replacedBuiltin: boolean;
  /** Puts grpc-js's built-in `dns` resolver back. */
  restoreBuiltin: (() => void) | null;
  /** Unwraps Server.prototype.bindAsync. */
  untrackBinds: () => void;
  /** Highest channelz id of a live channel when we took `dns` over (see late-register.ts). */
  channelMark: number;
}

let current: Registration | null = null;

/**
 * Make grpc-js resolve `dns:` targets (and bare `host:port` ones, `dns` being
 * its default scheme) and `dns-watch:` targets with grpc-dns-watch. Options
 * are validated here: a bad one throws a TypeError now, never later in a
 * timer. Calling it again reconfigures channels created from then on.
 */
export function register(options: RegisterOptions = {}): void {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`register() options must be an object, got ${String(options)}`);
  }
  const { grpc: grpcOption, replaceBuiltin = true, dnsServiceConfig = true, ...watchOptions } = options;
  for (const [option, value] of [['replaceBuiltin', replaceBuiltin], ['dnsServiceConfig', dnsServiceConfig]] as const) {
    if (typeof value !== 'boolean') throw new TypeError(`Option "${option}" must be true or false, got ${String(value)}`);
  }
  const grpc = grpcOption === undefined ? loadPeerGrpc() : asGrpcModule(grpcOption);
  const resolved = resolveOptions(watchOptions, undefined, ['grpc', 'replaceBuiltin', 'dnsServiceConfig']);
  if (current && (current.grpc !== grpc || current.replacedBuiltin !== replaceBuiltin)) unregister();
  if (current) {
    current.options = resolved;
    current.dnsServiceConfig = dnsServiceConfig;
  } else {
    if (replaceBuiltin) warnIfLate(grpc);
    const registration: Registration = {
      grpc,
      options: resolved,
      dnsServiceConfig,
      replacedBuiltin: replaceBuiltin,
      restoreBuiltin: replaceBuiltin ? captureBuiltin(grpc) : () => {},
      // Binds resolve through the `dns-watch` scheme too, so also with replaceBuiltin: false.
      untrackBinds: trackBinds(grpc),
      channelMark: replaceBuiltin ? channelMark(grpc) : 0,
    };
    const resolverClass = createResolverClass(grpc, () => registration.options, undefined, () => registration.dnsServiceConfig);
    if (replaceBuiltin) grpc.experimental.registerResolver('dns', resolverClass);
    grpc.experimental.registerResolver(SCHEME, resolverClass);
    current = registration;
  }
  connectTracing(grpc);
}

/**
 * Give the `dns` scheme back to grpc-js's built-in resolver. Channels created
 * afterwards use it; existing channels keep their resolver until closed. The
 * `dns-watch` scheme stays ours (there is nothing to restore for it).
 */
export function unregister(): void {
  if (!current) return;
  const { grpc, restoreBuiltin, untrackBinds, replacedBuiltin, channelMark: mark } = current;
  current = null;
  untrackBinds();
  if (replacedBuiltin) rememberOurChannels(grpc, mark);
  if (!restoreBuiltin) {
    throw new Error('grpc-dns-watch: cannot restore grpc-js\'s built-in dns resolver: it could not be found when register() ran');
  }
  restoreBuiltin();
}

/** Whether `register()` is in effect, and with which options (tests, diagnostics). */
export function registration(): { options: ResolvedOptions } | null {
  return current ? { options: current.options } : null;
}

/** The peer dependency's `@grpc/grpc-js`, the default module to register with. */
export function loadPeerGrpc(): GrpcModuleLike {
  const require = createRequire(import.meta.url);
  try {
    return asGrpcModule(require('@grpc/grpc-js'));
  } catch (error) {
    throw new Error(`grpc-dns-watch: cannot load @grpc/grpc-js (a peer dependency): ${(error as Error).message}`, { cause: error });
  }
}

/** The `grpc` option, checked to be a grpc-js module (a TypeError naming it otherwise). */
export function asGrpcModule(candidate: unknown): GrpcModuleLike {
  const grpc = candidate as Partial<GrpcModuleLike> | null;
  if (!grpc || typeof grpc.experimental?.registerResolver !== 'function' || typeof grpc.Metadata !== 'function') {
    throw new TypeError('Option "grpc" must be the @grpc/grpc-js module (>= 1.8), e.g. register({ grpc: require("@grpc/grpc-js") })');
  }
  return grpc as GrpcModuleLike;
}

/**
 * Find how to put grpc-js's own `dns` resolver back before replacing it: its
 * class (see {@link registeredResolverClass}), or on 1.8–1.9 without
 * `experimental.createResolver` the module's resolver-dns setup().
 */
function captureBuiltin(grpc: GrpcModuleLike): (() => void) | null {
  const builtin = grpc.experimental.createResolver ? registeredResolverClass(grpc, 'dns') : undefined;
  if (builtin && !(builtin as { [IS_DNS_WATCH]?: boolean })[IS_DNS_WATCH]) return () => grpc.experimental.registerResolver('dns', builtin);
  const setup = requireGrpcFile<{ setup?: () => void }>(grpc, 'resolver-dns.js')?.setup;
  return typeof setup === 'function' ? () => setup() : null;
}

/**
 * The resolver class registered for `scheme` in `grpc` now, or undefined
 * (none, or it cannot be told): grpc-js has no getter, so one is built with
 * grpc-js's own createResolver (exported from 1.10, from its resolver.js
 * before) for a target it never resolves, and its class kept.
 */
export function registeredResolverClass(grpc: GrpcModuleLike, scheme: string): ResolverConstructorLike | undefined {
  const createResolver = grpc.experimental.createResolver ?? requireGrpcFile<{ createResolver?: GrpcModuleLike['experimental']['createResolver'] }>(grpc, 'resolver.js')?.createResolver;
  if (typeof createResolver !== 'function') return undefined;
  try {
    const probe = createResolver({ scheme, path: 'localhost' }, inertListener(), {});
    probe.destroy();
    return probe.constructor as ResolverConstructorLike;
  } catch {
    return undefined;
  }
}

/** A listener of every shape that ignores what it is told (the probe never resolves). */
function inertListener(): ListenerLike {
  const listener = (() => true) as unknown as ListenerLike & Record<string, unknown>;
  listener.onSuccessfulResolution = () => {};
  listener.onError = () => {};
  return listener;
}
