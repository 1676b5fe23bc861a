/**
 * StubResolver — /etc/hosts, resolv.conf (nameservers, search/ndots, timeout,
 * attempts), A+AAAA in parallel, CNAME chains, TTLs and typed errors —
 * against DnsTestServer over real loopback sockets.
 *
 * Every resolver here gets a parsed resolv.conf or an explicit nameserver list
 * pointing at a test server, and `hostsPath` set to a temp file or `false`:
 * no query ever reaches the machine's own nameserver.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { UDP_PORT_MAX_QUERIES } from '../src/dns/udp-lane.js';
import { DnsError } from '../src/dns/errors.js';
import { StubResolver, type StubResolverOptions } from '../src/dns/stub-resolver.js';
import { MAX_CNAME_DEPTH } from '../src/dns/answer-records.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import type { Family, Nameserver, Resolution } from '../src/dns/types.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { activeHandleCounts, expectDnsError, unusedUdpPort, waitForHandlesAtMost } from '../harness/resolver-helpers.js';
import { ScriptedDnsServer } from '../harness/scripted-dns.js';
import { serverFixture } from '../harness/server-fixture.js';
import { resolvConfText, tempFolderForTests } from '../harness/temp-folder.js';

const KUBE_SEARCH = 'search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5';

const folder = tempFolderForTests('lookup');
// Every test starts with no socket open, so the handle baselines taken in tests are exact.
const { start: startServer, cleanups } = serverFixture();

async function startScripted(...args: Parameters<typeof ScriptedDnsServer.start>): Promise<ScriptedDnsServer> {
  const server = await ScriptedDnsServer.start(...args);
  cleanups.push(() => server.close());
  return server;
}

/** A resolver closed after the test (before the servers it asks). */
function closedAfterTest(resolver: StubResolver): StubResolver {
  cleanups.push(() => resolver.close());
  return resolver;
}

/** A StubResolver reading resolv.conf `text` (after nameserver lines for `nameservers`), no hosts file. */
function resolverWith(nameservers: Nameserver[], text = '', options: StubResolverOptions = {}): StubResolver {
  const resolvConf = parseResolvConf(resolvConfText(nameservers, text));
  expect(resolvConf.warnings).toEqual([]);
  return closedAfterTest(new StubResolver({ resolvConf, hostsPath: false, ...options }));
}

function addresses(resolution: Resolution): string[] {
  return resolution.addresses.map((a) => a.address).sort();
}

function askedNames(server: DnsTestServer): string[] {
  const names: string[] = [];
  for (const query of server.queries) if (names[names.length - 1] !== query.name) names.push(query.name);
  return names;
}

