import { requireGrpcFile } from './internals.js';
import type { GrpcModuleLike } from './types.js';

/**
 * A service config checked by the app's own grpc-js, as its channel will
 * read it. grpc-js exports no validator (1.8 to 1.14), so its
 * `validateServiceConfig` comes from the copy's `service-config.js`; what it
 * returns (a normalised copy) is what the channel gets — 1.8–1.13 use a
 * resolver's config without checking it again. Every error names the
 * target and what was wrong.
 */
type Validate = (config: unknown) => object;

const validators = new WeakMap<object, Validate | null>();

function validatorOf(grpc: GrpcModuleLike): Validate | null {
  let validate = validators.get(grpc);
  if (validate === undefined) {
    const found = requireGrpcFile<{ validateServiceConfig?: Validate }>(grpc, 'service-config.js')?.validateServiceConfig;
    validate = typeof found === 'function' ? found : null;
    validators.set(grpc, validate);
  }
  return validate;
}

/** `config` as the app's grpc-js validates it, or an Error saying why the channel cannot use it. */
export function validatedServiceConfig(grpc: GrpcModuleLike, config: object, target: string): object | Error {
  const validate = validatorOf(grpc);
  if (!validate) {
    // A bundled grpc-js: its validator cannot be found, and an unchecked config could break the channel.
    return new Error(`Service config from ${target} not applied: this copy of @grpc/grpc-js has no service-config.js to validate it with (bundled?)`);
  }
  try {
    return validate(config);
  } catch (error) {
    return new Error(`Invalid service config from ${target}: ${(error as Error)?.message ?? String(error)}`);
  }
}
