/**
 * StubResolver.resolveTxt — the TXT records a service config is read from —
 * against DnsTestServer over real loopback sockets: each record's
 * character-strings as Node's own `dns.resolveTxt` gives them (checked side
 * by side against Node on the same server), NXDOMAIN and NODATA as "no
 * records", could-not-ask as a typed DnsError, and the same transport as
 * addresses: a truncated reply asked again over TCP, forged replies dropped.
 */
import dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import { StubResolver } from '../src/dns/stub-resolver.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { expectDnsError } from '../harness/resolver-helpers.js';
import { ScriptedDnsServer } from '../harness/scripted-dns.js';
import { serverFixture } from '../harness/server-fixture.js';

const { start: startServer, cleanups } = serverFixture();

/** A resolver asking `server` only, closed after the test. */
function resolverOf(server: { host: string; port: number }): StubResolver {
  const resolver = new StubResolver({ nameservers: [{ host: server.host, port: server.port }], hostsPath: false, timeoutMs: 1_000, attempts: 1 });
  cleanups.push(() => resolver.close());
  return resolver;
}

async function setup(): Promise<{ server: DnsTestServer; resolver: StubResolver }> {
  const server = await startServer();
  return { server, resolver: resolverOf(server) };
}

/** Node's own answer for the same question from the same server (c-ares, what grpc-js's built-in resolver asks). */
async function nodeTxt(server: DnsTestServer, name: string): Promise<string[][]> {
  const resolver = new dns.promises.Resolver({ timeout: 1_000, tries: 1 });
  resolver.setServers([`${server.host}:${server.port}`]);
  return resolver.resolveTxt(name);
}

describe('StubResolver.resolveTxt', () => {
  it('gives each record its character-strings, in order, as Node does', async () => {
    const { server, resolver } = await setup();
    const config = 'grpc_config=[{"serviceConfig":{"loadBalancingConfig":[{"round_robin":{}}]}}]';
    server.setRecords('svc.test', {
      A: ['127.0.0.2'],
      TXT: ['v=spf1 -all', [config.slice(0, 30), config.slice(30)], ['', 'caf\u00e9 \u2713'], 'x'.repeat(255)],
    });
    const ours = await resolver.resolveTxt('svc.test');
    expect(ours).toEqual(await nodeTxt(server, 'svc.test'));
    expect(ours[1]!.join('')).toBe(config);
    expect(ours).toHaveLength(4);
  });

  it('answers NXDOMAIN and NODATA with no records, and asks once', async () => {
    const { server, resolver } = await setup();
    server.setRecords('addresses-only.test', { A: ['127.0.0.2'] });
    expect(await resolver.resolveTxt('addresses-only.test')).toEqual([]);
    expect(await resolver.resolveTxt('missing.test')).toEqual([]);
    expect(server.countQueries({ type: 'TXT' })).toBe(2);
    expect(server.countQueries({ type: 'A' })).toBe(0);
  });

  it('follows a CNAME inside the answer and takes no record owned by another name', async () => {
    const { server, resolver } = await setup();
    server.setRecords('alias.test', { CNAME: 'target.test' });
    server.setRecords('target.test', { TXT: ['grpc_config=[]'] });
    expect(await resolver.resolveTxt('alias.test')).toEqual([['grpc_config=[]']]);
  });

  it('uses only records owned by the name asked (c-ares, which Node and grpc-js ask, takes every TXT record of the reply)', async () => {
    const server = await ScriptedDnsServer.start((query) => ({
      answers: [
        { type: 'TXT', name: 'evil.test', ttl: 5, data: ['grpc_config=[]'] },
        { type: 'TXT', name: query.name.toUpperCase(), ttl: 5, data: ['genuine'] },
        { type: 'TXT', name: query.name, class: 'CH', ttl: 5, data: ['chaos'] },
      ],
    }));
    cleanups.push(() => server.close());
    const resolver = resolverOf(server);
    expect(await resolver.resolveTxt('svc.test')).toEqual([['genuine']]);
    const node = new dns.promises.Resolver({ timeout: 1_000, tries: 1 });
    node.setServers([`${server.host}:${server.port}`]);
    expect(await node.resolveTxt('svc.test')).toContainEqual(['grpc_config=[]']);
  });

  it('rejects with the cause when it could not ask: SERVFAIL, no reply', async () => {
    const { server, resolver } = await setup();
    server.setRecords('svc.test', { TXT: ['a'] });
    server.setFault('servfail', { type: 'TXT', count: 1 });
    await expectDnsError(resolver.resolveTxt('svc.test'), 'SERVFAIL');
    server.setFault('drop', { type: 'TXT', count: 1 });
    await expectDnsError(resolver.resolveTxt('svc.test'), 'TIMEOUT');
    expect(await resolver.resolveTxt('svc.test')).toEqual([['a']]);
  });

  it('asks again over TCP when the UDP reply is truncated', async () => {
    const { server, resolver } = await setup();
    // 40 records of 255 bytes: about 10 kB, past any UDP payload the client advertises.
    const records = Array.from({ length: 40 }, (_, i) => [`${i}`.padEnd(255, 'x')]);
    server.setRecords('big.test', { TXT: records });
    expect(await resolver.resolveTxt('big.test')).toEqual(records);
    expect(server.countQueries({ type: 'TXT', transport: 'tcp' })).toBe(1);
  });

  it('drops forged replies (wrong id, wrong question) and takes the genuine one', async () => {
    const { server, resolver } = await setup();
    server.setRecords('svc.test', { TXT: ['genuine'] });
    server.setFault('wrong-id', { type: 'TXT', count: 1, thenAnswer: true });
    expect(await resolver.resolveTxt('svc.test')).toEqual([['genuine']]);
    server.setFault('wrong-question', { type: 'TXT', count: 1, thenAnswer: true });
    expect(await resolver.resolveTxt('svc.test')).toEqual([['genuine']]);
  });

  it('refuses a name that is not a DNS name, asking nothing', async () => {
    const { server, resolver } = await setup();
    await expectDnsError(resolver.resolveTxt('bad..name'), 'BADNAME');
    expect(server.countQueries()).toBe(0);
  });
});
