/**
 * What the command says while it runs, in one place: the banner and
 * progress lines on stderr, each failed try (as kdig prints them), and the
 * answer, changes and errors — human lines, or NDJSON events on stdout with
 * `--json` (progress still goes to stderr, so stdout stays machine-only).
 */
import type { DnsError } from '../dns/errors.js';
import { canonicalName, trimDot } from '../dns/names.js';
import { recordTypesText, type Family, type Nameserver, type ResolvedAddress } from '../dns/types.js';
import type { WatchEvent } from '../watch/observe.js';
import type { WatchUpdate } from '../watch-handle.js';
import { minTtl } from '../watch/records.js';
import type { WatcherStats } from '../watch/stats.js';
import { formatNameserver } from '../dns/resolv-conf.js';
import type { CliConfig } from './args.js';
import {
  errorEvent,
  formatMs,
  humanAddresses,
  humanCache,
  humanChange,
  humanError,
  humanFamily,
  jsonLine,
  jsonTtl,
  lowerFirstWord,
  plural,
  toJsonRecords,
  type AddressesEvent,
  type CacheEvent,
  type ChangeEvent,
  type FamilyEvent,
} from './output.js';

/** Anything with `write(string)`: process.stdout, or a collector in tests. */
export interface TextSink {
  write(chunk: string): unknown;
}

type AttemptEvent = Extract<WatchEvent, { type: 'attempt' }>;
type FamilyWatchEvent = Extract<WatchEvent, { type: 'family' }>;

/** The settings a run asks with, for the progress lines. */
export interface Asking {
  servers: readonly Nameserver[];
  timeoutMs: number;
  attempts: number;
}

export class Reporter {
  /** Record types with a failed try seen in this run, to name them in a TIMEOUT line. */
  private readonly failedTypes = new Set<'A' | 'AAAA'>();
  private shownSet = false;
  private shownCache: WatcherStats['cache'] = 'unknown';

  constructor(
    private readonly config: CliConfig,
    private readonly stdout: TextSink,
    private readonly stderr: TextSink,
    /** Timestamps of the lines this command makes up (tries, errors, --once answers). */
    readonly now: () => Date = () => new Date(),
  ) {}

  /** Watch mode's first line. */
  banner(intervalMs: number, asking: Asking): void {
    this.stderr.write(`watching ${this.config.host} every ${formatMs(intervalMs)} via ${asking.servers.map(formatNameserver).join(', ')}; Ctrl-C to stop\n`);
  }

  /** Said at once, before the first query leaves, so a silent server is never a silent command. */
  asking(asking: Asking): void {
    const servers = asking.servers.map(formatNameserver).join(', ');
    this.stderr.write(
      `querying ${this.config.host} ${recordTypesText(this.config.family)} via ${servers} ` +
        `(timeout ${formatMs(asking.timeoutMs)}, ${plural(asking.attempts, 'attempt')})…\n`,
    );
  }

  /** True for a try of this run's name (as given, or with a search domain appended). */
  concerns(event: AttemptEvent): boolean {
    const host = canonicalName(this.config.host);
    const name = canonicalName(event.name);
    return name === host || name.startsWith(`${host}.`);
  }

  /** One stderr line per failed try, as kdig prints `;; WARNING: failed to query server`. */
  attempt(event: AttemptEvent): void {
    // The command asks no TXT (only channels do); the type says it could.
    if (event.recordType !== 'TXT') this.failedTypes.add(event.recordType);
    this.stderr.write(
      `${this.now().toISOString()}  try failed: ${event.name} ${event.recordType} via ${event.server} (${event.transport.toUpperCase()}): ` +
        `${event.error.code} after ${Math.round(event.durationMs)} ms\n`,
    );
  }

  /** The set: the first one in watch mode, the answer with --once. */
  addresses(records: readonly ResolvedAddress[], at: Date, extra: Pick<AddressesEvent, 'resolvedName' | 'source' | 'failedFamilies'> = {}): void {
    this.shownSet = true;
    if (this.config.json) {
      const sorted = toJsonRecords(records);
      const event: AddressesEvent = {
        type: 'addresses',
        at: at.toISOString(),
        name: this.config.host,
        ...(extra.resolvedName === undefined ? {} : { resolvedName: extra.resolvedName }),
        ...(extra.source === undefined ? {} : { source: extra.source }),
        count: sorted.length,
        ttl: jsonTtl(minTtl(records)),
        addresses: sorted,
      };
      if (extra.failedFamilies && extra.failedFamilies.length > 0) event.failedFamilies = extra.failedFamilies;
      this.stdout.write(jsonLine(event));
      return;
    }
    this.stdout.write(humanAddresses(this.config.host, records, extra));
    for (const { family, code, message } of extra.failedFamilies ?? []) {
      this.stderr.write(`${at.toISOString()}  warning ${code}: ${lowerFirstWord(message)}; showing IPv${family === 4 ? 6 : 4} addresses only\n`);
    }
  }

  /** Watch mode: the first update is the set, every later one a change. */
  update(update: WatchUpdate, polledName?: string): void {
    if (!this.shownSet) {
      // The name polled from now on: the search-list candidate that answered, written as --once writes it.
      this.addresses(update.records, update.at, polledName === undefined ? {} : { resolvedName: trimDot(polledName) });
      return;
    }
    if (this.config.json) {
      const event: ChangeEvent = {
        type: 'change',
        at: update.at.toISOString(),
        name: this.config.host,
        added: update.added,
        removed: update.removed,
        count: update.addresses.length,
        ttl: jsonTtl(update.ttl),
        addresses: toJsonRecords(update.records),
      };
      this.stdout.write(jsonLine(event));
    } else {
      this.stdout.write(humanChange(update.at, update.added, update.removed, update.addresses.length));
    }
  }

  /**
   * Watch mode, after each poll: says when the answers turn out to come
   * from a cache, and when they no longer do. Repeats nothing.
   */
  cache(stats: Pick<WatcherStats, 'cache' | 'cacheTtl' | 'stalenessBoundMs'>, at = this.now()): void {
    const was = this.shownCache;
    this.shownCache = stats.cache;
    if (stats.cache === was || (stats.cache !== 'detected' && was !== 'detected')) return;
    const event: CacheEvent = {
      type: 'cache',
      at: at.toISOString(),
      name: this.config.host,
      cache: stats.cache,
      ttl: stats.cacheTtl ?? null,
      stalenessBoundMs: stats.stalenessBoundMs ?? null,
    };
    if (this.config.json) this.stdout.write(jsonLine(event));
    else this.stderr.write(humanCache(at, event));
  }

  /** Watch mode: a family demoted or restored (observe()'s `family` event). */
  family(change: FamilyWatchEvent, at = this.now()): void {
    const nextAskAt = change.nextAskInMs === undefined ? null : new Date(at.getTime() + change.nextAskInMs).toISOString();
    const event: FamilyEvent = { type: 'family', at: at.toISOString(), name: this.config.host, family: change.family, change: change.change, nextAskAt, reason: change.reason };
    if (this.config.json) this.stdout.write(jsonLine(event));
    else this.stderr.write(humanFamily(at, event));
  }

  error(error: DnsError, at = this.now()): void {
    const families = this.failedTypes.size > 0 ? familiesOfTypes(this.failedTypes) : this.config.family;
    if (this.config.json) this.stdout.write(jsonLine(errorEvent(this.config.host, error, at, families)));
    else this.stderr.write(humanError(at, error, families));
  }
}

function familiesOfTypes(types: ReadonlySet<'A' | 'AAAA'>): Family {
  if (types.size === 2) return 0;
  return types.has('A') ? 4 : 6;
}
