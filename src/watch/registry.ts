import { writtenNameKey } from '../dns/names.js';
import { StubResolver } from '../dns/stub-resolver.js';
import type { Family, ResolveControl, Resolution } from '../dns/types.js';
import type { ResolvedOptions } from './options.js';
import { STARTUP_BURST, StartupPacer } from './pacer.js';
import { pollTimers, type PollTimers } from './poll-timers.js';
import { report } from './observe.js';
import { trace } from './trace.js';
import type { ResolveFn } from './dns-source.js';
import type { Poller } from './poller.js';
import type { WatcherStats } from './stats.js';
import type { Delivery, Subscription } from './subscribers.js';
import { Watcher } from './watcher.js';

/** One DNS client and its start-up pacer, shared by every set of settings that asks the same nameservers the same way. */
interface ResolverEntry {
  key: string;
  resolver: StubResolver;
  pacer: StartupPacer;
  users: number;
}

/**
 * Every watcher of one set of settings (schedule, family, DNS settings,
 * maxAddresses), by lower-cased name. What a watcher would otherwise hold
 * per name — its options, the function that asks DNS, what to do when it
 * stops — is held here once, so 10,000 names with the same settings hold
 * one copy (docs/benchmarks.md, "Load").
 */
interface Settings {
  readonly key: string;
  /** The first subscriber's options, validated: equal (by the key) to every later one's. */
  readonly options: ResolvedOptions;
  readonly watchers: Map<string, Watcher>;
  readonly resolver: ResolverEntry;
  readonly resolve: ResolveFn;
  readonly onStop: (watcher: Poller<Resolution>) => void;
}

/**
 * Sharing. One {@link Watcher} per (name, family, schedule, DNS settings) in
 * the process, so N channels to one Service cost one query per interval; and
 * one {@link StubResolver} (one UDP socket per family) per set of DNS
 * settings, so 10,000 watched names do not open 10,000 sockets, with one
 * {@link StartupPacer} beside it so they do not all ask at once either. Both
 * are reference-counted and closed when their last user leaves.
 */
export class Registry {
  private readonly settings = new Map<string, Settings>();
  private readonly resolvers = new Map<string, ResolverEntry>();

  /**
   * `timers`: where every watcher's next poll waits; its clock is the one
   * clock of everything this registry creates (watchers, start-up pacers,
   * DNS try timeouts, hosts-file re-reads), so a test can drive them all.
   */
  constructor(private readonly timers: PollTimers = pollTimers) {}

  subscribe(name: string, options: ResolvedOptions, deliver: (delivery: Delivery) => void): Subscription {
    const settings = this.settingsFor(options);
    const key = writtenNameKey(name);
    let watcher = settings.watchers.get(key);
    if (!watcher || watcher.isStopped) {
      watcher = new Watcher(name, settings.options, settings.resolve, settings.onStop, {
        pacer: settings.resolver.pacer.join(settings.options.refreshInterval),
        timers: this.timers,
      });
      settings.resolver.users++;
      settings.watchers.set(key, watcher);
    }
    return watcher.subscribe(deliver);
  }

  stats(): WatcherStats[] {
    const all: WatcherStats[] = [];
    for (const settings of this.settings.values()) for (const watcher of settings.watchers.values()) all.push(watcher.stats());
    return all;
  }

  get size(): { watchers: number; resolvers: number } {
    let watchers = 0;
    for (const settings of this.settings.values()) watchers += settings.watchers.size;
    return { watchers, resolvers: this.resolvers.size };
  }

  private settingsFor(options: ResolvedOptions): Settings {
    const key = settingsKey(options);
    const known = this.settings.get(key);
    if (known) return known;
    const resolver = this.acquireResolver(options);
    const settings: Settings = {
      key,
      options,
      watchers: new Map(),
      resolver,
      resolve: Object.assign((target: string, family: Family, polled?: string, control?: ResolveControl) => resolver.resolver.resolve(target, family, polled, control), {
        firstTryTimeoutMs: () => resolver.resolver.firstTryTimeoutMs(),
        waitingInLine: () => resolver.resolver.waitingInLine(),
      }),
      onStop: (watcher) => {
        const nameKey = writtenNameKey(watcher.name);
        if (settings.watchers.get(nameKey) === watcher) settings.watchers.delete(nameKey);
        this.releaseResolver(settings.resolver);
        if (settings.watchers.size === 0 && this.settings.get(key) === settings) this.settings.delete(key);
      },
    };
    this.settings.set(key, settings);
    return settings;
  }

  private acquireResolver(options: ResolvedOptions): ResolverEntry {
    const key = resolverKey(options);
    let entry = this.resolvers.get(key);
    if (!entry) {
      entry = {
        key,
        resolver: new StubResolver({
          nameservers: options.nameservers,
          timeoutMs: options.timeout,
          attempts: options.attempts,
          resolvConfPath: options.resolvConfPath,
          hostsPath: options.hostsPath,
          timers: this.timers.clock,
          onAttempt: report,
          trace,
        }),
        pacer: new StartupPacer(STARTUP_BURST, this.timers.clock),
        users: 0,
      };
      this.resolvers.set(key, entry);
    }
    return entry;
  }

  private releaseResolver(entry: ResolverEntry): void {
    entry.users--;
    if (entry.users > 0) return;
    entry.resolver.close();
    if (this.resolvers.get(entry.key) === entry) this.resolvers.delete(entry.key);
  }
}

function resolverKey(options: ResolvedOptions): string {
  return JSON.stringify([options.nameservers ?? null, options.timeout ?? null, options.attempts ?? null, options.resolvConfPath ?? null, options.hostsPath ?? null]);
}

/** Everything but the name that decides whether two subscriptions can share a watcher. */
function settingsKey(options: ResolvedOptions): string {
  return JSON.stringify([
    options.family,
    options.askBothFamilies,
    options.refreshInterval,
    options.respectTtl,
    options.minInterval,
    options.jitter,
    options.backoff,
    resolverKey(options),
    options.maxAddresses ?? null,
  ]);
}

/** The process-wide registry every channel and `watch()` shares. */
export const registry = new Registry();

/** A snapshot of every live watcher in the process: names, sets, counters, next poll. */
export function stats(): WatcherStats[] {
  return registry.stats();
}
