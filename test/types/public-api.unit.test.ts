/**
 * Type-level tests of the public API: what a user's TypeScript sees when it
 * imports 'grpc-dns-watch'. `tsc --noEmit` (part of `npm test`) is what
 * enforces them: `expectTypeOf` fails compilation on a mismatch and every
 * `@ts-expect-error` must still be an error. Vitest runs the file too, which
 * only proves nothing here has a runtime side effect: nothing polls, nothing
 * registers.
 *
 * Exact shapes (`toEqualTypeOf`) on purpose: adding, renaming or widening a
 * public field is an API change and should show up here. The published
 * declaration files (dist/) are checked from a consumer project by
 * `npm run check:package`.
 */
import * as dnsPacket from 'dns-packet';
import { describe, expectTypeOf, it } from 'vitest';
import {
  CHANNEL_OPTION_KEYS,
  DEFAULTS,
  DnsError,
  DnsWatch,
  SCHEME,
  TRACER_NAME,
  TargetError,
  observe,
  register,
  stats,
  unregister,
  watch,
  type BackoffOptions,
  type DnsErrorCode,
  type DnsWatchEvents,
  type Family,
  type GrpcJsModule,
  type Nameserver,
  type RegisterOptions,
  type ResolvedAddress,
  type WatchEvent,
  type WatchObserver,
  type WatchOptions,
  type WatchUpdate,
  type WatcherStats,
} from '../../src/index.js';

describe('register() / unregister()', () => {
  it('take optional options and return nothing', () => {
    expectTypeOf(register).parameters.toEqualTypeOf<[options?: RegisterOptions]>();
    expectTypeOf(register).returns.toBeVoid();
    expectTypeOf(unregister).parameters.toEqualTypeOf<[]>();
    expectTypeOf(unregister).returns.toBeVoid();
  });

  it('RegisterOptions are the watch options plus grpc, replaceBuiltin and dnsServiceConfig', () => {
    expectTypeOf<RegisterOptions>().toExtend<WatchOptions>();
    expectTypeOf<Omit<RegisterOptions, keyof WatchOptions>>().toEqualTypeOf<{ grpc?: GrpcJsModule; replaceBuiltin?: boolean; dnsServiceConfig?: boolean }>();
  });

  it('grpc is a grpc-js module, of any copy of every version the adapter serves', () => {
    expectTypeOf<typeof import('@grpc/grpc-js')>().toExtend<GrpcJsModule>();
    expectTypeOf<typeof import('grpc-js-1.13')>().toExtend<GrpcJsModule>();
    expectTypeOf<typeof import('grpc-js-1.10')>().toExtend<GrpcJsModule>();
    expectTypeOf<typeof import('grpc-js-1.8')>().toExtend<GrpcJsModule>();
    expectTypeOf<typeof import('@grpc/grpc-js')>().toExtend<RegisterOptions['grpc']>();
    // @ts-expect-error: an object is not a grpc-js module
    const empty: RegisterOptions = { grpc: {} };
    // @ts-expect-error: nor is another module
    const other: RegisterOptions = { grpc: dnsPacket };
    void [empty, other];
  });

  it('reject what validation rejects, at compile time where the type can tell', () => {
    // @ts-expect-error: a misspelled option is not accepted
    const misspelled: RegisterOptions = { refreshIntervall: 5_000 };
    // @ts-expect-error: replaceBuiltin is a boolean
    const notBoolean: RegisterOptions = { replaceBuiltin: 'yes' };
    expectTypeOf(misspelled).toEqualTypeOf<RegisterOptions>();
    expectTypeOf(notBoolean).toEqualTypeOf<RegisterOptions>();
  });
});

