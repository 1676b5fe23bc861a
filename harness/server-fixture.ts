/**
 * The test DNS server with a resolv.conf that names it: what most
 * integration tests start with. The machine's own nameserver is never
 * asked: every resolv.conf written here names only the server on loopback.
 *
 * - {@link startDnsServer}: one server and its resolv.conf, closed by the
 *   caller (a concurrent test closes it in `finally` or its context's
 *   `onTestFinished`).
 * - {@link dnsServerForFile}: the same, started before a file's tests and
 *   closed after them.
 * - {@link serverFixture}: servers started per test, closed after each
 *   test with everything else the test registered, then a check that no
 *   socket is left open.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { DnsTestServer, type DnsTestServerOptions } from './dns-server.js';
import { waitForHandlesAtMost } from './resolver-helpers.js';

export interface DnsServerSetup {
  server: DnsTestServer;
  /** A temporary folder of the setup's own, removed by close(). */
  dir: string;
  /** `nameserver <server>` and then the `resolvConf` lines asked for. */
  resolvConfPath: string;
  /** Another resolv.conf in `dir`, named `file`, naming the server and then `lines`; its path. */
  writeResolvConf: (file: string, lines?: string) => Promise<string>;
  /** A file in `dir` with `text` (a hosts file, a resolv.conf naming other servers); its path. */
  writeFile: (file: string, text: string) => Promise<string>;
  close: () => Promise<void>;
}

export interface DnsServerSetupOptions {
  /**
   * Lines after the nameserver line (`options attempts:1`, `search …`).
   * Default none: glibc's timeout and attempts (5 s, 2), as in a pod.
   */
  resolvConf?: string;
  /** How to start the server (a host, no TCP, …). */
  server?: DnsTestServerOptions;
  /** Name of the temporary folder, for a reader of /tmp. */
  label?: string;
}

/** Start a DnsTestServer and write a resolv.conf naming it. */
export async function startDnsServer(options: DnsServerSetupOptions = {}): Promise<DnsServerSetup> {
  const server = await DnsTestServer.start(options.server);
  let dir: string;
  try {
    dir = await mkdtemp(path.join(tmpdir(), `grpc-dns-watch-${options.label ?? 'test'}-`));
  } catch (error) {
    await server.close();
    throw error;
  }
  const put = async (file: string, text: string): Promise<string> => {
    const target = path.join(dir, file);
    await writeFile(target, text);
    return target;
  };
  const writeResolvConf = (file: string, lines = ''): Promise<string> =>
    put(file, `nameserver ${server.address}\n${lines}${lines && !lines.endsWith('\n') ? '\n' : ''}`);
  const resolvConfPath = await writeResolvConf('resolv.conf', options.resolvConf);
  return {
    server,
    dir,
    resolvConfPath,
    writeResolvConf,
    writeFile: put,
    close: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * {@link startDnsServer} before the file's tests (beforeAll), closed after
 * them (afterAll). The fields of what it returns are there once beforeAll
 * has run: read them inside tests and hooks, not at module level.
 */
export function dnsServerForFile(options: DnsServerSetupOptions = {}): DnsServerSetup {
  let setup: DnsServerSetup | undefined;
  beforeAll(async () => {
    setup = await startDnsServer(options);
  });
  afterAll(async () => {
    await setup?.close();
    setup = undefined;
  });
  const started = (): DnsServerSetup => {
    if (!setup) throw new Error('dnsServerForFile: read its fields inside a test or hook, after beforeAll has run');
    return setup;
  };
  return {
    get server() {
      return started().server;
    },
    get dir() {
      return started().dir;
    },
    get resolvConfPath() {
      return started().resolvConfPath;
    },
    writeResolvConf: (file, lines) => started().writeResolvConf(file, lines),
    writeFile: (file, text) => started().writeFile(file, text),
    close: () => started().close(),
  };
}

/**
 * Per-test harness DNS servers that hold `name` (A 10.0.0.1, AAAA fd00::1),
 * with a cleanup list run after each test (last added first), then a check
 * that no socket is left open. Call once at the top of a test file.
 * `startWithResolvConf` also writes a resolv.conf naming the server.
 */
export function serverFixture(name: string): {
  start: () => Promise<DnsTestServer>;
  startWithResolvConf: (options?: DnsServerSetupOptions) => Promise<DnsServerSetup>;
  cleanups: Array<() => unknown>;
} {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await waitForHandlesAtMost({ udp: 0, tcp: 0, timeout: Infinity });
  });
  const startWithResolvConf = async (options?: DnsServerSetupOptions): Promise<DnsServerSetup> => {
    const setup = await startDnsServer(options);
    setup.server.setRecords(name, { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    cleanups.push(() => setup.close());
    return setup;
  };
  return {
    cleanups,
    startWithResolvConf,
    start: async () => {
      const server = await DnsTestServer.start();
      server.setRecords(name, { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
      cleanups.push(() => server.close());
      return server;
    },
  };
}
