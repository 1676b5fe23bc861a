/**
 * The TXT side of a DNS source (src/watch/txt-records.ts) against
 * DnsTestServer over loopback, the poll's clock injected (each poll's
 * `startedAt`): TXT asked after the first answer on the name the addresses
 * resolved as (through the search list), then at most once a minute —
 * counted at the server — handed on only when the records changed; a
 * failed TXT query keeps the last records and never fails the poll's
 * addresses; nothing asked while no subscriber wants a service config.
 */
import { describe, expect, it } from 'vitest';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import { StubResolver } from '../src/dns/stub-resolver.js';
import type { AbortSignalLike, ResolvedAddress } from '../src/dns/types.js';
import { DnsSource, type DnsAnswer, type ResolveFn } from '../src/watch/dns-source.js';
import type { PollContext } from '../src/watch/source.js';
import { TXT_INTERVAL_MS } from '../src/watch/txt-records.js';
import { DEFAULTS } from '../src/watch/options.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { serverFixture } from '../harness/server-fixture.js';
import { resolvConfText } from '../harness/temp-folder.js';

const { start: startServer, cleanups } = serverFixture();

const CONFIG = 'grpc_config=[{"serviceConfig":{"loadBalancingConfig":[{"round_robin":{}}]}}]';

/** A DNS source over a real stub resolver, asked through a PollContext whose clock the test sets. */
async function setup(name = 'svc.test.', resolvConf = ''): Promise<{ server: DnsTestServer; source: DnsSource; poll: (at: number) => Promise<DnsAnswer> }> {
  const server = await startServer();
  const resolver = new StubResolver({ resolvConf: parseResolvConf(resolvConfText(server, resolvConf)), hostsPath: false });
  cleanups.push(() => resolver.close());
  const resolve: ResolveFn = Object.assign((target: string, family: 0 | 4 | 6, known?: string, control?: Parameters<ResolveFn>[3]) => resolver.resolve(target, family, known, control), {
    txt: (txtName: string, signal?: AbortSignalLike) => resolver.resolveTxt(txtName, signal),
  });
  const options = { ...DEFAULTS, backoff: { ...DEFAULTS.backoff } };
  const source = new DnsSource(name, 4, resolve, options);
  const poll = async (at: number): Promise<DnsAnswer> => {
    const context: PollContext = { signal: undefined, startedAt: at, remainingMs: () => 5_000, partial: (_family: 4 | 6, _addresses: readonly ResolvedAddress[]) => {} };
    const answer = await source.ask(context);
    source.settled({ kind: 'answer', resolution: answer }, false, at);
    return answer;
  };
  return { server, source, poll };
}

