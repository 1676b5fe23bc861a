import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../src/watch/options.js';
import {
  MAX_ATTEMPTS,
  MAX_RESOLV_CONF_ATTEMPTS,
  MAX_RESOLV_CONF_BYTES,
  formatNameserver,
  parseNameserver,
  parseResolvConf,
  readResolvConf,
  searchCandidates,
} from '../src/dns/resolv-conf.js';
import { escapeRegExp as escape, withTimeout } from '../harness/within.js';
import { tempFolderForTests } from '../harness/temp-folder.js';

describe('parseNameserver', () => {
  it.each([
    ['1.2.3.4', { host: '1.2.3.4', port: 53 }],
    ['1.2.3.4:5353', { host: '1.2.3.4', port: 5353 }],
    ['  10.0.0.10  ', { host: '10.0.0.10', port: 53 }],
    ['::1', { host: '::1', port: 53 }],
    ['[::1]', { host: '::1', port: 53 }],
    ['[::1]:5353', { host: '::1', port: 5353 }],
    ['2001:db8::53', { host: '2001:db8::53', port: 53 }],
    ['fe80::1%eth0', { host: 'fe80::1%eth0', port: 53 }],
    ['[fe80::1%eth0]:54', { host: 'fe80::1%eth0', port: 54 }],
    ['::ffff:1.2.3.4', { host: '::ffff:1.2.3.4', port: 53 }],
    ['1.2.3.4:1', { host: '1.2.3.4', port: 1 }],
    ['1.2.3.4:65535', { host: '1.2.3.4', port: 65535 }],
    // a bare IPv6 address is never split at its last colon
    ['::1:53', { host: '::1:53', port: 53 }],
  ])('%j -> %j', (spec, expected) => {
    expect(parseNameserver(spec)).toEqual(expected);
  });

  it('uses the given default port', () => {
    expect(parseNameserver('1.2.3.4', 5300)).toEqual({ host: '1.2.3.4', port: 5300 });
    expect(parseNameserver('[::1]', 5300)).toEqual({ host: '::1', port: 5300 });
    expect(parseNameserver('1.2.3.4:99', 5300)).toEqual({ host: '1.2.3.4', port: 99 });
  });

  it.each([
    'foo',
    'localhost',
    'dns.google:53',
    '',
    '   ',
    '1.2.3.4:0',
    '1.2.3.4:65536',
    '1.2.3.4:',
    '1.2.3.4:abc',
    '1.2.3.4:-1',
    '[::1]:0',
    '[::1]:70000',
    '[1.2.3.4]:53',
    '[::1',
    '[]',
    '1.2.3',
    '1.2.3.256',
    '01.2.3.4',
    '::1::2',
    'fe80::1%',
    '1.2.3.4 5.6.7.8',
    'http://1.2.3.4',
  ])('rejects %j with a TypeError naming it', (spec) => {
    let error: unknown;
    try {
      parseNameserver(spec);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TypeError);
    const message = (error as TypeError).message;
    expect(message).toContain(`Invalid nameserver ${JSON.stringify(spec)}`);
    expect(message).toContain('expected an IPv4 or IPv6 address, optionally with a port (1.2.3.4, 1.2.3.4:53, [::1]:53)');
  });

  it('says why a port is refused', () => {
    expect(() => parseNameserver('1.2.3.4:70000')).toThrow(/port 70000 is outside 1\.\.65535/);
  });
});

