/**
 * /etc/hosts, consulted before DNS like glibc's `hosts: files dns`.
 *
 * A name found in the file with addresses of the asked family is answered
 * from the file; a name that is absent — or present with only the other
 * family — gives `null`, so DNS is asked (glibc's files backend returns
 * NOTFOUND in both cases and nsswitch falls through to dns).
 *
 * Bounded work per file. A pod's hosts file is a few lines, but a hosts
 * file can be a blocklist of hundreds of thousands of names, and any file up
 * to the size cap is read. A table of every name of a 32 MiB file of short
 * names held 364 MB of heap (1.6 GB peak RSS) and stalled the event loop
 * 15-22 s while it was built — on every change of the file (issue 20; the
 * figures in docs/reliability.md, from scripts/hosts-cost.ts). Three ways
 * out were measured there: parsing in slices bounds the stall but keeps the
 * table; a lower cap bounds both only far below the blocklists the cap is
 * for (1 MiB still stalled 0.8 s and kept 11 MB); keeping only the names
 * asked bounds the memory by the names watched. So, the last two together:
 * - the file is read in slices of {@link SCAN_SLICE_BYTES}, an asynchronous
 *   read between two slices (the event loop runs there), never held whole,
 *   and scanned in steps with at most SCAN_TURN_MS of scanning per turn of
 *   the event loop (`BoundedTurns` in hosts-scanner.ts);
 * - a file that ends within {@link WHOLE_TABLE_BYTES} (every real
 *   /etc/hosts) is kept as a table of every name, as before: a lookup is a
 *   Map read, and the first lookup of a name costs nothing more;
 * - a longer file keeps the names of its first {@link WHOLE_TABLE_BYTES} and
 *   the names asked: a name asked that is not known yet waits for a scan of
 *   the file for it — the names asked in one turn, or while a scan runs,
 *   share the next scan — and is then known (found or absent) for that
 *   version of the file. A new version is scanned once for every name asked
 *   of the one before.
 * A version of a file is read once per process and shared by every set of
 * DNS settings (the table below is per path and version).
 */
import { BoundedTurns, HostsScanner, addEntry, type HostsEntry } from './hosts-scanner.js';
import { canonicalName } from './names.js';
import { FileReadError, formatBytes, readFileInSlices, sameIdentity, statRegular, type FileIdentity } from './text-file.js';
import type { Family, ResolvedAddress } from './types.js';
import { systemTimers, type Timers } from './timers.js';

const DEFAULT_HOSTS_PATH = '/etc/hosts';

/**
 * Bytes of a hosts file read. Blocklists in hosts format are the big real
 * ones (the largest popular lists are a few MB, ~200k lines); 32 MiB is ten
 * times that. Reading it costs a scan in slices, and memory for the names
 * asked only (see above). Past the cap the first 32 MiB are used, up to the
 * last whole line, and `lastWarning` says so.
 */
export const MAX_HOSTS_BYTES = 32 * 1024 * 1024;

/**
 * A file that ends within this many bytes is kept whole, every name in a
 * table; of a longer one only the names of this first part and the names
 * asked are kept. 64 KiB is about 3,000 lines, a few hundred kB of table
 * and one slice to scan: far more than a container's or a workstation's
 * /etc/hosts, far less than a blocklist.
 */
export const WHOLE_TABLE_BYTES = 64 * 1024;

/**
 * Bytes read at a time. One slice of short distinct names (the worst case:
 * about 3,300 lines) scans in about 1 ms once the scanner is compiled;
 * smaller reads would only add reads (512 for a 32 MiB file already), and
 * the work per turn is bounded by SCAN_TURN_MS (hosts-scanner.ts) whatever
 * the slice.
 */
export const SCAN_SLICE_BYTES = 64 * 1024;

