/**
 * grpc-dns-watch: a polling, TTL-aware DNS resolver for @grpc/grpc-js.
 * Public API only; see DESIGN in docs/ for how the parts fit.
 */
export { register, unregister, type RegisterOptions } from './grpc/register.js';
export { registerPollingResolver, type PollingResolverOptions } from './grpc/polling-resolver.js';
export type { PollingAnswer, PollingEndpoint, PollingResolve, PollingTarget } from './watch/function-source.js';
export type { GrpcJsModule } from './grpc/types.js';
export { TRACER_NAME } from './grpc/trace.js';
export { SCHEME } from './grpc/resolver.js';
export { CHANNEL_OPTION_KEYS } from './grpc/channel-options.js';
export { watch, DnsWatch, type WatchUpdate, type DnsWatchEvents } from './watch-handle.js';
export { observe, type WatchEvent, type WatchObserver } from './watch/observe.js';
export { stats } from './watch/registry.js';
export type { WatcherStats } from './watch/stats.js';
export { DEFAULTS, type WatchOptions, type BackoffOptions } from './watch/options.js';
export { DnsError, type DnsErrorCode } from './dns/errors.js';
export { TargetError } from './target.js';
export type { Family, Nameserver, ResolvedAddress } from './dns/types.js';
