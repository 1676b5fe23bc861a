import { formatTarget } from '../target.js';
import type { GrpcModuleLike, GrpcUriLike } from './types.js';

/**
 * Telling a server's bind resolution from a channel's (issue 16).
 *
 * `Server.bindAsync(port)` resolves `port` with the same `createResolver()` a
 * channel uses, so with `register()` in effect our resolver serves binds too.
 * A channel wants a watcher; a bind wants one answer and nothing left running.
 * What the grpc-js sources (1.8, 1.10, 1.13, 1.14) offer to tell them apart:
 *
 * - the listener: an object `{ onSuccessfulResolution, onError }` from both a
 *   server and a channel in 1.8–1.13, a plain function from both in 1.14;
 * - the options: the server's own options object, shaped like a channel's;
 * - the lifecycle: no version ever calls `destroy()` on a bind's resolver
 *   (1.8 drops it at the end of `bindAsync`, 1.10–1.14 in `resolvePort`); the
 *   server only ignores later results (1.8–1.13 swap out
 *   `onSuccessfulResolution`, 1.14 keeps a `seenResolution` flag). Waiting for
 *   destroy() would leave a watcher polling for the life of the process;
 * - the call: in every version the resolver is constructed synchronously
 *   inside `Server.prototype.bindAsync` (1.8 at its end; 1.10+ through
 *   `bindPort`, an async function that runs synchronously up to its first
 *   `await`, whose operand `resolvePort()` calls `createResolver()` in a
 *   Promise executor, which also runs synchronously).
 *
 * Only the last is exact, so `register()` wraps `bindAsync` of the module it
 * registers with: while the original runs, the bound port is "pending", and
 * the one resolver constructed for exactly that target claims it. Matching the
 * target (not just "a resolver made during bindAsync") keeps a resolver for
 * another scheme that builds a channel of its own during the bind from
 * stealing the mark. No user code runs inside the call: bindAsync defers its
 * callback in every version.
 */

let pending: string | undefined;

/** Whether the resolver being constructed for `target` serves a `Server.bindAsync()`; claims the mark. */
export function claimBind(target: GrpcUriLike): boolean {
  if (pending === undefined) return false;
  // bindAsync('host:0') reaches the resolver as { scheme: 'dns', path: 'host:0' }; 'dns:…' keeps its scheme.
  if (pending !== target.path && pending !== formatTarget(target)) return false;
  pending = undefined;
  return true;
}

type BindAsync = (this: unknown, port: string, ...rest: unknown[]) => unknown;
const ORIGINAL = Symbol.for('grpc-dns-watch.bindAsync');

/**
 * Wrap `grpc.Server.prototype.bindAsync` so resolvers built during it know
 * they serve a bind. Returns the undo; a module without a Server (or already
 * wrapped) gets a no-op.
 */
export function trackBinds(grpc: GrpcModuleLike): () => void {
  const prototype = grpc.Server?.prototype as (Record<string | symbol, unknown> & { bindAsync?: BindAsync }) | undefined;
  const original = prototype?.bindAsync;
  if (!prototype || typeof original !== 'function' || (original as unknown as Record<symbol, unknown>)[ORIGINAL]) return () => {};
  const wrapped = function bindAsync(this: unknown, port: string, ...rest: unknown[]): unknown {
    const outer = pending;
    pending = port;
    try {
      return original.call(this, port, ...rest);
    } finally {
      pending = outer;
    }
  };
  Object.defineProperty(wrapped, ORIGINAL, { value: original });
  prototype.bindAsync = wrapped;
  return () => {
    // Someone wrapped it after us: leave their wrapper (ours inside it is harmless).
    if (prototype.bindAsync === wrapped) prototype.bindAsync = original;
  };
}