/** What the last scan of a hosts file did: for tests and measurements (scripts/hosts-cost.ts). */
interface HostsScanReport {
  path: string;
  /** Bytes scanned, the slices they were read in, and the steps they were scanned in. */
  bytes: number;
  slices: number;
  largestSliceBytes: number;
  steps: number;
  largestStepBytes: number;
  /** Times the scan let the event loop run within a slice, after SCAN_TURN_MS of scanning in one turn. */
  yields: number;
  /** Names asked for by this scan. */
  namesWanted: number;
  /** Names the version's table holds after it: the first part's and the names asked that are in the file. */
  namesKept: number;
  /** The file ended within WHOLE_TABLE_BYTES: every name is known. */
  whole: boolean;
}

let lastScan: HostsScanReport | undefined;

/** The last scan of a hosts file in this process, if any. */
export function lastHostsScan(): HostsScanReport | undefined {
  return lastScan;
}

let parses = 0;
let scans = 0;

/** Hosts files parsed so far in this process: one per version of a file, however many settings read it. */
export function hostsParseCount(): number {
  return parses;
}

/** Scans of hosts files so far in this process: a version's first, and one per batch of names asked that were not known. */
export function hostsScanCount(): number {
  return scans;
}

/**
 * One version of one hosts file, shared by every HostsFile that reads that
 * path: every name of it when the file is small (`whole`), otherwise the
 * names of its first part and the names asked (see the top of this file).
 */
class HostsTable {
  readonly entries = new Map<string, HostsEntry[]>();
  /** Names scanned for and not in this version. */
  private readonly absent = new Set<string>();
  /** Names looked up through this table: a new version of the file is scanned for them at once. */
  readonly asked = new Set<string>();
  whole = false;
  identity: FileIdentity | undefined;
  /** Set when the file was over the size cap. */
  warning: string | undefined;
  /** The scan running, and the names it is for. */
  private running: { names: Set<string>; done: Promise<void> } | undefined;
  /** Names waiting for the next scan, and that scan (it starts when the running one ends). */
  private waiting: { names: Set<string>; done: Promise<void> } | undefined;

  constructor(
    readonly path: string,
    private readonly maxBytes: number,
    private readonly clock: Pick<Timers, 'now'>,
  ) {}

  /** The first scan of this version: the names of its first part, and `wanted` (asked of the version before). */
  async load(wanted: ReadonlySet<string>): Promise<void> {
    const names = new Set(wanted);
    const done = this.scan(names, true);
    this.running = { names, done };
    try {
      await done;
    } finally {
      if (this.running?.done === done) this.running = undefined;
    }
  }

  /** Addresses of `name` (canonical), or undefined; scans the file for it first if it is not known yet. */
  async lookup(name: string): Promise<HostsEntry[] | undefined> {
    this.asked.add(name);
    if (this.whole) return this.entries.get(name);
    if (!this.entries.has(name) && !this.absent.has(name)) {
      const running = this.running;
      await (running?.names.has(name) ? running.done : this.queue(name));
    }
    return this.entries.get(name);
  }

  /** Wait for the next scan, adding `name` to it. */
  private queue(name: string): Promise<void> {
    if (!this.waiting) {
      const next = { names: new Set<string>(), done: Promise.resolve() };
      const before = this.running?.done;
      next.done = (async () => {
        // Names asked in this turn (many watchers start together) share the scan.
        await Promise.allSettled([before, new Promise<void>((resolve) => setImmediate(resolve))]);
        this.waiting = undefined;
        this.running = next;
        try {
          await this.scan(next.names, false);
        } finally {
          if (this.running === next) this.running = undefined;
        }
      })();
      this.waiting = next;
    }
    this.waiting.names.add(name);
    return this.waiting.done;
  }