describe('parseResolvConf', () => {
  it('gives glibc defaults for empty text', () => {
    expect(parseResolvConf('')).toEqual({
      nameservers: [{ host: '127.0.0.1', port: 53 }],
      search: [],
      ndots: 1,
      timeoutMs: 5000,
      attempts: 2,
      rotate: false,
      singleRequest: false,
      singleRequestReopen: false,
      warnings: [],
    });
  });

  it('reads a Kubernetes pod resolv.conf', () => {
    const conf = parseResolvConf(
      [
        'search ns.svc.cluster.local svc.cluster.local cluster.local',
        'nameserver 10.96.0.10',
        'options ndots:5',
        '',
      ].join('\n'),
    );
    expect(conf).toEqual({
      nameservers: [{ host: '10.96.0.10', port: 53 }],
      search: ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local'],
      ndots: 5,
      timeoutMs: 5000,
      attempts: 2,
      rotate: false,
      singleRequest: false,
      singleRequestReopen: false,
      warnings: [],
    });
  });

  it('keeps nameservers in order, IPv6 and zone ids included', () => {
    const conf = parseResolvConf('nameserver 10.0.0.1\nnameserver ::1\nnameserver fe80::1%eth0\n');
    expect(conf.nameservers).toEqual([
      { host: '10.0.0.1', port: 53 },
      { host: '::1', port: 53 },
      { host: 'fe80::1%eth0', port: 53 },
    ]);
    expect(conf.warnings).toEqual([]);
  });

  it('accepts a port on a nameserver line (beyond glibc)', () => {
    expect(parseResolvConf('nameserver 127.0.0.1:5353\nnameserver [::1]:5354').nameservers).toEqual([
      { host: '127.0.0.1', port: 5353 },
      { host: '::1', port: 5354 },
    ]);
  });

  it('uses at most 3 nameservers and warns about the rest', () => {
    const conf = parseResolvConf('nameserver 1.1.1.1\nnameserver 2.2.2.2\nnameserver 3.3.3.3\nnameserver 4.4.4.4\n');
    expect(conf.nameservers.map((n) => n.host)).toEqual(['1.1.1.1', '2.2.2.2', '3.3.3.3']);
    expect(conf.warnings).toHaveLength(1);
    expect(conf.warnings[0]).toContain('line 4 "nameserver 4.4.4.4"');
    expect(conf.warnings[0]).toContain('at most 3 nameservers');
  });

  it('ignores invalid nameservers with a warning, and they do not count toward 3', () => {
    const conf = parseResolvConf(
      'nameserver dns.example.com\nnameserver 1.1.1.1\nnameserver\nnameserver 2.2.2.2\nnameserver 1.2.3.4:99999\nnameserver 3.3.3.3\n',
    );
    expect(conf.nameservers.map((n) => n.host)).toEqual(['1.1.1.1', '2.2.2.2', '3.3.3.3']);
    expect(conf.warnings).toHaveLength(3);
    expect(conf.warnings[0]).toMatch(/^line 1 "nameserver dns\.example\.com" ignored: Invalid nameserver "dns\.example\.com"/);
    expect(conf.warnings[1]).toMatch(/^line 3 "nameserver" ignored: nameserver needs an address/);
    expect(conf.warnings[2]).toMatch(/^line 5 .*port 99999 is outside 1\.\.65535/);
  });

  it('falls back to 127.0.0.1:53 when no nameserver line is usable', () => {
    const conf = parseResolvConf('nameserver bogus\nsearch example.com\n');
    expect(conf.nameservers).toEqual([{ host: '127.0.0.1', port: 53 }]);
    expect(conf.search).toEqual(['example.com']);
    expect(conf.warnings).toHaveLength(1);
  });

  it.each<[string, string, string[]]>([
    ['search lowercases and strips trailing dots', 'search Example.COM. corp.example.com..', ['example.com', 'corp.example.com']],
    ['a later search replaces an earlier one', 'search a.example\nsearch b.example c.example', ['b.example', 'c.example']],
    ['domain gives a one-entry search list', 'domain Corp.Example.', ['corp.example']],
    ['the last of domain/search wins (domain last)', 'search a.example b.example\ndomain c.example', ['c.example']],
    ['the last of domain/search wins (search last)', 'domain c.example\nsearch a.example b.example', ['a.example', 'b.example']],
    ['the root domain "." is not a search entry', 'search . example.com', ['example.com']],
    ['duplicates are kept once', 'search a.example A.example. b.example', ['a.example', 'b.example']],
    ['tabs separate like spaces', 'search\ta.example\t\tb.example', ['a.example', 'b.example']],
    ['CRLF line endings', 'search a.example\r\nnameserver 1.1.1.1\r\n', ['a.example']],
  ])('%s', (_title, text, search) => {
    const conf = parseResolvConf(text);
    expect(conf.search).toEqual(search);
    expect(conf.warnings).toEqual([]);
  });

  it('keeps at most 6 search domains and warns about the rest', () => {
    const conf = parseResolvConf('search d1.x d2.x d3.x d4.x d5.x d6.x d7.x d8.x');
    expect(conf.search).toEqual(['d1.x', 'd2.x', 'd3.x', 'd4.x', 'd5.x', 'd6.x']);
    expect(conf.warnings).toHaveLength(2);
    expect(conf.warnings[0]).toContain('"d7.x" ignored: at most 6 search domains');
    expect(conf.warnings[1]).toContain('"d8.x"');
  });

  it('warns about empty search and domain lines and keeps the previous list', () => {
    const conf = parseResolvConf('search a.example\nsearch\ndomain');
    expect(conf.search).toEqual(['a.example']);
    expect(conf.warnings).toEqual([
      'line 2 "search" ignored: search needs at least one domain',
      'line 3 "domain" ignored: domain needs a domain name',
    ]);
  });

  it.each<[string, Partial<{ ndots: number; timeoutMs: number; attempts: number; rotate: boolean; singleRequest: boolean; singleRequestReopen: boolean }>, number]>([
    ['', { rotate: false, singleRequest: false, singleRequestReopen: false }, 0],
    ['options rotate', { rotate: true, singleRequest: false, singleRequestReopen: false }, 0],
    ['options single-request', { rotate: false, singleRequest: true, singleRequestReopen: false }, 0],
    // glibc's send_dg: reopen implies asking one after the other.
    ['options single-request-reopen', { singleRequest: true, singleRequestReopen: true }, 0],
    // glibc matches flag options by prefix, and (2.41) turns one off with a leading "-".
    ['options rotatex single-request-reopenx', { rotate: true, singleRequest: true, singleRequestReopen: true }, 0],
    ['options rotate single-request\noptions -rotate', { rotate: false, singleRequest: true }, 0],
    ['options ndots:5', { ndots: 5 }, 0],
    ['options ndots:0', { ndots: 0 }, 0],
    ['options ndots:15', { ndots: 15 }, 0],
    ['options ndots:16', { ndots: 15 }, 1],
    ['options ndots:100', { ndots: 15 }, 1],
    ['options timeout:2', { timeoutMs: 2000 }, 0],
    ['options timeout:30', { timeoutMs: 30_000 }, 0],
    ['options timeout:31', { timeoutMs: 30_000 }, 1],
    ['options timeout:0', { timeoutMs: 1000 }, 1],
    ['options attempts:1', { attempts: 1 }, 0],
    ['options attempts:5', { attempts: 5 }, 0],
    ['options attempts:6', { attempts: 5 }, 1],
    ['options attempts:0', { attempts: 1 }, 1],
    ['options ndots:2 timeout:3 attempts:4', { ndots: 2, timeoutMs: 3000, attempts: 4 }, 0],
    ['options ndots:2\noptions ndots:3', { ndots: 3 }, 0],
    ['options rotate edns0 single-request single-request-reopen inet6 debug use-vc no-tld-query trust-ad', {}, 0],
    ['options ndots:abc', { ndots: 1 }, 1],
    ['options ndots:', { ndots: 1 }, 1],
    ['options ndots', { ndots: 1 }, 1],
    ['options ndots:-1', { ndots: 1 }, 1],
    ['options ndots:2.5', { ndots: 1 }, 1],
    ['options timeout:x attempts:y', { timeoutMs: 5000, attempts: 2 }, 2],
    ['options ndots:abc ndots:4', { ndots: 4 }, 1],
    ['options', {}, 0],
  ])('%j', (text, expected, warningCount) => {
    const conf = parseResolvConf(text);
    expect(conf).toMatchObject({ ndots: 1, timeoutMs: 5000, attempts: 2, ...expected });
    expect(conf.warnings).toHaveLength(warningCount);
  });

  it('quotes a malformed option in its warning', () => {
    const conf = parseResolvConf('nameserver 1.1.1.1\noptions ndots:abc rotate');
    expect(conf.warnings).toEqual([
      'line 2 "options ndots:abc rotate": option "ndots:abc" ignored: expected ndots:N with N a non-negative integer',
    ]);
  });

  it.each<[string, string]>([
    ['whole-line # comment', '# nameserver 9.9.9.9\nnameserver 1.1.1.1'],
    ['whole-line ; comment', '; nameserver 9.9.9.9\nnameserver 1.1.1.1'],
    ['indented comment', '   # nameserver 9.9.9.9\nnameserver 1.1.1.1'],
    ['trailing # comment', 'nameserver 1.1.1.1 # primary'],
    ['trailing ; comment', 'nameserver 1.1.1.1;primary'],
    ['blank and whitespace lines', '\n   \n\t\nnameserver 1.1.1.1\n\n'],
  ])('%s', (_title, text) => {
    const conf = parseResolvConf(text);
    expect(conf.nameservers).toEqual([{ host: '1.1.1.1', port: 53 }]);
    expect(conf.warnings).toEqual([]);
  });

  it('strips trailing comments from search and options lines', () => {
    const conf = parseResolvConf('search a.example # b.example\noptions ndots:3 ; ndots:9');
    expect(conf.search).toEqual(['a.example']);
    expect(conf.ndots).toBe(3);
  });

  it('warns about unknown keywords and keeps going', () => {
    const conf = parseResolvConf('nameserver 1.1.1.1\nnamesrver 2.2.2.2\nlookup file bind\nsortlist 130.155.160.0/255.255.240.0\nsearch a.example');
    expect(conf.nameservers).toEqual([{ host: '1.1.1.1', port: 53 }]);
    expect(conf.search).toEqual(['a.example']);
    expect(conf.warnings).toEqual([
      'line 2 "namesrver 2.2.2.2" ignored: unknown keyword "namesrver"',
      'line 3 "lookup file bind" ignored: unknown keyword "lookup"',
    ]);
  });

  it('treats Object.prototype names as unknown keywords, not handlers', () => {
    const conf = parseResolvConf('constructor x\n__proto__ y\ntoString z\nnameserver 10.0.0.3');
    expect(conf.nameservers).toEqual([{ host: '10.0.0.3', port: 53 }]);
    expect(conf.warnings.map((w) => w.replace(/^line \d+ "[^"]*" /, ''))).toEqual([
      'ignored: unknown keyword "constructor"',
      'ignored: unknown keyword "__proto__"',
      'ignored: unknown keyword "toString"',
    ]);
  });

  it('never throws on garbage', () => {
    const garbage = '\u0000\u0001 nameserver\n:::::\n[[[]]]\noptions :::\n\u{1F600}';
    expect(() => parseResolvConf(garbage)).not.toThrow();
    const conf = parseResolvConf(garbage);
    expect(conf.nameservers).toEqual([{ host: '127.0.0.1', port: 53 }]);
    expect(conf.warnings.length).toBeGreaterThan(0);
  });

  describe('environment overrides', () => {
    const file = 'search a.example b.example\nnameserver 1.1.1.1\noptions ndots:2 timeout:3 attempts:4\n';

    it('RES_OPTIONS applies after the file', () => {
      const conf = parseResolvConf(file, { RES_OPTIONS: 'ndots:5 attempts:1' });
      expect(conf).toMatchObject({ ndots: 5, timeoutMs: 3000, attempts: 1 });
      expect(conf.warnings).toEqual([]);
    });

    it('RES_OPTIONS applies to defaults when the file says nothing', () => {
      expect(parseResolvConf('', { RES_OPTIONS: '  timeout:1   rotate ' })).toMatchObject({
        ndots: 1,
        timeoutMs: 1000,
        attempts: 2,
        rotate: true,
      });
    });

    it('RES_OPTIONS sets and clears rotate and single-request after the file', () => {
      const text = 'nameserver 10.0.0.1\noptions rotate\n';
      expect(parseResolvConf(text, { RES_OPTIONS: 'single-request-reopen' })).toMatchObject({ rotate: true, singleRequest: true, singleRequestReopen: true });
      expect(parseResolvConf(text, { RES_OPTIONS: '-rotate single-request' })).toMatchObject({ rotate: false, singleRequest: true, singleRequestReopen: false });
    });

    it('RES_OPTIONS malformed values become warnings naming RES_OPTIONS', () => {
      const conf = parseResolvConf(file, { RES_OPTIONS: 'ndots:many' });
      expect(conf.ndots).toBe(2);
      expect(conf.warnings).toEqual([
        'RES_OPTIONS "ndots:many": option "ndots:many" ignored: expected ndots:N with N a non-negative integer',
      ]);
    });

    it('RES_OPTIONS caps like the file', () => {
      expect(parseResolvConf('', { RES_OPTIONS: 'ndots:99 timeout:99 attempts:99' })).toMatchObject({
        ndots: 15,
        timeoutMs: 30_000,
        attempts: 5,
      });
    });

    it('LOCALDOMAIN replaces the search list', () => {
      const conf = parseResolvConf(file, { LOCALDOMAIN: 'X.example.  y.example' });
      expect(conf.search).toEqual(['x.example', 'y.example']);
      expect(conf.nameservers).toEqual([{ host: '1.1.1.1', port: 53 }]);
    });

    it('LOCALDOMAIN replaces a domain line too', () => {
      expect(parseResolvConf('domain corp.example', { LOCALDOMAIN: 'other.example' }).search).toEqual([
        'other.example',
      ]);
    });

    it('an empty LOCALDOMAIN empties the search list (glibc)', () => {
      expect(parseResolvConf(file, { LOCALDOMAIN: '' }).search).toEqual([]);
    });

    it('LOCALDOMAIN keeps at most 6 domains', () => {
      const conf = parseResolvConf('', { LOCALDOMAIN: 'a b c d e f g' });
      expect(conf.search).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
      expect(conf.warnings).toHaveLength(1);
      expect(conf.warnings[0]).toContain('LOCALDOMAIN');
    });

    it('unset variables change nothing', () => {
      const conf = parseResolvConf(file, { RES_OPTIONS: undefined, LOCALDOMAIN: undefined });
      expect(conf).toMatchObject({ search: ['a.example', 'b.example'], ndots: 2, timeoutMs: 3000, attempts: 4 });
    });
  });
});

