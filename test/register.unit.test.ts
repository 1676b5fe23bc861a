import { afterEach, describe, expect, it } from 'vitest';
import { register, unregister } from '../src/index.js';
import { registration } from '../src/grpc/register.js';
import { GRPC_VERSIONS, createResolverFor, loadGrpc } from '../harness/grpc-versions.js';

/** Which resolver class grpc-js builds for a scheme right now. */
function resolverClassName(name: (typeof GRPC_VERSIONS)[number], scheme: string): string {
  const createResolver = createResolverFor(name);
  const listener = Object.assign(() => true, { onSuccessfulResolution() {}, onError() {} });
  const resolver = createResolver({ scheme, path: 'localhost:1' }, listener, {}) as { destroy(): void };
  resolver.destroy();
  return resolver.constructor.name;
}

afterEach(() => {
  unregister();
});

describe.each(GRPC_VERSIONS)('register() / unregister() with %s', (name) => {
  const grpc = loadGrpc(name);

  it('takes over dns and dns-watch, and unregister() gives dns back to the built-in', () => {
    const builtinName = resolverClassName(name, 'dns');
    expect(builtinName).toBe('DnsResolver');
    register({ grpc });
    expect(resolverClassName(name, 'dns')).toBe('DnsWatchResolver');
    expect(resolverClassName(name, 'dns-watch')).toBe('DnsWatchResolver');
    unregister();
    expect(resolverClassName(name, 'dns')).toBe(builtinName);
  });

  it('replaceBuiltin: false registers only dns-watch', () => {
    register({ grpc, replaceBuiltin: false });
    expect(resolverClassName(name, 'dns')).toBe('DnsResolver');
    expect(resolverClassName(name, 'dns-watch')).toBe('DnsWatchResolver');
  });

  it('calling register() twice reconfigures instead of stacking', () => {
    register({ grpc, refreshInterval: 2_000 });
    register({ grpc, refreshInterval: 3_000 });
    expect(registration()?.options.refreshInterval).toBe(3_000);
    unregister();
    expect(resolverClassName(name, 'dns')).toBe('DnsResolver');
    expect(registration()).toBeNull();
  });
});

describe('register() validation happens at once', () => {
  const grpc = loadGrpc('@grpc/grpc-js');

  it.each([
    [{ refreshInterval: -1 }, /Option "refreshInterval" must be a number of milliseconds from 1 to 2147483647, got -1/],
    [{ refreshInterval: Number.NaN }, /Option "refreshInterval" .* got NaN/],
    [{ jitter: 1 }, /Option "jitter" must be a number >= 0 and < 1/],
    [{ family: 5 }, /Option "family" must be 4 \(IPv4\), 6 \(IPv6\) or 0 \(both\), got 5/],
    [{ nameservers: ['dns.example'] }, /Option "nameservers\[0\]": Invalid nameserver "dns.example"/],
    [{ nameservers: [] }, /Option "nameservers" must be a non-empty array/],
    [{ backoff: { initial: 5_000, max: 1_000 } }, /Option "backoff.max" \(1000\) must be >= "backoff.initial" \(5000\)/],
    [{ backoff: { multiplier: 0.5 } }, /Option "backoff.multiplier" must be a number from 1 to 100/],
    [{ minInterval: 10_000, refreshInterval: 5_000 }, /Option "minInterval" \(10000\) must not exceed "refreshInterval" \(5000\)/],
    [{ attempts: 0 }, /Option "attempts" must be an integer from 1 to 10, got 0/],
    [{ respectTtl: 'yes' }, /Option "respectTtl" must be true or false, got "yes"/],
    [{ refreshIntervall: 5 }, /Unknown grpc-dns-watch option "refreshIntervall"/],
    [{ replaceBuiltin: 1 }, /Option "replaceBuiltin" must be true or false/],
    [{ dnsServiceConfig: 'no' }, /Option "dnsServiceConfig" must be true or false, got no/],
  ])('%j → TypeError', (options, message) => {
    expect(() => register({ grpc, ...(options as object) })).toThrow(TypeError);
    expect(() => register({ grpc, ...(options as object) })).toThrow(message);
    expect(registration()).toBeNull();
  });

  it('a module that is not grpc-js is refused with a clear message (from JavaScript: TypeScript refuses it already)', () => {
    // @ts-expect-error: {} is not a grpc-js module
    expect(() => register({ grpc: {} })).toThrow(/Option "grpc" must be the @grpc\/grpc-js module/);
  });

  it('a short refreshInterval alone lowers minInterval with it', () => {
    register({ grpc, refreshInterval: 200 });
    expect(registration()?.options.minInterval).toBe(200);
  });

  it('without options uses the peer dependency copy of grpc-js', () => {
    register();
    expect(resolverClassName('@grpc/grpc-js', 'dns')).toBe('DnsWatchResolver');
  });
});