describe('StubResolver: A and AAAA', () => {
  it('asks A for family 4, AAAA for family 6, and both for family 0', async () => {
    const server = await startServer();
    server.setRecords('dual.test', { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::1'] });
    const resolver = resolverWith([server.nameserver]);
    const cases: Array<[Family, string[], string[]]> = [
      [4, ['10.0.0.1', '10.0.0.2'], ['A']],
      [6, ['fd00::1'], ['AAAA']],
      [0, ['10.0.0.1', '10.0.0.2', 'fd00::1'], ['A', 'AAAA']],
    ];
    for (const [family, expected, types] of cases) {
      server.resetLog();
      const resolution = await resolver.resolve('dual.test', family);
      expect(resolution).toMatchObject({ name: 'dual.test', source: 'dns', failedFamilies: [] });
      expect(addresses(resolution)).toEqual(expected);
      expect(resolution.addresses.every((a) => a.family === (a.address.includes(':') ? 6 : 4))).toBe(true);
      expect(server.queries.map((q) => q.type).sort()).toEqual(types);
    }
  });

  it('asks A and AAAA in parallel: with both replies delayed by D, the second query arrives before the first reply left', async () => {
    const D = 300;
    const server = await startServer();
    server.setRecords('slow.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    server.setFault({ delayMs: D });
    // The timeout is not what this tests: far above D, so a busy machine cannot turn a slow reply into TIMEOUT.
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 30 * D });
    const started = Date.now();
    const resolution = await resolver.resolve('slow.test', 0);
    const elapsed = Date.now() - started;
    expect(addresses(resolution)).toEqual(['10.0.0.1', 'fd00::1']);
    expect(elapsed).toBeGreaterThanOrEqual(D - 10);
    // Asked one after the other, the second query would leave only once the first
    // reply came back, which the server sends no sooner than D after receiving the
    // first: a gap under D proves both were in flight at once, however busy the machine.
    const [a, aaaa] = [server.queries.find((q) => q.type === 'A')!, server.queries.find((q) => q.type === 'AAAA')!];
    expect(Math.abs(a.at - aaaa.at)).toBeLessThan(D);
  });

  it('with `options single-request` (glibc\'s RES_SNGLKUP) asks A, then AAAA once A is answered', async () => {
    const D = 300;
    const server = await startServer();
    server.setRecords('one-by-one.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    server.setFault({ delayMs: D });
    const resolver = resolverWith([server.nameserver], 'options single-request', { timeoutMs: 30 * D });
    const resolution = await resolver.resolve('one-by-one.test', 0);
    expect(addresses(resolution)).toEqual(['10.0.0.1', 'fd00::1']);
    expect(server.queries.map((q) => q.type)).toEqual(['A', 'AAAA']);
    // The AAAA query left only once the A reply, sent no sooner than D after the A query arrived, came back.
    const [a, aaaa] = server.queries;
    expect(aaaa!.at - a!.at).toBeGreaterThanOrEqual(D - 10);
  });

  it('returns what one family found and lists the other in failedFamilies (AAAA times out)', async () => {
    const server = await startScripted((q) =>
      q.type === 'A' ? { answers: [{ type: 'A', class: 'IN', name: q.name, ttl: 30, data: '10.0.0.1' }] } : null,
    );
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 200, attempts: 1 });
    const resolution = await resolver.resolve('half.test', 0);
    expect(resolution.addresses).toEqual([{ address: '10.0.0.1', family: 4, ttl: 30 }]);
    expect(resolution.failedFamilies).toHaveLength(1);
    expect(resolution.failedFamilies[0]?.family).toBe(6);
    expect(resolution.failedFamilies[0]?.error).toBeInstanceOf(DnsError);
    expect(resolution.failedFamilies[0]?.error.code).toBe('TIMEOUT');
  });

  it('returns what one family found and lists the other in failedFamilies (A SERVFAIL)', async () => {
    const server = await startScripted((q) =>
      q.type === 'AAAA' ? { answers: [{ type: 'AAAA', class: 'IN', name: q.name, ttl: 30, data: 'fd00::9' }] } : { rcode: 2 },
    );
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 200, attempts: 1 });
    const resolution = await resolver.resolve('half.test', 0);
    expect(addresses(resolution)).toEqual(['fd00::9']);
    expect(resolution.failedFamilies.map((f) => [f.family, f.error.code])).toEqual([[4, 'SERVFAIL']]);
  });

  it('fails with the cause when neither family could be asked', async () => {
    const server = await startScripted(() => null);
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 150, attempts: 1 });
    await expectDnsError(resolver.resolve('silent.test', 0), 'TIMEOUT');
  });
});

