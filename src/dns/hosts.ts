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
 * - the file is read and scanned in slices of {@link SCAN_SLICE_BYTES}, an
 *   asynchronous read between two slices (the event loop runs there), never
 *   held whole: the work per turn is one slice's scan, a few ms;
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
import { isIP } from 'node:net';
import { canonicalName } from './names.js';
import { FileReadError, formatBytes, readFileInSlices, sameIdentity, statRegular, type FileIdentity } from './text-file.js';
import type { Family, ResolvedAddress } from './types.js';
import { systemTimers, type Timers } from './timers.js';

export const DEFAULT_HOSTS_PATH = '/etc/hosts';

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
 * Bytes scanned per turn of the event loop. One slice of short distinct
 * names (the worst case: about 3,300 lines) scans in a few ms, against the
 * target of no stall over 100 ms; larger slices would save reads of a
 * 32 MiB file (512 of them) that cost less than the scan.
 */
export const SCAN_SLICE_BYTES = 64 * 1024;

/** Longer than any address text (an IPv6 address with a zone id): not an address. */
const MAX_ADDRESS_BYTES = 64;
/**
 * Longer than any name a lookup can ask for (253 characters of up to 4
 * bytes of UTF-8, and a trailing dot): ignored, so a hostile line of one
 * enormous name costs no more than a slice at a time.
 */
const MAX_NAME_BYTES = 1_024;