describe('TXT records of a watched name', () => {
  it('asks after the first answer, then at most once a minute, and hands on only a change', async () => {
    const { server, source, poll } = await setup();
    server.setRecords('svc.test', { A: ['127.0.0.2'], TXT: [CONFIG] });
    source.txt.want(1);
    const first = await poll(0);
    expect(first.addresses.map((entry) => entry.address)).toEqual(['127.0.0.2']);
    expect(first.serviceConfig).toEqual({ kind: 'txt', records: [[CONFIG]] });
    expect(server.countQueries({ type: 'TXT' })).toBe(1);
    // Polls every 5 s for a minute: addresses each time, TXT not again.
    for (let at = 5_000; at < TXT_INTERVAL_MS; at += 5_000) expect((await poll(at)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(1);
    expect(server.countQueries({ type: 'A' })).toBe(12);
    // A minute on: asked again; the same records are no news.
    expect((await poll(TXT_INTERVAL_MS)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(2);
    // Changed records reach the next TXT query, and only then.
    server.setRecords('svc.test', { A: ['127.0.0.2'], TXT: ['grpc_config=[]'] });
    expect((await poll(TXT_INTERVAL_MS + 5_000)).serviceConfig).toBeUndefined();
    expect((await poll(2 * TXT_INTERVAL_MS)).serviceConfig).toEqual({ kind: 'txt', records: [['grpc_config=[]']] });
    // Records removed (NODATA): no records, so no config.
    server.setRecords('svc.test', { A: ['127.0.0.2'] });
    expect((await poll(3 * TXT_INTERVAL_MS)).serviceConfig).toEqual({ kind: 'txt', records: [] });
    expect(server.countQueries({ type: 'TXT' })).toBe(4);
  });

  it('a name without TXT records is no news: asked, nothing handed on', async () => {
    const { server, source, poll } = await setup();
    server.setRecords('svc.test', { A: ['127.0.0.2'] });
    source.txt.want(1);
    expect((await poll(0)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(1);
  });

  it('keeps the last records when the TXT query fails, and the addresses flow', async () => {
    const { server, source, poll } = await setup();
    server.setRecords('svc.test', { A: ['127.0.0.2'], TXT: [CONFIG] });
    source.txt.want(1);
    expect((await poll(0)).serviceConfig).toEqual({ kind: 'txt', records: [[CONFIG]] });
    server.setRecords('svc.test', { A: ['127.0.0.3'], TXT: [CONFIG] });
    server.setFault('servfail', { type: 'TXT' });
    const failed = await poll(TXT_INTERVAL_MS);
    expect(failed.addresses.map((entry) => entry.address)).toEqual(['127.0.0.3']);
    expect(failed.serviceConfig).toBeUndefined();
    // One query: its two tries (resolv.conf's attempts: 2) both answered SERVFAIL.
    expect(server.countQueries({ type: 'TXT' })).toBe(3);
    // Asked again a minute later, not at every poll in between; the same records as held are still no news.
    server.setFault(null);
    expect((await poll(TXT_INTERVAL_MS + 5_000)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(3);
    expect((await poll(2 * TXT_INTERVAL_MS)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(4);
  });

  it('asks the name the addresses resolved as through the search list', async () => {
    const { server, source, poll } = await setup('my-svc', 'search ns.svc.cluster.local svc.cluster.local\noptions ndots:5');
    server.setRecords('my-svc.ns.svc.cluster.local', { A: ['127.0.0.2'], TXT: [CONFIG] });
    source.txt.want(1);
    expect((await poll(0)).serviceConfig).toEqual({ kind: 'txt', records: [[CONFIG]] });
    const txt = server.queries.filter((entry) => entry.type === 'TXT').map((entry) => entry.name);
    expect(txt).toEqual(['my-svc.ns.svc.cluster.local']);
  });

  it('asks nothing while no subscriber wants a service config', async () => {
    const { server, source, poll } = await setup();
    server.setRecords('svc.test', { A: ['127.0.0.2'], TXT: [CONFIG] });
    expect((await poll(0)).serviceConfig).toBeUndefined();
    expect((await poll(TXT_INTERVAL_MS)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(0);
    source.txt.want(1);
    expect((await poll(TXT_INTERVAL_MS + 5_000)).serviceConfig).toEqual({ kind: 'txt', records: [[CONFIG]] });
    source.txt.want(-1);
    expect((await poll(3 * TXT_INTERVAL_MS)).serviceConfig).toBeUndefined();
    expect(server.countQueries({ type: 'TXT' })).toBe(1);
  });

  it('asks no TXT for an IP literal (no DNS name to ask)', async () => {
    const { server, source, poll } = await setup('127.0.0.5');
    source.txt.want(1);
    expect((await poll(0)).serviceConfig).toBeUndefined();
    expect(server.countQueries()).toBe(0);
  });

  it('asks no TXT when the addresses could not be asked, and the poll fails as before', async () => {
    const { server, source, poll } = await setup();
    server.setRecords('svc.test', { A: ['127.0.0.2'], TXT: [CONFIG] });
    source.txt.want(1);
    server.setFault('servfail', { type: 'A' });
    await expect(poll(0)).rejects.toMatchObject({ code: 'SERVFAIL' });
    expect(server.countQueries({ type: 'TXT' })).toBe(0);
  });
});