describe('options', () => {
  it('WatchOptions: every field optional, with the documented types', () => {
    expectTypeOf<WatchOptions>().toEqualTypeOf<{
      refreshInterval?: number;
      respectTtl?: boolean;
      minInterval?: number;
      jitter?: number;
      backoff?: BackoffOptions;
      family?: Family;
      askBothFamilies?: boolean;
      nameservers?: readonly (string | Nameserver)[];
      timeout?: number;
      attempts?: number;
      resolvConfPath?: string;
      hostsPath?: string | false;
      maxAddresses?: number;
    }>();
    expectTypeOf<BackoffOptions>().toEqualTypeOf<{ initial?: number; max?: number; multiplier?: number }>();
    expectTypeOf({}).toExtend<WatchOptions>();
  });

  it('Family is 0, 4 or 6; a nameserver is a string or { host, port }', () => {
    expectTypeOf<Family>().toEqualTypeOf<0 | 4 | 6>();
    expectTypeOf<Nameserver>().toEqualTypeOf<{ host: string; port: number }>();
    expectTypeOf<['10.96.0.10', { host: 'fd00::10'; port: 53 }]>().toExtend<WatchOptions['nameservers']>();
    // @ts-expect-error: 5 is not an address family
    const family: WatchOptions = { family: 5 };
    // @ts-expect-error: hostsPath is a path or false, never true
    const hosts: WatchOptions = { hostsPath: true };
    void [family, hosts];
  });

  it('DEFAULTS fit the options they default, and are read-only', () => {
    // Literal types (5000, true, …): the declaration file documents the values.
    expectTypeOf<typeof DEFAULTS.refreshInterval>().toExtend<number>();
    expectTypeOf<typeof DEFAULTS.minInterval>().toExtend<number>();
    expectTypeOf<typeof DEFAULTS.jitter>().toExtend<number>();
    expectTypeOf<typeof DEFAULTS.respectTtl>().toExtend<boolean>();
    expectTypeOf<typeof DEFAULTS.family>().toEqualTypeOf<Family>();
    // backoff.max has no fixed default: it follows refreshInterval.
    expectTypeOf<typeof DEFAULTS.backoff>().toExtend<Omit<Required<BackoffOptions>, 'max'> & BackoffOptions>();
    expectTypeOf<typeof DEFAULTS>().toExtend<WatchOptions>();
    function mutate(): void {
      // @ts-expect-error: DEFAULTS is frozen, and typed so
      DEFAULTS.refreshInterval = 1;
      // @ts-expect-error: its backoff too
      DEFAULTS.backoff.max = 1;
    }
    void mutate;
  });

  it('CHANNEL_OPTION_KEYS maps channel option names to option names', () => {
    expectTypeOf(CHANNEL_OPTION_KEYS['grpc-dns-watch.refresh_interval_ms']).toEqualTypeOf<'refreshInterval'>();
    expectTypeOf<(typeof CHANNEL_OPTION_KEYS)[keyof typeof CHANNEL_OPTION_KEYS]>().toExtend<keyof WatchOptions>();
    expectTypeOf<keyof typeof CHANNEL_OPTION_KEYS>().toExtend<`grpc-dns-watch.${string}`>();
  });

  it('SCHEME and TRACER_NAME are their literal strings', () => {
    expectTypeOf<typeof SCHEME>().toEqualTypeOf<'dns-watch'>();
    expectTypeOf<typeof TRACER_NAME>().toEqualTypeOf<'dns_watch'>();
  });
});

