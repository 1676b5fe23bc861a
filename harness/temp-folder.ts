/**
 * Temporary folders for tests' files, removed at the end, and the text of a
 * resolv.conf naming the servers a test gives (dnsmasq, test servers, a
 * dead port): never the machine's own nameserver. Touches only the file
 * system, so unit tests use it too.
 *
 * - {@link tempFolder}: a folder the caller closes.
 * - {@link tempFolderForTests}: one made before the tests of a file (or
 *   describe block) and removed after them.
 * - {@link resolvConfText}: a resolv.conf's text, for a resolver given it
 *   parsed; `write` of a folder puts the same in a file.
 *
 * harness/server-fixture.ts builds the DNS server fixtures on these.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll } from 'vitest';

/** What a `nameserver` line names: a server's `{ host, port }` (`host:port`, `[v6]:port`), or the text as written. */
export type NameserverText = { readonly host: string; readonly port: number } | string;

/** The `nameserver` line for `nameserver`. */
function nameserverLine(nameserver: NameserverText): string {
  if (typeof nameserver === 'string') return `nameserver ${nameserver}`;
  const { host, port } = nameserver;
  return host.includes(':') ? `nameserver [${host}]:${port}` : `nameserver ${host}:${port}`;
}

/** A resolv.conf: a `nameserver` line for each of `nameservers`, then `lines` (options, search), ending in a newline. */
export function resolvConfText(nameservers: NameserverText | readonly NameserverText[], lines = ''): string {
  const list: readonly NameserverText[] = Array.isArray(nameservers) ? nameservers : [nameservers as NameserverText];
  return [...list.map(nameserverLine), ...(lines ? [lines.replace(/\n$/, '')] : [])].map((line) => `${line}\n`).join('');
}

/** A temporary folder for a test's files: resolv.conf files, hosts files. */
export interface TempFolder {
  readonly dir: string;
  /** `file` in the folder: a resolv.conf naming `nameservers`, then `lines` ({@link resolvConfText}); its path. */
  write: (file: string, nameservers: NameserverText | readonly NameserverText[], lines?: string) => Promise<string>;
  /** `file` in the folder with `text` (a hosts file, a resolv.conf as malformed as the test needs); its path. */
  writeFile: (file: string, text: string) => Promise<string>;
  /** Removes the folder and what is in it. */
  close: () => Promise<void>;
}

/** A new temporary folder, `grpc-dns-watch-<label>-…` in the system's temp dir. */
export async function tempFolder(label = 'test'): Promise<TempFolder> {
  const dir = await mkdtemp(path.join(tmpdir(), `grpc-dns-watch-${label}-`));
  const put = async (file: string, text: string): Promise<string> => {
    const target = path.join(dir, file);
    await writeFile(target, text);
    return target;
  };
  return {
    dir,
    write: (file, nameservers, lines) => put(file, resolvConfText(nameservers, lines)),
    writeFile: put,
    close: () => rm(dir, { recursive: true, force: true }),
  };
}

/**
 * `start()` before the tests of the file, or of the describe block, it is
 * called in (beforeAll), closed after them (afterAll); the getter returned
 * throws when read before beforeAll ran.
 */
export function forTests<T extends { close(): Promise<void> }>(what: string, start: () => Promise<T>): () => T {
  let value: T | undefined;
  beforeAll(async () => {
    value = await start();
  });
  afterAll(async () => {
    await value?.close();
    value = undefined;
  });
  return () => {
    if (!value) throw new Error(`${what}: read its fields inside a test or hook, after beforeAll has run`);
    return value;
  };
}

/**
 * {@link tempFolder} before the tests of the file, or of the describe block,
 * it is called in, removed after them; read `dir` inside tests and hooks,
 * not at module level.
 */
export function tempFolderForTests(label?: string): TempFolder {
  const made = forTests('tempFolderForTests', () => tempFolder(label));
  return {
    get dir() {
      return made().dir;
    },
    write: (file, nameservers, lines) => made().write(file, nameservers, lines),
    writeFile: (file, text) => made().writeFile(file, text),
    close: () => made().close(),
  };
}
