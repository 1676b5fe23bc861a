import { existsSync } from 'node:fs';
import { mkdtemp, rename, rm, unlink, writeFile, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostsFile, parseHosts } from '../src/dns/hosts.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const DEBIAN_HOSTS = `127.0.0.1\tlocalhost
127.0.1.1\tbuildbox.example.org\tbuildbox

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
`;

describe('parseHosts', () => {
  it('parses a Debian hosts file', () => {
    const hosts = parseHosts(DEBIAN_HOSTS);
    expect(Object.fromEntries(hosts)).toEqual({
      localhost: [
        { address: '127.0.0.1', family: 4 },
        { address: '::1', family: 6 },
      ],
      'buildbox.example.org': [{ address: '127.0.1.1', family: 4 }],
      buildbox: [{ address: '127.0.1.1', family: 4 }],
      'ip6-localhost': [{ address: '::1', family: 6 }],
      'ip6-loopback': [{ address: '::1', family: 6 }],
      'ip6-allnodes': [{ address: 'ff02::1', family: 6 }],
      'ip6-allrouters': [{ address: 'ff02::2', family: 6 }],
    });
  });

  it.each<[string, string, Record<string, { address: string; family: 4 | 6 }[]>]>([
    ['empty text', '', {}],
    ['only comments and blanks', '# x\n\n   \n\t# 1.2.3.4 a\n', {}],
    ['trailing comment', '10.0.0.1 a b # c d', { a: [{ address: '10.0.0.1', family: 4 }], b: [{ address: '10.0.0.1', family: 4 }] }],
    ['comment glued to a name', '10.0.0.1 a#b', { a: [{ address: '10.0.0.1', family: 4 }] }],
    ['names lowercased, trailing dot dropped', '10.0.0.1 Web.Example.COM.', { 'web.example.com': [{ address: '10.0.0.1', family: 4 }] }],
    ['tabs and repeated spaces', '10.0.0.1\t\t a \t b', { a: [{ address: '10.0.0.1', family: 4 }], b: [{ address: '10.0.0.1', family: 4 }] }],
    ['CRLF', '10.0.0.1 a\r\n10.0.0.2 b\r\n', { a: [{ address: '10.0.0.1', family: 4 }], b: [{ address: '10.0.0.2', family: 4 }] }],
    ['invalid addresses skipped', 'notanip a\n999.1.1.1 b\n1.2.3 c\n10.0.0.1/24 d\n10.0.0.1 e', { e: [{ address: '10.0.0.1', family: 4 }] }],
    ['address without names skipped', '10.0.0.1\n10.0.0.2 ok', { ok: [{ address: '10.0.0.2', family: 4 }] }],
    [
      'several lines for one name keep file order',
      '10.0.0.2 svc\n10.0.0.1 svc\nfd00::1 svc',
      {
        svc: [
          { address: '10.0.0.2', family: 4 },
          { address: '10.0.0.1', family: 4 },
          { address: 'fd00::1', family: 6 },
        ],
      },
    ],
    [
      'duplicates de-duplicated, across case and lines',
      '10.0.0.1 svc SVC svc.\n10.0.0.1 Svc\n10.0.0.2 svc',
      {
        svc: [
          { address: '10.0.0.1', family: 4 },
          { address: '10.0.0.2', family: 4 },
        ],
      },
    ],
    ['IPv4-mapped IPv6 is family 6', '::ffff:10.0.0.1 m', { m: [{ address: '::ffff:10.0.0.1', family: 6 }] }],
  ])('%s', (_title, text, expected) => {
    expect(Object.fromEntries(parseHosts(text))).toEqual(expected);
  });
});

describe('HostsFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hosts-test-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  let counter = 0;
  async function hostsFile(text: string, statIntervalMs?: number): Promise<{ path: string; hosts: HostsFile }> {
    const path = join(dir, `hosts-${++counter}`);
    await writeFile(path, text);
    return { path, hosts: new HostsFile(path, statIntervalMs === undefined ? {} : { statIntervalMs }) };
  }

  it.each<[string, 0 | 4 | 6, { address: string; family: 4 | 6 }[] | null]>([
    ['localhost', 0, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]],
    ['localhost', 4, [{ address: '127.0.0.1', family: 4 }]],
    ['localhost', 6, [{ address: '::1', family: 6 }]],
    ['LOCALHOST', 4, [{ address: '127.0.0.1', family: 4 }]],
    ['localhost.', 0, [{ address: '127.0.0.1', family: 4 }, { address: '::1', family: 6 }]],
    ['buildbox', 4, [{ address: '127.0.1.1', family: 4 }]],
    // present with IPv4 only: AAAA falls through to DNS (glibc files → dns)
    ['buildbox', 6, null],
    ['ip6-allnodes', 4, null],
    ['ip6-allnodes', 6, [{ address: 'ff02::1', family: 6 }]],
    ['not-there', 0, null],
    ['build', 0, null],
    ['buildbox.example', 0, null],
  ])('lookup(%j, %d)', async (name, family, expected) => {
    const { hosts } = await hostsFile(DEBIAN_HOSTS);
    const got = await hosts.lookup(name, family);
    if (expected === null) {
      expect(got).toBeNull();
    } else {
      expect(got).toEqual(expected.map((e) => ({ ...e, ttl: Infinity })));
    }
    expect(hosts.lastError).toBeUndefined();
  });

  it('reads lazily: nothing happens before the first lookup', async () => {
    const path = join(dir, 'lazy');
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    await writeFile(path, '10.0.0.7 lazy\n'); // created after construction
    expect(await hosts.lookup('lazy', 4)).toEqual([{ address: '10.0.0.7', family: 4, ttl: Infinity }]);
  });

  it('re-reads when the file changes (size change)', async () => {
    const { path, hosts } = await hostsFile('10.0.0.1 svc\n', 0);
    expect(await hosts.lookup('svc', 4)).toEqual([{ address: '10.0.0.1', family: 4, ttl: Infinity }]);
    await writeFile(path, '10.0.0.1 svc\n10.0.0.22 svc\n');
    expect(await hosts.lookup('svc', 4)).toEqual([
      { address: '10.0.0.1', family: 4, ttl: Infinity },
      { address: '10.0.0.22', family: 4, ttl: Infinity },
    ]);
  });

  it('re-reads when only the mtime changes (same size)', async () => {
    const { path, hosts } = await hostsFile('10.0.0.1 svc\n', 0);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    await writeFile(path, '10.0.0.2 svc\n');
    const later = new Date(Date.now() + 10_000);
    await utimes(path, later, later);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.2');
  });

  it('re-reads when the file is replaced by rename', async () => {
    const { path, hosts } = await hostsFile('10.0.0.1 svc\n', 0);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    await writeFile(`${path}.tmp`, '10.0.0.3 svc\n');
    await rename(`${path}.tmp`, path);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.3');
  });

  it('stats at most once per interval (default 1 s)', async () => {
    const { path, hosts } = await hostsFile('10.0.0.1 svc\n');
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    await writeFile(path, '10.0.0.99 svc\n10.0.0.98 new\n');
    // within the interval: the cached content is used
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    expect(await hosts.lookup('new', 4)).toBeNull();
    await sleep(1100);
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.99');
    expect((await hosts.lookup('new', 4))?.[0]?.address).toBe('10.0.0.98');
  });

  it('shares one read between concurrent lookups', async () => {
    const { hosts } = await hostsFile('10.0.0.1 a\n10.0.0.2 b\n', 0);
    const [a, b, c] = await Promise.all([hosts.lookup('a', 4), hosts.lookup('b', 4), hosts.lookup('c', 4)]);
    expect(a?.[0]?.address).toBe('10.0.0.1');
    expect(b?.[0]?.address).toBe('10.0.0.2');
    expect(c).toBeNull();
  });

  it('a missing file behaves as empty and sets lastError', async () => {
    const path = join(dir, 'missing-hosts');
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    expect(await hosts.lookup('localhost', 0)).toBeNull();
    expect(hosts.lastError).toBe(`${path}: ENOENT`);
  });

  it('a directory behaves as empty and sets lastError', async () => {
    const hosts = new HostsFile(dir, { statIntervalMs: 0 });
    expect(await hosts.lookup('localhost', 0)).toBeNull();
    expect(hosts.lastError).toBe(`${dir}: EISDIR`);
  });

  it('recovers when the file appears, and forgets entries when it disappears', async () => {
    const path = join(dir, 'comes-and-goes');
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    expect(await hosts.lookup('svc', 4)).toBeNull();
    expect(hosts.lastError).toContain('ENOENT');
    await writeFile(path, '10.0.0.5 svc\n');
    expect(await hosts.lookup('svc', 4)).toEqual([{ address: '10.0.0.5', family: 4, ttl: Infinity }]);
    expect(hosts.lastError).toBeUndefined();
    await unlink(path);
    expect(await hosts.lookup('svc', 4)).toBeNull();
    expect(hosts.lastError).toBe(`${path}: ENOENT`);
  });

  it('rejects a bad statIntervalMs', () => {
    expect(() => new HostsFile('/etc/hosts', { statIntervalMs: -1 })).toThrow(TypeError);
  });

  it.skipIf(!existsSync('/etc/hosts'))('defaults to /etc/hosts, where localhost is loopback', async () => {
    const hosts = new HostsFile();
    expect(hosts.path).toBe('/etc/hosts');
    const got = await hosts.lookup('localhost', 4);
    expect(hosts.lastError).toBeUndefined();
    // Every Linux image we run on maps localhost to 127.0.0.1 in /etc/hosts.
    expect(got?.map((a) => a.address)).toContain('127.0.0.1');
    expect(got?.every((a) => a.family === 4 && a.ttl === Infinity)).toBe(true);
  });
});