describe('watch()', () => {
  it('takes a name and options and returns a DnsWatch', () => {
    expectTypeOf(watch).parameters.toEqualTypeOf<[name: string, options?: WatchOptions]>();
    expectTypeOf(watch).returns.toEqualTypeOf<DnsWatch>();
    expectTypeOf<DnsWatch>().toExtend<AsyncIterable<WatchUpdate>>();
  });

  it('a DnsWatch has current, lastError, stats(), refresh() and close()', () => {
    expectTypeOf<DnsWatch['name']>().toEqualTypeOf<string>();
    expectTypeOf<DnsWatch['current']>().toEqualTypeOf<WatchUpdate | undefined>();
    expectTypeOf<DnsWatch['lastError']>().toEqualTypeOf<DnsError | undefined>();
    expectTypeOf<DnsWatch['stats']>().returns.toEqualTypeOf<WatcherStats | undefined>();
    expectTypeOf<DnsWatch['refresh']>().toEqualTypeOf<() => void>();
    expectTypeOf<DnsWatch['close']>().toEqualTypeOf<() => void>();
  });

  it('emits exactly update(WatchUpdate) and error(DnsError)', () => {
    expectTypeOf<DnsWatchEvents>().toEqualTypeOf<{ update: [WatchUpdate]; error: [DnsError] }>();
    // Listener parameters are inferred from the event name. Never called: it would start polling.
    function listeners(svc: DnsWatch): void {
      svc.on('update', (update) => expectTypeOf(update).toEqualTypeOf<WatchUpdate>());
      svc.once('error', (error) => expectTypeOf(error).toEqualTypeOf<DnsError>());
      // @ts-expect-error: there is no 'updates' event
      svc.on('updates', () => {});
      // @ts-expect-error: an update listener receives a WatchUpdate, not a string
      svc.on('update', (update: string) => update);
    }
    async function iterate(svc: DnsWatch): Promise<void> {
      for await (const update of svc) expectTypeOf(update).toEqualTypeOf<WatchUpdate>();
    }
    void [listeners, iterate];
  });

  it('WatchUpdate: the whole set, the change and the shortest TTL', () => {
    expectTypeOf<WatchUpdate>().toEqualTypeOf<{
      name: string;
      addresses: string[];
      records: ResolvedAddress[];
      added: string[];
      removed: string[];
      ttl: number;
      at: Date;
    }>();
    expectTypeOf<ResolvedAddress>().toEqualTypeOf<{ address: string; family: 4 | 6; ttl: number }>();
  });
});

describe('observe()', () => {
  it('takes an observer and returns the function that stops it', () => {
    expectTypeOf(observe).parameters.toEqualTypeOf<[observer: WatchObserver]>();
    expectTypeOf(observe).returns.toEqualTypeOf<() => void>();
    expectTypeOf<WatchObserver>().toEqualTypeOf<(event: WatchEvent) => void>();
  });

  it('WatchEvent is a union told apart by type: query, update, error, attempt, family', () => {
    expectTypeOf<WatchEvent['type']>().toEqualTypeOf<'query' | 'update' | 'error' | 'attempt' | 'family'>();
    expectTypeOf<Extract<WatchEvent, { type: 'family' }>>().toEqualTypeOf<{
      type: 'family';
      name: string;
      family: 4 | 6;
      change: 'demoted' | 'restored';
      nextAskInMs: number | undefined;
      reason: string;
    }>();
    expectTypeOf<Extract<WatchEvent, { type: 'query' }>>().toEqualTypeOf<{
      type: 'query';
      name: string;
      family: Family;
      durationMs: number;
      result: 'NOERROR' | DnsErrorCode;
      addresses: number;
      tryTimeoutMs: number | undefined;
    }>();
    expectTypeOf<Extract<WatchEvent, { type: 'update' }>>().toEqualTypeOf<{
      type: 'update';
      name: string;
      addresses: string[];
      added: string[];
      removed: string[];
    }>();
    expectTypeOf<Extract<WatchEvent, { type: 'error' }>>().toEqualTypeOf<{
      type: 'error';
      name: string;
      error: DnsError;
      kept: boolean;
      retryInMs: number;
    }>();
    expectTypeOf<Extract<WatchEvent, { type: 'attempt' }>>().toEqualTypeOf<{
      type: 'attempt';
      name: string;
      recordType: 'A' | 'AAAA' | 'TXT';
      server: string;
      transport: 'udp' | 'tcp';
      error: DnsError;
      durationMs: number;
      timeoutMs: number;
    }>();
  });

  it('narrows on event.type', () => {
    const observer: WatchObserver = (event) => {
      if (event.type === 'error') expectTypeOf(event.kept).toBeBoolean();
      else if (event.type === 'query') expectTypeOf(event.result).toEqualTypeOf<'NOERROR' | DnsErrorCode>();
      else if (event.type === 'attempt') {
        expectTypeOf(event.transport).toEqualTypeOf<'udp' | 'tcp'>();
        expectTypeOf(event.recordType).toEqualTypeOf<'A' | 'AAAA' | 'TXT'>();
      }
      else if (event.type === 'family') expectTypeOf(event.change).toEqualTypeOf<'demoted' | 'restored'>();
      else expectTypeOf(event.added).toEqualTypeOf<string[]>();
      // @ts-expect-error: kept exists only on error events
      void event.kept;
    };
    void observer;
  });
});

