/**
 * /etc/hosts, consulted before DNS like glibc's `hosts: files dns`.
 *
 * A name found in the file with addresses of the asked family is answered
 * from the file; a name that is absent — or present with only the other
 * family — gives `null`, so DNS is asked (glibc's files backend returns
 * NOTFOUND in both cases and nsswitch falls through to dns).
 */
import { isIP } from 'node:net';
import { canonicalName } from './names.js';
import { FileReadError, formatBytes, readTextFile, sameIdentity, statRegular, type FileIdentity } from './text-file.js';
import type { Family, ResolvedAddress } from './types.js';
import { systemTimers, type Timers } from './timers.js';

export const DEFAULT_HOSTS_PATH = '/etc/hosts';

/**
 * Bytes of a hosts file read. Blocklists in hosts format are the big real
 * ones (the largest popular lists are a few MB, ~200k lines); 32 MiB is ten
 * times that and bounds the parsed table to a few hundred MB in the worst
 * case. Past the cap the first 32 MiB are used and `lastError` says so.
 */
export const MAX_HOSTS_BYTES = 32 * 1024 * 1024;

export interface HostsEntry {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * Parse hosts(5) text into name (lowercased, trailing dot removed) → addresses,
 * in file order. `#` comments, blank lines and lines whose address is not an
 * IPv4/IPv6 literal are skipped; a line may carry several names (canonical
 * name and aliases are treated alike); repeated name/address pairs are kept once.
 *
 * Linear in the size of the text: de-duplication goes through one Set of
 * name/address pairs (dropped after parsing), and entries for one address
 * are one shared object (a blocklist maps 100k names to 0.0.0.0).
 */
export function parseHosts(text: string): Map<string, HostsEntry[]> {
  const hosts = new Map<string, HostsEntry[]>();
  const entries = new Map<string, HostsEntry>();
  const seen = new Set<string>();
  for (const rawLine of String(text).split(/\r?\n|\r/)) {
    const hash = rawLine.indexOf('#');
    const line = (hash < 0 ? rawLine : rawLine.slice(0, hash)).trim();
    if (line === '') continue;
    const [address = '', ...names] = line.split(/\s+/);
    let entry = entries.get(address);
    if (!entry) {
      const family = isIP(address);
      if (family !== 4 && family !== 6) continue;
      entry = Object.freeze({ address, family });
      entries.set(address, entry);
    }
    for (const rawName of names) {
      const name = canonicalName(rawName);
      if (name === '') continue;
      const pair = `${name} ${address}`;
      if (seen.has(pair)) continue;
      seen.add(pair);
      const list = hosts.get(name);
      if (list) list.push(entry);
      else hosts.set(name, [entry]);
    }
  }
  return hosts;
}

/** One parsed version of one file, shared by every HostsFile that reads that path. */
interface HostsTable {
  readonly identity: FileIdentity;
  readonly entries: Map<string, HostsEntry[]>;
  /** Set when the file was over {@link MAX_HOSTS_BYTES}. */
  readonly warning: string | undefined;
}

/**
 * The last table parsed per path, held weakly: every set of DNS settings
 * (each with its own HostsFile) shares one parse of /etc/hosts, and a table
 * no HostsFile holds any more is collected.
 */
const tables = new Map<string, WeakRef<HostsTable>>();
const forget = new FinalizationRegistry<string>((path) => {
  if (tables.get(path)?.deref() === undefined) tables.delete(path);
});
let parses = 0;

/** Hosts files parsed so far in this process: one per version of a file, however many settings read it. */
export function hostsParseCount(): number {
  return parses;
}

/** Reads in progress per path, so concurrent first lookups from many settings read once. */
const reading = new Map<string, Promise<HostsTable>>();

async function loadTable(path: string, identity: FileIdentity, maxBytes: number): Promise<HostsTable> {
  const cached = tables.get(path)?.deref();
  if (cached && sameIdentity(cached.identity, identity)) return cached;
  let pending = reading.get(path);
  if (!pending) {
    pending = (async () => {
      const file = await readTextFile(path, maxBytes);
      parses++;
      const table: HostsTable = {
        identity: file.identity,
        entries: parseHosts(file.text),
        warning: file.truncated ? `${path}: larger than ${formatBytes(maxBytes)}; only its first ${formatBytes(maxBytes)} are used` : undefined,
      };
      tables.set(path, new WeakRef(table));
      forget.register(table, path);
      return table;
    })().finally(() => reading.delete(path));
    reading.set(path, pending);
  }
  return pending;
}

export interface HostsFileOptions {
  /**
   * At most one stat() of the file per this many ms; lookups in between use
   * what was read last. Default 1000.
   */
  statIntervalMs?: number;
  /** Clock for the stat interval: the library's one monotonic clock (timers.ts) unless given. */
  clock?: Pick<Timers, 'now'>;
  /** Bytes read at most; default {@link MAX_HOSTS_BYTES}. */
  maxBytes?: number;
}

/**
 * A lazily read, change-tracking view of a hosts file. Never throws: an
 * unreadable or missing file, or one that is not a regular file (a FIFO is
 * never opened for a blocking read), behaves as an empty one and sets
 * {@link lastError}.
 */
export class HostsFile {
  /** Why the file could not be (fully) used last time, naming the path, for tracing. */
  lastError?: string;

  readonly #statIntervalMs: number;
  readonly #clock: Pick<Timers, 'now'>;
  readonly #maxBytes: number;
  #table: HostsTable | null = null;
  #checkedAt = 0;
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
    const maxBytes = options.maxBytes ?? MAX_HOSTS_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new TypeError(`Invalid maxBytes ${String(maxBytes)}: expected a whole number of bytes >= 1`);
    }
    this.#statIntervalMs = interval;
    this.#clock = options.clock ?? systemTimers;
    this.#maxBytes = maxBytes;
  }

  /** When the next lookup will stat the file again (clock ms); undefined before the first read. */
  get nextCheckAt(): number | undefined {
    return this.#loaded ? this.#checkedAt + this.#statIntervalMs : undefined;
  }

  /**
   * Addresses of `name` (case-insensitive, trailing dot ignored) of the asked
   * family (0 = both), with `ttl: Infinity`; `null` when the file has none,
   * so that DNS is asked.
   */
  async lookup(name: string, family: Family): Promise<ResolvedAddress[] | null> {
    await this.#refresh();
    const entries = this.#table?.entries.get(canonicalName(name));
    if (!entries) return null;
    const matching = entries.filter((e) => family === 0 || e.family === family);
    if (matching.length === 0) return null;
    return matching.map((e) => ({ address: e.address, family: e.family, ttl: Infinity }));
  }

  #refresh(): Promise<void> {
    if (this.#loaded && this.#clock.now() - this.#checkedAt < this.#statIntervalMs) return Promise.resolve();
    // Concurrent lookups share one stat/read.
    this.#refreshing ??= this.#doRefresh().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #doRefresh(): Promise<void> {
    try {
      const identity = await statRegular(this.path);
      if (!this.#table || !sameIdentity(this.#table.identity, identity)) {
        this.#table = await loadTable(this.path, identity, this.#maxBytes);
      }
      this.lastError = this.#table.warning;
    } catch (err) {
      this.#table = null;
      const code = err instanceof FileReadError ? err.code : String(err);
      this.lastError = code === 'ENOTREG' ? `${(err as FileReadError).message}; expected a file` : `${this.path}: ${code}`;
    } finally {
      this.#loaded = true;
      this.#checkedAt = this.#clock.now();
    }
  }
}
