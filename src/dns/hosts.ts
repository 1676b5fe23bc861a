/**
 * /etc/hosts, consulted before DNS like glibc's `hosts: files dns`.
 *
 * A name found in the file with addresses of the asked family is answered
 * from the file; a name that is absent — or present with only the other
 * family — gives `null`, so DNS is asked (glibc's files backend returns
 * NOTFOUND in both cases and nsswitch falls through to dns).
 */
import { readFile, stat } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Family, ResolvedAddress } from './types.js';

export const DEFAULT_HOSTS_PATH = '/etc/hosts';

export interface HostsEntry {
  address: string;
  family: 4 | 6;
}

/** Lowercase, one trailing dot removed. */
function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/**
 * Parse hosts(5) text into name (lowercased, trailing dot removed) → addresses,
 * in file order. `#` comments, blank lines and lines whose address is not an
 * IPv4/IPv6 literal are skipped; a line may carry several names (canonical
 * name and aliases are treated alike); repeated name/address pairs are kept once.
 */
export function parseHosts(text: string): Map<string, HostsEntry[]> {
  const hosts = new Map<string, HostsEntry[]>();
  for (const rawLine of String(text).split(/\r?\n|\r/)) {
    const line = rawLine.replace(/#.*$/, '').trim();
    if (line === '') continue;
    const [address = '', ...names] = line.split(/\s+/);
    const family = isIP(address);
    if (family !== 4 && family !== 6) continue;
    for (const rawName of names) {
      const name = normalizeName(rawName);
      if (name === '') continue;
      let list = hosts.get(name);
      if (!list) {
        list = [];
        hosts.set(name, list);
      }
      if (!list.some((e) => e.address === address)) list.push({ address, family });
    }
  }
  return hosts;
}

interface FileIdentity {
  mtimeMs: number;
  ctimeMs: number;
  size: number;
  ino: number;
}

export interface HostsFileOptions {
  /**
   * At most one stat() of the file per this many ms; lookups in between use
   * what was read last. Default 1000.
   */
  statIntervalMs?: number;
}

/**
 * A lazily read, change-tracking view of a hosts file. Never throws: an
 * unreadable or missing file behaves as an empty one and sets {@link lastError}.
 */
export class HostsFile {
  /** Why the file could not be read last time (path and error code), for tracing. */
  lastError?: string;

  readonly #statIntervalMs: number;
  #entries: Map<string, HostsEntry[]> = new Map();
  #identity: FileIdentity | null = null;
  #checkedAt = -Infinity;
  #loaded = false;
  #refreshing: Promise<void> | null = null;

  constructor(
    readonly path: string = DEFAULT_HOSTS_PATH,
    options: HostsFileOptions = {},
  ) {
    const interval = options.statIntervalMs ?? 1000;
    if (!Number.isFinite(interval) || interval < 0) {
      throw new TypeError(`Invalid statIntervalMs ${String(interval)}: expected a finite number >= 0`);
    }
    this.#statIntervalMs = interval;
  }

  /**
   * Addresses of `name` (case-insensitive, trailing dot ignored) of the asked
   * family (0 = both), with `ttl: Infinity`; `null` when the file has none,
   * so that DNS is asked.
   */
  async lookup(name: string, family: Family): Promise<ResolvedAddress[] | null> {
    await this.#refresh();
    const entries = this.#entries.get(normalizeName(name));
    if (!entries) return null;
    const matching = entries.filter((e) => family === 0 || e.family === family);
    if (matching.length === 0) return null;
    return matching.map((e) => ({ address: e.address, family: e.family, ttl: Infinity }));
  }

  #refresh(): Promise<void> {
    if (this.#loaded && Date.now() - this.#checkedAt < this.#statIntervalMs) return Promise.resolve();
    // Concurrent lookups share one stat/read.
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<void> {
    this.#checkedAt = Date.now();
    try {
      const st = await stat(this.path);
      const identity: FileIdentity = { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, ino: st.ino };
      if (this.#loaded && this.#identity && sameIdentity(this.#identity, identity)) return;
      const text = await readFile(this.path, 'utf8');
      this.#entries = parseHosts(text);
      this.#identity = identity;
      this.lastError = undefined;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException)?.code ?? String(err);
      this.#entries = new Map();
      this.#identity = null;
      this.lastError = `${this.path}: ${code}`;
    } finally {
      this.#loaded = true;
      this.#checkedAt = Date.now();
    }
  }
}

function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.ino === b.ino;
}
