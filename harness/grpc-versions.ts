import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * The grpc-js versions the adapter is tested against: one per listener shape
 * boundary (1.8: object listener + addresses; 1.10 and 1.13: object listener +
 * endpoints; newest: one callback with StatusOr). Installed as npm aliases.
 */
export const GRPC_VERSIONS = ['grpc-js-1.8', 'grpc-js-1.10', 'grpc-js-1.13', '@grpc/grpc-js'] as const;
export type GrpcVersionName = (typeof GRPC_VERSIONS)[number];

const require = createRequire(import.meta.url);

export type GrpcModule = typeof import('@grpc/grpc-js');

export function loadGrpc(name: GrpcVersionName): GrpcModule {
  return require(name) as GrpcModule;
}

export function grpcVersion(name: GrpcVersionName): string {
  return (require(`${name}/package.json`) as { version: string }).version;
}

interface GrpcUri {
  scheme?: string;
  authority?: string;
  path: string;
}

/**
 * grpc-js's own createResolver for a version: the function a channel uses to
 * build the resolver registered for a scheme. Exported from 1.10 on; for older
 * versions taken from the module's file (test-only reach into internals).
 */
export function createResolverFor(name: GrpcVersionName) {
  const grpc = loadGrpc(name) as unknown as {
    experimental: { createResolver?: (target: GrpcUri, listener: unknown, options: Record<string, unknown>) => unknown };
  };
  if (grpc.experimental.createResolver) return grpc.experimental.createResolver;
  const main = require.resolve(name);
  return (require(path.join(path.dirname(main), 'resolver.js')) as {
    createResolver: (target: GrpcUri, listener: unknown, options: Record<string, unknown>) => unknown;
  }).createResolver;
}