describe('StubResolver: CNAME chains', () => {
  it('follows a CNAME chain inside one answer', async () => {
    const server = await startServer();
    server.setRecords('www.test', { CNAME: 'edge.test' });
    server.setRecords('edge.test', { CNAME: 'origin.test' });
    server.setRecords('origin.test', { A: ['10.0.0.5'], AAAA: ['fd00::5'] });
    const resolution = await resolverWith([server.nameserver]).resolve('www.test', 0);
    expect(addresses(resolution)).toEqual(['10.0.0.5', 'fd00::5']);
    expect(resolution.name).toBe('www.test');
    // One query per family: the server sent the whole chain.
    expect(server.queries).toHaveLength(2);
  });

  it('asks again for the CNAME target when the answer stops at the alias', async () => {
    const server = await startServer();
    server.setRecords('alias.test', { CNAME: 'target.test', ttl: 50 });
    const resolver = resolverWith([server.nameserver]);
    const pending = resolver.resolve('alias.test', 4);
    // The reply to this query is built before we get here: it holds only the CNAME.
    await server.waitForQueries(1, { name: 'alias.test' });
    server.setRecords('target.test', { A: ['10.0.0.7'], ttl: 20 });
    const resolution = await pending;
    expect(resolution.addresses).toEqual([{ address: '10.0.0.7', family: 4, ttl: 20 }]);
    expect(server.queries.map((q) => `${q.type} ${q.name}`)).toEqual(['A alias.test', 'A target.test']);
  });

  it(`follows exactly MAX_CNAME_DEPTH (${MAX_CNAME_DEPTH}) hops, and rejects one more with BADRESPONSE`, async () => {
    const server = await startServer();
    const chain = (prefix: string, hops: number): void => {
      for (let i = 0; i < hops; i++) server.setRecords(`${prefix}${i}.test`, { CNAME: `${prefix}${i + 1}.test` });
      server.setRecords(`${prefix}${hops}.test`, { A: ['10.0.0.8'] });
    };
    chain('ok', MAX_CNAME_DEPTH);
    chain('long', MAX_CNAME_DEPTH + 1);
    const resolver = resolverWith([server.nameserver]);
    expect(addresses(await resolver.resolve('ok0.test', 4))).toEqual(['10.0.0.8']);
    const error = await expectDnsError(resolver.resolve('long0.test', 4), 'BADRESPONSE');
    expect(error.message).toMatch(/longer than/);
    expect(error.authoritative).toBe(false);
  });

  it('counts the depth across re-queries too', async () => {
    const server = await startServer();
    const resolver = resolverWith([server.nameserver]);
    // 5 hops in the first answer, then MAX_CNAME_DEPTH - 5 + 1 more after a re-query.
    for (let i = 0; i < 5; i++) server.setRecords(`c${i}.test`, { CNAME: `c${i + 1}.test` });
    const pending = resolver.resolve('c0.test', 4);
    await server.waitForQueries(1, { name: 'c0.test' });
    for (let i = 5; i < MAX_CNAME_DEPTH + 1; i++) server.setRecords(`c${i}.test`, { CNAME: `c${i + 1}.test` });
    server.setRecords(`c${MAX_CNAME_DEPTH + 1}.test`, { A: ['10.0.0.9'] });
    await expectDnsError(pending, 'BADRESPONSE');
    expect(server.queries.map((q) => q.name)).toEqual(['c0.test', 'c5.test']);

    // The same split with exactly MAX_CNAME_DEPTH hops resolves.
    server.clearRecords();
    server.resetLog();
    for (let i = 0; i < 4; i++) server.setRecords(`d${i}.test`, { CNAME: `d${i + 1}.test` });
    const ok = resolver.resolve('d0.test', 4);
    await server.waitForQueries(1, { name: 'd0.test' });
    for (let i = 4; i < MAX_CNAME_DEPTH; i++) server.setRecords(`d${i}.test`, { CNAME: `d${i + 1}.test` });
    server.setRecords(`d${MAX_CNAME_DEPTH}.test`, { A: ['10.0.0.10'] });
    expect(addresses(await ok)).toEqual(['10.0.0.10']);
    expect(server.queries.map((q) => q.name)).toEqual(['d0.test', 'd4.test']);
  });

  it('rejects a CNAME loop inside one answer with BADRESPONSE', async () => {
    const server = await startServer();
    server.setRecords('ping.test', { CNAME: 'pong.test' });
    server.setRecords('pong.test', { CNAME: 'ping.test' });
    server.setRecords('self.test', { CNAME: 'self.test' });
    const resolver = resolverWith([server.nameserver]);
    const error = await expectDnsError(resolver.resolve('ping.test', 0), 'BADRESPONSE');
    expect(error.message).toMatch(/loop/);
    await expectDnsError(resolver.resolve('self.test', 4), 'BADRESPONSE');
  });

  it('rejects a CNAME loop that spans two answers with BADRESPONSE', async () => {
    const server = await startServer();
    server.setRecords('here.test', { CNAME: 'there.test' });
    const resolver = resolverWith([server.nameserver]);
    const pending = resolver.resolve('here.test', 4);
    await server.waitForQueries(1, { name: 'here.test' });
    // The second answer holds only there→here: the loop is visible only across the two.
    server.deleteName('here.test');
    server.setRecords('there.test', { CNAME: 'here.test' });
    await expectDnsError(pending, 'BADRESPONSE');
    expect(server.queries.map((q) => q.name)).toEqual(['here.test', 'there.test']);
  });

  it('reports NODATA when the chain ends at a name without records of the asked type', async () => {
    const server = await startServer();
    server.setRecords('alias6.test', { CNAME: 'only6.test' });
    server.setRecords('only6.test', { AAAA: ['fd00::6'] });
    const error = await expectDnsError(resolverWith([server.nameserver]).resolve('alias6.test', 4), 'NODATA');
    expect(error.authoritative).toBe(true);
  });
});

describe('StubResolver: TTLs', () => {
  it('gives each address the TTL of its record', async () => {
    const server = await startServer();
    server.setRecords('ttl.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'], ttl: 17 });
    const resolution = await resolverWith([server.nameserver]).resolve('ttl.test', 0);
    expect(resolution.addresses.map((a) => a.ttl)).toEqual([17, 17]);
  });

  it('uses the smallest TTL along a CNAME chain, wherever it is', async () => {
    const server = await startServer();
    server.setRecords('short-alias.test', { CNAME: 'mid.test', ttl: 3 });
    server.setRecords('mid.test', { CNAME: 'long-target.test', ttl: 100 });
    server.setRecords('long-target.test', { A: ['10.0.0.1'], ttl: 60 });
    server.setRecords('long-alias.test', { CNAME: 'short-target.test', ttl: 300 });
    server.setRecords('short-target.test', { A: ['10.0.0.2'], ttl: 7 });
    const resolver = resolverWith([server.nameserver]);
    expect((await resolver.resolve('short-alias.test', 4)).addresses).toEqual([{ address: '10.0.0.1', family: 4, ttl: 3 }]);
    expect((await resolver.resolve('mid.test', 4)).addresses).toEqual([{ address: '10.0.0.1', family: 4, ttl: 60 }]);
    expect((await resolver.resolve('long-alias.test', 4)).addresses).toEqual([{ address: '10.0.0.2', family: 4, ttl: 7 }]);
  });

  it('keeps the smallest TTL across re-queries', async () => {
    const server = await startServer();
    server.setRecords('brief.test', { CNAME: 'lasting.test', ttl: 5 });
    const resolver = resolverWith([server.nameserver]);
    const pending = resolver.resolve('brief.test', 4);
    await server.waitForQueries(1, { name: 'brief.test' });
    server.setRecords('lasting.test', { A: ['10.0.0.3'], ttl: 3600 });
    expect((await pending).addresses).toEqual([{ address: '10.0.0.3', family: 4, ttl: 5 }]);
    expect(server.queries).toHaveLength(2);
  });
});