  private async scan(names: Set<string>, first: boolean): Promise<void> {
    // The first scan keeps its first part's names, and keeps following them through the rest of the file.
    const keep = first
      ? (name: string, lineStart: number) => names.has(name) || lineStart < WHOLE_TABLE_BYTES || this.entries.has(name)
      : (name: string) => names.has(name);
    const scanner = new HostsScanner(keep, (name, entry) => addEntry(this.entries, name, entry));
    const work = new BoundedTurns(this.clock);
    const read = await readFileInSlices(this.path, this.maxBytes, SCAN_SLICE_BYTES, (slice) => work.scan(slice, scanner));
    scanner.finish(read.truncated);
    scans++;
    if (first) {
      parses++;
      this.identity = read.identity;
      this.whole = read.bytes <= WHOLE_TABLE_BYTES;
      this.warning = read.truncated ? `${this.path}: larger than ${formatBytes(this.maxBytes)}; only its first ${formatBytes(this.maxBytes)} are used` : undefined;
    }
    for (const name of names) if (!this.entries.has(name)) this.absent.add(name);
    lastScan = {
      path: this.path,
      bytes: read.bytes,
      slices: read.slices,
      largestSliceBytes: work.largestSliceBytes,
      steps: work.steps,
      largestStepBytes: work.largestStepBytes,
      yields: work.yields,
      namesWanted: names.size,
      namesKept: this.entries.size,
      whole: this.whole,
    };
  }
}

/**
 * The last table loaded per path, held weakly: every set of DNS settings
 * (each with its own HostsFile) shares one read of /etc/hosts, and a table
 * no HostsFile holds any more is collected.
 */
const tables = new Map<string, WeakRef<HostsTable>>();
const forget = new FinalizationRegistry<string>((path) => {
  if (tables.get(path)?.deref() === undefined) tables.delete(path);
});

/** Loads in progress per path, so concurrent first lookups from many settings read once. */
const reading = new Map<string, Promise<HostsTable>>();

async function loadTable(path: string, identity: FileIdentity, maxBytes: number, clock: Pick<Timers, 'now'>): Promise<HostsTable> {
  const cached = tables.get(path)?.deref();
  if (cached?.identity && sameIdentity(cached.identity, identity)) return cached;
  let pending = reading.get(path);
  if (!pending) {
    pending = (async () => {
      const table = new HostsTable(path, maxBytes, clock);
      // A new version: scanned at once for the names the last one was asked.
      await table.load(cached?.asked ?? new Set());
      tables.set(path, new WeakRef(table));
      forget.register(table, path);
      return table;
    })().finally(() => reading.delete(path));
    reading.set(path, pending);
  }
  return pending;
}

interface HostsFileOptions {
  /**
   * At most one stat() of the file per this many ms; lookups in between use
   * what was read last. Default 1000.
   */
  statIntervalMs?: number;
  /** Clock for the stat interval and a scan's time per turn: the library's one monotonic clock (timers.ts) unless given. */
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
  /** Why the file could not be used last time, naming the path, for tracing. */
  lastError?: string;
  /** Why the file was used only in part (cut at the size cap), naming the path, for tracing. */
  lastWarning?: string;

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
    const table = this.#table;
    if (!table) return null;
    let entries: HostsEntry[] | undefined;
    try {
      entries = await table.lookup(canonicalName(name));
    } catch (err) {
      // The file went away (or changed kind) between the stat and this scan: as unreadable.
      this.#failed(err);
      return null;
    }
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
      if (!this.#table?.identity || !sameIdentity(this.#table.identity, identity)) {
        this.#table = await loadTable(this.path, identity, this.#maxBytes, this.#clock);
      }
      this.lastError = undefined;
      this.lastWarning = this.#table.warning;
    } catch (err) {
      this.#failed(err);
    } finally {
      this.#loaded = true;
      this.#checkedAt = this.#clock.now();
    }
  }

  #failed(err: unknown): void {
    this.#table = null;
    this.lastWarning = undefined;
    const code = err instanceof FileReadError ? err.code : String(err);
    this.lastError = code === 'ENOTREG' ? `${(err as FileReadError).message}; expected a file` : `${this.path}: ${code}`;
  }
}
