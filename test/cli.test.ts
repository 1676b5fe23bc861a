/**
 * The `grpc-dns-watch` command against a real (in-process) DNS server over
 * real sockets: main() driven in-process, and the built dist/cli.js as a
 * child process. The CLI never asks the machine's own nameserver: every run
 * passes --server and/or --resolv-conf pointing at a test server.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EXIT, main } from '../src/cli/main.js';
import { registry } from '../src/watch/registry.js';
import { BIN, ensureBuilt } from '../harness/built-cli.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { escapeRegExp, withTimeout } from '../harness/within.js';
import { waitUntil as waitFor } from '../harness/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ISO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`;

let dns: DnsTestServer;
/** Answers nothing at all: a server that cannot be reached. */
let dead: DnsTestServer;
let tmp: string;
/** resolv.conf naming the test server, no search list. */
let resolvConf: string;
/** resolv.conf naming the dead server. */
let deadResolvConf: string;
/** resolv.conf naming the test server with `search cli.test`. */
let searchResolvConf: string;

const live = dnsServerForFile({ resolvConf: 'options ndots:1 timeout:2 attempts:1', label: 'cli' });
const deadSetup = dnsServerForFile({ resolvConf: 'options timeout:1 attempts:1', label: 'cli-dead' });

beforeAll(async () => {
  ({ server: dns, resolvConfPath: resolvConf, dir: tmp } = live);
  ({ server: dead, resolvConfPath: deadResolvConf } = deadSetup);
  dead.setFault('drop');
  searchResolvConf = await live.writeResolvConf('search-resolv.conf', 'search cli.test\noptions ndots:2 timeout:2 attempts:1');

  dns.setRecords('web.cli.test', { A: ['10.0.0.10', '10.0.0.9'], AAAA: ['fd00::1'], ttl: 42 });
  dns.setRecords('v4only.cli.test', { A: ['10.0.0.1'], ttl: 7 });
  dns.setRecords('fail.cli.test', { A: ['10.0.0.1'] });
  dns.setFault('servfail', { name: 'fail.cli.test' });
});

function collector(): { write(chunk: string): boolean; readonly text: string } {
  let text = '';
  return {
    write(chunk: string) {
      text += chunk;
      return true;
    },
    get text() {
      return text;
    },
  };
}

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = collector();
  const stderr = collector();
  const code = await main(args, { stdout, stderr, env: {} });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

/** main() in watch mode, in-process, stopped through its AbortSignal. */
function start(args: string[]) {
  const stdout = collector();
  const stderr = collector();
  const controller = new AbortController();
  const done = main(args, { stdout, stderr, env: {}, signal: controller.signal });
  return {
    stdout,
    stderr,
    done,
    async stop(): Promise<number> {
      controller.abort();
      return withTimeout(done, 3_000, 'main() to return after abort');
    },
  };
}

const UNDER_FLOOR_100MS =
  'warning: --interval 100ms is under the 1s floor a client keeps by default (minInterval); polling every 100ms, as a client does only with refreshInterval set that low';

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line.length > 0);
}