describe('StubResolver: typed errors', () => {
  it('reports NXDOMAIN, NODATA, SERVFAIL, REFUSED, TIMEOUT, NETWORK and BADRESPONSE as distinct codes', async () => {
    const server = await startServer();
    server.setRecords('v6only.test', { AAAA: ['fd00::1'] });
    server.setRecords('loop.test', { CNAME: 'loop.test' });
    server.setRecords('servfail.test', { A: ['10.0.0.1'] });
    server.setRecords('refused.test', { A: ['10.0.0.1'] });
    server.setRecords('silent.test', { A: ['10.0.0.1'] });
    server.setFault('servfail', { name: 'servfail.test' });
    server.setFault('refused', { name: 'refused.test' });
    server.setFault('drop', { name: 'silent.test' });
    const noTcp = await startServer({ tcp: false });
    noTcp.setRecords('tc.test', { A: ['10.0.0.1'] });
    noTcp.setFault('truncate');
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 150, attempts: 1 });
    const noTcpResolver = resolverWith([noTcp.nameserver], '', { timeoutMs: 150, attempts: 1 });

    const outcomes = await Promise.all([
      expectDnsError(resolver.resolve('missing.test', 0), 'NXDOMAIN'),
      expectDnsError(resolver.resolve('v6only.test', 4), 'NODATA'),
      expectDnsError(resolver.resolve('servfail.test', 4), 'SERVFAIL'),
      expectDnsError(resolver.resolve('refused.test', 4), 'REFUSED'),
      expectDnsError(resolver.resolve('silent.test', 4), 'TIMEOUT'),
      expectDnsError(noTcpResolver.resolve('tc.test', 4), 'NETWORK'),
      expectDnsError(resolver.resolve('loop.test', 4), 'BADRESPONSE'),
    ]);
    expect(outcomes.map((e) => [e.code, e.authoritative])).toEqual([
      ['NXDOMAIN', true],
      ['NODATA', true],
      ['SERVFAIL', false],
      ['REFUSED', false],
      ['TIMEOUT', false],
      ['NETWORK', false],
      ['BADRESPONSE', false],
    ]);
    for (const error of outcomes) expect(error.hostname).toMatch(/\.test$/);
  });

  it('rejects an invalid name with BADNAME before asking anyone', async () => {
    const server = await startServer();
    const resolver = resolverWith([server.nameserver]);
    await expectDnsError(resolver.resolve('bad..name', 4), 'BADNAME');
    await expectDnsError(resolver.resolve(`${'x'.repeat(64)}.test`, 4), 'BADNAME');
    expect(server.queries).toHaveLength(0);
  });
});

