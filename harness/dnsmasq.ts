/**
 * A real dnsmasq (Debian `dnsmasq-base`) for integration tests.
 *
 * It runs in the foreground on a free loopback port with no config file, no
 * upstream servers, no /etc/hosts, and `--local=/#/`: every name it has no
 * record for is answered locally — NXDOMAIN for unknown names, NOERROR with
 * no answers (NODATA) for a known name asked for the other record type.
 * (Without `--local`, an unknown name gets REFUSED, since there is nowhere to
 * forward it.) Records live in one hosts file per name in a `--hostsdir`;
 * dnsmasq picks changes up by inotify, and {@link Dnsmasq.setHost} waits until
 * the new data is really served (falling back to SIGHUP if inotify is slow).
 *
 * A search domain whose upstream is dead (`deadUpstreams`): dnsmasq forwards
 * every name under that domain (`--server=/corp.example/127.0.0.99#5353`) to
 * a server that is not there, and the asker times out — or, pointed at a
 * server that answers SERVFAIL or REFUSED, gets that — while every other name
 * is answered as usual.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { accessSync, constants as fsConstants } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import dnsPacket from 'dns-packet';

/**
 * The dnsmasq binary, or null when it is not installed (tests then skip with
 * a note). CI sets GRPC_DNS_WATCH_REQUIRE_DNSMASQ=1: there a missing binary
 * is an error, so a skipped real-server test can never pass CI unnoticed.
 */
export function dnsmasqBinary(): string | null {
  const found = findDnsmasq();
  if (!found && process.env.GRPC_DNS_WATCH_REQUIRE_DNSMASQ === '1') {
    throw new Error('dnsmasq is required (GRPC_DNS_WATCH_REQUIRE_DNSMASQ=1) but not installed: apt-get install dnsmasq-base');
  }
  return found;
}

/** Path of the dnsmasq binary (PATH, then the sbin dirs), or null. */
function findDnsmasq(): string | null {
  const dirs = [
    ...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''),
    '/usr/sbin',
    '/sbin',
    '/usr/local/sbin',
  ];
  for (const dir of dirs) {
    const candidate = join(dir, 'dnsmasq');
    try {
      accessSync(candidate, fsConstants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Where a dead upstream points by default: nothing listens there, so forwarded queries are never answered. */
export const DEAD_UPSTREAM = Object.freeze({ host: '127.0.0.99', port: 5353 });

export interface DnsmasqOptions {
  /** Loopback address to listen on. Default 127.0.0.1. */
  host?: string;
  /**
   * Port to listen on (UDP and TCP). Default: a free port. 53 needs root (as in a private network namespace).
   * A port just released starts a server in the place of one closed (the clients' resolv.conf unchanged).
   */
  port?: number;
  /**
   * Domains forwarded to an upstream of their own instead of answered here
   * (`--server=/domain/host#port`); `server` defaults to {@link DEAD_UPSTREAM}.
   * Every name under `domain` then gets what that upstream gives: with
   * nothing listening, no answer at all (the asker times out).
   */
  deadUpstreams?: ReadonlyArray<{ domain: string; server?: { host: string; port: number } }>;
  /** TTL of the served records (`--local-ttl`), seconds. Default 1. */
  ttl?: number;
  /** Also log every query to the captured output (`--log-queries`). Default false. */
  logQueries?: boolean;
  /**
   * Log every query to this file instead (`--log-queries --log-facility=FILE`),
   * one line per query with a timestamp to the second: how a benchmark counts
   * queries at the server. The captured output then holds only start-up lines.
   */
  queryLogFile?: string;
  /**
   * Act as a cache in front of this server instead of answering from hosts
   * files: forward every name there and cache answers for their TTL, the way
   * NodeLocal DNSCache or CoreDNS's `cache` plugin does.
   */
  upstream?: { host: string; port: number };
  /** With `upstream`: seconds a NODATA/NXDOMAIN answer without SOA is cached (`--neg-ttl`). Default none. */
  negativeTtl?: number;
  /**
   * With `upstream`: answers kept (`--cache-size`). Default 10,000; 0 makes a
   * forwarder that caches nothing and passes the upstream's TTLs on as they
   * are — a cache taken out of the path, at the same address.
   */
  cacheSize?: number;
  /**
   * TXT records served (`txt-record=` lines of a config file, where quoted
   * strings keep their commas): each record a name and its character-strings
   * (each up to 255 bytes). Fixed for the server's life.
   */
  txtRecords?: ReadonlyArray<{ name: string; strings: readonly string[] }>;
}

/** Result of one raw query: rcode and the address set of the answers. */
export interface RawAnswer {
  rcode: string;
  addresses: string[];
  ttls: number[];
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;
function killAllOnExit(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** A port free for both UDP and TCP on `host` at the time of asking. */
async function freePort(host: string): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = net.createServer();
      server.once('error', reject);
      server.listen(0, host, () => {
        const address = server.address();
        server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
      });
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      socket.once('error', () => {
        socket.close();
        resolve(false);
      });
      socket.bind(port, host, () => socket.close(() => resolve(true)));
    });
    if (port > 0 && udpFree) return port;
  }
  throw new Error(`could not find a port free for both UDP and TCP on ${host}`);
}

/** One UDP query to host:port; resolves null on timeout. */
export function rawQuery(
  host: string,
  port: number,
  name: string,
  type: 'A' | 'AAAA',
  timeoutMs = 500,
): Promise<RawAnswer | null> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const id = Math.floor(Math.random() * 65536);
    const finish = settleOnce(resolve, timeoutMs, () => socket.close());
    socket.on('error', () => finish(null));
    socket.on('message', (msg) => {
      let packet: dnsPacket.Packet;
      try {
        packet = dnsPacket.decode(msg);
      } catch {
        return;
      }
      if (packet.id !== id) return;
      // Too big for UDP (large Services): ask again over TCP, as a resolver would.
      if (((packet.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) {
        // A large answer over TCP costs dnsmasq a fork and the encoding: allow it a few seconds.
        finish(rawTcpQuery(host, port, name, type, Math.max(timeoutMs, 3_000)));
        return;
      }
      finish(rawAnswer(packet, type));
    });
    const query = dnsPacket.encode({
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: 'IN' }],
    });
    socket.send(query, port, host, (err) => {
      if (err) finish(null);
    });
  });
}

