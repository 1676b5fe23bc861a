/**
 * The test DNS server with a resolv.conf that names it: what most
 * integration tests start with. The machine's own nameserver is never
 * asked: every resolv.conf written here names only the servers a test
 * gives it, on loopback.
 *
 * - {@link startDnsServer}: one server and its resolv.conf, closed by the
 *   caller (a concurrent test closes it in `finally` or its context's
 *   `onTestFinished`).
 * - {@link dnsServerForFile}: the same, started before a file's tests and
 *   closed after them.
 * - {@link serverFixture}: servers started per test, closed after each
 *   test with everything else the test registered, then a check that no
 *   socket is left open.
 *
 * resolv.conf files naming other servers (dnsmasq, several test servers, a
 * dead port) are written with harness/temp-folder.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach } from 'vitest';
import { DnsTestServer, type DnsTestServerOptions, type RecordSet } from './dns-server.js';
import { waitForHandlesAtMost } from './resolver-helpers.js';
import { forTests, tempFolder, type TempFolder } from './temp-folder.js';

export interface DnsServerSetup {
  /** The server; after {@link DnsServerSetup.restart}, the one started again. */
  readonly server: DnsTestServer;
  /** A temporary folder of the setup's own, removed by close(). */
  readonly dir: string;
  /** `nameserver <server>` and then the `resolvConf` lines asked for. */
  readonly resolvConfPath: string;
  /** Another resolv.conf in `dir`, named `file`, naming the server and then `lines`; its path. */
  writeResolvConf: (file: string, lines?: string) => Promise<string>;
  /** A file in `dir` with `text` (a hosts file, a resolv.conf naming other servers); its path. */
  writeFile: (file: string, text: string) => Promise<string>;
  /**
   * The server, closed by the test (a "server down" fault), started again on
   * its port with no records (the port may need a moment); the new server.
   */
  restart: () => Promise<DnsTestServer>;
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

/** Tries and pause of {@link DnsServerSetup.restart}: a port just released may take a moment to bind again. */
const RESTART_TRIES = 20;
const RESTART_PAUSE_MS = 50;

/** A server started again on `port`. */
async function startAgain(port: number): Promise<DnsTestServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < RESTART_TRIES; attempt++) {
    try {
      return await DnsTestServer.start({ port });
    } catch (error) {
      lastError = error;
      await sleep(RESTART_PAUSE_MS);
    }
  }
  throw new Error(`the DNS test server could not come back on port ${port}: ${String(lastError)}`);
}

/** Start a DnsTestServer and write a resolv.conf naming it. */
export async function startDnsServer(options: DnsServerSetupOptions = {}): Promise<DnsServerSetup> {
  let server = await DnsTestServer.start(options.server);
  let folder: TempFolder;
  try {
    folder = await tempFolder(options.label);
  } catch (error) {
    await server.close();
    throw error;
  }
  const writeResolvConf = (file: string, lines?: string): Promise<string> => folder.write(file, server, lines);
  const resolvConfPath = await writeResolvConf('resolv.conf', options.resolvConf);
  return {
    get server() {
      return server;
    },
    dir: folder.dir,
    resolvConfPath,
    writeResolvConf,
    writeFile: folder.writeFile,
    restart: async () => {
      await server.close();
      server = await startAgain(server.port);
      return server;
    },
    close: async () => {
      await server.close();
      await folder.close();
    },
  };
}

/**
 * {@link startDnsServer} before the file's tests (beforeAll), closed after
 * them (afterAll). The fields of what it returns are there once beforeAll
 * has run: read them inside tests and hooks, not at module level.
 */
export function dnsServerForFile(options: DnsServerSetupOptions = {}): DnsServerSetup {
  const started = forTests('dnsServerForFile', () => startDnsServer(options));
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
    restart: () => started().restart(),
    close: () => started().close(),
  };
}

/**
 * Per-test harness DNS servers, holding `name` (with `records`, by default
 * A 10.0.0.1, AAAA fd00::1) when one is given, with a cleanup list run after
 * each test (last added first), then a check that no socket is left open.
 * Call once at the top of a test file. `startWithResolvConf` also writes a
 * resolv.conf naming the server.
 */
export function serverFixture(name?: string, records: RecordSet = { A: ['10.0.0.1'], AAAA: ['fd00::1'] }): {
  start: (options?: DnsTestServerOptions) => Promise<DnsTestServer>;
  startWithResolvConf: (options?: DnsServerSetupOptions) => Promise<DnsServerSetup>;
  cleanups: Array<() => unknown>;
} {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await waitForHandlesAtMost({ udp: 0, tcp: 0, timeout: Infinity });
  });
  const hold = (server: DnsTestServer): void => {
    if (name !== undefined) server.setRecords(name, records);
  };
  return {
    cleanups,
    startWithResolvConf: async (options) => {
      const setup = await startDnsServer(options);
      hold(setup.server);
      cleanups.push(() => setup.close());
      return setup;
    },
    start: async (options) => {
      const server = await DnsTestServer.start(options);
      hold(server);
      cleanups.push(() => server.close());
      return server;
    },
  };
}