describe('StubResolver: resolv.conf nameservers, timeout and attempts', () => {
  it('fails over to the second nameserver when the first is a dead port', async () => {
    const dead: Nameserver = { host: '127.0.0.1', port: await unusedUdpPort() };
    const live = await startServer();
    live.setRecords('svc.test', { A: ['10.0.0.1'] });
    const resolver = resolverWith([dead, live.nameserver], '', { timeoutMs: 200 });
    expect(addresses(await resolver.resolve('svc.test', 4))).toEqual(['10.0.0.1']);
  });

  it('fails over to the second nameserver when the first drops every query', async () => {
    const dropping = await startServer();
    dropping.setFault('drop');
    const live = await startServer();
    live.setRecords('svc.test', { A: ['10.0.0.1'] });
    const resolver = resolverWith([dropping.nameserver, live.nameserver], '', { timeoutMs: 200 });
    expect(addresses(await resolver.resolve('svc.test', 0))).toEqual(['10.0.0.1']);
    expect(dropping.queries.map((q) => q.type).sort()).toEqual(['A', 'AAAA']);
  });

  it('asks the second nameserver after SERVFAIL from the first', async () => {
    const failing = await startServer();
    failing.setRecords('svc.test', { A: ['10.6.6.6'] });
    failing.setFault('servfail');
    const live = await startServer();
    live.setRecords('svc.test', { A: ['10.0.0.1'] });
    const started = Date.now();
    const resolution = await resolverWith([failing.nameserver, live.nameserver]).resolve('svc.test', 4);
    expect(addresses(resolution)).toEqual(['10.0.0.1']);
    expect(failing.queries).toHaveLength(1);
    // No waiting: the default 5 s timeout never ran (a deadline far above the few ms needed, below 5 s).
    expect(Date.now() - started).toBeLessThan(4_500);
  });

  it('honours `options attempts:` (queries counted at the server)', async () => {
    const server = await startServer();
    server.setFault('drop');
    const resolver = resolverWith([server.nameserver], 'options attempts:3', { timeoutMs: 100 });
    expect((await resolver.resolvConf()).attempts).toBe(3);
    await expectDnsError(resolver.resolve('svc.test', 4), 'TIMEOUT');
    expect(server.countQueries({ type: 'A' })).toBe(3);

    const first = await startServer();
    const second = await startServer();
    first.setFault('drop');
    second.setFault('drop');
    await expectDnsError(resolverWith([first.nameserver, second.nameserver], 'options attempts:2', { timeoutMs: 100 }).resolve('svc.test', 4), 'TIMEOUT');
    expect([first.queries.length, second.queries.length]).toEqual([2, 2]);
  });

  it('honours `options timeout:` (seconds)', async () => {
    const server = await startServer();
    server.setFault('drop');
    const resolver = resolverWith([server.nameserver], 'options timeout:1 attempts:1');
    expect(await resolver.resolvConf()).toMatchObject({ timeoutMs: 1_000, attempts: 1 });
    const started = Date.now();
    await expectDnsError(resolver.resolve('svc.test', 4), 'TIMEOUT');
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(990);
    // One 1 s try, not the default 5 s: the deadline sits far above need and below 5 s.
    expect(elapsed).toBeLessThan(4_500);
    expect(server.queries).toHaveLength(1);
  });

  it('lets the timeoutMs / attempts options override resolv.conf', async () => {
    const server = await startServer();
    server.setFault('drop');
    const resolver = resolverWith([server.nameserver], 'options timeout:5 attempts:5', { timeoutMs: 100, attempts: 2 });
    expect(await resolver.resolvConf()).toMatchObject({ timeoutMs: 100, attempts: 2 });
    const started = Date.now();
    await expectDnsError(resolver.resolve('svc.test', 4), 'TIMEOUT');
    // Two 100 ms tries, not resolv.conf's 5 s: the deadline sits far above need and below 5 s.
    expect(Date.now() - started).toBeLessThan(4_500);
    expect(server.queries).toHaveLength(2);
  });

  it('lets an explicit nameserver list override resolv.conf', async () => {
    const fromConf = await startServer();
    fromConf.setRecords('svc.test', { A: ['10.6.6.6'] });
    const explicit = await startServer();
    explicit.setRecords('svc.test', { A: ['10.0.0.1'] });
    const resolver = resolverWith([fromConf.nameserver], '', { nameservers: [explicit.nameserver] });
    expect(addresses(await resolver.resolve('svc.test', 4))).toEqual(['10.0.0.1']);
    expect((await resolver.resolvConf()).nameservers).toEqual([explicit.nameserver]);
    expect(fromConf.queries).toHaveLength(0);
  });

  it('reads the resolv.conf file it is pointed at, with LOCALDOMAIN from the given env', async () => {
    const server = await startServer();
    server.setRecords('api.from-env.test', { A: ['10.0.0.4'] });
    const path = await folder.write('resolv.conf', server, 'search from-file.test\noptions timeout:1');
    const resolver = closedAfterTest(new StubResolver({ resolvConfPath: path, env: { LOCALDOMAIN: 'from-env.test' }, hostsPath: false }));
    const resolution = await resolver.resolve('api', 4);
    expect(resolution.name).toBe('api.from-env.test');
    expect(server.queries.map((q) => q.name)).toEqual(['api.from-env.test']);
  });

  it('uses an IPv6 nameserver ([::1]:port in resolv.conf), over UDP and TCP', async () => {
    const server = await startServer({ host: '::1' });
    server.setRecords('v6ns.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    const resolver = resolverWith([server.nameserver]);
    expect((await resolver.resolvConf()).nameservers).toEqual([{ host: '::1', port: server.port }]);
    expect(addresses(await resolver.resolve('v6ns.test', 0))).toEqual(['10.0.0.1', 'fd00::1']);
    server.setFault('truncate');
    expect(addresses(await resolver.resolve('v6ns.test', 0))).toEqual(['10.0.0.1', 'fd00::1']);
    expect(server.countQueries({ transport: 'tcp' })).toBe(2);
  });
});

describe('StubResolver: search list and ndots, as in a Kubernetes pod', () => {
  async function kubeServer(): Promise<DnsTestServer> {
    const server = await startServer();
    server.setRecords('my-svc.ns.svc.cluster.local', { A: ['10.0.0.1'] });
    return server;
  }

  it('resolves `my-svc` as my-svc.ns.svc.cluster.local (first search domain)', async () => {
    const server = await kubeServer();
    const resolution = await resolverWith([server.nameserver], KUBE_SEARCH).resolve('my-svc', 4);
    expect(resolution.name).toBe('my-svc.ns.svc.cluster.local');
    expect(addresses(resolution)).toEqual(['10.0.0.1']);
    expect(askedNames(server)).toEqual(['my-svc.ns.svc.cluster.local']);
  });

  it('resolves `my-svc.ns` as my-svc.ns.svc.cluster.local, after my-svc.ns.ns.svc.cluster.local', async () => {
    const server = await kubeServer();
    const resolution = await resolverWith([server.nameserver], KUBE_SEARCH).resolve('my-svc.ns', 0);
    expect(resolution.name).toBe('my-svc.ns.svc.cluster.local');
    expect(askedNames(server)).toEqual(['my-svc.ns.ns.svc.cluster.local', 'my-svc.ns.svc.cluster.local']);
  });

  it('tries the search list before a 4-dot name as-is (ndots:5), in order', async () => {
    const server = await kubeServer();
    const resolution = await resolverWith([server.nameserver], KUBE_SEARCH).resolve('my-svc.ns.svc.cluster.local', 4);
    expect(resolution.name).toBe('my-svc.ns.svc.cluster.local');
    expect(askedNames(server)).toEqual([
      'my-svc.ns.svc.cluster.local.ns.svc.cluster.local',
      'my-svc.ns.svc.cluster.local.svc.cluster.local',
      'my-svc.ns.svc.cluster.local.cluster.local',
      'my-svc.ns.svc.cluster.local',
    ]);
  });

  it('skips the search list for an absolute name (trailing dot)', async () => {
    const server = await kubeServer();
    const resolution = await resolverWith([server.nameserver], KUBE_SEARCH).resolve('my-svc.ns.svc.cluster.local.', 0);
    expect(resolution.name).toBe('my-svc.ns.svc.cluster.local');
    expect(askedNames(server)).toEqual(['my-svc.ns.svc.cluster.local']);
    await expectDnsError(resolverWith([server.nameserver], KUBE_SEARCH).resolve('my-svc.', 4), 'NXDOMAIN');
    expect(server.queries.at(-1)?.name).toBe('my-svc');
  });

  it('tries a name with at least ndots dots as-is first', async () => {
    const server = await startServer();
    server.setRecords('a.b', { A: ['10.0.0.2'] });
    server.setRecords('a.b.example', { A: ['10.6.6.6'] });
    const resolution = await resolverWith([server.nameserver], 'search example\noptions ndots:1').resolve('a.b', 4);
    expect(addresses(resolution)).toEqual(['10.0.0.2']);
    expect(askedNames(server)).toEqual(['a.b']);
  });

  it('reports NXDOMAIN for the name asked after every candidate said NXDOMAIN', async () => {
    const server = await kubeServer();
    const error = await expectDnsError(resolverWith([server.nameserver], KUBE_SEARCH).resolve('example.com', 4), 'NXDOMAIN');
    expect(error.hostname).toBe('example.com');
    expect(askedNames(server)).toEqual([
      'example.com.ns.svc.cluster.local',
      'example.com.svc.cluster.local',
      'example.com.cluster.local',
      'example.com',
    ]);
  });

  it('goes on after NODATA on a candidate, and reports NODATA if nothing else answers', async () => {
    const server = await kubeServer(); // my-svc.ns.svc.cluster.local has A only
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    await expectDnsError(resolver.resolve('my-svc', 6), 'NODATA');
    expect(askedNames(server)).toEqual(['my-svc.ns.svc.cluster.local', 'my-svc.svc.cluster.local', 'my-svc.cluster.local', 'my-svc']);
    server.setRecords('my-svc.cluster.local', { AAAA: ['fd00::3'] });
    const resolution = await resolver.resolve('my-svc', 6);
    expect(resolution.name).toBe('my-svc.cluster.local');
  });

  it('ends the list at a candidate that timed out instead of falling through to a later one, and asks the name as written (glibc)', async () => {
    const server = await kubeServer();
    server.setRecords('my-svc.svc.cluster.local', { A: ['10.6.6.6'] });
    server.setFault('drop', { name: 'my-svc.ns.svc.cluster.local' });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH, { timeoutMs: 150, attempts: 1 });
    const error = await expectDnsError(resolver.resolve('my-svc', 0), 'NXDOMAIN');
    expect(error.message).toBe('my-svc does not exist (NXDOMAIN, my-svc.ns.svc.cluster.local could not be asked: TIMEOUT)');
    expect(askedNames(server)).toEqual(['my-svc.ns.svc.cluster.local', 'my-svc']);
  });
});

