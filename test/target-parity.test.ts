import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, unregister } from '../src/index.js';
import { TargetError, formatTarget, parseTarget } from '../src/target.js';
import { GRPC_VERSIONS, createResolverFor, loadGrpc, type GrpcVersionName } from '../harness/grpc-versions.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';

/**
 * Issue 16: every target grpc-js's built-in `dns` resolver accepts, grpc-dns-watch
 * accepts too, with the same host and port: fed to grpc-js's own parsing
 * (parseUri, the default-scheme mapping, splitHostPort, uriToString) of every
 * version in the matrix and to ours. Where the built-in can run without asking
 * the machine's DNS (IP literals, unparseable paths) it runs too, beside ours.
 *
 * A row with `stricter` is a documented difference: grpc-js accepts the target
 * and grpc-dns-watch refuses it with a clear UNAVAILABLE. The reason is on the
 * row and in docs/faq.md: a port no socket can use, a name that cannot be
 * put in a DNS question, or one that is not a host name at all.
 */

interface Row {
  target: string;
  /** What grpc-js reads; null = it refuses the path (an UNAVAILABLE at resolution). */
  grpc: { host: string; port: number } | null;
  /** Why grpc-dns-watch refuses what grpc-js accepts. */
  stricter?: string;
}

const NOT_A_HOST_NAME = 'not a host name (RFC 952/1123): the built-in passes it to getaddrinfo, where no DNS name and at most an odd /etc/hosts line matches; refused before any query, saying why';
const row = (target: string, host: string | null, port = 443, stricter?: string): Row => ({
  target,
  grpc: host === null ? null : { host, port },
  ...(stricter ? { stricter } : {}),
});

const ROWS: Row[] = [
  // ports
  row('svc.test:0', 'svc.test', 0),
  row('svc.test:1', 'svc.test', 1),
  row('svc.test:65535', 'svc.test', 65_535),
  row('svc.test', 'svc.test'),
  row('svc.test:080', 'svc.test', 80),
  row('svc.test:000000050051', 'svc.test', 50_051),
  row('svc.test:65536', 'svc.test', 65_536, 'port out of range: no socket can use it; grpc-js would fail to connect or bind without saying why'),
  row('svc.test:99999', 'svc.test', 99_999, 'port out of range (as above)'),
  row('svc.test:', null),
  row('svc.test:-1', null),
  row('svc.test:1e3', null),
  row('svc.test:http', null),
  row('dns:svc.test:%35%30', null),
  // IPv4
  row('10.0.0.1:50051', '10.0.0.1', 50_051),
  row('0.0.0.0:0', '0.0.0.0', 0),
  row('dns:10.0.0.1', '10.0.0.1'),
  row('1.2.3', '1.2.3'),
  row('[10.0.0.1]:80', null),
  // IPv6
  row('::1', '::1'),
  row('::1:80', '::1:80'),
  row('[::1]', '::1'),
  row('[::1]:50051', '::1', 50_051),
  row('[::]:0', '::', 0),
  row('dns:[::1]:65535', '::1', 65_535),
  row('[::ffff:10.0.0.1]:1', '::ffff:10.0.0.1', 1),
  row('[fe80::1%eth0]:80', 'fe80::1%eth0', 80),
  row('[fe80::1%25eth0]', 'fe80::1%25eth0'),
  row('fe80::1%eth0', 'fe80::1%eth0'),
  row('[::1', null),
  row('[::1]80', null),
  row('[]:80', null),
  row('[::1]:', null),
  row('[foo:bar]:80', 'foo:bar', 80, NOT_A_HOST_NAME),
  row('fe80::1::80', 'fe80::1::80', 443, NOT_A_HOST_NAME),
  row('svc.test:80:90', 'svc.test:80:90', 443, NOT_A_HOST_NAME),
  // localhost
  row('localhost', 'localhost'),
  row('localhost:0', 'localhost', 0),
  row('dns:localhost:50051', 'localhost', 50_051),
  row('localhost.:50051', 'localhost.', 50_051),
  // names, with and without the trailing dot
  row('my-svc.ns.svc.cluster.local:50051', 'my-svc.ns.svc.cluster.local', 50_051),
  row('my-svc.ns.svc.cluster.local.:50051', 'my-svc.ns.svc.cluster.local.', 50_051),
  row('my-svc', 'my-svc'),
  row('_grpc._tcp.svc.test:1', '_grpc._tcp.svc.test', 1),
  row('xn--bcher-kva.test', 'xn--bcher-kva.test'),
  row('UPPER.Case.Test:7', 'UPPER.Case.Test', 7),
  row('.', '.', 443, 'the root alone names no host'),
  row('a..test', 'a..test', 443, 'an empty label cannot be sent in a DNS question'),
  row('.svc.test', '.svc.test', 443, 'an empty label cannot be sent in a DNS question'),
  row(`${'a'.repeat(64)}.test`, `${'a'.repeat(64)}.test`, 443, 'a label over 63 octets cannot be sent in a DNS question'),
  row(`${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(62)}`, 443, 'a name over 253 characters cannot be sent in a DNS question'),
  row('-svc.test', '-svc.test', 443, NOT_A_HOST_NAME),
  row('svc test', 'svc test', 443, NOT_A_HOST_NAME),
  row('bücher.test', 'bücher.test', 443, 'an IDN must be written in punycode (xn--…); grpc-js would hand the UTF-8 to getaddrinfo'),
  // authorities (the nameserver to ask)
  row('dns://127.0.0.1:53/svc.test:50051', 'svc.test', 50_051),
  row('dns://[::1]:53/svc.test', 'svc.test'),
  row('dns://10.0.0.1/[::1]:9', '::1', 9),
  row('dns:///svc.test:50051', 'svc.test', 50_051),
  row('dns://dns.example/svc.test', 'svc.test', 443, 'a nameserver must be an address: grpc-js 1.8–1.10 ignore the authority, 1.13+ throw from the channel constructor'),
  row('dns://dns.example/10.0.0.1:80', '10.0.0.1', 80, 'a nameserver must be an address (as above)'),
  // percent-encoding: grpc-js decodes nothing
  row('my%2Dsvc.test:50051', 'my%2Dsvc.test', 50_051, NOT_A_HOST_NAME),
  // empty
  row(':50051', '', 50_051, 'no host: grpc-js hands "" to dns.lookup, which answers with no addresses'),
  row('dns:', null),
  row('', null),
];

