/**
 * Bad inputs, one row each, with the exact message a user gets:
 * register() and watch() options (TypeError at the call), per-channel
 * options (TypeError when the channel is made), nameserver strings, and
 * malformed targets (an UNAVAILABLE error to the channel's resolver listener,
 * never a throw). Then the edge inputs that are accepted, and how they are
 * read. docs/reliability.md lists the messages judged unclear.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, unregister, watch, type RegisterOptions, type WatchOptions } from '../src/index.js';
import { resolveOptions } from '../src/watch/options.js';
import { parseNameserver } from '../src/dns/resolv-conf.js';
import { parseTarget } from '../src/target.js';
import { createPodClient } from '../harness/pods.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';

const MAX_MS = 2_147_483_647;
const MS = (name: string, min: number, got: string) => `Option "${name}" must be a number of milliseconds from ${min} to ${MAX_MS}, got ${got}`;
const ACCEPTED_NS = 'expected an IPv4 or IPv6 address, optionally with a port (1.2.3.4, 1.2.3.4:53, [::1]:53)';
const NS = (index: number, spec: string, why?: string) =>
  `Option "nameservers[${index}]": Invalid nameserver ${JSON.stringify(spec)}: ${why ? `${why}; ` : ''}${ACCEPTED_NS}`;
const TARGET_TAIL = '; expected dns:[//nameserver[:port]/]host[:port] with host a DNS name, an IPv4 address or a bracketed IPv6 address';
const BAD_CHARACTER = (character: string) =>
  `is not a valid DNS label: character ${JSON.stringify(character)} is not allowed (letters, digits, "-" and "_"; IDNs in punycode)`;
const KNOWN = 'refreshInterval, respectTtl, minInterval, jitter, backoff, family, askBothFamilies, nameservers, timeout, attempts, resolvConfPath, hostsPath, maxAddresses';
const KNOWN_TO_REGISTER = `${KNOWN}, grpc, replaceBuiltin, dnsServiceConfig`;
const CHANNEL_KEYS = 'grpc-dns-watch.refresh_interval_ms, grpc-dns-watch.min_interval_ms, grpc-dns-watch.respect_ttl, grpc-dns-watch.jitter, grpc-dns-watch.family, grpc-dns-watch.ask_both_families, grpc-dns-watch.max_addresses';

/** The error `fn` throws (it must throw). */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw, but the call returned');
}

let deadPort: number;

beforeAll(async () => {
  deadPort = await unusedUdpPort();
});

afterAll(() => {
  unregister();
});

// ------------------------------------------------------------------ options