describe('errors', () => {
  it('DnsErrorCode is the closed list of failure codes', () => {
    expectTypeOf<DnsErrorCode>().toEqualTypeOf<
      'NXDOMAIN' | 'NODATA' | 'SERVFAIL' | 'REFUSED' | 'BADRCODE' | 'TIMEOUT' | 'NETWORK' | 'CONNREFUSED' | 'OVERLOADED' | 'BADRESPONSE' | 'BADNAME' | 'CLOSED'
    >();
    // @ts-expect-error: getaddrinfo's codes are not ours
    const code: DnsErrorCode = 'EAI_AGAIN';
    void code;
  });

  it('DnsError is an Error with code, hostname and authoritative', () => {
    expectTypeOf<DnsError>().toExtend<Error>();
    expectTypeOf<DnsError['code']>().toEqualTypeOf<DnsErrorCode>();
    expectTypeOf<DnsError['hostname']>().toEqualTypeOf<string>();
    expectTypeOf<DnsError['authoritative']>().toEqualTypeOf<boolean>();
    expectTypeOf(DnsError).constructorParameters.toEqualTypeOf<
      [code: DnsErrorCode, hostname: string, message: string, options?: { cause?: unknown }]
    >();
  });

  it('TargetError is an Error carrying the target', () => {
    expectTypeOf<TargetError>().toExtend<Error>();
    expectTypeOf<TargetError['target']>().toEqualTypeOf<string>();
    // What is wrong with it, without the target and the accepted forms around it.
    expectTypeOf<TargetError['reason']>().toEqualTypeOf<string>();
  });
});

describe('stats()', () => {
  it('returns one WatcherStats per live watcher', () => {
    expectTypeOf(stats).parameters.toEqualTypeOf<[]>();
    expectTypeOf(stats).returns.toEqualTypeOf<WatcherStats[]>();
  });

  it('WatcherStats: counters, state, the set, the times, a cache in front and the nameservers asked', () => {
    expectTypeOf<WatcherStats>().toEqualTypeOf<{
      name: string;
      family: Family;
      subscribers: number;
      state: 'unknown' | 'addresses' | 'none' | 'failed';
      addresses: string[];
      addressesAvailable: number | undefined;
      queries: number;
      failures: number;
      consecutiveFailures: number;
      lastError: { code: DnsErrorCode; message: string } | undefined;
      lastQueryAt: Date | undefined;
      lastChangeAt: Date | undefined;
      querying: boolean;
      nextPollAt: Date | undefined;
      polledName: string | undefined;
      cache: 'unknown' | 'none' | 'detected';
      cacheTtl: number | undefined;
      stalenessBoundMs: number | undefined;
      familiesEveryPoll: Array<4 | 6>;
      demotedFamily: { family: 4 | 6; nextAskAt: Date } | undefined;
      nameservers: Array<{ server: string; tryTimeoutMs: number; latencyMs: number | undefined; healthy: boolean }>;
    }>();
  });
});
