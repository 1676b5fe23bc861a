/**
 * The parts of @grpc/grpc-js the adapter touches, typed structurally so one
 * adapter serves every supported version (1.8 to 1.x) and any copy of the
 * module an app passes in.
 */

export interface GrpcUriLike {
  scheme?: string;
  authority?: string;
  path: string;
}

export interface StatusObjectLike {
  code: number;
  details: string;
  metadata: unknown;
}

/** 1.14+: one callback taking StatusOr<Endpoint[]>, returning whether the LB accepted it. */
type CallbackListener = (
  endpoints: { ok: true; value: unknown[] } | { ok: false; error: StatusObjectLike },
  attributes: Record<string, unknown>,
  serviceConfig: { ok: true; value: object } | { ok: false; error: StatusObjectLike } | null,
  resolutionNote: string,
) => boolean | void;

/** 1.8–1.13: an object; 1.10+ takes endpoints, older versions plain addresses. */
interface ObjectListener {
  onSuccessfulResolution(
    list: unknown[],
    serviceConfig: object | null,
    serviceConfigError: StatusObjectLike | null,
    configSelector: null,
    attributes: Record<string, unknown>,
  ): void;
  onError(error: StatusObjectLike): void;
}

export type ListenerLike = CallbackListener | ObjectListener;

export interface ResolverLike {
  updateResolution(): void;
  destroy(): void;
}

export interface ResolverConstructorLike {
  new (target: GrpcUriLike, listener: ListenerLike, channelOptions: Record<string, unknown>): ResolverLike;
  getDefaultAuthority(target: GrpcUriLike): string;
}

export interface GrpcModuleLike {
  Metadata: new () => unknown;
  /** Its bindAsync resolves bind addresses through the registered resolvers. */
  Server?: { prototype: object };
  status: { UNAVAILABLE: number };
  logVerbosity: { DEBUG: number };
  experimental: {
    registerResolver(scheme: string, resolverClass: ResolverConstructorLike): void;
    createResolver?: (target: GrpcUriLike, listener: ListenerLike, options: Record<string, unknown>) => ResolverLike;
    trace(severity: number, tracer: string, text: string): void;
    /** Present from 1.10, when resolvers started to hand over endpoints. */
    endpointToString?: unknown;
  };
}

/**
 * An `@grpc/grpc-js` module, 1.8 or later, as `register({ grpc })` takes it:
 * `import * as grpc from '@grpc/grpc-js'` or `require('@grpc/grpc-js')`.
 * Typed by shape, so the module of any copy and any supported version fits
 * (their classes differ from copy to copy); parameter types that differ
 * between versions are left open.
 */
export interface GrpcJsModule {
  Metadata: abstract new (...args: never[]) => unknown;
  status: { readonly UNAVAILABLE: number };
  logVerbosity: { readonly DEBUG: number };
  experimental: {
    registerResolver: (scheme: string, resolverClass: never) => void;
    trace: (severity: never, tracer: string, text: string) => void;
  };
}
