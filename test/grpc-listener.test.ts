import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { register, unregister, watch } from '../src/index.js';
import { DnsTestServer } from '../harness/dns-server.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { GRPC_VERSIONS, createResolverFor, grpcVersion, loadGrpc } from '../harness/grpc-versions.js';
import { waitUntil } from '../harness/wait.js';
import { recordedResolver, recorder, type Recorder } from '../harness/listener-recorder.js';

/**
 * The adapter at the listener level, against each grpc-js listener shape:
 * what a channel's resolver listener is called with, and when. The resolver
 * is built by grpc-js's own createResolver, so the scheme registration is
 * exercised too.
 */

const INTERVAL = 150;
// The machine's own nameserver is never asked: resolv.conf points at the test server.
const fixture = dnsServerForFile({ resolvConf: 'options ndots:1 timeout:1 attempts:1', label: 'grpc-listener' });
let server: DnsTestServer;
let resolvConfPath: string;

beforeAll(() => {
  ({ server, resolvConfPath } = fixture);
});

describe.each(GRPC_VERSIONS)('listener shape of %s', (name) => {
  const grpc = loadGrpc(name);
  const createResolver = createResolverFor(name);
  const resolvers: Array<{ destroy(): void }> = [];

  function resolverFor(target: string, rec: Recorder, channelOptions: Record<string, unknown> = {}) {
    const resolver = recordedResolver(createResolver, target, rec, channelOptions);
    resolvers.push(resolver);
    return resolver;
  }

  beforeEach(() => {
    server.clearRecords();
    server.setFault(null);
    server.resetLog();
    register({ grpc, refreshInterval: INTERVAL, jitter: 0, resolvConfPath, hostsPath: false, timeout: 200, backoff: { initial: 50, max: 200, multiplier: 2 } });
  });

  afterEach(() => {
    for (const resolver of resolvers.splice(0)) resolver.destroy();
    unregister();
  });

  it(`(grpc-js ${grpcVersion(name)}) hands over the set with the port, never synchronously`, async () => {
    server.setRecords('svc.test', { A: ['127.0.0.2', '127.0.0.3'] });
    const rec = recorder(name);
    const resolver = resolverFor('dns:///svc.test:50051', rec);
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length >= 1, 'the first call');
    expect(rec.synchronousCalls).toBe(0);
    expect(rec.calls[0]).toEqual({
      kind: 'addresses',
      list: expect.arrayContaining([
        { host: '127.0.0.2', port: 50051 },
        { host: '127.0.0.3', port: 50051 },
      ]) as unknown,
    });
  });

  it('stays silent while polls find the same set, calls once when it changes', async () => {
    server.setRecords('svc.test', { A: ['127.0.0.2', '127.0.0.3'] });
    const rec = recorder(name);
    resolverFor('dns:svc.test:50051', rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first call');
    const seen = server.countQueries({ name: 'svc.test', type: 'A' });
    server.setRecords('svc.test', { A: ['127.0.0.3', '127.0.0.2'] });
    await server.waitForQueries(seen + 3, { name: 'svc.test', type: 'A' });
    expect(rec.calls).toHaveLength(1);
    server.setRecords('svc.test', { A: ['127.0.0.3', '127.0.0.4'] });
    await waitUntil(() => rec.calls.length === 2, 'the change');
    expect(rec.calls[1]).toEqual({
      kind: 'addresses',
      list: expect.arrayContaining([
        { host: '127.0.0.3', port: 50051 },
        { host: '127.0.0.4', port: 50051 },
      ]) as unknown,
    });
    expect((rec.calls[1] as { list: unknown[] }).list).toHaveLength(2);
  });

  it('answers each updateResolution() with exactly one call, even when nothing changed', async () => {
    server.setRecords('svc.test', { A: ['127.0.0.2'] });
    const rec = recorder(name);
    const resolver = resolverFor('dns:///svc.test:443', rec, { 'grpc-dns-watch.refresh_interval_ms': 60_000, 'grpc-dns-watch.min_interval_ms': 0 });
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first call');
    resolver.updateResolution();
    expect(rec.synchronousCalls).toBe(0);
    await waitUntil(() => rec.calls.length === 2, 'the answer to the request');
    expect(rec.calls[1]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.2', port: 443 }] });
    expect(server.countQueries({ name: 'svc.test', type: 'A' })).toBe(2);
  });

  it('NXDOMAIN: UNAVAILABLE naming the target, never an empty list', async () => {
    const rec = recorder(name);
    resolverFor('dns:///missing.test:50051', rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the error');
    expect(rec.calls[0]).toMatchObject({ kind: 'error', code: grpc.status.UNAVAILABLE });
    expect((rec.calls[0] as { details: string }).details).toMatch(/No addresses for dns:\/\/\/missing\.test:50051/);
    expect(rec.calls.some((call) => call.kind === 'addresses' && call.list.length === 0)).toBe(false);
  });

  it('DNS unreachable and no set yet: UNAVAILABLE with the cause, once', async () => {
    server.setRecords('svc.test', { A: ['127.0.0.2'] });
    server.setFault('servfail');
    const rec = recorder(name);
    resolverFor('dns:///svc.test:50051', rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the error');
    expect(rec.calls[0]).toMatchObject({ kind: 'error', code: grpc.status.UNAVAILABLE });
    expect((rec.calls[0] as { details: string }).details).toMatch(/Name resolution failed for dns:\/\/\/svc\.test:50051: .*SERVFAIL/);
    const seen = server.countQueries({ name: 'svc.test' });
    await server.waitForQueries(seen + 2, { name: 'svc.test' });
    expect(rec.calls).toHaveLength(1);
    server.setFault(null);
    await waitUntil(() => rec.calls.length === 2, 'recovery');
    expect(rec.calls[1]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.2', port: 50051 }] });
  });

  it('DNS failing with a last good set: nothing at all is called', async () => {
    server.setRecords('svc.test', { A: ['127.0.0.2'] });
    const rec = recorder(name);
    resolverFor('dns:///svc.test:50051', rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first call');
    server.setFault('drop');
    const seen = server.countQueries({ name: 'svc.test' });
    await server.waitForQueries(seen + 3, { name: 'svc.test' }, 10_000);
    expect(rec.calls).toHaveLength(1);
  });

  it('after destroy() nothing is called until updateResolution() restarts it', async () => {
    server.setRecords('svc.test', { A: ['127.0.0.2'] });
    const rec = recorder(name);
    const resolver = resolverFor('dns:///svc.test:50051', rec);
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first call');
    resolver.destroy();
    server.setRecords('svc.test', { A: ['127.0.0.3'] });
    // A second watcher on another name shows time passing at the same interval.
    server.setRecords('canary.test', { A: ['127.0.0.9'] });
    const canary = watch('canary.test', { refreshInterval: INTERVAL, jitter: 0, resolvConfPath, hostsPath: false, family: 4 });
    await server.waitForQueries(3, { name: 'canary.test' });
    canary.close();
    expect(rec.calls).toHaveLength(1);
    expect(server.countQueries({ name: 'svc.test', type: 'A' })).toBe(1);
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length === 2, 'the restart');
    expect(rec.calls[1]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.3', port: 50051 }] });
  });

  it('IP literals are handed over once, with no DNS query and no polling', async () => {
    const rec = recorder(name);
    const resolver = resolverFor('dns:///[::1]:7000', rec);
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the literal');
    resolver.updateResolution();
    const rec4 = recorder(name);
    resolverFor('dns:127.0.0.5', rec4).updateResolution();
    await waitUntil(() => rec4.calls.length === 1, 'the IPv4 literal');
    expect(rec.calls).toEqual([{ kind: 'addresses', list: [{ host: '::1', port: 7000 }] }]);
    expect(rec4.calls).toEqual([{ kind: 'addresses', list: [{ host: '127.0.0.5', port: 443 }] }]);
    expect(server.queries).toHaveLength(0);
  });

  it('an unparseable target: UNAVAILABLE with the target in the message', async () => {
    const rec = recorder(name);
    resolverFor('dns:///bad_name!.test:99999', rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the error');
    expect(rec.calls[0]).toMatchObject({ kind: 'error', code: grpc.status.UNAVAILABLE });
    expect((rec.calls[0] as { details: string }).details).toContain('dns:///bad_name!.test:99999');
  });

  it('dns://server:port/name asks that server, and the dns-watch scheme works too', async () => {
    const other = await DnsTestServer.start();
    try {
      other.setRecords('elsewhere.test', { A: ['127.0.0.7'] });
      const rec = recorder(name);
      resolverFor(`dns://${other.address}/elsewhere.test:8080`, rec).updateResolution();
      await waitUntil(() => rec.calls.length === 1, 'the answer from the named server');
      expect(rec.calls[0]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.7', port: 8080 }] });
      expect(server.countQueries({ name: 'elsewhere.test' })).toBe(0);

      server.setRecords('svc.test', { A: ['127.0.0.2'] });
      const own = recorder(name);
      resolverFor('dns-watch:///svc.test:1234', own).updateResolution();
      await waitUntil(() => own.calls.length === 1, 'the dns-watch scheme');
      expect(own.calls[0]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.2', port: 1234 }] });
    } finally {
      await other.close();
    }
  });

  it('bad channel options throw a TypeError naming the option when the channel is made', () => {
    const rec = recorder(name);
    expect(() => resolverFor('dns:///svc.test:1', rec, { 'grpc-dns-watch.refresh_interval_ms': -5 })).toThrow(
      /Channel option "grpc-dns-watch\.refresh_interval_ms" must be a number of milliseconds/,
    );
    expect(() => resolverFor('dns:///svc.test:1', rec, { 'grpc-dns-watch.refresh_interval': 5 })).toThrow(
      /Unknown channel option "grpc-dns-watch\.refresh_interval"/,
    );
  });
});
