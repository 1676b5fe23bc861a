import { setTraceSink } from '../watch/trace.js';
import type { GrpcModuleLike } from './types.js';

/** `GRPC_TRACE=dns_watch GRPC_VERBOSITY=DEBUG` shows every query, diff, failure and backoff. */
export const TRACER_NAME = 'dns_watch';

/**
 * Route the watcher's trace lines to grpc-js's tracer. grpc-js reads
 * GRPC_TRACE once at load; we read it here too so that, when our tracer is
 * off, no trace text is ever built.
 */
export function connectTracing(grpc: GrpcModuleLike, env: NodeJS.ProcessEnv = process.env): void {
  if (!tracerEnabled(env.GRPC_TRACE)) {
    setTraceSink(null);
    return;
  }
  setTraceSink((text) => grpc.experimental.trace(grpc.logVerbosity.DEBUG, TRACER_NAME, text));
}

export function tracerEnabled(grpcTrace: string | undefined): boolean {
  const tracers = (grpcTrace ?? '').split(',').map((entry) => entry.trim());
  if (tracers.includes(`-${TRACER_NAME}`)) return false;
  return tracers.includes(TRACER_NAME) || tracers.includes('all');
}