/** grpc-js's own target handling, from the version's files (parseUri and the scheme mapping are not exported). */
function grpcParsing(name: GrpcVersionName) {
  const require = createRequire(import.meta.url);
  const dir = path.dirname(require.resolve(name));
  const uri = require(path.join(dir, 'uri-parser.js')) as {
    parseUri(text: string): { scheme?: string; authority?: string; path: string } | null;
    splitHostPort(text: string): { host: string; port?: number } | null;
    uriToString(uri: { scheme?: string; authority?: string; path: string }): string;
  };
  const resolver = require(path.join(dir, 'resolver.js')) as {
    mapUriDefaultScheme(uri: { scheme?: string; authority?: string; path: string }): { scheme?: string; authority?: string; path: string } | null;
  };
  const experimental = loadGrpc(name).experimental as unknown as Record<string, unknown>;
  return { ...uri, mapUriDefaultScheme: (target: { scheme?: string; authority?: string; path: string }) => resolver.mapUriDefaultScheme(target), experimental };
}

type Told = { kind: 'addresses'; list: Array<{ host: string; port: number }> } | { kind: 'error'; code: number } | { kind: 'threw'; message: string };

/** The first thing a resolver built by `createResolver` tells its listener (any listener shape). */
async function firstTold(createResolver: ReturnType<typeof createResolverFor>, target: { scheme?: string; authority?: string; path: string }): Promise<Told> {
  let settle!: (told: Told) => void;
  const told = new Promise<Told>((resolve) => (settle = resolve));
  const addresses = (list: Array<{ addresses?: Array<{ host: string; port: number }>; host?: string; port?: number }>) =>
    settle({ kind: 'addresses', list: list.flatMap((entry) => entry.addresses ?? [{ host: entry.host!, port: entry.port! }]) });
  const listener = Object.assign(
    (result: { ok: boolean; value?: never[]; error?: { code: number } }) => {
      if (result.ok) addresses(result.value!);
      else settle({ kind: 'error', code: result.error!.code });
      return true;
    },
    { onSuccessfulResolution: addresses, onError: (status: { code: number }) => settle({ kind: 'error', code: status.code }) },
  );
  let resolver: { updateResolution(): void; destroy(): void };
  try {
    resolver = createResolver(target, listener, {}) as typeof resolver;
  } catch (error) {
    return { kind: 'threw', message: (error as Error).message };
  }
  try {
    resolver.updateResolution();
    return await told;
  } finally {
    resolver.destroy();
  }
}