describe('the attempts limits', () => {
  it("caps resolv.conf's attempts: at glibc's 5, while the attempts option may ask for up to 10", () => {
    expect([MAX_RESOLV_CONF_ATTEMPTS, MAX_ATTEMPTS]).toEqual([5, 10]);
    expect(parseResolvConf('options attempts:10\n')).toMatchObject({ attempts: MAX_RESOLV_CONF_ATTEMPTS });
    expect(parseResolvConf('', { RES_OPTIONS: 'attempts:10' })).toMatchObject({ attempts: MAX_RESOLV_CONF_ATTEMPTS });
    expect(resolveOptions({ attempts: MAX_ATTEMPTS }).attempts).toBe(MAX_ATTEMPTS);
    expect(() => resolveOptions({ attempts: MAX_ATTEMPTS + 1 })).toThrow(/must be an integer from 1 to 10/);
  });
});

describe('formatNameserver', () => {
  it('writes host:port, an IPv6 host (zone id too) in brackets, and reads back as it was', () => {
    for (const [spec, text] of [
      ['10.0.0.10', '10.0.0.10:53'],
      ['127.0.0.1:5353', '127.0.0.1:5353'],
      ['::1', '[::1]:53'],
      ['[fd00::a]:5353', '[fd00::a]:5353'],
      ['fe80::1%eth0', '[fe80::1%eth0]:53'],
    ] as const) {
      expect(formatNameserver(parseNameserver(spec))).toBe(text);
      expect(parseNameserver(text)).toEqual(parseNameserver(spec));
    }
  });
});

