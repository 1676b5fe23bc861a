import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rename, unlink, writeFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HostsFile, MAX_HOSTS_BYTES, hostsParseCount } from '../src/dns/hosts.js';
import { parseHosts } from '../src/dns/hosts-scanner.js';
import { withTimeout } from '../harness/within.js';
import { tempFolderForTests } from '../harness/temp-folder.js';

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

describe('parseHosts on big files', () => {
  it('de-duplicates in linear time: 50,000 lines for one name take well under 3 s of CPU', () => {
    // Quadratic de-duplication took ~8 s for this (34 s for 100k lines); linear takes tens of ms.
    // CPU time of this test process (vitest runs each file in its own fork), not wall time: a busy machine does not inflate it.
    const lines = Array.from({ length: 50_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} one-name`);
    const text = `${lines.join('\n')}\n`;
    const cpu = process.cpuUsage();
    const hosts = parseHosts(text);
    const used = process.cpuUsage(cpu);
    expect((used.user + used.system) / 1_000).toBeLessThan(3_000);
    expect(hosts.get('one-name')).toHaveLength(50_000);
  });

  it('a blocklist shares one entry object per address', () => {
    const hosts = parseHosts(Array.from({ length: 1_000 }, (_, i) => `0.0.0.0 ad${i}.example`).join('\n'));
    expect(hosts.size).toBe(1_000);
    expect(new Set([...hosts.values()].map((list) => list[0])).size).toBe(1);
  });
});

describe('HostsFile', () => {
  const folder = tempFolderForTests('hosts-test');

  let counter = 0;
  async function hostsFile(text: string, statIntervalMs?: number): Promise<{ path: string; hosts: HostsFile }> {
    const path = join(folder.dir, `hosts-${++counter}`);
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
    const path = join(folder.dir, 'lazy');
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

  it('stats at most once per interval (default 1 s), by the injected clock', async () => {
    let now = 5_000;
    const path = join(folder.dir, `hosts-${++counter}`);
    await writeFile(path, '10.0.0.1 svc\n');
    const hosts = new HostsFile(path, { clock: { now: () => now } });
    expect(hosts.nextCheckAt).toBeUndefined();
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    expect(hosts.nextCheckAt).toBe(6_000);
    await writeFile(path, '10.0.0.99 svc\n10.0.0.98 new\n');
    // within the interval: the cached content is used
    now = 5_999;
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.1');
    expect(await hosts.lookup('new', 4)).toBeNull();
    expect(hosts.nextCheckAt).toBe(6_000);
    now = 6_000;
    expect((await hosts.lookup('svc', 4))?.[0]?.address).toBe('10.0.0.99');
    expect((await hosts.lookup('new', 4))?.[0]?.address).toBe('10.0.0.98');
    expect(hosts.nextCheckAt).toBe(7_000);
  });

  it('shares one read between concurrent lookups', async () => {
    const { hosts } = await hostsFile('10.0.0.1 a\n10.0.0.2 b\n', 0);
    const [a, b, c] = await Promise.all([hosts.lookup('a', 4), hosts.lookup('b', 4), hosts.lookup('c', 4)]);
    expect(a?.[0]?.address).toBe('10.0.0.1');
    expect(b?.[0]?.address).toBe('10.0.0.2');
    expect(c).toBeNull();
  });

  it('a missing file behaves as empty and sets lastError', async () => {
    const path = join(folder.dir, 'missing-hosts');
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    expect(await hosts.lookup('localhost', 0)).toBeNull();
    expect(hosts.lastError).toBe(`${path}: ENOENT`);
  });

  it('a directory behaves as empty and sets lastError naming what it is', async () => {
    const hosts = new HostsFile(folder.dir, { statIntervalMs: 0 });
    expect(await hosts.lookup('localhost', 0)).toBeNull();
    expect(hosts.lastError).toBe(`${folder.dir}: is a directory, not a regular file; expected a file`);
  });

  it('a FIFO is refused at once (never waits for a writer)', async () => {
    const path = join(folder.dir, 'fifo-hosts');
    execFileSync('mkfifo', [path]);
    const hosts = new HostsFile(path, { statIntervalMs: 0 });
    expect(await withTimeout(hosts.lookup('localhost', 0), 5_000, 'a lookup in a FIFO hosts file')).toBeNull();
    expect(hosts.lastError).toBe(`${path}: is a FIFO, not a regular file; expected a file`);
  });

  it('reads at most maxBytes, up to the last whole line, and says so', async () => {
    const path = join(folder.dir, `hosts-${++counter}`);
    await writeFile(path, '10.0.0.1 first\n10.0.0.2 second\n10.0.0.3 third\n');
    const hosts = new HostsFile(path, { statIntervalMs: 0, maxBytes: 31 });
    expect(await hosts.lookup('first', 4)).toEqual([{ address: '10.0.0.1', family: 4, ttl: Infinity }]);
    // "10.0.0.2 second\n" ends at byte 31: the cap cuts inside "third".
    expect(await hosts.lookup('second', 4)).toEqual([{ address: '10.0.0.2', family: 4, ttl: Infinity }]);
    expect(await hosts.lookup('third', 4)).toBeNull();
    // Used in part: a warning, not an error (the file is not "not used").
    expect(hosts.lastError).toBeUndefined();
    expect(hosts.lastWarning).toBe(`${path}: larger than 31 bytes; only its first 31 bytes are used`);
    expect(MAX_HOSTS_BYTES).toBe(32 * 1024 * 1024);
  });

  it('parses one version of a file once, shared by every HostsFile (settings) that reads it', async () => {
    const { path } = await hostsFile('10.0.0.1 shared\n');
    const many = Array.from({ length: 20 }, () => new HostsFile(path, { statIntervalMs: 0 }));
    const before = hostsParseCount();
    const answers = await Promise.all(many.map((hosts) => hosts.lookup('shared', 4)));
    expect(answers.every((got) => got?.[0]?.address === '10.0.0.1')).toBe(true);
    expect(hostsParseCount() - before).toBe(1);
    // Unchanged: stat only, no parse.
    await Promise.all(many.map((hosts) => hosts.lookup('shared', 4)));
    expect(hostsParseCount() - before).toBe(1);
    // Changed: one more parse for all of them.
    await writeFile(path, '10.0.0.1 shared\n10.0.0.2 shared\n');
    const changed = await Promise.all(many.map((hosts) => hosts.lookup('shared', 4)));
    expect(changed.every((got) => got?.length === 2)).toBe(true);
    expect(hostsParseCount() - before).toBe(2);
  });

  it('recovers when the file appears, and forgets entries when it disappears', async () => {
    const path = join(folder.dir, 'comes-and-goes');
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