describe.each(GRPC_VERSIONS)('target parity with grpc-js %s', (name) => {
  const grpc = grpcParsing(name);

  /** grpc-js's reading of a target string as a `dns` target: the mapped URI and host/port, or why not. */
  function readByGrpc(target: string) {
    const parsed = grpc.parseUri(target);
    const mapped = parsed && grpc.mapUriDefaultScheme(parsed);
    if (!mapped) return { uri: null, hostPort: null };
    expect(mapped.scheme, target).toBe('dns');
    const split = grpc.splitHostPort(mapped.path);
    return { uri: mapped, hostPort: split && { host: split.host, port: split.port ?? 443 } };
  }

  it.each(ROWS.map((entry) => [entry.target, entry] as const))('%j', (_target, entry) => {
    const { uri, hostPort } = readByGrpc(entry.target);
    // The table says what this grpc-js version does: checked, not assumed.
    expect(hostPort, 'grpc-js reading').toEqual(entry.grpc);
    if (typeof grpc.experimental.splitHostPort === 'function' && uri) {
      expect((grpc.experimental.splitHostPort as typeof grpc.splitHostPort)(uri.path)).toEqual(grpc.splitHostPort(uri.path));
    }
    const parts = uri ?? { scheme: 'dns', path: entry.target };
    // What we show in messages is what grpc-js shows.
    if (uri) expect(formatTarget(uri)).toBe((grpc.experimental.uriToString as typeof grpc.uriToString)(uri));
    let ours: { host: string; port: number } | TargetError;
    try {
      const parsed = parseTarget(parts);
      ours = { host: parsed.host, port: parsed.port };
    } catch (error) {
      expect(error).toBeInstanceOf(TargetError);
      ours = error as TargetError;
    }
    if (entry.grpc === null) {
      expect(ours, 'grpc-js refuses it, so must we').toBeInstanceOf(TargetError);
    } else if (entry.stricter) {
      expect(ours, `documented difference: ${entry.stricter}`).toBeInstanceOf(TargetError);
    } else {
      expect(ours, 'grpc-js accepts it, so must we, reading the same host and port').toEqual(entry.grpc);
    }
  });

  describe('the built-in resolver and ours, side by side, where no DNS is asked', () => {
    let createResolver: ReturnType<typeof createResolverFor>;

    beforeAll(async () => {
      register({ grpc: loadGrpc(name), replaceBuiltin: false, hostsPath: false, nameservers: [`127.0.0.1:${await unusedUdpPort()}`] });
      createResolver = createResolverFor(name);
    });
    afterAll(() => unregister());

    // IP literals are handed over as they are; unparseable paths fail at once: neither asks DNS.
    const offline = ROWS.filter((entry) => entry.grpc === null || net.isIP(entry.grpc.host) !== 0);

    it.each(offline.map((entry) => [entry.target, entry] as const))('%j', async (_target, entry) => {
      const { uri } = readByGrpc(entry.target);
      if (!uri) return; // grpc-js never builds a resolver for it: the channel constructor throws
      const builtin = await firstTold(createResolver, uri);
      const ours = await firstTold(createResolver, { ...uri, scheme: 'dns-watch' });
      if (entry.stricter) {
        // 1.8–1.10 ignore a dns:// authority; 1.13+ hand it to dns.Resolver#setServers in the constructor, which throws.
        expect(builtin.kind).toBe(name === 'grpc-js-1.8' || name === 'grpc-js-1.10' ? 'addresses' : 'threw');
        expect(ours).toEqual({ kind: 'error', code: 14 });
        return;
      }
      expect(ours).toEqual(builtin);
      expect(builtin).toEqual(entry.grpc === null ? { kind: 'error', code: 14 } : { kind: 'addresses', list: [entry.grpc] });
    });
  });
});
