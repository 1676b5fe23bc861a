import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DnsError, watch, type WatchOptions, type WatchUpdate } from '../src/index.js';
import { registry } from '../src/watch/registry.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { withTimeout } from '../harness/within.js';

/** `watch()`: the watcher without grpc, over a real DNS server on loopback. */

const fixture = dnsServerForFile({ resolvConf: 'options ndots:1 timeout:1 attempts:1', label: 'watch' });
let dns: DnsTestServer;
let dir: string;
let options: WatchOptions;

beforeAll(async () => {
  ({ server: dns, dir } = fixture);
  const hostsPath = await fixture.writeFile('hosts', '127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
  options = { refreshInterval: 100, jitter: 0, resolvConfPath: fixture.resolvConfPath, hostsPath, timeout: 200, backoff: { initial: 50, max: 100, multiplier: 2 } };
});

beforeEach(() => {
  dns.clearRecords();
  dns.setFault(null);
  dns.resetLog();
});

async function next(iterator: AsyncIterator<WatchUpdate>, timeoutMs = 3_000): Promise<WatchUpdate> {
  const result = await withTimeout(iterator.next(), timeoutMs, 'an update');
  if (result.done) throw new Error('iteration ended');
  return result.value;
}

describe('watch()', () => {
  it('yields the set, then each change with added, removed and TTL', async () => {
    dns.setRecords('app.test', { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::1'], ttl: 7 });
    const app = watch('app.test', options);
    const updates = app[Symbol.asyncIterator]();
    const first = await next(updates);
    expect(first).toMatchObject({ name: 'app.test', addresses: ['10.0.0.1', '10.0.0.2', 'fd00::1'], added: ['10.0.0.1', '10.0.0.2', 'fd00::1'], removed: [], ttl: 7 });
    expect(first.records).toContainEqual({ address: 'fd00::1', family: 6, ttl: 7 });
    dns.setRecords('app.test', { A: ['10.0.0.2', '10.0.0.3'], ttl: 7 });
    const second = await next(updates);
    expect(second).toMatchObject({ addresses: ['10.0.0.2', '10.0.0.3'], added: ['10.0.0.3'], removed: ['10.0.0.1', 'fd00::1'] });
    // `current` is built when read: equal to what was yielded, and the reader's own copy.
    expect(app.current).toEqual(second);
    app.current!.records.pop();
    app.current!.added.pop();
    expect(app.current).toEqual(second);
    app.close();
    await expect(updates.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('emits update events, and error events only to listeners', async () => {
    const missing = watch('missing.test', options);
    const errors: DnsError[] = [];
    missing.on('error', (error) => errors.push(error));
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 3_000 });
    expect(errors[0]).toBeInstanceOf(DnsError);
    expect(errors[0]).toMatchObject({ code: 'NXDOMAIN', authoritative: true, hostname: 'missing.test' });
    const updates: WatchUpdate[] = [];
    missing.on('update', (update) => updates.push(update));
    dns.setRecords('missing.test', { A: ['10.0.0.5'] });
    await vi.waitFor(() => expect(updates).toHaveLength(1), { timeout: 3_000 });
    expect(missing.lastError).toBeUndefined();
    missing.close();

    // With no 'error' listener a failure is kept, never thrown.
    dns.setFault('servfail');
    const quiet = watch('quiet.test', options);
    await vi.waitFor(() => expect(quiet.lastError?.code).toBe('SERVFAIL'), { timeout: 3_000 });
    quiet.close();
  });

  it('localhost comes from the hosts file, with no DNS query', async () => {
    const local = watch('localhost', options);
    const update = await next(local[Symbol.asyncIterator]());
    expect(update.addresses).toEqual(['127.0.0.1', '::1']);
    expect(update.ttl).toBe(Infinity);
    local.close();
    expect(dns.queries).toHaveLength(0);
  });

  it('refresh() is answered with one update even when nothing changed', async () => {
    dns.setRecords('app.test', { A: ['10.0.0.1'] });
    const app = watch('app.test', { ...options, refreshInterval: 60_000, minInterval: 0 });
    const updates = app[Symbol.asyncIterator]();
    await next(updates);
    app.refresh();
    const again = await next(updates);
    expect(again).toMatchObject({ addresses: ['10.0.0.1'], added: [], removed: [] });
    expect(dns.countQueries({ name: 'app.test', type: 'A' })).toBe(2);
    app.close();
  });

  it('watchers of one name share one poll, and the last close() stops it and frees the socket', async () => {
    dns.setRecords('shared.test', { A: ['10.0.0.1'] });
    const before = registry.size;
    const watchers = Array.from({ length: 20 }, () => watch('shared.test', options));
    await Promise.all(watchers.map((w) => next(w[Symbol.asyncIterator]())));
    expect(registry.size.watchers).toBe(before.watchers + 1);
    dns.resetLog();
    await dns.waitForQueries(3, { name: 'shared.test', type: 'A' });
    // 20 watchers, one query per interval: the count tracks time, not watchers.
    expect(dns.countQueries({ name: 'shared.test', type: 'A' })).toBeLessThan(6);
    for (const w of watchers) w.close();
    expect(registry.size).toEqual(before);
    // After the last close nothing polls: a second name proves time passed.
    // (A query already on the wire at close() may still arrive: count after the clock's first.)
    dns.setRecords('clock.test', { A: ['10.0.0.9'] });
    const clock = watch('clock.test', options);
    await dns.waitForQueries(1, { name: 'clock.test', type: 'A' });
    const count = dns.countQueries({ name: 'shared.test' });
    await dns.waitForQueries(4, { name: 'clock.test', type: 'A' });
    clock.close();
    expect(dns.countQueries({ name: 'shared.test' })).toBe(count);
  });

  it('a script that only iterates watch() stays alive for every update, then exits by itself', async () => {
    dns.setRecords('iterated.test', { A: ['10.0.0.1'] });
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures', 'iterate-child.ts'), options.resolvConfPath!, '2'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await vi.waitFor(() => expect(stdout).toContain('["10.0.0.1"]'), { timeout: 10_000 });
    dns.setRecords('iterated.test', { A: ['10.0.0.2'] });
    const code = await Promise.race([exited, new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 10_000))]);
    if (code === 'hung') child.kill();
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual(['["10.0.0.1"]', '["10.0.0.2"]']);
  });

  it('open watches keep the process alive with one shared timer; unref() lets it exit', () => {
    dns.setRecords('app.test', { A: ['10.0.0.1'] });
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    const before = timers();
    const watches = Array.from({ length: 10 }, () => watch('app.test', options));
    // Ten watches, one keep-alive timer (the watcher's own timers are unref()ed and not listed).
    expect(timers()).toBe(before + 1);
    for (const w of watches.slice(1)) w.unref();
    expect(timers()).toBe(before + 1);
    watches[0]!.unref();
    expect(timers()).toBe(before);
    watches[0]!.ref().ref();
    expect(timers()).toBe(before + 1);
    for (const w of watches) w.close();
    expect(timers()).toBe(before);
  });

  /** Set app.test's A records to each address in turn, each answered by one update event. */
  async function drive(app: ReturnType<typeof watch>, addresses: string[], onEach: () => void = () => {}): Promise<void> {
    let seen = 0;
    app.on('update', () => seen++);
    for (const address of addresses) {
      dns.setRecords('app.test', { A: [address] });
      app.refresh();
      const expected = seen + 1;
      await vi.waitFor(() => expect(seen).toBe(expected), { timeout: 3_000 });
      onEach();
    }
  }

  /** 10.0.9.1 … 10.0.9.count */
  const numbered = (count: number): string[] => Array.from({ length: count }, (_, i) => `10.0.9.${i + 1}`);

  it('an event-only watch keeps only the latest update, nothing queued', async () => {
    const app = watch('app.test', { ...options, refreshInterval: 60_000, minInterval: 0 });
    let most = 0;
    await drive(app, numbered(40), () => (most = Math.max(most, app.pendingUpdates)));
    expect(most).toBe(0);
    expect(app.current?.addresses).toEqual(['10.0.9.40']);
    app.close();
  });

  it('an iterator that falls behind holds one pending update: the latest set, diffed against what it last took', async () => {
    dns.setRecords('app.test', { A: ['10.0.8.1'] });
    const app = watch('app.test', { ...options, refreshInterval: 60_000, minInterval: 0 });
    const updates = app[Symbol.asyncIterator]();
    expect((await next(updates)).addresses).toEqual(['10.0.8.1']);
    let most = 0;
    await drive(app, numbered(30), () => (most = Math.max(most, app.pendingUpdates)));
    expect(most).toBe(1);
    const caughtUp = await next(updates);
    expect(caughtUp).toMatchObject({ addresses: ['10.0.9.30'], added: ['10.0.9.30'], removed: ['10.0.8.1'] });
    expect(app.pendingUpdates).toBe(0);
    // A second iterator started now begins with the current set.
    expect((await next(app[Symbol.asyncIterator]())).addresses).toEqual(['10.0.9.30']);
    app.close();
    await expect(updates.next()).resolves.toEqual({ value: undefined, done: true });
  });

  it('a set that changes and changes back while the iterator is behind comes out unchanged, with an empty diff', async () => {
    dns.setRecords('app.test', { A: ['10.0.6.1'] });
    const app = watch('app.test', { ...options, refreshInterval: 60_000, minInterval: 0 });
    const updates = app[Symbol.asyncIterator]();
    expect((await next(updates)).addresses).toEqual(['10.0.6.1']);
    await drive(app, ['10.0.6.2', '10.0.6.1']);
    expect(app.pendingUpdates).toBe(1);
    expect(await next(updates)).toMatchObject({ addresses: ['10.0.6.1'], added: [], removed: [] });
    app.close();
  });

  it('FIFOs as resolvConfPath and hostsPath are refused, never waited on: the watch still answers and closes', async () => {
    const resolvFifo = path.join(dir, 'resolv.fifo');
    const hostsFifo = path.join(dir, 'hosts.fifo');
    execFileSync('mkfifo', [resolvFifo, hostsFifo]);
    dns.setRecords('fifo.test', { A: ['10.0.7.1'] });
    const before = registry.size;
    // The server is given directly: with resolv.conf refused, the default would be the machine's 127.0.0.1:53.
    const app = watch('fifo.test', { ...options, family: 4, resolvConfPath: resolvFifo, hostsPath: hostsFifo, nameservers: [dns.address] });
    const update = await next(app[Symbol.asyncIterator](), 5_000);
    expect(update.addresses).toEqual(['10.0.7.1']);
    app.close();
    expect(registry.size).toEqual(before);
  });

  it('bad options and names throw TypeErrors at once', () => {
    expect(() => watch('', options)).toThrow(/watch\(\) needs a DNS name/);
    expect(() => watch('app.test', { ...options, jitter: -0.1 })).toThrow(/Option "jitter" must be a number >= 0 and < 1/);
  });
});
