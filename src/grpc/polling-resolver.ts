import net from 'node:net';
import { FunctionSource, type PollingResolve, type PollingTarget } from '../watch/function-source.js';
import { resolveOptions, type WatchOptions } from '../watch/options.js';
import { registry } from '../watch/registry.js';
import { channelOptions } from './channel-options.js';
import { asGrpcModule, loadPeerGrpc, registeredResolverClass } from './register.js';
import { SCHEME, createResolverClass, type TargetBinding } from './resolver.js';
import { connectTracing } from './trace.js';
import type { GrpcJsModule, GrpcUriLike } from './types.js';

/**
 * `registerPollingResolver(scheme, resolve)`: any address source, polled by
 * the machinery the DNS resolver uses — one poller per target shared by every
 * channel (src/watch/registry.ts), its function as the address source
 * (src/watch/function-source.ts), and the same ChannelResolver and listener
 * adapter toward grpc-js (src/grpc/resolver.ts, listener.ts).
 */

/** `register()`'s options that apply to a polling resolver. */
export interface PollingResolverOptions extends Pick<WatchOptions, 'refreshInterval' | 'minInterval' | 'jitter' | 'backoff'> {
  /** The app's own `@grpc/grpc-js` module; default: the copy this package resolves as its peer dependency. */
  grpc?: GrpcJsModule;
}

const OPTION_KEYS = ['refreshInterval', 'minInterval', 'jitter', 'backoff', 'grpc'];
/** Schemes a polling resolver may not take: grpc-dns-watch's own (`register()`'s). */
const RESERVED = ['dns', SCHEME];
/** RFC 3986's scheme: a letter, then letters, digits, `+`, `-` or `.`. */
const SCHEME_SYNTAX = /^[a-z][a-z0-9+.-]*$/i;

/** Registrations made so far: each gets its own pollers (its function is its own). */
let registrations = 0;

/**
 * Make grpc-js resolve `scheme:` targets by polling `resolve` on
 * `register()`'s schedule (refreshInterval, minInterval, jitter, backoff),
 * with its contract: a list of `{ host, port }` is the set, an empty list
 * "none" (UNAVAILABLE to the channel), a throw "could not ask" (the last good
 * set is kept, retries back off). Returns the function that undoes it:
 * grpc-js's resolver registered for `scheme` before is put back, if there
 * was one and nothing replaced ours since; otherwise channels created
 * afterwards are told the scheme's resolver was unregistered. Bad arguments
 * throw a TypeError naming what is accepted.
 */
export function registerPollingResolver(scheme: string, resolve: PollingResolve, options: PollingResolverOptions = {}): () => void {
  checkScheme(scheme);
  if (typeof resolve !== 'function') {
    throw new TypeError(`registerPollingResolver("${scheme}") needs a function resolve({ target, signal }) returning [{ host, port }], got ${typeof resolve}`);
  }
  if (options === null || typeof options !== 'object') throw new TypeError(`registerPollingResolver() options must be an object, got ${String(options)}`);
  const unknown = Object.keys(options).find((key) => !OPTION_KEYS.includes(key));
  if (unknown !== undefined) {
    throw new TypeError(`Option "${unknown}" does not apply to registerPollingResolver(); accepted: ${OPTION_KEYS.join(', ')}`);
  }
  const { grpc: grpcOption, ...watchOptions } = options;
  const grpc = grpcOption === undefined ? loadPeerGrpc() : asGrpcModule(grpcOption);
  const resolved = resolveOptions(watchOptions, undefined, ['grpc']);
  const registration = { group: `${scheme} #${++registrations}`, live: true };
  const binding: TargetBinding = {
    bind(target, display) {
      if (!registration.live) return new Error(`No resolver for ${display}: the polling resolver of scheme "${scheme}" was unregistered`);
      const polled = pollingTarget(target, scheme);
      const createSource = () => new FunctionSource(display, polled, resolve);
      return { port: 0, subscribe: (channel, deliver, takesServiceConfig) => registry.subscribeSource({ group: registration.group, target: display, createSource }, channel, deliver, takesServiceConfig) };
    },
    channelOptions: (registered, channel) => channelOptions(registered, channel, scheme),
    defaultAuthority: (target) => defaultAuthority(pollingTarget(target, scheme)),
  };
  const previous = registeredResolverClass(grpc, scheme);
  const resolverClass = createResolverClass(grpc, () => resolved, binding);
  grpc.experimental.registerResolver(scheme, resolverClass);
  connectTracing(grpc);
  return () => {
    if (!registration.live) return;
    registration.live = false;
    // Put back what ours replaced, unless something replaced ours since.
    if (previous && registeredResolverClass(grpc, scheme) === resolverClass) grpc.experimental.registerResolver(scheme, previous);
  };
}

function checkScheme(scheme: unknown): asserts scheme is string {
  if (typeof scheme !== 'string' || !SCHEME_SYNTAX.test(scheme)) {
    throw new TypeError(`registerPollingResolver() scheme must be a URI scheme (a letter, then letters, digits, "+", "-" or "."), got ${JSON.stringify(scheme) ?? String(scheme)}`);
  }
  if (RESERVED.includes(scheme.toLowerCase())) {
    throw new TypeError(`registerPollingResolver() cannot take the scheme "${scheme}": "dns" and "${SCHEME}" are register()'s; accepted: any other URI scheme, e.g. "file" or "consul"`);
  }
}

/**
 * A channel's `:authority` when it sets no `grpc.default_authority`: the
 * path when it is `host[:port]` (as grpc-js's dns resolver takes it), else
 * the target's authority, else `localhost` — a path such as `etc/pods.json`
 * is no HTTP/2 authority, and a server resets every stream that carries it.
 */
function defaultAuthority(target: PollingTarget): string {
  if (target.host !== undefined) return target.path;
  return target.authority ? target.authority : 'localhost';
}

/** A target as `resolve` gets it: grpc-js's parse, with host and port when the path is `host`, `host:port` or `[v6]:port`. */
function pollingTarget(target: GrpcUriLike, scheme: string): PollingTarget {
  const base = { scheme: target.scheme ?? scheme, authority: target.authority, path: target.path };
  const match = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(target.path) ?? /^([^:/[\]@?#]+)(?::(\d{1,5}))?$/.exec(target.path);
  if (!match) return base;
  const [, host, portText] = match;
  if (target.path.startsWith('[') && !net.isIPv6(host!)) return base;
  const port = portText === undefined ? undefined : Number(portText);
  if (port !== undefined && port > 65_535) return base;
  return { ...base, host: host!, ...(port === undefined ? {} : { port }) };
}
