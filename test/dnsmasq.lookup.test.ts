/**
 * StubResolver against a real DNS server: Debian's dnsmasq on a loopback port
 * (harness/dnsmasq.ts). Records are changed at runtime and the next
 * resolve() must see the change — the resolver keeps no cache of its own.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { parseResolvConf } from '../src/dns/resolv-conf.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { expectDnsError } from '../harness/resolver-helpers.js';
import { resolvConfText } from '../harness/temp-folder.js';

const binary = dnsmasqBinary();
if (!binary) {
  console.warn('dnsmasq.lookup.test: dnsmasq not found in PATH or /usr/sbin — skipped (apt-get install dnsmasq-base)');
}

describe.skipIf(!binary)('StubResolver against a real dnsmasq', () => {
  let dnsmasq: Dnsmasq;
  let resolver: StubResolver;

  beforeAll(async () => {
    dnsmasq = await Dnsmasq.start({ ttl: 1 });
    // Exactly a Kubernetes pod's resolv.conf, with dnsmasq as the nameserver.
    const resolvConf = parseResolvConf(
      resolvConfText(dnsmasq.nameserver, 'search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:1 attempts:2'),
    );
    expect(resolvConf.warnings).toEqual([]);
    resolver = new StubResolver({ resolvConf, hostsPath: false });
  }, 15_000);

  afterAll(async () => {
    resolver?.close();
    await dnsmasq?.close();
  });

  function sorted(resolution: { addresses: Array<{ address: string }> }): string[] {
    return resolution.addresses.map((a) => a.address).sort();
  }

  it('resolves a short name through the search list, with the record TTL', async () => {
    await dnsmasq.setHost('my-svc.ns.svc.cluster.local', ['127.0.0.2', '127.0.0.3']);
    const resolution = await resolver.resolve('my-svc', 4);
    expect(resolution.name).toBe('my-svc.ns.svc.cluster.local');
    expect(resolution.source).toBe('dns');
    expect(sorted(resolution)).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(resolution.addresses.map((a) => a.ttl)).toEqual([1, 1]);
  });

  it('sees a record changed at runtime on the next resolve()', async () => {
    await dnsmasq.setHost('rotating.ns.svc.cluster.local', ['127.0.0.2', '127.0.0.3']);
    expect(sorted(await resolver.resolve('rotating.ns', 4))).toEqual(['127.0.0.2', '127.0.0.3']);
    await dnsmasq.setHost('rotating.ns.svc.cluster.local', ['127.0.0.3', '127.0.0.4', '127.0.0.5']);
    expect(sorted(await resolver.resolve('rotating.ns', 4))).toEqual(['127.0.0.3', '127.0.0.4', '127.0.0.5']);
    await dnsmasq.removeHost('rotating.ns.svc.cluster.local');
    await expectDnsError(resolver.resolve('rotating.ns.svc.cluster.local.', 4), 'NXDOMAIN');
  });

  it('asks A and AAAA for family 0', async () => {
    await dnsmasq.setHost('dual.ns.svc.cluster.local', ['127.0.0.6', 'fd00::6']);
    const resolution = await resolver.resolve('dual', 0);
    expect(sorted(resolution)).toEqual(['127.0.0.6', 'fd00::6']);
    expect(resolution.failedFamilies).toEqual([]);
  });

  it('reports an unknown name as NXDOMAIN (authoritative), after the whole search list', async () => {
    const error = await expectDnsError(resolver.resolve('no-such-svc', 0), 'NXDOMAIN');
    expect(error.authoritative).toBe(true);
    expect(error.hostname).toBe('no-such-svc');
  });

  it('reports a known name without records of the asked family as NODATA', async () => {
    await dnsmasq.setHost('v4only.ns.svc.cluster.local', ['127.0.0.7']);
    const error = await expectDnsError(resolver.resolve('v4only.ns.svc.cluster.local.', 6), 'NODATA');
    expect(error.authoritative).toBe(true);
  });
});