const OPTION_ROWS: Array<[string, WatchOptions, string]> = [
  ['unknown option', { interval: 5 } as WatchOptions, `Unknown grpc-dns-watch option "interval"; accepted: ${KNOWN}`],
  ['refreshInterval negative', { refreshInterval: -1 }, MS('refreshInterval', 1, '-1')],
  ['refreshInterval NaN', { refreshInterval: NaN }, MS('refreshInterval', 1, 'NaN')],
  ['refreshInterval 0', { refreshInterval: 0 }, MS('refreshInterval', 1, '0')],
  ['refreshInterval Infinity', { refreshInterval: Infinity }, MS('refreshInterval', 1, 'Infinity')],
  ['refreshInterval beyond a timer (2^31 ms)', { refreshInterval: 2 ** 31 }, MS('refreshInterval', 1, '2147483648')],
  ['refreshInterval as a string', { refreshInterval: '5000' as unknown as number }, MS('refreshInterval', 1, '"5000"')],
  ['minInterval negative', { minInterval: -1 }, MS('minInterval', 0, '-1')],
  ['minInterval NaN', { minInterval: NaN }, MS('minInterval', 0, 'NaN')],
  ['minInterval above refreshInterval', { refreshInterval: 5_000, minInterval: 10_000 }, 'Option "minInterval" (10000) must not exceed "refreshInterval" (5000)'],
  ['jitter 1', { jitter: 1 }, 'Option "jitter" must be a number >= 0 and < 1 (a fraction of each delay), got 1'],
  ['jitter 1.5', { jitter: 1.5 }, 'Option "jitter" must be a number >= 0 and < 1 (a fraction of each delay), got 1.5'],
  ['jitter negative', { jitter: -0.1 }, 'Option "jitter" must be a number >= 0 and < 1 (a fraction of each delay), got -0.1'],
  ['jitter NaN', { jitter: NaN }, 'Option "jitter" must be a number >= 0 and < 1 (a fraction of each delay), got NaN'],
  ['jitter as a string', { jitter: '0.2' as unknown as number }, 'Option "jitter" must be a number >= 0 and < 1 (a fraction of each delay), got "0.2"'],
  ['family 5', { family: 5 as 4 }, 'Option "family" must be 4 (IPv4), 6 (IPv6) or 0 (both), got 5'],
  ['family "4"', { family: '4' as unknown as 4 }, 'Option "family" must be 4 (IPv4), 6 (IPv6) or 0 (both), got "4"'],
  ['family "ipv4"', { family: 'ipv4' as unknown as 4 }, 'Option "family" must be 4 (IPv4), 6 (IPv6) or 0 (both), got "ipv4"'],
  ['family NaN', { family: NaN as 4 }, 'Option "family" must be 4 (IPv4), 6 (IPv6) or 0 (both), got NaN'],
  ['family null', { family: null as unknown as 4 }, 'Option "family" must be 4 (IPv4), 6 (IPv6) or 0 (both), got null'],
  ['respectTtl "yes"', { respectTtl: 'yes' as unknown as boolean }, 'Option "respectTtl" must be true or false, got "yes"'],
  ['respectTtl 1', { respectTtl: 1 as unknown as boolean }, 'Option "respectTtl" must be true or false, got 1'],
  ['askBothFamilies "no"', { askBothFamilies: 'no' as unknown as boolean }, 'Option "askBothFamilies" must be true or false, got "no"'],
  ['backoff a number', { backoff: 5 as unknown as object }, 'Option "backoff" must be an object { initial, max, multiplier }, got 5'],
  ['backoff.initial 0', { backoff: { initial: 0 } }, MS('backoff.initial', 1, '0')],
  ['backoff.max negative', { backoff: { max: -1 } }, MS('backoff.max', 1, '-1')],
  ['backoff.multiplier below 1', { backoff: { multiplier: 0.5 } }, 'Option "backoff.multiplier" must be a number from 1 to 100, got 0.5'],
  ['backoff.multiplier above 100', { backoff: { multiplier: 101 } }, 'Option "backoff.multiplier" must be a number from 1 to 100, got 101'],
  ['backoff.multiplier NaN', { backoff: { multiplier: NaN } }, 'Option "backoff.multiplier" must be a number from 1 to 100, got NaN'],
  ['backoff.max below backoff.initial', { backoff: { initial: 5_000, max: 1_000 } }, 'Option "backoff.max" (1000) must be >= "backoff.initial" (5000)'],
  ['timeout 0', { timeout: 0 }, MS('timeout', 1, '0')],
  ['timeout NaN', { timeout: NaN }, MS('timeout', 1, 'NaN')],
  ['attempts 0', { attempts: 0 }, 'Option "attempts" must be an integer from 1 to 10, got 0'],
  ['attempts 1.5', { attempts: 1.5 }, 'Option "attempts" must be an integer from 1 to 10, got 1.5'],
  ['attempts 11', { attempts: 11 }, 'Option "attempts" must be an integer from 1 to 10, got 11'],
  ['attempts NaN', { attempts: NaN }, 'Option "attempts" must be an integer from 1 to 10, got NaN'],
  ['resolvConfPath empty', { resolvConfPath: '' }, 'Option "resolvConfPath" must be a non-empty file path, got ""'],
  ['resolvConfPath a number', { resolvConfPath: 5 as unknown as string }, 'Option "resolvConfPath" must be a non-empty file path, got 5'],
  ['hostsPath true', { hostsPath: true as unknown as string }, 'Option "hostsPath" must be a non-empty file path, got true'],
  ['hostsPath empty', { hostsPath: '' }, 'Option "hostsPath" must be a non-empty file path, got ""'],
  // nameservers
  ['nameservers empty', { nameservers: [] }, 'Option "nameservers" must be a non-empty array such as ["10.96.0.10", "[fd00::10]:53"], got an array'],
  ['nameservers a string', { nameservers: '10.0.0.1' as unknown as string[] }, 'Option "nameservers" must be a non-empty array such as ["10.96.0.10", "[fd00::10]:53"], got "10.0.0.1"'],
  ['nameserver a host name', { nameservers: ['dns.google'] }, NS(0, 'dns.google')],
  ['nameserver port 0', { nameservers: ['10.0.0.1:0'] }, NS(0, '10.0.0.1:0', 'port 0 is outside 1..65535')],
  ['nameserver port 65536', { nameservers: ['10.0.0.1:65536'] }, NS(0, '10.0.0.1:65536', 'port 65536 is outside 1..65535')],
  ['nameserver port -53', { nameservers: ['10.0.0.1:-53'] }, NS(0, '10.0.0.1:-53', 'port "-53" is not a number')],
  ['nameserver port "53x"', { nameservers: ['10.0.0.1:53x'] }, NS(0, '10.0.0.1:53x', 'port "53x" is not a number')],
  ['nameserver empty port', { nameservers: ['10.0.0.1:'] }, NS(0, '10.0.0.1:', 'port "" is not a number')],
  ['nameserver IPv6 port 99999', { nameservers: ['[::1]:99999'] }, NS(0, '[::1]:99999', 'port 99999 is outside 1..65535')],
  ['nameserver IPv6 port of 6 digits', { nameservers: ['[::1]:123456'] }, NS(0, '[::1]:123456', 'port 123456 is outside 1..65535')],
  ['nameserver IPv4 in brackets', { nameservers: ['[10.0.0.1]:53'] }, NS(0, '[10.0.0.1]:53', 'brackets must hold an IPv6 address')],
  ['nameserver empty string', { nameservers: [''] }, NS(0, '', 'empty')],
  ['nameserver blanks', { nameservers: ['   '] }, NS(0, '   ', 'empty')],
  ['nameserver with a space for the port', { nameservers: ['10.0.0.1 53'] }, NS(0, '10.0.0.1 53')],
  ['nameserver 10.0.0.256', { nameservers: ['10.0.0.256'] }, NS(0, '10.0.0.256')],
  ['second nameserver bad', { nameservers: ['10.0.0.1', 'ns2'] }, NS(1, 'ns2')],
  ['nameserver a number', { nameservers: [53 as unknown as string] }, 'Option "nameservers[0]" must be a string like "10.0.0.10:53" or { host, port }, got 53'],
  ['nameserver null', { nameservers: [null as unknown as string] }, 'Option "nameservers[0]" must be a string like "10.0.0.10:53" or { host, port }, got null'],
  ['nameserver { host: 5 }', { nameservers: [{ host: 5 } as unknown as string] }, 'Option "nameservers[0]" must be a string like "10.0.0.10:53" or { host, port }, got an object'],
  ['nameserver { host: name }', { nameservers: [{ host: 'dns.local', port: 53 }] }, NS(0, 'dns.local:53')],
  ['nameserver { port: 70000 }', { nameservers: [{ host: '10.0.0.1', port: 70000 }] }, NS(0, '10.0.0.1:70000', 'port 70000 is outside 1..65535')],
  ['nameserver { port: 0 }', { nameservers: [{ host: '10.0.0.1', port: 0 }] }, NS(0, '10.0.0.1:0', 'port 0 is outside 1..65535')],
  ['nameserver { port: 1.5 }', { nameservers: [{ host: '10.0.0.1', port: 1.5 }] }, NS(0, '10.0.0.1:1.5', 'port "1.5" is not a number')],
  ['nameserver { IPv6 host, port: -1 }', { nameservers: [{ host: '::1', port: -1 }] }, NS(0, '[::1]:-1', 'port "-1" is not a number')],
];

