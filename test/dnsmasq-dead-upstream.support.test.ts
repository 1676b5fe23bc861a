/**
 * harness/dnsmasq.ts `deadUpstreams`: a real dnsmasq whose upstream for one
 * domain is dead (nothing listens: no answer), or answers SERVFAIL / REFUSED,
 * while every other name is answered from its hosts files — a pod's search
 * domain whose upstream is broken.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DnsTestServer } from '../harness/dns-server.js';
import { DEAD_UPSTREAM, Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { waitUntil } from '../harness/wait.js';

const binary = dnsmasqBinary();
if (!binary) console.warn('dnsmasq-dead-upstream.support.test: dnsmasq not found — skipped (apt-get install dnsmasq-base)');

const opened: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

const FQDN = 'web.ns.svc.cluster.local';

describe.skipIf(!binary)('harness/dnsmasq: a dead upstream for one domain', () => {
  it('never answers names under the dead domain, and answers every other name', async () => {
    const dnsmasq = await Dnsmasq.start({ deadUpstreams: [{ domain: 'corp.example' }], logQueries: true });
    opened.push(dnsmasq);
    await dnsmasq.setHost(FQDN, ['10.0.0.1']);
    expect((await dnsmasq.query(FQDN, 'A'))?.addresses).toEqual(['10.0.0.1']);
    // The search candidate glibc would try last: forwarded to a port nothing listens on, never answered.
    expect(await dnsmasq.query(`${FQDN}.corp.example`, 'A', 1_500)).toBeNull();
    await waitUntil(
      () => dnsmasq.output.includes(`forwarded ${FQDN}.corp.example to ${DEAD_UPSTREAM.host}#${DEAD_UPSTREAM.port}`),
      () => `dnsmasq logging the forward to the dead upstream; it logged:\n${dnsmasq.output}`,
    );
    // Other domains are still answered locally.
    expect((await dnsmasq.query('other.example', 'A'))?.rcode).toBe('NXDOMAIN');
  });

  it('passes on SERVFAIL and REFUSED from an upstream that answers so', async () => {
    const failing = await DnsTestServer.start();
    opened.push(failing);
    const dnsmasq = await Dnsmasq.start({
      deadUpstreams: [
        { domain: 'servfail.example', server: failing.nameserver },
        { domain: 'refused.example.', server: failing.nameserver },
      ],
    });
    opened.push(dnsmasq);
    failing.setFault('servfail', { name: 'web.servfail.example' });
    expect((await dnsmasq.query('web.servfail.example', 'A', 2_000))?.rcode).toBe('SERVFAIL');
    failing.setFault('refused', { name: 'web.refused.example' });
    expect((await dnsmasq.query('web.refused.example', 'A', 2_000))?.rcode).toBe('REFUSED');
    expect(failing.countQueries({ name: 'web.servfail.example' })).toBeGreaterThanOrEqual(1);
  });

  it('rejects a bad domain, server or port with an error naming it', async () => {
    await expect(Dnsmasq.start({ deadUpstreams: [{ domain: 'not a name' }] })).rejects.toThrow(/Invalid deadUpstreams domain "not a name"/);
    await expect(Dnsmasq.start({ deadUpstreams: [{ domain: 'corp.example', server: { host: 'dead', port: 53 } }] })).rejects.toThrow(
      /Invalid deadUpstreams server for corp.example/,
    );
    await expect(Dnsmasq.start({ port: 70_000 })).rejects.toThrow(/Invalid port 70000/);
  });
});
