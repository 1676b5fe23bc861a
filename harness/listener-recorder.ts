import type { GrpcVersionName } from './grpc-versions.js';

/**
 * A resolver listener in the shape of a grpc-js version, recording every
 * call in one normalised form (addresses, or an error with its code) and
 * calls made synchronously inside a constructor or updateResolution()
 * ({@link recordedResolver} sets `inside.value` around them).
 */
export type Call = { kind: 'addresses'; list: Array<{ host: string; port: number }> } | { kind: 'error'; code: number; details: string };

export interface Recorder {
  listener: unknown;
  calls: Call[];
  /** Set while a constructor or updateResolution() runs, to catch synchronous calls. */
  inside: { value: boolean };
  synchronousCalls: number;
}

/** A listener in the shape `name` expects, recording every call in one normalised form. */
export function recorder(name: GrpcVersionName): Recorder {
  const rec: Recorder = { listener: undefined, calls: [], inside: { value: false }, synchronousCalls: 0 };
  const toHostPorts = (list: unknown[]) =>
    list.flatMap((entry) => {
      const endpoint = entry as { addresses?: Array<{ host: string; port: number }>; host?: string; port?: number };
      return endpoint.addresses ?? [{ host: endpoint.host!, port: endpoint.port! }];
    });
  const note = (call: Call) => {
    if (rec.inside.value) rec.synchronousCalls++;
    rec.calls.push(call);
  };
  if (name === '@grpc/grpc-js') {
    rec.listener = (result: { ok: boolean; value?: unknown[]; error?: { code: number; details: string } }) => {
      if (result.ok) note({ kind: 'addresses', list: toHostPorts(result.value!) });
      else note({ kind: 'error', code: result.error!.code, details: result.error!.details });
      return true;
    };
  } else {
    rec.listener = {
      onSuccessfulResolution: (list: unknown[]) => note({ kind: 'addresses', list: toHostPorts(list) }),
      onError: (status: { code: number; details: string }) => note({ kind: 'error', code: status.code, details: status.details }),
    };
  }
  return rec;
}


type CreateResolver = (target: { scheme?: string; authority?: string; path: string }, listener: unknown, options: Record<string, unknown>) => unknown;

/** grpc-js's createResolver for `target` (`scheme:[//authority/]path`) with the recorder's listener, marking synchronous calls. */
export function recordedResolver(createResolver: CreateResolver, target: string, rec: Recorder, channelOptions: Record<string, unknown> = {}) {
  const match = /^([a-z][a-z0-9+.-]*):(?:\/\/([^/]*)\/)?(.*)$/.exec(target)!;
  rec.inside.value = true;
  const resolver = createResolver({ scheme: match[1], authority: match[2], path: match[3]! }, rec.listener, channelOptions) as {
    updateResolution(): void;
    destroy(): void;
  };
  rec.inside.value = false;
  return {
    updateResolution() {
      rec.inside.value = true;
      resolver.updateResolution();
      rec.inside.value = false;
    },
    destroy: () => resolver.destroy(),
  };
}