describe('grpc-dns-watch --once', () => {
  it('prints the name, then each address with family and TTL, and exits 0', async () => {
    const result = await run(['--once', '--server', dns.address, '--resolv-conf', resolvConf, 'web.cli.test']);
    // Progress on stderr, said before the query leaves: the name, both families, the server, timeout and attempts.
    expect(result.stderr).toBe(`querying web.cli.test A and AAAA via ${dns.address} (timeout 2s, 1 attempt)…\n`);
    expect(result.code).toBe(EXIT.OK);
    const out = lines(result.stdout);
    expect(out[0]).toBe('web.cli.test: 3 addresses');
    // IPv4 first, numerically sorted, then IPv6.
    expect(out.slice(1)).toEqual([
      expect.stringMatching(/^ {2}10\.0\.0\.9 +IPv4 {2}ttl 42s$/),
      expect.stringMatching(/^ {2}10\.0\.0\.10 +IPv4 {2}ttl 42s$/),
      expect.stringMatching(/^ {2}fd00::1 +IPv6 {2}ttl 42s$/),
    ]);
  });

  it('asks only for the family given', async () => {
    const result = await run(['--once', '--family', '6', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(EXIT.OK);
    expect(lines(result.stdout)).toEqual(['web.cli.test: 1 address', expect.stringMatching(/^ {2}fd00::1 {2}IPv6 {2}ttl 42s$/)]);
    expect(dns.countQueries({ name: 'web.cli.test', type: 'AAAA' })).toBeGreaterThan(0);
  });

  it('goes through the search list like a pod does and says which name answered', async () => {
    const result = await run(['--once', '--resolv-conf', searchResolvConf, 'web']);
    expect(result.code).toBe(EXIT.OK);
    expect(lines(result.stdout)[0]).toBe('web: 3 addresses (found as web.cli.test)');
  });

  it('writes resolvedName one way in --once and watch mode: the name that answered, no trailing dot', async () => {
    const once = await run(['--once', '--json', '--resolv-conf', searchResolvConf, 'web']);
    expect(JSON.parse(once.stdout)).toMatchObject({ type: 'addresses', name: 'web', resolvedName: 'web.cli.test' });
    const cli = start(['--json', '--resolv-conf', searchResolvConf, 'web']);
    try {
      await waitFor(() => cli.stdout.text.includes('\n'), () => `the first event; stdout: ${JSON.stringify(cli.stdout.text)}`);
    } finally {
      expect(await cli.stop()).toBe(EXIT.OK);
    }
    expect(JSON.parse(lines(cli.stdout.text)[0]!)).toMatchObject({ type: 'addresses', name: 'web', resolvedName: 'web.cli.test' });
  });

  it('prints one JSON object with --json', async () => {
    const result = await run(['--once', '--json', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(EXIT.OK);
    const out = lines(result.stdout);
    expect(out).toHaveLength(1);
    const event = JSON.parse(out[0]!) as { at: string };
    expect(event).toMatchObject({
      type: 'addresses',
      name: 'web.cli.test',
      resolvedName: 'web.cli.test',
      source: 'dns',
      count: 3,
      ttl: 42,
      addresses: [
        { address: '10.0.0.9', family: 4, ttl: 42 },
        { address: '10.0.0.10', family: 4, ttl: 42 },
        { address: 'fd00::1', family: 6, ttl: 42 },
      ],
    });
    expect(new Date(event.at).toISOString()).toBe(event.at);
  });

  it('prints an IP literal with no TTL (null in JSON)', async () => {
    const human = await run(['--once', '--resolv-conf', resolvConf, '10.1.2.3']);
    expect(human.code).toBe(EXIT.OK);
    expect(human.stderr).toBe(''); // nothing is asked, so no progress line
    expect(lines(human.stdout)).toEqual(['10.1.2.3: 1 address (an IP literal, never changes)', '  10.1.2.3  IPv4  ttl -']);
    const json = await run(['--once', '--json', '--resolv-conf', resolvConf, '10.1.2.3']);
    expect(JSON.parse(json.stdout)).toMatchObject({ source: 'literal', ttl: null, addresses: [{ address: '10.1.2.3', family: 4, ttl: null }] });
  });

  it('accepts a grpc target, watches its host and says so', async () => {
    const result = await run(['--once', '--resolv-conf', resolvConf, 'dns:///web.cli.test:50051']);
    expect(result.code).toBe(EXIT.OK);
    expect(result.stderr).toContain('note: "dns:///web.cli.test:50051" is a grpc target: watching its host "web.cli.test"');
    expect(lines(result.stdout)[0]).toBe('web.cli.test: 3 addresses');

    const hostPort = await run(['--once', '--resolv-conf', resolvConf, 'web.cli.test:50051']);
    expect(hostPort.code).toBe(EXIT.OK);
    expect(lines(hostPort.stdout)[0]).toBe('web.cli.test: 3 addresses');
  });

  it('asks the server named in a dns://server/name target', async () => {
    // resolv.conf names a dead server: only the target's authority can answer.
    const result = await run(['--once', '--resolv-conf', deadResolvConf, `dns://${dns.address}/web.cli.test:443`]);
    expect(result.code).toBe(EXIT.OK);
    expect(result.stderr).toContain(`via ${dns.address}`);
    expect(lines(result.stdout)[0]).toBe('web.cli.test: 3 addresses');
  });

  it('exits 3 with the code and the name when DNS says NXDOMAIN', async () => {
    const result = await run(['--once', '--server', dns.address, '--resolv-conf', resolvConf, 'nope.cli.test']);
    expect(result.code).toBe(EXIT.NO_ADDRESSES);
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    // Said once: no "(NXDOMAIN)" after the message, no "(DNS says …)" after that.
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^querying nope\.cli\.test /), expect.stringMatching(new RegExp(`^${ISO}  error NXDOMAIN: nope\\.cli\\.test does not exist$`))]);
  });

  it('stamps the lines it prints with the injected clock', async () => {
    const at = new Date('2025-03-14T09:30:00.004Z');
    const stdout = collector();
    const stderr = collector();
    expect(await main(['--once', '--resolv-conf', resolvConf, 'nope.cli.test'], { stdout, stderr, env: {}, now: () => at })).toBe(3);
    expect(lines(stderr.text)[1]).toBe('2025-03-14T09:30:00.004Z  error NXDOMAIN: nope.cli.test does not exist');
    const json = collector();
    expect(await main(['--once', '--json', '--resolv-conf', resolvConf, 'web.cli.test'], { stdout: json, stderr, env: {}, now: () => at })).toBe(0);
    expect(JSON.parse(json.text)).toMatchObject({ type: 'addresses', at: '2025-03-14T09:30:00.004Z' });
  });

  it('exits 3 on NODATA (the name exists, not with that family)', async () => {
    const result = await run(['--once', '--family', '6', '--resolv-conf', resolvConf, 'v4only.cli.test']);
    expect(result.code).toBe(3);
    expect(lines(result.stderr)[1]).toMatch(new RegExp(`^${ISO}  error NODATA: v4only\\.cli\\.test exists but has no AAAA records$`));
    expect(lines(result.stderr)[0]).toBe(`querying v4only.cli.test AAAA via ${dns.address} (timeout 2s, 1 attempt)…`);
  });

  it('exits 3 with a JSON error event on stdout with --json', async () => {
    const result = await run(['--once', '--json', '--resolv-conf', resolvConf, 'nope.cli.test']);
    expect(result.code).toBe(3);
    // Progress stays on stderr: stdout is only the event.
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^querying nope\.cli\.test A and AAAA via /)]);
    expect(JSON.parse(result.stdout)).toMatchObject({
      type: 'error',
      name: 'nope.cli.test',
      code: 'NXDOMAIN',
      authoritative: true,
      message: 'nope.cli.test does not exist',
    });
  });

  it('exits 4 naming the server and both families when it cannot be reached', async () => {
    const result = await run(['--once', '--server', dead.address, '--timeout', '200ms', '--attempts', '1', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(EXIT.CANNOT_ASK);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    const err = lines(result.stderr);
    expect(err[0]).toBe(`querying web.cli.test A and AAAA via ${dead.address} (timeout 200ms, 1 attempt)…`);
    // One sentence: the name first, then the cause, each said once (issue 22: three stacked parentheses).
    expect(err.at(-1)).toMatch(
      new RegExp(`^${ISO}  error TIMEOUT: could not ask DNS for web\\.cli\\.test A and AAAA: no reply from ${escapeRegExp(dead.address)} within 200 ms \\(1 attempt\\)$`),
    );
  });

  it('prints one stderr line per failed try, as kdig does (needs the DNS client to report attempt events)', async () => {
    const result = await run(['--once', '--server', dead.address, '--timeout', '200ms', '--attempts', '2', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(4);
    const tries = lines(result.stderr).filter((line) => line.includes('try failed'));
    const pattern = (type: string) => new RegExp(`^${ISO}  try failed: web\\.cli\\.test ${type} via ${escapeRegExp(dead.address)} \\(UDP\\): TIMEOUT after \\d+ ms$`);
    // Two attempts on one server, A and AAAA in parallel: four tries, each said once.
    expect(tries.filter((line) => pattern('A').test(line))).toHaveLength(2);
    expect(tries.filter((line) => pattern('AAAA').test(line))).toHaveLength(2);
    expect(tries).toHaveLength(4);
  });

  it('says when a try is refused (a closed port on loopback) (needs the DNS client to report attempt events)', async () => {
    const closed = await unusedUdpPort();
    const result = await run(['--once', '--server', `127.0.0.1:${closed}`, '--timeout', '500ms', '--attempts', '1', '--family', '4', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(4);
    expect(lines(result.stderr)).toContainEqual(expect.stringMatching(new RegExp(`^${ISO}  try failed: web\\.cli\\.test A via 127\\.0\\.0\\.1:${closed} \\(UDP\\): [A-Z]+ after \\d+ ms$`)));
  });

  it('names a refused port one way on every try and says it in one sentence (A and AAAA, two attempts)', async () => {
    const closed = await unusedUdpPort();
    const server = `127.0.0.1:${closed}`;
    const result = await run(['--once', '--server', server, '--attempts', '2', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(EXIT.CANNOT_ASK);
    const tries = lines(result.stderr).filter((line) => line.includes('try failed'));
    expect(tries).toHaveLength(4);
    for (const line of tries) expect(line).toMatch(new RegExp(`^${ISO}  try failed: web\\.cli\\.test (A|AAAA) via ${escapeRegExp(server)} \\(UDP\\): CONNREFUSED after \\d+ ms$`));
    expect(lines(result.stderr).at(-1)).toMatch(
      new RegExp(
        `^${ISO}  error CONNREFUSED: could not ask DNS for web\\.cli\\.test A and AAAA: nothing listens on ${escapeRegExp(server)} \\(connection refused, 2 attempts\\)$`,
      ),
    );
  });

  it('--json against a silent server: stdout holds only JSON events, progress goes to stderr', async () => {
    const result = await run(['--once', '--json', '--server', dead.address, '--timeout', '100ms', '--attempts', '1', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(result.code).toBe(4);
    const out = lines(result.stdout);
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toMatchObject({ type: 'error', code: 'TIMEOUT', authoritative: false, message: expect.stringContaining('A and AAAA') as string });
    expect(lines(result.stderr)[0]).toMatch(/^querying web\.cli\.test A and AAAA via /);
  });

  it('shows the family that answered and warns about the one that failed (exit 0)', async () => {
    dns.setFault('servfail', { name: 'web.cli.test', count: 1 });
    const result = await run(['--once', '--resolv-conf', resolvConf, 'web.cli.test']);
    dns.setFault(null);
    expect(result.code).toBe(EXIT.OK);
    const warning = lines(result.stderr).find((line) => line.includes('warning'));
    expect(warning).toMatch(
      new RegExp(`^${ISO}  warning SERVFAIL: could not ask DNS for web\\.cli\\.test (A|AAAA): ${escapeRegExp(dns.address)} answered SERVFAIL \\(1 attempt\\); showing IPv(4|6) addresses only$`),
    );
    expect(lines(result.stdout)[0]).toMatch(/^web\.cli\.test: (1 address|2 addresses)$/);

    dns.setFault('servfail', { name: 'web.cli.test', count: 1 });
    const json = await run(['--once', '--json', '--resolv-conf', resolvConf, 'web.cli.test']);
    dns.setFault(null);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'addresses', failedFamilies: [{ family: expect.any(Number) as number, code: 'SERVFAIL' }] });
    // The server holds one fault at a time: put back the one the other tests rely on.
    dns.setFault('servfail', { name: 'fail.cli.test' });
  });

  it('exits 4 on SERVFAIL', async () => {
    const result = await run(['--once', '--resolv-conf', resolvConf, 'fail.cli.test']);
    expect(result.code).toBe(4);
    expect(lines(result.stderr).at(-1)).toMatch(new RegExp(`^${ISO}  error SERVFAIL: could not ask DNS for fail\\.cli\\.test A and AAAA: ${escapeRegExp(dns.address)} answered SERVFAIL \\(1 attempt\\)$`));
  });

  it('says what it asks at once, and exits 130 promptly when interrupted while waiting for a server', async () => {
    const stdout = collector();
    const stderr = collector();
    const controller = new AbortController();
    const before = dead.countQueries({ name: 'slow.cli.test' });
    const done = main(['--once', '--server', dead.address, '--timeout', '10s', '--resolv-conf', resolvConf, 'slow.cli.test'], {
      stdout,
      stderr,
      env: {},
      signal: controller.signal,
    });
    // Not silent while the server is: the progress line comes before the first try could time out.
    await waitFor(() => stderr.text.includes('\n'), () => `a progress line; stderr: ${JSON.stringify(stderr.text)}`);
    expect(stderr.text).toBe(`querying slow.cli.test A and AAAA via ${dead.address} (timeout 10s, 1 attempt)…\n`);
    await dead.waitForQueries(before + 1, { name: 'slow.cli.test' }, 5_000);
    controller.abort();
    expect(await withTimeout(done, 2_000, 'an interrupted --once to return')).toBe(EXIT.INTERRUPTED);
  });

  it('shows the resolver settings with --verbose', async () => {
    const result = await run(['--once', '--verbose', '--resolv-conf', searchResolvConf, 'web']);
    expect(result.code).toBe(0);
    expect(result.stderr).toContain(`settings: nameservers ${dns.address} (from ${searchResolvConf})`);
    expect(result.stderr).toContain('settings: search cli.test, ndots:2');
    expect(result.stderr).toContain('settings: timeout 2s, attempts 1, family 0');
  });
});

describe('grpc-dns-watch bad arguments', () => {
  const cases: Array<{ what: string; args: string[]; message: RegExp }> = [
    { what: 'an unknown flag', args: ['--frobnicate', 'web.cli.test'], message: /unknown option '--frobnicate'/ },
    // Ranges: the library's option validators, in their words, under the flag's name.
    { what: 'a bad family', args: ['--family', '5', 'web.cli.test'], message: /^grpc-dns-watch: --family "5" must be 4 \(IPv4\), 6 \(IPv6\) or 0 \(both\), got 5$/ },
    { what: 'a family that is not a number', args: ['--family', 'v4', 'web.cli.test'], message: /^grpc-dns-watch: --family "v4" must be 4 \(IPv4\), 6 \(IPv6\) or 0 \(both\), got "v4"$/ },
    { what: 'a bad interval', args: ['--interval', '5x', 'web.cli.test'], message: /^grpc-dns-watch: --interval "5x": expected a duration like 500ms, 5s, 1\.5s or 1m$/ },
    { what: 'a zero timeout', args: ['--timeout', '0ms', 'web.cli.test'], message: /^grpc-dns-watch: --timeout "0ms" must be a number of milliseconds from 1 to 2147483647, got 0$/ },
    { what: 'an interval past the longest timer', args: ['--interval', '40000m', 'web.cli.test'], message: /^grpc-dns-watch: --interval "40000m" must be a number of milliseconds from 1 to 2147483647, got 2400000000$/ },
    { what: 'a negative interval', args: ['--interval=-5s', 'web.cli.test'], message: /--interval "-5s": expected a duration/ },
    // A bare number: seconds to `watch -n`, milliseconds to the library; refused, naming both.
    { what: 'an interval without a unit', args: ['--interval', '5', 'web.cli.test'], message: /^grpc-dns-watch: --interval "5": a duration needs its unit: 5s for seconds \(as watch -n reads it\) or 5ms for milliseconds$/ },
    { what: 'a timeout without a unit', args: ['--timeout', '2', 'web.cli.test'], message: /^grpc-dns-watch: --timeout "2": a duration needs its unit: 2s for seconds \(as watch -n reads it\) or 2ms for milliseconds$/ },
    { what: 'a bad server', args: ['--server', 'dns.example.com', 'web.cli.test'], message: /--server "dns\.example\.com": invalid nameserver .*expected an IPv4 or IPv6 address/ },
    { what: 'a bad server port', args: ['--server', '127.0.0.1:99999', 'web.cli.test'], message: /--server "127\.0\.0\.1:99999": .*port 99999 is outside 1\.\.65535/ },
    { what: 'a flag without its value', args: ['web.cli.test', '--server'], message: /option '-s, --server <value>' needs a value/ },
    { what: 'bad attempts', args: ['--attempts', '0', 'web.cli.test'], message: /^grpc-dns-watch: --attempts "0" must be an integer from 1 to 10, got 0$/ },
    { what: 'a missing name', args: ['--once'], message: /missing the DNS name to watch/ },
    { what: 'two names', args: ['a.cli.test', 'b.cli.test'], message: /expected one DNS name, got 2: "a\.cli\.test" "b\.cli\.test"/ },
    { what: 'an invalid name', args: ['bad name!'], message: /name "bad name!": "bad name!" is not a valid DNS label/ },
    { what: 'a non-DNS grpc target', args: ['unix:///run/app.sock'], message: /name "unix:\/\/\/run\/app\.sock": "unix:" targets do not use DNS/ },
    { what: 'a bad target port', args: ['dns:///web.cli.test:http'], message: /name "dns:\/\/\/web\.cli\.test:http": port "http" is not a number/ },
    { what: 'an unreadable resolv.conf', args: ['--resolv-conf', '/nonexistent/resolv.conf', 'web.cli.test'], message: /--resolv-conf "\/nonexistent\/resolv\.conf": cannot read it \(ENOENT\)/ },
  ];

  it.each(cases)('exits 2 on $what, naming it', async ({ args, message }) => {
    const result = await run(['--once', ...args.filter((arg) => arg !== '--once')]);
    expect(result.code).toBe(EXIT.USAGE);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    const [first, hint] = lines(result.stderr);
    expect(first).toMatch(/^grpc-dns-watch: /);
    expect(first).toMatch(message);
    expect(hint).toBe("Try 'grpc-dns-watch --help' for more information.");
  });

  it('refuses a FIFO as --resolv-conf at once, naming it (never waits for a writer)', async () => {
    const fifo = path.join(tmp, 'fifo-resolv.conf');
    execFileSync('mkfifo', [fifo]);
    const result = await withTimeout(run(['--once', '--resolv-conf', fifo, 'web.cli.test']), 5_000, 'the CLI given a FIFO');
    expect(result.code).toBe(EXIT.USAGE);
    expect(lines(result.stderr)[0]).toBe(`grpc-dns-watch: --resolv-conf ${JSON.stringify(fifo)}: is a FIFO, not a regular file; expected a resolv.conf file`);
    const dir = await withTimeout(run(['--resolv-conf', tmp, 'web.cli.test']), 5_000, 'the CLI given a directory');
    expect(lines(dir.stderr)[0]).toBe(`grpc-dns-watch: --resolv-conf ${JSON.stringify(tmp)}: is a directory, not a regular file; expected a resolv.conf file`);
  });

  it('refuses `--interval 5` in watch mode too, before asking anything: 5s or 5ms?', async () => {
    const before = dns.queries.length;
    const result = await run(['--interval', '5', '--server', dns.address, 'web.cli.test']);
    expect(result.code).toBe(EXIT.USAGE);
    expect(lines(result.stderr)[0]).toBe('grpc-dns-watch: --interval "5": a duration needs its unit: 5s for seconds (as watch -n reads it) or 5ms for milliseconds');
    expect(dns.queries.length).toBe(before);
  });

  it('sends no query for a bad command line', async () => {
    const before = dns.queries.length;
    const result = await run(['--family', '5', '--server', dns.address, 'web.cli.test']);
    expect(result.code).toBe(2);
    expect(dns.queries.length).toBe(before);
  });

  it('prints help on stdout and exits 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^Usage: grpc-dns-watch \[options\] <name>/);
    for (const flag of ['--server', '--interval', '--family', '--timeout', '--attempts', '--resolv-conf', '--once', '--json', '--verbose', '--version']) {
      expect(result.stdout).toContain(flag);
    }
    expect((await run(['-h'])).stdout).toBe(result.stdout);
  });

  it('prints the version from package.json', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const result = await run(['--version']);
    expect(result).toEqual({ code: 0, stdout: `grpc-dns-watch ${pkg.version}\n`, stderr: '' });
  });
});

describe('grpc-dns-watch (watch mode)', () => {
  afterEach(() => {
    // Every stopped command leaves nothing behind: no watcher, no resolver, no socket.
    expect(registry.size).toEqual({ watchers: 0, resolvers: 0 });
  });

  it('prints the set, then one line per change, and returns 0 when stopped', async () => {
    dns.setRecords('rotate.cli.test', { A: ['10.0.1.1'], ttl: 1 });
    const cli = start(['--interval', '100ms', '--resolv-conf', resolvConf, '--family', '4', 'rotate.cli.test']);
    try {
      await waitFor(() => cli.stdout.text.includes('10.0.1.1'), () => `the first set; stdout: ${JSON.stringify(cli.stdout.text)}`);
      expect(lines(cli.stdout.text)).toEqual(['rotate.cli.test: 1 address', '  10.0.1.1  IPv4  ttl 1s']);
      // An interval under the floor is used, and said; the banner; a line saying the first query is under way.
      expect(lines(cli.stderr.text)).toEqual([
        UNDER_FLOOR_100MS,
        `watching rotate.cli.test every 100ms via ${dns.address}; Ctrl-C to stop`,
        `querying rotate.cli.test A via ${dns.address} (timeout 2s, 1 attempt)…`,
      ]);

      dns.setRecords('rotate.cli.test', { A: ['10.0.1.2', '10.0.1.3'], ttl: 1 });
      await waitFor(() => lines(cli.stdout.text).length >= 3, () => `a change line; stdout: ${JSON.stringify(cli.stdout.text)}`);
      expect(lines(cli.stdout.text)[2]).toMatch(new RegExp(`^${ISO}  \\+10\\.0\\.1\\.2 \\+10\\.0\\.1\\.3 -10\\.0\\.1\\.1  \\(2 addresses\\)$`));

      dns.setRecords('rotate.cli.test', { A: ['10.0.1.3'], ttl: 1 });
      await waitFor(() => lines(cli.stdout.text).length >= 4, () => `a second change line; stdout: ${JSON.stringify(cli.stdout.text)}`);
      expect(lines(cli.stdout.text)[3]).toMatch(new RegExp(`^${ISO}  -10\\.0\\.1\\.2  \\(1 address\\)$`));
    } finally {
      expect(await cli.stop()).toBe(EXIT.OK);
    }
    // Stopped means stopped: the watcher is gone and its resolver (sockets) released.
    expect(registry.size).toEqual({ watchers: 0, resolvers: 0 });
  });

  it('warns about no interval at or above the 1s floor', async () => {
    dns.setRecords('floor.cli.test', { A: ['10.0.1.9'], ttl: 30 });
    const cli = start(['--interval', '1s', '--resolv-conf', resolvConf, '--family', '4', 'floor.cli.test']);
    try {
      await waitFor(() => cli.stdout.text.includes('10.0.1.9'), () => `the first set; stdout: ${JSON.stringify(cli.stdout.text)}`);
    } finally {
      expect(await cli.stop()).toBe(EXIT.OK);
    }
    expect(lines(cli.stderr.text)).toEqual([
      `watching floor.cli.test every 1s via ${dns.address}; Ctrl-C to stop`,
      `querying floor.cli.test A via ${dns.address} (timeout 2s, 1 attempt)…`,
    ]);
  });

  it('keeps running through errors, printing them on stderr with timestamp and code', async () => {
    const cli = start(['--interval', '100ms', '--resolv-conf', resolvConf, '--family', '4', 'late.cli.test']);
    try {
      await waitFor(() => cli.stderr.text.includes('NXDOMAIN'), () => `an NXDOMAIN line; stderr: ${JSON.stringify(cli.stderr.text)}`);
      expect(lines(cli.stderr.text)[3]).toMatch(new RegExp(`^${ISO}  error NXDOMAIN: late\\.cli\\.test does not exist$`));
      expect(cli.stdout.text).toBe('');

      dns.setRecords('late.cli.test', { A: ['10.0.2.1'], ttl: 1 });
      await waitFor(() => cli.stdout.text.includes('10.0.2.1'), () => `the set after NXDOMAIN; stdout: ${JSON.stringify(cli.stdout.text)}`);
      expect(lines(cli.stdout.text)[0]).toBe('late.cli.test: 1 address');

      dns.deleteName('late.cli.test');
      await waitFor(() => (cli.stderr.text.match(/NXDOMAIN/g) ?? []).length >= 2, () => `a second NXDOMAIN; stderr: ${JSON.stringify(cli.stderr.text)}`);

      dns.setRecords('late.cli.test', { A: ['10.0.2.2'], ttl: 1 });
      await waitFor(() => cli.stdout.text.includes('+10.0.2.2'), () => `the change after recovery; stdout: ${JSON.stringify(cli.stdout.text)}`);
      expect(lines(cli.stdout.text).at(-1)).toMatch(new RegExp(`^${ISO}  \\+10\\.0\\.2\\.2 -10\\.0\\.2\\.1  \\(1 address\\)$`));
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });

  it('prints a could-not-ask error when there is no set yet, and keeps going', async () => {
    const cli = start(['--interval', '100ms', '--server', dead.address, '--timeout', '100ms', '--attempts', '1', '--resolv-conf', resolvConf, 'web.cli.test']);
    try {
      // The "try failed" lines name TIMEOUT too: wait for the poll's own error line.
      const errorLine = new RegExp(`^${ISO}  error TIMEOUT: could not ask DNS for \\S+ A and AAAA: no reply from \\S+ within 100 ms \\(1 attempt\\)$`);
      await waitFor(() => lines(cli.stderr.text).some((line) => errorLine.test(line)), () => `an error line; stderr: ${JSON.stringify(cli.stderr.text)}`);
      expect(lines(cli.stderr.text)[2]).toBe(`querying web.cli.test A and AAAA via ${dead.address} (timeout 100ms, 1 attempt)…`);
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });

  it('prints NDJSON events with --json: addresses, change, error', async () => {
    dns.setRecords('json.cli.test', { A: ['10.0.3.1'], AAAA: ['fd00::3:1'], ttl: 1 });
    const cli = start(['--json', '--interval', '100ms', '--resolv-conf', resolvConf, 'json.cli.test']);
    const events = () => lines(cli.stdout.text).map((line) => JSON.parse(line) as Record<string, unknown>);
    try {
      await waitFor(() => events().length >= 1, () => `the first event; stdout: ${JSON.stringify(cli.stdout.text)}`);
      dns.setRecords('json.cli.test', { A: ['10.0.3.2'], AAAA: ['fd00::3:1'], ttl: 1 });
      await waitFor(() => events().length >= 2, () => `a change event; stdout: ${JSON.stringify(cli.stdout.text)}`);
      dns.deleteName('json.cli.test');
      await waitFor(() => events().length >= 3, () => `an error event; stdout: ${JSON.stringify(cli.stdout.text)}`);
    } finally {
      expect(await cli.stop()).toBe(0);
    }
    // stdout is machine-only; the warning, banner and progress went to stderr.
    expect(lines(cli.stderr.text)).toEqual([
      UNDER_FLOOR_100MS,
      `watching json.cli.test every 100ms via ${dns.address}; Ctrl-C to stop`,
      `querying json.cli.test A and AAAA via ${dns.address} (timeout 2s, 1 attempt)…`,
    ]);
    const [first, change, error] = events();
    expect(first).toMatchObject({
      type: 'addresses',
      name: 'json.cli.test',
      count: 2,
      ttl: 1,
      addresses: [
        { address: '10.0.3.1', family: 4, ttl: 1 },
        { address: 'fd00::3:1', family: 6, ttl: 1 },
      ],
    });
    expect(change).toMatchObject({
      type: 'change',
      name: 'json.cli.test',
      added: ['10.0.3.2'],
      removed: ['10.0.3.1'],
      count: 2,
      addresses: [
        { address: '10.0.3.2', family: 4, ttl: 1 },
        { address: 'fd00::3:1', family: 6, ttl: 1 },
      ],
    });
    expect(error).toMatchObject({ type: 'error', name: 'json.cli.test', code: 'NXDOMAIN', authoritative: true });
    for (const event of events()) expect(new Date(String(event.at)).toISOString()).toBe(event.at);
  });

  it('says when AAAA of an IPv4-only name is demoted and when it is restored (human on stderr, --json on stdout); not with --ask-both-families', async () => {
    for (const json of [false, true]) {
      const name = `single${json ? 'json' : ''}.cli.test`;
      dns.setRecords(name, { A: ['10.0.4.1'], ttl: 1 });
      const cli = start([...(json ? ['--json'] : []), '--interval', '100ms', '--resolv-conf', resolvConf, name]);
      const sink = json ? cli.stdout : cli.stderr;
      try {
        await waitFor(() => sink.text.includes('demoted') || sink.text.includes('less often'), () => `a demotion; ${JSON.stringify(sink.text)}`);
        dns.deleteName(name);
        await waitFor(() => sink.text.includes('restored') || sink.text.includes('every poll again'), () => `a restoration; ${JSON.stringify(sink.text)}`);
      } finally {
        expect(await cli.stop()).toBe(EXIT.OK);
      }
      if (json) {
        const events = lines(cli.stdout.text).map((line) => JSON.parse(line) as Record<string, unknown>).filter((event) => event.type === 'family');
        expect(events).toMatchObject([
          { type: 'family', name, family: 6, change: 'demoted', reason: 'NODATA on 3 polls in a row while A answers' },
          { type: 'family', name, family: 6, change: 'restored', nextAskAt: null, reason: 'NXDOMAIN for the name' },
        ]);
        // 60 s less the 1 s reply margin less the longest spacing of two polls (100 ms × 1.2).
        expect(new Date(String(events[0]!.nextAskAt)).getTime() - new Date(String(events[0]!.at)).getTime()).toBe(58_880);
      } else {
        const notes = lines(cli.stderr.text).filter((line) => line.includes('asked'));
        expect(notes).toHaveLength(2);
        expect(notes[0]).toMatch(new RegExp(`^${ISO}  note: AAAA asked less often \\(NODATA on 3 polls in a row while A answers\\): next at the first poll from ${ISO}, about once a minute until it has records$`));
        expect(notes[1]).toMatch(new RegExp(`^${ISO}  note: AAAA asked at every poll again \\(NXDOMAIN for the name\\)$`));
      }
    }
    dns.setRecords('both.cli.test', { A: ['10.0.4.2'], ttl: 1 });
    const cli = start(['--ask-both-families', '--interval', '100ms', '--resolv-conf', resolvConf, 'both.cli.test']);
    const aaaa = () => dns.queries.filter((query) => query.name === 'both.cli.test' && query.type === 'AAAA').length;
    try {
      await waitFor(() => aaaa() >= 6, () => 'six polls');
    } finally {
      expect(await cli.stop()).toBe(EXIT.OK);
    }
    expect(cli.stderr.text).not.toContain('note:');
  });

  it('traces every query with --verbose', async () => {
    dns.setRecords('trace.cli.test', { A: ['10.0.4.1'], ttl: 1 });
    const cli = start(['--verbose', '--interval', '100ms', '--resolv-conf', resolvConf, '--family', '4', 'trace.cli.test']);
    try {
      await waitFor(() => /trace trace\.cli\.test: 1 addresses/.test(cli.stderr.text), () => `a trace line; stderr: ${JSON.stringify(cli.stderr.text)}`);
      expect(cli.stderr.text).toMatch(new RegExp(`^${ISO}  trace trace\\.cli\\.test: query \\(family 4\\)$`, 'm'));
      expect(cli.stderr.text).toContain('settings: search (none), ndots:1');
    } finally {
      expect(await cli.stop()).toBe(0);
    }
  });
});

function spawnBin(args: string[]): { child: ChildProcess; stdout: () => string; stderr: () => string; exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, stdout: () => out, stderr: () => err, exit };
}

describe('the built dist/cli.js', () => {
  beforeAll(() => {
    ensureBuilt();
  }, 150_000);

  it('starts with a node shebang', () => {
    expect(readFileSync(BIN, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('runs --once as a child process: addresses and exit 0; NXDOMAIN and exit 3', async () => {
    const ok = spawnBin(['--once', '--resolv-conf', resolvConf, 'web.cli.test']);
    expect(await withTimeout(ok.exit, 10_000, 'the --once child to exit')).toEqual({ code: 0, signal: null });
    expect(lines(ok.stdout())[0]).toBe('web.cli.test: 3 addresses');
    expect(ok.stdout()).toMatch(/10\.0\.0\.9 +IPv4 {2}ttl 42s/);

    const none = spawnBin(['--once', '--resolv-conf', resolvConf, 'nope.cli.test']);
    expect(await withTimeout(none.exit, 10_000, 'the NXDOMAIN child to exit')).toEqual({ code: 3, signal: null });
    expect(none.stderr()).toMatch(new RegExp(`^${ISO}  error NXDOMAIN: nope\\.cli\\.test does not exist$`, 'm'));
  });

  it('watches until SIGINT, then exits 0 promptly by itself', async () => {
    dns.setRecords('sigint.cli.test', { A: ['10.0.5.1'], ttl: 1 });
    const cli = spawnBin(['--interval', '100ms', '--resolv-conf', resolvConf, 'sigint.cli.test']);
    try {
      await waitFor(() => cli.stdout().includes('10.0.5.1'), () => `the child's first set; stdout: ${JSON.stringify(cli.stdout())}; stderr: ${JSON.stringify(cli.stderr())}`, 10_000);
      dns.setRecords('sigint.cli.test', { A: ['10.0.5.2'], ttl: 1 });
      await waitFor(() => cli.stdout().includes('+10.0.5.2'), () => `the child's change line; stdout: ${JSON.stringify(cli.stdout())}`, 10_000);
      cli.child.kill('SIGINT');
      expect(await withTimeout(cli.exit, 10_000, 'the child to exit after SIGINT')).toEqual({ code: 0, signal: null });
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });

  it('a FIFO given as --resolv-conf: exits 2 at once', async () => {
    const fifo = path.join(tmp, 'fifo-bin-resolv.conf');
    execFileSync('mkfifo', [fifo]);
    const cli = spawnBin(['--resolv-conf', fifo, 'web.cli.test']);
    try {
      expect(await withTimeout(cli.exit, 10_000, 'the child given a FIFO to exit')).toEqual({ code: 2, signal: null });
      expect(cli.stderr()).toContain('is a FIFO, not a regular file');
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });

  it('SIGTERM while --once waits on a silent server: exits 143 promptly', async () => {
    const before = dead.countQueries({ name: 'blocked.cli.test' });
    const cli = spawnBin(['--once', '--server', dead.address, '--timeout', '30s', '--resolv-conf', resolvConf, 'blocked.cli.test']);
    try {
      await dead.waitForQueries(before + 1, { name: 'blocked.cli.test' }, 10_000);
      expect(cli.stderr()).toContain(`querying blocked.cli.test A and AAAA via ${dead.address} (timeout 30s, 1 attempt)`);
      cli.child.kill('SIGTERM');
      expect(await withTimeout(cli.exit, 5_000, 'the blocked child to exit after SIGTERM')).toEqual({ code: EXIT.TERMINATED, signal: null });
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });

  it('SIGINT while watch mode waits on a silent server: exits 0 promptly', async () => {
    const before = dead.countQueries({ name: 'blocked-watch.cli.test' });
    const cli = spawnBin(['--server', dead.address, '--timeout', '30s', '--resolv-conf', resolvConf, 'blocked-watch.cli.test']);
    try {
      await dead.waitForQueries(before + 1, { name: 'blocked-watch.cli.test' }, 10_000);
      cli.child.kill('SIGINT');
      expect(await withTimeout(cli.exit, 5_000, 'the blocked watch to exit after SIGINT')).toEqual({ code: 0, signal: null });
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });

  it('exits 0 on SIGTERM too', async () => {
    dns.setRecords('sigterm.cli.test', { A: ['10.0.6.1'], ttl: 1 });
    const cli = spawnBin(['--json', '--interval', '100ms', '--resolv-conf', resolvConf, 'sigterm.cli.test']);
    try {
      await waitFor(() => cli.stdout().includes('\n'), () => `the child's first event; stderr: ${JSON.stringify(cli.stderr())}`, 10_000);
      expect(JSON.parse(lines(cli.stdout())[0]!)).toMatchObject({ type: 'addresses', count: 1 });
      cli.child.kill('SIGTERM');
      expect(await withTimeout(cli.exit, 3_000, 'the child to exit after SIGTERM')).toEqual({ code: 0, signal: null });
    } finally {
      if (cli.child.exitCode === null && cli.child.signalCode === null) cli.child.kill('SIGKILL');
    }
  });
});