describe('readResolvConf', () => {
  const folder = tempFolderForTests('resolv-conf-test');

  it('reads the file and applies env', async () => {
    const path = await folder.writeFile('resolv.conf', 'nameserver 10.0.0.1\nsearch a.example\noptions ndots:3\n');
    const conf = await readResolvConf({ path, env: { RES_OPTIONS: 'attempts:3', LOCALDOMAIN: 'b.example' } });
    expect(conf).toEqual({
      nameservers: [{ host: '10.0.0.1', port: 53 }],
      search: ['b.example'],
      ndots: 3,
      timeoutMs: 5000,
      attempts: 3,
      rotate: false,
      singleRequest: false,
      singleRequestReopen: false,
      warnings: [],
    });
  });

  it('ignores process.env when env is given', async () => {
    const path = await folder.writeFile('resolv-env.conf', 'search a.example\n');
    const conf = await readResolvConf({ path, env: {} });
    expect(conf.search).toEqual(['a.example']);
  });

  it('prefixes line warnings with the path', async () => {
    const path = await folder.writeFile('resolv-bad.conf', 'nameserver 10.0.0.1\nnameserver nope\n');
    const conf = await readResolvConf({ path, env: {} });
    expect(conf.warnings).toHaveLength(1);
    expect(conf.warnings[0]).toMatch(new RegExp(`^${escape(path)} line 2 "nameserver nope" ignored`));
  });

  it('gives defaults plus a warning naming path and code for a missing file', async () => {
    const path = join(folder.dir, 'does-not-exist.conf');
    const conf = await readResolvConf({ path, env: {} });
    expect(conf).toMatchObject({
      nameservers: [{ host: '127.0.0.1', port: 53 }],
      search: [],
      ndots: 1,
      timeoutMs: 5000,
      attempts: 2,
    });
    expect(conf.warnings).toHaveLength(1);
    expect(conf.warnings[0]).toContain(path);
    expect(conf.warnings[0]).toContain('ENOENT');
  });

  it('still applies env overrides when the file is missing', async () => {
    const conf = await readResolvConf({ path: join(folder.dir, 'missing'), env: { RES_OPTIONS: 'ndots:4', LOCALDOMAIN: 'z.example' } });
    expect(conf.ndots).toBe(4);
    expect(conf.search).toEqual(['z.example']);
  });

  it('gives defaults for a directory, saying what the path is, and never rejects', async () => {
    const conf = await readResolvConf({ path: folder.dir, env: {} });
    expect(conf.nameservers).toEqual([{ host: '127.0.0.1', port: 53 }]);
    expect(conf.warnings[0]).toBe(`${folder.dir}: is a directory, not a regular file; expected a file; using defaults: nameserver 127.0.0.1:53, ndots:1, timeout:5, attempts:2`);
  });

  it('refuses a FIFO at once instead of waiting for a writer', async () => {
    const path = join(folder.dir, 'fifo.conf');
    execFileSync('mkfifo', [path]);
    const conf = await withTimeout(readResolvConf({ path, env: {} }), 5_000, 'readResolvConf on a FIFO');
    expect(conf.nameservers).toEqual([{ host: '127.0.0.1', port: 53 }]);
    expect(conf.warnings[0]).toMatch(new RegExp(`^${escape(path)}: is a FIFO, not a regular file; expected a file; using defaults`));
  });

  it.skipIf(!existsSync('/dev/zero'))('refuses a character device (/dev/zero would never end)', async () => {
    const conf = await withTimeout(readResolvConf({ path: '/dev/zero', env: {} }), 5_000, 'readResolvConf on /dev/zero');
    expect(conf.warnings[0]).toMatch(/^\/dev\/zero: is a character device, not a regular file/);
  });

  it.skipIf(!existsSync('/proc/self/status'))('reads a file whose reported size is 0 to its end (procfs)', async () => {
    // A regular file by stat(), size 0, yet dozens of "Key:\tvalue" lines: each one an unknown keyword.
    const conf = await readResolvConf({ path: '/proc/self/status', env: {} });
    expect(conf.warnings.length).toBeGreaterThan(10);
    expect(conf.warnings[0]).toMatch(/^\/proc\/self\/status line 1 "Name:/);
  });

  it(`reads at most ${MAX_RESOLV_CONF_BYTES / 1024} KiB, with a warning, and quotes a huge line shortly`, async () => {
    // One nameserver, then one 1 MiB garbage line: the file is far over the cap.
    const path = await folder.writeFile('huge.conf', `nameserver 10.0.0.9
${'x'.repeat(1024 * 1024)}
`);
    const conf = await readResolvConf({ path, env: {} });
    expect(conf.nameservers).toEqual([{ host: '10.0.0.9', port: 53 }]);
    expect(conf.warnings).toEqual([`${path}: larger than 64 KiB; only its first 64 KiB are read`]);

    // Under the cap, a long line is quoted in 80 characters and its length.
    await folder.writeFile('huge.conf', `${'y'.repeat(60_000)}
`);
    const long = await readResolvConf({ path, env: {} });
    expect(long.warnings).toHaveLength(1);
    expect(long.warnings[0]).toContain(`line 1 "${'y'.repeat(80)}"… (60000 characters) ignored: unknown keyword "${'y'.repeat(80)}"… (60000 characters)`);
    expect(long.warnings[0]!.length).toBeLessThan(400);
  });

  it.skipIf(process.getuid?.() === 0)('gives defaults for an unreadable file (EACCES)', async () => {
    const path = await folder.writeFile('unreadable.conf', 'nameserver 10.0.0.1\n');
    await chmod(path, 0o000);
    const conf = await readResolvConf({ path, env: {} });
    expect(conf.nameservers).toEqual([{ host: '127.0.0.1', port: 53 }]);
    expect(conf.warnings[0]).toContain('EACCES');
  });

  it('reads /etc/resolv.conf by default without rejecting', async () => {
    const conf = await readResolvConf();
    expect(conf.nameservers.length).toBeGreaterThanOrEqual(1);
    expect(conf.nameservers.length).toBeLessThanOrEqual(3);
  });
});

describe('searchCandidates', () => {
  const k8s = { search: ['ns.svc.cluster.local', 'svc.cluster.local', 'cluster.local'], ndots: 5 };

  it.each<[string, { search: string[]; ndots: number }, string[]]>([
    [
      'my-svc',
      k8s,
      ['my-svc.ns.svc.cluster.local', 'my-svc.svc.cluster.local', 'my-svc.cluster.local', 'my-svc'],
    ],
    [
      'my-svc.other-ns',
      k8s,
      [
        'my-svc.other-ns.ns.svc.cluster.local',
        'my-svc.other-ns.svc.cluster.local',
        'my-svc.other-ns.cluster.local',
        'my-svc.other-ns',
      ],
    ],
    // 4 dots < ndots 5: still search-first, the well-known pod cost
    [
      'my-svc.ns.svc.cluster.local',
      k8s,
      [
        'my-svc.ns.svc.cluster.local.ns.svc.cluster.local',
        'my-svc.ns.svc.cluster.local.svc.cluster.local',
        'my-svc.ns.svc.cluster.local.cluster.local',
        'my-svc.ns.svc.cluster.local',
      ],
    ],
    // absolute: only itself
    ['my-svc.ns.svc.cluster.local.', k8s, ['my-svc.ns.svc.cluster.local']],
    ['my-svc.', k8s, ['my-svc']],
    // 5 dots >= ndots 5: as-is first
    [
      'a.b.c.d.e.f',
      k8s,
      ['a.b.c.d.e.f', 'a.b.c.d.e.f.ns.svc.cluster.local', 'a.b.c.d.e.f.svc.cluster.local', 'a.b.c.d.e.f.cluster.local'],
    ],
    // default ndots 1
    ['www', { search: ['example.com'], ndots: 1 }, ['www.example.com', 'www']],
    ['www.example.org', { search: ['example.com'], ndots: 1 }, ['www.example.org', 'www.example.org.example.com']],
    // ndots 0: everything as-is first
    ['www', { search: ['example.com'], ndots: 0 }, ['www', 'www.example.com']],
    // no search list
    ['www', { search: [], ndots: 1 }, ['www']],
    ['www.example.org', { search: [], ndots: 5 }, ['www.example.org']],
    // case kept
    ['My-Svc', { search: ['ns.svc.cluster.local'], ndots: 5 }, ['My-Svc.ns.svc.cluster.local', 'My-Svc']],
    ['Host.Example.', { search: ['x'], ndots: 1 }, ['Host.Example']],
    // root in the search list adds nothing, duplicates dropped
    ['www', { search: ['', 'example.com', 'example.com'], ndots: 1 }, ['www.example.com', 'www']],
    ['', k8s, []],
    ['.', k8s, []],
  ])('%j with %j', (name, conf, expected) => {
    expect(searchCandidates(name, conf)).toEqual(expected);
  });

  it('uses what parseResolvConf produced', () => {
    const conf = parseResolvConf('search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5\n');
    expect(searchCandidates('my-svc', conf)).toEqual([
      'my-svc.ns.svc.cluster.local',
      'my-svc.svc.cluster.local',
      'my-svc.cluster.local',
      'my-svc',
    ]);
  });
});