export interface HostsEntry {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * hosts(5) text, read byte by byte as it arrives in slices: `#` starts a
 * comment (glued to a name too), a line break is `\n`, `\r\n` or `\r`,
 * fields are separated by ASCII blanks (space, tab, vertical tab, form
 * feed: glibc's separators in the C locale), the first field is the
 * address, the others are names (canonical name and aliases alike), in
 * canonical form (lowercased, trailing dot removed). A token may span two
 * slices; a line may be of any length. The names of a line are handed over
 * when the line ends — so a line cut by the size cap gives nothing, as
 * before — and only those `keep` accepts, with their line's address, once
 * per name and address. Lines whose address is not an IPv4/IPv6 literal are
 * skipped (the address is only checked for lines with a name kept).
 */
class HostsScanner {
  /** Bytes fed so far: where the current slice starts in the file. */
  private offset = 0;
  /** Where the current line started in the file. */
  private lineStart = 0;
  /** The rest of the line is a comment, or the line has no usable address. */
  private skipping = false;
  private address: string | undefined;
  /** Names of the current line that were kept, handed over when it ends. */
  private names: string[] = [];
  /** A token that started in an earlier slice: its bytes so far (never more than the longest name). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The current token is too long to be anything: ignored to its end. */
  private overlong = false;
  /** One entry object per address: a blocklist maps its names to one address. */
  private readonly entries = new Map<string, HostsEntry | null>();
  /** `name address` pairs handed over, so repeated ones are handed over once. */
  private readonly pairs = new Set<string>();

  constructor(
    private readonly keep: (name: string, lineStart: number) => boolean,
    private readonly onEntry: (name: string, entry: HostsEntry) => void,
  ) {}

  feed(slice: Buffer): void {
    let tokenStart = -1;
    for (let i = 0; i < slice.length; i++) {
      const byte = slice[i]!;
      if (byte === 0x0a || byte === 0x0d) {
        if (tokenStart >= 0 || this.partialBytes > 0 || this.overlong) this.endToken(slice, tokenStart, i);
        tokenStart = -1;
        this.endLine(this.offset + i + 1);
        continue;
      }
      if (this.skipping) continue;
      if (byte === 0x20 || byte === 0x09 || byte === 0x0b || byte === 0x0c || byte === 0x23) {
        if (tokenStart >= 0 || this.partialBytes > 0 || this.overlong) this.endToken(slice, tokenStart, i);
        tokenStart = -1;
        if (byte === 0x23) this.skipping = true;
        continue;
      }
      if (tokenStart < 0) tokenStart = i;
    }
    if (tokenStart >= 0 && !this.skipping) this.keepPartial(slice.subarray(tokenStart));
    this.offset += slice.length;
  }

  /** The end of the text: a last line without a line break counts, unless the text was cut (`truncated`). */
  finish(truncated: boolean): void {
    if (!truncated && (this.partialBytes > 0 || this.overlong)) this.endToken(Buffer.alloc(0), -1, 0);
    if (!truncated) this.endLine(this.offset);
  }

  private keepPartial(bytes: Buffer): void {
    if (this.overlong) return;
    if (this.partialBytes + bytes.length > MAX_NAME_BYTES) {
      this.overlong = true;
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    this.partial.push(Buffer.from(bytes));
    this.partialBytes += bytes.length;
  }

  /** The token that ends at `end` in `slice` (started at `start` there, or in earlier slices). */
  private endToken(slice: Buffer, start: number, end: number): void {
    const length = this.partialBytes + (start >= 0 ? end - start : 0);
    const tooLong = this.overlong || length > (this.address === undefined ? MAX_ADDRESS_BYTES : MAX_NAME_BYTES);
    let text = '';
    if (!tooLong) {
      text =
        this.partialBytes === 0
          ? slice.toString('utf8', start, end)
          : Buffer.concat(start >= 0 ? [...this.partial, slice.subarray(start, end)] : this.partial).toString('utf8');
    }
    this.partial = [];
    this.partialBytes = 0;
    this.overlong = false;
    if (this.address === undefined) {
      // The address field: a line whose address cannot be one is skipped.
      if (tooLong) this.skipping = true;
      else this.address = text;
      return;
    }
    if (tooLong) return;
    const name = canonicalName(text);
    if (name !== '' && this.keep(name, this.lineStart)) this.names.push(name);
  }

  private endLine(nextLineStart: number): void {
    const address = this.address;
    if (address !== undefined && this.names.length > 0) {
      const entry = this.entryOf(address);
      if (entry) {
        for (const name of this.names) {
          const pair = `${name} ${address}`;
          if (this.pairs.has(pair)) continue;
          this.pairs.add(pair);
          this.onEntry(name, entry);
        }
      }
    }
    this.address = undefined;
    this.names = [];
    this.skipping = false;
    this.lineStart = nextLineStart;
  }

  private entryOf(address: string): HostsEntry | null {
    let entry = this.entries.get(address);
    if (entry === undefined) {
      const family = isIP(address);
      entry = family === 4 || family === 6 ? Object.freeze({ address, family }) : null;
      this.entries.set(address, entry);
    }
    return entry;
  }
}

/**
 * Parse hosts(5) text into name (lowercased, trailing dot removed) → addresses,
 * in file order. `#` comments, blank lines and lines whose address is not an
 * IPv4/IPv6 literal are skipped; a line may carry several names (canonical
 * name and aliases are treated alike); repeated name/address pairs are kept once.
 *
 * Linear in the size of the text: de-duplication goes through one Set of
 * name/address pairs (dropped after parsing), and entries for one address
 * are one shared object (a blocklist maps 100k names to 0.0.0.0). The same
 * reading as the file's, all at once (for text already in memory).
 */
export function parseHosts(text: string): Map<string, HostsEntry[]> {
  const hosts = new Map<string, HostsEntry[]>();
  const scanner = new HostsScanner(
    () => true,
    (name, entry) => addEntry(hosts, name, entry),
  );
  scanner.feed(Buffer.from(String(text), 'utf8'));
  scanner.finish(false);
  return hosts;
}

function addEntry(hosts: Map<string, HostsEntry[]>, name: string, entry: HostsEntry): void {
  const list = hosts.get(name);
  if (list) list.push(entry);
  else hosts.set(name, [entry]);
}

/** What the last scan of a hosts file did: for tests and measurements (scripts/hosts-cost.ts). */
export interface HostsScanReport {
  path: string;
  /** Bytes scanned, and the slices they came in: each slice is one turn's work. */
  bytes: number;
  slices: number;
  largestSliceBytes: number;
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
    let largestSliceBytes = 0;
    const read = await readFileInSlices(this.path, this.maxBytes, SCAN_SLICE_BYTES, (slice) => {
      largestSliceBytes = Math.max(largestSliceBytes, slice.length);
      scanner.feed(slice);
    });
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
      largestSliceBytes,
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

async function loadTable(path: string, identity: FileIdentity, maxBytes: number): Promise<HostsTable> {
  const cached = tables.get(path)?.deref();
  if (cached?.identity && sameIdentity(cached.identity, identity)) return cached;
  let pending = reading.get(path);
  if (!pending) {
    pending = (async () => {
      const table = new HostsTable(path, maxBytes);
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
        this.#table = await loadTable(this.path, identity, this.#maxBytes);
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