describe('register() options: a TypeError at the call, naming the option and the accepted range', () => {
  it.each(OPTION_ROWS)('%s', (_label, options, message) => {
    const error = thrown(() => register({ replaceBuiltin: false, ...(options as RegisterOptions) }));
    expect(error).toBeInstanceOf(TypeError);
    // register() lists its own two options among the accepted ones; watch() does not take them.
    expect(error.message).toBe(message.replace(`accepted: ${KNOWN}`, `accepted: ${KNOWN_TO_REGISTER}`));
  });

  it.each<[string, unknown, string]>([
    ['options null', null, 'register() options must be an object, got null'],
    ['options a number', 42, 'register() options must be an object, got 42'],
    ['replaceBuiltin "yes"', { replaceBuiltin: 'yes' }, 'Option "replaceBuiltin" must be true or false, got yes'],
    ['grpc not the module', { grpc: {} }, 'Option "grpc" must be the @grpc/grpc-js module (>= 1.8), e.g. register({ grpc: require("@grpc/grpc-js") })'],
    ['a register() option misspelt', { replacebuiltin: false }, `Unknown grpc-dns-watch option "replacebuiltin"; accepted: ${KNOWN_TO_REGISTER}`],
  ])('%s', (_label, options, message) => {
    const error = thrown(() => register(options as RegisterOptions));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(message);
  });

  it('a rejected register() changes nothing: the previous registration stays', () => {
    register({ replaceBuiltin: false, refreshInterval: 1_234 });
    expect(() => register({ replaceBuiltin: false, jitter: 2 })).toThrow(TypeError);
    const resolver = grpc.experimental.createResolver({ scheme: 'dns-watch', path: 'svc.test:1' }, () => true, {});
    resolver.destroy();
    expect(resolver.constructor.name).toBe('DnsWatchResolver');
  });

  it('a misspelt backoff key is refused like a misspelt top-level key', () => {
    const error = thrown(() => register({ replaceBuiltin: false, backoff: { maximum: 60_000 } as RegisterOptions['backoff'] }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toMatch(/backoff\.maximum/);
  });
});

describe('watch(): the same option checks, and the name', () => {
  it.each(OPTION_ROWS.filter((_, index) => index % 4 === 0))('%s', (_label, options, message) => {
    const error = thrown(() => watch('svc.test', options));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(message);
  });

  const WATCH_TAKES = 'watch() needs a DNS name such as "my-svc.ns.svc.cluster.local" (optionally with a trailing dot) or an IP address';
  const NOT_A_TARGET = `${WATCH_TAKES}, not a gRPC target or host:port`;
  it.each<[string, unknown, string]>([
    ['empty name', '', `${WATCH_TAKES}, got ""`],
    ['no name', undefined, `${WATCH_TAKES}, got undefined`],
    ['a number', 42, `${WATCH_TAKES}, got 42`],
    ['an empty label', 'a..b', `${WATCH_TAKES}; "a..b" is not one: empty label in host name (two dots in a row, or a leading dot)`],
    ['a space in the name', 'bad name.test', `${WATCH_TAKES}; "bad name.test" is not one: "bad name" ${BAD_CHARACTER(' ')}`],
    ['a 64-character label', `${'a'.repeat(64)}.test`, `${WATCH_TAKES}; "${'a'.repeat(64)}.test" is not one: label "${'a'.repeat(20)}…" is 64 characters, more than 63`],
    ['a trailing hyphen', 'svc-.test', `${WATCH_TAKES}; "svc-.test" is not one: "svc-" is not a valid DNS label: it starts or ends with "-"`],
    ['host:port', 'my-svc:50051', `${NOT_A_TARGET}; to watch what "my-svc:50051" resolves to, call watch("my-svc")`],
    ['a dns: target', 'dns:///my-svc:50051', `${NOT_A_TARGET}; to watch what "dns:///my-svc:50051" resolves to, call watch("my-svc")`],
    ['a dns-watch: target', 'dns-watch:my-svc.ns.svc.cluster.local.', `${NOT_A_TARGET}; to watch what "dns-watch:my-svc.ns.svc.cluster.local." resolves to, call watch("my-svc.ns.svc.cluster.local.")`],
    [
      'a target naming its DNS server',
      'dns://10.0.0.10:53/my-svc:50051',
      `${NOT_A_TARGET}; to watch what "dns://10.0.0.10:53/my-svc:50051" resolves to, call watch("my-svc", { nameservers: ["10.0.0.10:53"] })`,
    ],
    ['a bracketed IPv6 address', '[::1]:50051', `${NOT_A_TARGET}; to watch what "[::1]:50051" resolves to, call watch("::1")`],
    ['a target with a bad host', 'dns:///a..b:50051', `${WATCH_TAKES}; "dns:///a..b:50051" is neither that nor a usable gRPC target: empty label in host name (two dots in a row, or a leading dot)`],
    ['a target of another scheme', 'unix:///run/app.sock', `${WATCH_TAKES}; "unix:///run/app.sock" is neither that nor a usable gRPC target: "unix:" targets do not use DNS`],
  ])('%s: a TypeError at the call, before anything is asked', (_label, name, message) => {
    const error = thrown(() => watch(name as string, { nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(message);
  });

  it.each([
    ['a name', 'svc.test'],
    ['a name with a trailing dot', 'svc.test.'],
    ['an underscore label', '_grpc._tcp.svc.test'],
    ['an IPv4 address', '127.0.0.1'],
    ['an IPv6 address', '::1'],
    ['an IPv6 address with a zone', 'fe80::1%lo'],
  ])('%s is accepted', (_label, name) => {
    watch(name, { nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false }).close();
  });
});

// ------------------------------------------------------------ channel options

describe('channel options: a TypeError naming the channel option when the channel is made', () => {
  beforeAll(() => {
    register({ replaceBuiltin: false, nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false });
  });

  const C = (key: string) => `Channel option "grpc-dns-watch.${key}"`;
  it.each<[string, Record<string, unknown>, string]>([
    ['refresh_interval_ms negative', { 'grpc-dns-watch.refresh_interval_ms': -5 }, `${C('refresh_interval_ms')} must be a number of milliseconds from 1 to ${MAX_MS}, got -5`],
    ['refresh_interval_ms as a string', { 'grpc-dns-watch.refresh_interval_ms': '5000' }, `${C('refresh_interval_ms')} must be a number of milliseconds from 1 to ${MAX_MS}, got "5000"`],
    ['min_interval_ms negative', { 'grpc-dns-watch.min_interval_ms': -1 }, `${C('min_interval_ms')} must be a number of milliseconds from 0 to ${MAX_MS}, got -1`],
    ['min_interval_ms above register()\'s refreshInterval', { 'grpc-dns-watch.min_interval_ms': 10_000 }, `${C('min_interval_ms')} (10000) must not exceed "refreshInterval" (5000)`],
    ['jitter 1', { 'grpc-dns-watch.jitter': 1 }, `${C('jitter')} must be a number >= 0 and < 1 (a fraction of each delay), got 1`],
    ['jitter NaN', { 'grpc-dns-watch.jitter': NaN }, `${C('jitter')} must be a number >= 0 and < 1 (a fraction of each delay), got NaN`],
    ['family 5', { 'grpc-dns-watch.family': 5 }, `${C('family')} must be 4 (IPv4), 6 (IPv6) or 0 (both), got 5`],
    ['family "6"', { 'grpc-dns-watch.family': '6' }, `${C('family')} must be 4 (IPv4), 6 (IPv6) or 0 (both), got "6"`],
    ['respect_ttl "yes"', { 'grpc-dns-watch.respect_ttl': 'yes' }, `${C('respect_ttl')} must be true or false, got "yes"`],
    ['ask_both_families "yes"', { 'grpc-dns-watch.ask_both_families': 'yes' }, `${C('ask_both_families')} must be true or false, got "yes"`],
    ['unknown key', { 'grpc-dns-watch.refresh_interval': 5_000 }, `Unknown channel option "grpc-dns-watch.refresh_interval"; accepted: ${CHANNEL_KEYS}`],
    ['a register()-only option', { 'grpc-dns-watch.nameservers': '10.0.0.1' }, `Unknown channel option "grpc-dns-watch.nameservers"; accepted: ${CHANNEL_KEYS}`],
    ['grpc.dns_min_time_between_resolutions_ms negative', { 'grpc.dns_min_time_between_resolutions_ms': -1 }, 'Channel option "grpc.dns_min_time_between_resolutions_ms" must be a number of milliseconds >= 0, got -1'],
    ['grpc.dns_min_time_between_resolutions_ms NaN', { 'grpc.dns_min_time_between_resolutions_ms': NaN }, 'Channel option "grpc.dns_min_time_between_resolutions_ms" must be a number of milliseconds >= 0, got NaN'],
    ['grpc.dns_min_time_between_resolutions_ms a string', { 'grpc.dns_min_time_between_resolutions_ms': 'abc' }, 'Channel option "grpc.dns_min_time_between_resolutions_ms" must be a number of milliseconds >= 0, got abc'],
  ])('%s', (_label, channelOptions, message) => {
    const error = thrown(() => grpc.experimental.createResolver({ scheme: 'dns-watch', authority: '', path: 'svc.test:50051' }, () => true, channelOptions));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(message);
  });

  it('without a grpc-dns-watch.* channel option, the channel runs on register()\'s options as given', () => {
    register({ replaceBuiltin: false, nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false });
    const resolver = grpc.experimental.createResolver({ scheme: 'dns-watch', authority: '', path: 'svc.test:1' }, () => true, {});
    resolver.destroy();
    expect((resolver as unknown as { options: { hostsPath: unknown } }).options.hostsPath).toBe(false);
  });

  // Found by the soak: a third StubResolver whose key differed only in hostsPath.
  it('a grpc-dns-watch.* channel option keeps register({ hostsPath: false })', () => {
    register({ replaceBuiltin: false, nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false });
    const resolver = grpc.experimental.createResolver({ scheme: 'dns-watch', authority: '', path: 'svc.test:1' }, () => true, {
      'grpc-dns-watch.jitter': 0.1,
    });
    resolver.destroy();
    expect((resolver as unknown as { options: { hostsPath: unknown } }).options.hostsPath).toBe(false);
  });

  it('through a real client: the client constructor throws the same TypeError', () => {
    const error = thrown(() => createPodClient('dns-watch:///svc.test:50051', { channelOptions: { 'grpc-dns-watch.jitter': 2 } }));
    expect(error).toBeInstanceOf(TypeError);
    expect(error.message).toBe(`${C('jitter')} must be a number >= 0 and < 1 (a fraction of each delay), got 2`);
  });
});

// ------------------------------------------------------------------- targets

type Told = { ok: boolean; error?: { code: number; details: string }; value?: unknown };

/** The first thing a resolver for `target` tells its listener. */
async function firstCall(target: { authority?: string; path: string }): Promise<Told> {
  let resolve!: (told: Told) => void;
  const told = new Promise<Told>((done) => (resolve = done));
  const resolver = grpc.experimental.createResolver({ scheme: 'dns-watch', ...target }, (result: Told) => {
    resolve(result);
    return true;
  }, {});
  resolver.updateResolution();
  try {
    return await told;
  } finally {
    resolver.destroy();
  }
}

const A_254 = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`;

describe('malformed targets: UNAVAILABLE to the listener with the target and the reason, never a throw', () => {
  beforeAll(() => {
    register({ replaceBuiltin: false, nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false });
  });

  it.each<[string, string, string]>([
    ['port 65536', 'svc.test:65536', 'port "65536" is not a number from 0 to 65535'],
    ['port 99999', 'svc.test:99999', 'port "99999" is not a number from 0 to 65535'],
    ['port -1', 'svc.test:-1', 'port "-1" is not a number from 0 to 65535'],
    ['port 1e3', 'svc.test:1e3', 'port "1e3" is not a number from 0 to 65535'],
    ['port by name', 'svc.test:http', 'port "http" is not a number from 0 to 65535'],
    ['empty port', 'svc.test:', 'port "" is not a number from 0 to 65535'],
    ['IPv6 literal, port 65536', '[::1]:65536', 'port "65536" is not a number from 0 to 65535'],
    ['unclosed bracket', '[::1', 'unclosed "[" in IPv6 address'],
    ['IPv4 in brackets', '[10.0.0.1]:80', '"10.0.0.1" in brackets is not an IPv6 address'],
    ['empty brackets', '[]:80', '"" in brackets is not an IPv6 address'],
    ['junk after the bracket', '[::1]80', 'unexpected "80" after "]"'],
    ['IPv6 with a port, no brackets', 'fe80::1::80', 'an IPv6 address with a port must be in brackets, like [::1]:50051'],
    ['two ports', 'svc.test:80:90', 'an IPv6 address with a port must be in brackets, like [::1]:50051'],
    ['no host', '', 'no host'],
    ['only a port', ':80', 'no host'],
    ['only the root', '.', 'the host is only the root "."'],
    ['bad character', 'bad_name!.test', `"bad_name!" ${BAD_CHARACTER('!')}`],
    ['a space', 'svc test', `"svc test" ${BAD_CHARACTER(' ')}`],
    ['non-ASCII (an IDN not in punycode)', 'bücher.test', `"bücher" ${BAD_CHARACTER('ü')}`],
    ['leading hyphen', '-svc.test', '"-svc" is not a valid DNS label: it starts or ends with "-"'],
    ['trailing hyphen', 'svc-.test', '"svc-" is not a valid DNS label: it starts or ends with "-"'],
    ['empty label', 'a..test', 'empty label in host name (two dots in a row, or a leading dot)'],
    ['leading dot', '.svc.test', 'empty label in host name (two dots in a row, or a leading dot)'],
    ['64-character label', `${'a'.repeat(64)}.test`, `label "${'a'.repeat(20)}…" is 64 characters, more than 63`],
    ['254-character name', A_254, 'host name is 254 characters, more than 253'],
    ['port checked before the name', 'bad_name!.test:99999', 'port "99999" is not a number from 0 to 65535'],
  ])('%s', async (_label, targetPath, reason) => {
    const told = await firstCall({ authority: '', path: targetPath });
    expect(told.ok).toBe(false);
    expect(told.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(told.error?.details).toBe(`Invalid target "dns-watch:///${targetPath}": ${reason}${TARGET_TAIL}`);
  });

  it.each<[string, string, string]>([
    ['a host name', 'dns.example', `Invalid nameserver "dns.example": ${ACCEPTED_NS}`],
    ['port 70000', '10.0.0.1:70000', `Invalid nameserver "10.0.0.1:70000": port 70000 is outside 1..65535; ${ACCEPTED_NS}`],
    ['port 0', '10.0.0.1:0', `Invalid nameserver "10.0.0.1:0": port 0 is outside 1..65535; ${ACCEPTED_NS}`],
    ['IPv6 port 99999', '[::1]:99999', `Invalid nameserver "[::1]:99999": port 99999 is outside 1..65535; ${ACCEPTED_NS}`],
  ])('nameserver in the authority: %s', async (_label, authority, why) => {
    const told = await firstCall({ authority, path: 'svc.test:50051' });
    expect(told.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(told.error?.details).toBe(`Invalid target "dns-watch://${authority}/svc.test:50051": bad nameserver in authority: ${why}${TARGET_TAIL}`);
  });

  it.each<[string, string, string]>([
    ['port out of range', 'dns-watch:///svc.test:99999', 'port "99999" is not a number from 0 to 65535'],
    // grpc-js hands "///" over as the path (its URI pattern needs a non-empty path after the authority).
    ['nothing after the slashes', 'dns-watch:///', `"///" ${BAD_CHARACTER('/')}`],
  ])('through a real client, %s: the RPC fails UNAVAILABLE with that message', async (_label, target, reason) => {
    const client = createPodClient(target);
    try {
      const error = await client.whoAmI(2_000).then(
        () => null,
        (failure: { code: number; details: string }) => failure,
      );
      expect(error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(error?.details).toBe(`Invalid target "${target}": ${reason}${TARGET_TAIL}`);
    } finally {
      client.close();
    }
  });
});

// ------------------------------------------------------- accepted edge inputs

describe('edge inputs that are accepted, and how they are read', () => {
  it.each<[string, string, { host: string; port: number; ipLiteral: number }]>([
    ['a bare IPv6 address with colons is an address, not host:port', '::1:80', { host: '::1:80', port: 443, ipLiteral: 6 }],
    ['a leading zero in the port', 'svc.test:080', { host: 'svc.test', port: 80, ipLiteral: 0 }],
    ['a trailing dot (absolute name)', 'svc.test.', { host: 'svc.test.', port: 443, ipLiteral: 0 }],
    ['underscores (SRV-style labels)', '_grpc._tcp.svc.test:1', { host: '_grpc._tcp.svc.test', port: 1, ipLiteral: 0 }],
    ['port 65535', 'svc.test:65535', { host: 'svc.test', port: 65535, ipLiteral: 0 }],
    ['port 0 (what Server.bindAsync asks for an ephemeral port)', 'svc.test:0', { host: 'svc.test', port: 0, ipLiteral: 0 }],
    ['port 0 on an IPv4 literal', '0.0.0.0:0', { host: '0.0.0.0', port: 0, ipLiteral: 4 }],
  ])('target: %s', (_label, targetPath, expected) => {
    expect(parseTarget({ path: targetPath })).toMatchObject(expected);
  });

  it.each<[string, string, { host: string; port: number }]>([
    ['a bare IPv6 address ending in :53 keeps it as part of the address', '::1:53', { host: '::1:53', port: 53 }],
    ['blanks around', '  10.0.0.1:5353  ', { host: '10.0.0.1', port: 5353 }],
    ['a zone id', 'fe80::1%eth0', { host: 'fe80::1%eth0', port: 53 }],
  ])('nameserver: %s', (_label, spec, expected) => {
    expect(parseNameserver(spec)).toEqual(expected);
  });

  it('backoff: null means the default backoff', () => {
    expect(resolveOptions({ backoff: null as unknown as object }).backoff).toEqual({ initial: 1_000, max: undefined, multiplier: 2 });
  });

  it('a refreshInterval below the default minInterval lowers minInterval with it', () => {
    expect(resolveOptions({ refreshInterval: 200 })).toMatchObject({ refreshInterval: 200, minInterval: 200 });
  });

  it('grpc.dns_min_time_between_resolutions_ms above refreshInterval is capped at it, so polling is not slowed', () => {
    register({ replaceBuiltin: false, nameservers: [`127.0.0.1:${deadPort}`], hostsPath: false, refreshInterval: 2_000 });
    const resolver = grpc.experimental.createResolver({ scheme: 'dns-watch', path: 'svc.test:1' }, () => true, {
      'grpc.dns_min_time_between_resolutions_ms': 30_000,
    }) as unknown as { options: { minInterval: number; refreshInterval: number }; destroy(): void };
    resolver.destroy();
    expect(resolver.options).toMatchObject({ refreshInterval: 2_000, minInterval: 2_000 });
  });
});
