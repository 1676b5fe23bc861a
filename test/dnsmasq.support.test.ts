import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dnsmasq, dnsmasqBinary, rawQuery } from '../harness/dnsmasq.js';

const binary = dnsmasqBinary();
if (!binary) {
  console.warn('dnsmasq.support.test: dnsmasq not found in PATH or /usr/sbin — skipped (apt-get install dnsmasq-base)');
}

describe.skipIf(!binary)('harness/dnsmasq: a real dnsmasq', () => {
  let dnsmasq: Dnsmasq;

  beforeAll(async () => {
    dnsmasq = await Dnsmasq.start({ ttl: 1 });
  }, 15_000);

  afterAll(async () => {
    await dnsmasq?.close();
  });

  it('listens on a free port on loopback', () => {
    expect(dnsmasq.host).toBe('127.0.0.1');
    expect(dnsmasq.port).toBeGreaterThan(0);
    expect(dnsmasq.nameserver).toEqual({ host: '127.0.0.1', port: dnsmasq.port });
  });

  it('answers NXDOMAIN for names it does not know (no upstream, --local=/#/)', async () => {
    for (const name of ['unknown.test', 'my-svc', 'www.example.com']) {
      const answer = await rawQuery(dnsmasq.host, dnsmasq.port, name, 'A');
      expect(answer).toEqual({ rcode: 'NXDOMAIN', addresses: [], ttls: [] });
    }
  });

  it('serves a record, then the changed record, with the configured TTL', async () => {
    await dnsmasq.setHost('svc.ns.svc.cluster.local', ['127.0.0.2', '127.0.0.3']);
    const first = await rawQuery(dnsmasq.host, dnsmasq.port, 'svc.ns.svc.cluster.local', 'A');
    expect(first?.rcode).toBe('NOERROR');
    expect(first?.addresses.sort()).toEqual(['127.0.0.2', '127.0.0.3']);
    expect(first?.ttls).toEqual([1, 1]);

    await dnsmasq.setHost('svc.ns.svc.cluster.local', ['127.0.0.3', '127.0.0.4']);
    const second = await rawQuery(dnsmasq.host, dnsmasq.port, 'svc.ns.svc.cluster.local', 'A');
    expect(second?.addresses.sort()).toEqual(['127.0.0.3', '127.0.0.4']);
  });

  it('answers NODATA for the other family of a known name', async () => {
    await dnsmasq.setHost('v4only.test', ['127.0.0.5']);
    const aaaa = await dnsmasq.query('v4only.test', 'AAAA');
    expect(aaaa).toEqual({ rcode: 'NOERROR', addresses: [], ttls: [] });
  });

  it('serves IPv6 and mixed records, case-insensitively', async () => {
    await dnsmasq.setHost('Dual.Test', ['127.0.0.6', '::1', 'fd00:0:0::7']);
    expect((await dnsmasq.query('dual.test', 'A'))?.addresses).toEqual(['127.0.0.6']);
    expect((await dnsmasq.query('DUAL.TEST', 'AAAA'))?.addresses.sort()).toEqual(['::1', 'fd00::7']);
  });

  it('keeps other names when one changes', async () => {
    await dnsmasq.setHost('one.test', ['127.0.1.1']);
    await dnsmasq.setHost('two.test', ['127.0.1.2']);
    await dnsmasq.setHost('one.test', ['127.0.1.11']);
    expect((await dnsmasq.query('two.test'))?.addresses).toEqual(['127.0.1.2']);
    expect((await dnsmasq.query('one.test'))?.addresses).toEqual(['127.0.1.11']);
  });

  it('removes a name: NXDOMAIN afterwards, with no stale records', async () => {
    await dnsmasq.setHost('gone.test', ['127.0.0.8']);
    await dnsmasq.setHost('gone.test', ['127.0.0.9']);
    await dnsmasq.removeHost('gone.test');
    expect(await dnsmasq.query('gone.test', 'A')).toEqual({ rcode: 'NXDOMAIN', addresses: [], ttls: [] });
    await dnsmasq.removeHost('never-there.test'); // no-op, resolves
  });

  it('rejects bad names and addresses clearly', async () => {
    await expect(dnsmasq.setHost('bad name', ['127.0.0.1'])).rejects.toThrow(/Invalid name "bad name"/);
    await expect(dnsmasq.setHost('../escape', ['127.0.0.1'])).rejects.toThrow(TypeError);
    await expect(dnsmasq.setHost('ok.test', ['not-an-ip'])).rejects.toThrow(/Invalid address "not-an-ip"/);
  });

  it('close() stops it and removes its files', async () => {
    const other = await Dnsmasq.start();
    await other.setHost('x.test', ['127.0.0.1']);
    const pid = other.pid;
    expect(pid).toBeGreaterThan(0);
    expect(existsSync(other.directory)).toBe(true);
    await other.close();
    await other.close(); // idempotent
    expect(() => process.kill(pid as number, 0)).toThrow();
    expect(existsSync(other.directory)).toBe(false);
    expect(await rawQuery(other.host, other.port, 'x.test', 'A', 300)).toBeNull();
  }, 15_000);

  it('setHost rejects clearly when dnsmasq has died', async () => {
    const other = await Dnsmasq.start();
    try {
      const exited = new Promise((resolve) => setTimeout(resolve, 200));
      process.kill(other.pid as number, 'SIGKILL');
      await exited;
      await expect(other.setHost('dead.test', ['127.0.0.1'])).rejects.toThrow(/dnsmasq is not running \(wanted dead\.test -> \[127\.0\.0\.1\]\)/);
    } finally {
      await other.close();
    }
  }, 15_000);

  it('a cache counts the upstream TTL down; restarted in its place with cacheSize 0 it passes the TTL on unchanged', async () => {
    const origin = await Dnsmasq.start({ ttl: 30 });
    let front = await Dnsmasq.start({ upstream: origin.nameserver });
    try {
      await origin.setHost('cached.test', ['127.0.0.9']);
      expect((await front.query('cached.test'))?.ttls).toEqual([30]);
      // The copy counts down (bounded: it has 30 s to live).
      const fetched = performance.now();
      let ttl = 30;
      while (ttl > 28 && performance.now() - fetched < 10_000) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        ttl = (await front.query('cached.test'))?.ttls[0] ?? ttl;
      }
      expect(ttl).toBe(28);
      const { port } = front;
      await front.close();
      front = await Dnsmasq.start({ upstream: origin.nameserver, cacheSize: 0, port });
      expect(front.port).toBe(port);
      // Over more than 2 s (a countdown would have shown by then), every answer has the origin's TTL.
      const started = performance.now();
      const ttls = new Set<number>();
      while (performance.now() - started < 2_500) {
        for (const seen of (await front.query('cached.test'))?.ttls ?? []) ttls.add(seen);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect([...ttls]).toEqual([30]);
    } finally {
      await front.close();
      await origin.close();
    }
  }, 20_000);

  it.skipIf(!existsSync('/proc/net/if_inet6'))('listens on IPv6 loopback when asked', async () => {
    let v6: Dnsmasq | undefined;
    try {
      v6 = await Dnsmasq.start({ host: '::1', ttl: 5 });
      await v6.setHost('six.test', ['127.0.0.1', '::1']);
      const answer = await v6.query('six.test', 'AAAA');
      expect(answer).toEqual({ rcode: 'NOERROR', addresses: ['::1'], ttls: [5] });
    } finally {
      await v6?.close();
    }
  }, 15_000);
});