/** A resolve function that settles once, with null after `timeoutMs`, closing the socket first. */
function settleOnce(
  resolve: (value: RawAnswer | null | Promise<RawAnswer | null>) => void,
  timeoutMs: number,
  close: () => void,
): (value: RawAnswer | null | Promise<RawAnswer | null>) => void {
  let done = false;
  const finish = (value: RawAnswer | null | Promise<RawAnswer | null>): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    close();
    resolve(value);
  };
  const timer = setTimeout(() => finish(null), timeoutMs);
  return finish;
}

/** The rcode and the addresses of `type` in a decoded reply. */
function rawAnswer(packet: dnsPacket.Packet, type: 'A' | 'AAAA'): RawAnswer {
  const answers = (packet.answers ?? []).flatMap((a) => ((a.type === 'A' || a.type === 'AAAA') && a.type === type ? [a] : []));
  return {
    rcode: (packet as { rcode?: string }).rcode ?? 'UNKNOWN',
    addresses: answers.map((a) => a.data),
    ttls: answers.map((a) => a.ttl ?? -1),
  };
}

/** One query over TCP (RFC 7766 framing) to host:port; resolves null on timeout or error. */
export function rawTcpQuery(host: string, port: number, name: string, type: 'A' | 'AAAA', timeoutMs = 500): Promise<RawAnswer | null> {
  return new Promise((resolve) => {
    const id = Math.floor(Math.random() * 65536);
    const socket = net.connect({ host, port });
    let buffer = Buffer.alloc(0);
    const finish = settleOnce(resolve, timeoutMs, () => socket.destroy());
    socket.on('error', () => finish(null));
    socket.on('connect', () => {
      socket.write(dnsPacket.streamEncode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }));
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 2 || buffer.length < 2 + buffer.readUInt16BE(0)) return;
      let packet: dnsPacket.Packet;
      try {
        packet = dnsPacket.decode(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
      } catch {
        finish(null);
        return;
      }
      finish(rawAnswer(packet, type));
    });
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function sameSet(a: string[], b: string[]): boolean {
  const sa = new Set(a);
  const sb = new Set(b);
  return sa.size === sb.size && [...sa].every((x) => sb.has(x));
}

/** Canonical text form of an address, as dns-packet decodes it. */
export function canonicalAddress(address: string): string {
  if (net.isIPv4(address)) return address;
  return new URL(`http://[${address}]/`).hostname.slice(1, -1);
}

const NAME_RE = /^(?=.{1,253}$)[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?(?:\.[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)*$/;

/** A config file of `txt-record=` lines (quoted, so a string may hold commas and quotes), or /dev/null for none. */
async function txtConfigFile(dir: string, records: ReadonlyArray<{ name: string; strings: readonly string[] }>): Promise<string> {
  if (records.length === 0) return '/dev/null';
  const quote = (text: string): string => `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
  const lines = records.map(({ name, strings }) => {
    if (!NAME_RE.test(name.toLowerCase().replace(/\.$/, ''))) throw new TypeError(`Invalid TXT record name ${JSON.stringify(name)}: expected a DNS name`);
    for (const text of strings) {
      if (Buffer.byteLength(text) > 255 || /[\r\n]/.test(text)) throw new TypeError(`Invalid TXT string for ${name}: at most 255 bytes, one line`);
    }
    return `txt-record=${[name, ...strings.map(quote)].join(',')}\n`;
  });
  const file = join(dir, 'txt.conf');
  await writeFile(file, lines.join(''));
  return file;
}

export class Dnsmasq {
  readonly #child: ChildProcess;
  readonly #dir: string;
  readonly #hostsDir: string;
  readonly #stagingDir: string;
  readonly #output: string[];
  #seq = 0;
  #queue: Promise<unknown> = Promise.resolve();
  #closed: Promise<void> | null = null;

  private constructor(
    readonly host: string,
    readonly port: number,
    child: ChildProcess,
    dir: string,
    output: string[],
  ) {
    this.#child = child;
    this.#dir = dir;
    this.#hostsDir = join(dir, 'hosts.d');
    this.#stagingDir = join(dir, 'staging');
    this.#output = output;
  }

  /** Host and port as a `Nameserver`. */
  get nameserver(): { host: string; port: number } {
    return { host: this.host, port: this.port };
  }

  /** What dnsmasq has logged (stderr/stdout), last lines kept. */
  get output(): string {
    return this.#output.join('\n');
  }

  /** The temp dir holding the hosts files (removed by {@link close}). */
  get directory(): string {
    return this.#dir;
  }

  /** The process id, for diagnostics. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  static async start(options: DnsmasqOptions = {}): Promise<Dnsmasq> {
    const binary = dnsmasqBinary();
    if (!binary) throw new Error('dnsmasq is not installed (looked in PATH and /usr/sbin); install dnsmasq-base');
    const host = options.host ?? '127.0.0.1';
    if (!net.isIP(host)) throw new TypeError(`Invalid host ${JSON.stringify(host)}: expected an IP literal`);
    const ttl = options.ttl ?? 1;
    if (!Number.isInteger(ttl) || ttl < 0) throw new TypeError(`Invalid ttl ${String(ttl)}: expected an integer >= 0`);
    if (options.port !== undefined && (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535)) {
      throw new TypeError(`Invalid port ${String(options.port)}: expected an integer from 1 to 65535`);
    }
    for (const { domain, server } of options.deadUpstreams ?? []) {
      if (typeof domain !== 'string' || !NAME_RE.test(domain.toLowerCase().replace(/\.$/, ''))) {
        throw new TypeError(`Invalid deadUpstreams domain ${JSON.stringify(domain)}: expected a DNS name`);
      }
      if (server && (!net.isIP(server.host) || !Number.isInteger(server.port) || server.port < 1 || server.port > 65535)) {
        throw new TypeError(`Invalid deadUpstreams server for ${domain}: expected { host: IP literal, port: 1..65535 }, got ${JSON.stringify(server)}`);
      }
    }

    const dir = await mkdtemp(join(tmpdir(), 'grpc-dns-watch-dnsmasq-'));
    try {
      await mkdir(join(dir, 'hosts.d'));
      await mkdir(join(dir, 'staging'));
      let lastError: unknown;
      if (options.port !== undefined) return await Dnsmasq.#spawn(binary, host, options.port, ttl, options, dir);
      // A port found free can be taken before dnsmasq binds it: retry on a new one.
      for (let attempt = 0; attempt < 5; attempt++) {
        const port = await freePort(host);
        try {
          return await Dnsmasq.#spawn(binary, host, port, ttl, options, dir);
        } catch (err) {
          lastError = err;
          if (!/in use/i.test(String((err as Error).message))) break;
        }
      }
      throw lastError;
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  static async #spawn(
    binary: string,
    host: string,
    port: number,
    ttl: number,
    options: DnsmasqOptions,
    dir: string,
  ): Promise<Dnsmasq> {
    const args = [
      '--keep-in-foreground',
      `--conf-file=${await txtConfigFile(dir, options.txtRecords ?? [])}`,
      '--no-resolv',
      '--no-hosts',
      '--no-poll',
      '--bind-interfaces',
      `--listen-address=${host}`,
      `--port=${port}`,
      `--local-ttl=${ttl}`,
      '--pid-file=',
      `--hostsdir=${join(dir, 'hosts.d')}`,
      // Answer every name locally (NXDOMAIN/NODATA instead of REFUSED), or forward all of them.
      options.upstream ? `--server=${options.upstream.host}#${options.upstream.port}` : '--local=/#/',
      `--log-facility=${options.queryLogFile ?? '-'}`,
      // More specific than --local=/#/ and --server=upstream, so these domains go to their own upstream.
      // (dnsmasq takes IPv6 servers unbracketed: ::1#5353.)
      ...(options.deadUpstreams ?? []).map(({ domain, server = DEAD_UPSTREAM }) => `--server=/${domain.toLowerCase().replace(/\.$/, '')}/${server.host}#${server.port}`),
    ];
    if (options.upstream) {
      // Room for a fleet's worth of concurrent misses, like CoreDNS forward's max_concurrent 1000 in kubeadm's Corefile (dnsmasq: 150).
      const cacheSize = options.cacheSize ?? 10_000;
      if (!Number.isInteger(cacheSize) || cacheSize < 0) throw new TypeError(`Invalid cacheSize ${String(cacheSize)}: expected an integer >= 0`);
      args.push(`--cache-size=${cacheSize}`, '--dns-forward-max=1000');
      if (options.negativeTtl !== undefined) args.push(`--neg-ttl=${options.negativeTtl}`);
    }
    if (options.logQueries || options.queryLogFile) args.push('--log-queries');
    // As root dnsmasq would switch to `nobody`, which cannot read our temp dir.
    if (typeof process.getuid === 'function' && process.getuid() === 0) args.push('--user=root');

    const output: string[] = [];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    killAllOnExit();
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        output.push(line);
        if (output.length > 200) output.shift();
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    // Set by the listeners below; typed by hand so the loop does not narrow it to null.
    let exited = null as string | null;
    child.once('exit', (code, signal) => {
      running.delete(child);
      exited = `exited with ${signal ?? `code ${String(code)}`}`;
    });
    child.once('error', (err) => {
      running.delete(child);
      exited = `failed to start: ${err.message}`;
    });

    const instance = new Dnsmasq(host, port, child, dir, output);
    const deadline = Date.now() + 5_000;
    for (;;) {
      if (exited !== null) {
        throw new Error(`dnsmasq ${exited} before answering on ${host}:${port}:\n${output.join('\n')}`);
      }
      const answer = await rawQuery(host, port, 'readiness-probe.invalid', 'A', 200);
      if (answer) return instance;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`dnsmasq did not answer on ${host}:${port} within 5000 ms:\n${output.join('\n')}`);
      }
      await sleep(50);
    }
  }

  /**
   * Serve exactly `addresses` (IPv4 and/or IPv6) for `name`; an empty list
   * removes the name. Resolves once dnsmasq answers A and AAAA queries with
   * the new sets; rejects after ~5 s with what it answered instead.
   */
  setHost(name: string, addresses: string[]): Promise<void> {
    return this.#enqueue(async () => {
      const fqdn = this.#checkName(name);
      for (const address of addresses) {
        if (!net.isIP(address)) {
          throw new TypeError(`Invalid address ${JSON.stringify(address)} for ${fqdn}: expected an IP literal`);
        }
      }
      const file = join(this.#hostsDir, fqdn);
      if (addresses.length === 0) {
        await unlink(file).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        });
      } else {
        // Written outside the watched directory, then renamed in: dnsmasq
        // never sees a partial file, and never reads the temp file itself
        // (whose records it would keep after the rename).
        const staged = join(this.#stagingDir, `${fqdn}.${++this.#seq}`);
        await writeFile(staged, addresses.map((a) => `${a} ${fqdn}\n`).join(''));
        await rename(staged, file);
      }
      await this.#waitFor(fqdn, addresses);
    });
  }

  /**
   * Serve many names from one hosts file `file` (replacing what it served),
   * swapped in by one rename: dnsmasq re-reads it once, so every name changes
   * at the same moment. Resolves with that moment (Date.now() just after the
   * rename) once `probe` (default: the first name) is served as written.
   */
  setHosts(file: string, entries: ReadonlyMap<string, readonly string[]>, probe?: string): Promise<number> {
    return this.#enqueue(async () => {
      if (!/^[a-z0-9._-]+$/.test(file)) throw new TypeError(`Invalid hosts file name ${JSON.stringify(file)}`);
      const lines: string[] = [];
      for (const [name, addresses] of entries) {
        const fqdn = this.#checkName(name);
        for (const address of addresses) {
          if (!net.isIP(address)) throw new TypeError(`Invalid address ${JSON.stringify(address)} for ${fqdn}: expected an IP literal`);
          lines.push(`${address} ${fqdn}\n`);
        }
      }
      const staged = join(this.#stagingDir, `${file}.${++this.#seq}`);
      await writeFile(staged, lines.join(''));
      await rename(staged, join(this.#hostsDir, file));
      const at = Date.now();
      const probeName = probe ?? [...entries.keys()][0];
      if (probeName !== undefined) await this.#waitFor(this.#checkName(probeName), [...(entries.get(probeName) ?? [])]);
      return at;
    });
  }

  /** Stop serving `name` (NXDOMAIN afterwards). */
  removeHost(name: string): Promise<void> {
    return this.setHost(name, []);
  }

  /** One raw UDP query to this server. */
  query(name: string, type: 'A' | 'AAAA' = 'A', timeoutMs = 500): Promise<RawAnswer | null> {
    return rawQuery(this.host, this.port, name, type, timeoutMs);
  }

  /** Kill dnsmasq and remove its temp dir. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      const child = this.#child;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
        await exited;
        clearTimeout(timer);
      }
      running.delete(child);
      await rm(this.#dir, { recursive: true, force: true });
    })();
    return this.#closed;
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task, task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #checkName(name: string): string {
    const fqdn = name.toLowerCase().replace(/\.$/, '');
    if (!NAME_RE.test(fqdn)) {
      throw new TypeError(`Invalid name ${JSON.stringify(name)}: expected a DNS name of letters, digits, '-', '_'`);
    }
    return fqdn;
  }

  async #waitFor(fqdn: string, addresses: string[]): Promise<void> {
    const want4 = addresses.filter((a) => net.isIPv4(a));
    const want6 = addresses.filter((a) => net.isIPv6(a)).map(canonicalAddress);
    const started = Date.now();
    let hupSent = false;
    let last = 'no answer';
    // Generous: a large answer goes over TCP, and a loaded machine may take seconds to serve it.
    const deadlineMs = 20_000;
    const describe = (list: readonly string[]): string => (list.length > 6 ? `${list.slice(0, 5).join(', ')}, … (${list.length} in all)` : list.join(', '));
    while (Date.now() - started < deadlineMs) {
      if (this.#child.exitCode !== null || this.#child.signalCode !== null) {
        throw new Error(`dnsmasq is not running (wanted ${fqdn} -> [${addresses.join(', ')}]):\n${this.output}`);
      }
      const [a, aaaa] = await Promise.all([this.query(fqdn, 'A', 2_000), this.query(fqdn, 'AAAA', 2_000)]);
      if (a && aaaa) {
        if (sameSet(a.addresses, want4) && sameSet(aaaa.addresses, want6)) return;
        last = `A ${a.rcode} [${describe(a.addresses)}], AAAA ${aaaa.rcode} [${describe(aaaa.addresses)}]`;
      }
      // inotify should have done it by now; make dnsmasq re-read its hostsdir.
      if (!hupSent && Date.now() - started > 1_000) {
        hupSent = true;
        this.#child.kill('SIGHUP');
      }
      await sleep(25);
    }
    throw new Error(
      `dnsmasq did not serve ${fqdn} -> [${describe(addresses)}] within ${deadlineMs} ms; last answer: ${last}\n${this.output}`,
    );
  }
}