describe('StubResolver: a known candidate asked directly', () => {
  it('asks the known candidate alone, one query per family', async () => {
    const server = await startServer();
    server.setRecords('svc.ns.svc.cluster.local', { A: ['10.0.0.1'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    const first = await resolver.resolve('svc.ns.svc.cluster.local', 0);
    expect(first.name).toBe('svc.ns.svc.cluster.local');
    expect(server.queries).toHaveLength(8);
    server.resetLog();
    const again = await resolver.resolve('svc.ns.svc.cluster.local', 0, first.name);
    expect(addresses(again)).toEqual(['10.0.0.1']);
    expect(server.queries.map((query) => `${query.type} ${query.name}`).sort()).toEqual([
      'A svc.ns.svc.cluster.local',
      'AAAA svc.ns.svc.cluster.local',
    ]);
  });

  it('walks the list again, without asking the known one twice, when it answers NXDOMAIN', async () => {
    const server = await startServer();
    server.setRecords('svc.svc.cluster.local', { A: ['10.0.0.2'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    const moved = await resolver.resolve('svc', 4, 'svc.ns.svc.cluster.local');
    expect(moved.name).toBe('svc.svc.cluster.local');
    expect(askedNames(server)).toEqual(['svc.ns.svc.cluster.local', 'svc.svc.cluster.local']);
    server.resetLog();
    await expectDnsError(resolver.resolve('gone', 4, 'gone.ns.svc.cluster.local'), 'NXDOMAIN');
    expect(askedNames(server)).toEqual(['gone.ns.svc.cluster.local', 'gone.svc.cluster.local', 'gone.cluster.local', 'gone']);
  });

  it('with recheckEarlier, also asks the candidates before it, in order: the first with addresses answers', async () => {
    const server = await startServer();
    server.setRecords('svc.svc.cluster.local', { A: ['10.0.0.2'] });
    server.setRecords('svc.cluster.local', { A: ['10.0.0.3'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    const found = await resolver.resolve('svc', 4, 'svc.cluster.local', { recheckEarlier: true });
    expect(found).toMatchObject({ name: 'svc.svc.cluster.local', searchIndex: 1 });
    expect([...new Set(askedNames(server))].sort()).toEqual(['svc.cluster.local', 'svc.ns.svc.cluster.local', 'svc.svc.cluster.local']);
    server.resetLog();
    // Without it: the known one alone.
    expect(await resolver.resolve('svc', 4, 'svc.cluster.local')).toMatchObject({ name: 'svc.cluster.local', searchIndex: 2 });
    expect(askedNames(server)).toEqual(['svc.cluster.local']);
  });

  it('with recheckEarlier, SERVFAIL on an earlier candidate goes on; REFUSED ends the recheck and the known one stands', async () => {
    const server = await startServer();
    server.setRecords('svc.svc.cluster.local', { A: ['10.0.0.2'] });
    server.setRecords('svc.cluster.local', { A: ['10.0.0.3'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    server.setFault('servfail', { name: 'svc.ns.svc.cluster.local' });
    expect((await resolver.resolve('svc', 4, 'svc.cluster.local', { recheckEarlier: true })).name).toBe('svc.svc.cluster.local');
    server.setFault(null);
    server.setFault('refused', { name: 'svc.ns.svc.cluster.local' });
    server.resetLog();
    expect((await resolver.resolve('svc', 4, 'svc.cluster.local', { recheckEarlier: true })).name).toBe('svc.cluster.local');
    expect(server.queries.some((query) => query.name === 'svc.svc.cluster.local')).toBe(false);
  });

  it('ignores a known name that is not one of the candidates', async () => {
    const server = await startServer();
    server.setRecords('svc.ns.svc.cluster.local', { A: ['10.0.0.1'] });
    server.setRecords('elsewhere.example', { A: ['10.9.9.9'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    const resolution = await resolver.resolve('svc', 4, 'elsewhere.example');
    expect(resolution.name).toBe('svc.ns.svc.cluster.local');
    expect(server.queries.some((query) => query.name === 'elsewhere.example')).toBe(false);
  });
});

describe('StubResolver: /etc/hosts and IP literals', () => {
  let hostsPath: string;

  beforeAll(async () => {
    hostsPath = await folder.writeFile(
      'hosts',
      ['127.0.0.1 localhost', '::1 localhost ip6-localhost', '10.1.2.3 custom.internal custom', '10.1.2.4 v4only.internal', ''].join('\n'),
    );
  });

  it('answers names in the hosts file without sending any DNS query', async () => {
    const server = await startServer();
    server.setRecords('custom.internal', { A: ['10.6.6.6'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH, { hostsPath });
    expect(await resolver.resolve('localhost', 0)).toEqual({
      name: 'localhost',
      source: 'hosts',
      failedFamilies: [],
      addresses: [
        { address: '127.0.0.1', family: 4, ttl: Infinity },
        { address: '::1', family: 6, ttl: Infinity },
      ],
    });
    expect(addresses(await resolver.resolve('localhost', 6))).toEqual(['::1']);
    expect(await resolver.resolve('custom', 4)).toMatchObject({ source: 'hosts', addresses: [{ address: '10.1.2.3' }] });
    expect(await resolver.resolve('Custom.Internal.', 0)).toMatchObject({ source: 'hosts', name: 'Custom.Internal' });
    expect(server.queries).toHaveLength(0);
  });

  it('asks DNS for names (or families) the hosts file does not have', async () => {
    const server = await startServer();
    server.setRecords('dns-only.test', { A: ['10.0.0.1'] });
    server.setRecords('v4only.internal', { AAAA: ['fd00::4'] });
    const resolver = resolverWith([server.nameserver], '', { hostsPath });
    expect(await resolver.resolve('dns-only.test', 4)).toMatchObject({ source: 'dns', addresses: [{ address: '10.0.0.1' }] });
    expect(await resolver.resolve('v4only.internal', 6)).toMatchObject({ source: 'dns', addresses: [{ address: 'fd00::4' }] });
  });

  it('skips the hosts file with hostsPath: false', async () => {
    const server = await startServer();
    server.setRecords('localhost', { A: ['10.0.0.9'] });
    const resolution = await resolverWith([server.nameserver]).resolve('localhost', 4);
    expect(resolution).toMatchObject({ source: 'dns', addresses: [{ address: '10.0.0.9' }] });
    expect(server.queries).toHaveLength(1);
  });

  it('returns IP literals as they are, with source literal and no query', async () => {
    const server = await startServer();
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH, { hostsPath });
    expect(await resolver.resolve('192.0.2.7', 0)).toEqual({
      name: '192.0.2.7',
      source: 'literal',
      failedFamilies: [],
      addresses: [{ address: '192.0.2.7', family: 4, ttl: Infinity }],
    });
    expect(await resolver.resolve('2001:db8::1', 6)).toMatchObject({ source: 'literal', addresses: [{ address: '2001:db8::1', family: 6 }] });
    expect(await resolver.resolve('127.0.0.1', 4)).toMatchObject({ source: 'literal' });
    await expectDnsError(resolver.resolve('192.0.2.7', 6), 'NODATA');
    expect(server.queries).toHaveLength(0);
  });
});

describe('StubResolver: sockets and close()', () => {
  it('shares one UDP socket (one source port) between successive queries until it rotates', async () => {
    const server = await startServer();
    server.setRecords('svc.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    const resolver = resolverWith([server.nameserver], KUBE_SEARCH);
    await resolver.resolve('svc.test', 0);
    await resolver.resolve('svc.test', 4);
    await Promise.all([resolver.resolve('svc.test', 0), resolver.resolve('other', 0).catch(() => undefined)]);
    expect(server.queries.length).toBeGreaterThanOrEqual(2 + 1 + 2 + 8);
    // Each port serves UDP_PORT_MAX_QUERIES queries, then the next one is fresh.
    const perPort = new Map<number, number>();
    for (const { sourcePort } of server.queries) perPort.set(sourcePort, (perPort.get(sourcePort) ?? 0) + 1);
    expect(Math.max(...perPort.values())).toBeLessThanOrEqual(UDP_PORT_MAX_QUERIES);
    expect(perPort.size).toBe(Math.ceil(server.queries.length / UDP_PORT_MAX_QUERIES));
  });

  it('close() rejects in-flight resolves with CLOSED, later ones too, and leaves no handle behind', async () => {
    const server = await startServer();
    server.setRecords('svc.test', { A: ['10.0.0.1'] });
    server.setFault('drop');
    const before = activeHandleCounts();
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 10_000 });
    const inFlight = expectDnsError(resolver.resolve('svc.test', 0), 'CLOSED');
    await server.waitForQueries(2);
    const started = Date.now();
    resolver.close();
    await inFlight;
    // Rejected by close(), not by the 10 s timeout: a deadline far above need, far below the timeout.
    expect(Date.now() - started).toBeLessThan(5_000);
    await expectDnsError(resolver.resolve('svc.test', 4), 'CLOSED');
    expect(server.queries).toHaveLength(2);
    await waitForHandlesAtMost(before);
  });

  it('close() also ends a TCP fallback in flight', async () => {
    const server = await startServer();
    server.setRecords('svc.test', { A: ['10.0.0.1'] });
    server.setFault('drop', { transport: 'tcp' });
    server.setFault('truncate');
    const before = activeHandleCounts();
    const resolver = resolverWith([server.nameserver], '', { timeoutMs: 10_000 });
    const inFlight = expectDnsError(resolver.resolve('svc.test', 4), 'CLOSED');
    await server.waitForQueries(1, { transport: 'tcp' });
    resolver.close();
    await inFlight;
    await waitForHandlesAtMost(before);
  });

  it('close() before the resolv.conf file has been read: nothing is ever sent', async () => {
    const server = await startServer();
    server.setRecords('svc.test', { A: ['10.0.0.1'] });
    const path = await folder.write('resolv-close.conf', server);
    const resolver = closedAfterTest(new StubResolver({ resolvConfPath: path, env: {}, hostsPath: false }));
    const pending = resolver.resolve('svc.test', 0);
    resolver.close();
    await expectDnsError(pending, 'CLOSED');
    expect(server.queries).toHaveLength(0);
  });
});
