import { StubResolver } from './dns/lookup.js';
import { limitAddresses } from './subset.js';
import type { ResolvedOptions } from './options.js';
import { StartupPacer } from './pacer.js';
import { Watcher, type Delivery, type Subscription, type WatcherStats } from './watcher.js';

/**
 * Sharing. One {@link Watcher} per (name, family, schedule, DNS settings) in
 * the process, so N channels to one Service cost one query per interval; and
 * one {@link StubResolver} (one UDP socket per family) per set of DNS
 * settings, so 10,000 watched names do not open 10,000 sockets, with one
 * {@link StartupPacer} beside it so they do not all ask at once either. Both
 * are reference-counted and closed when their last user leaves.
 */
class Registry {
  private readonly watchers = new Map<string, Watcher>();
  private readonly resolvers = new Map<string, { resolver: StubResolver; pacer: StartupPacer; users: number }>();

  subscribe(name: string, options: ResolvedOptions, deliver: (delivery: Delivery) => void): Subscription {
    const key = watcherKey(name, options);
    let watcher = this.watchers.get(key);
    if (!watcher || watcher.isStopped) {
      watcher = this.createWatcher(key, name, options);
      this.watchers.set(key, watcher);
    }
    return watcher.subscribe(deliver);
  }

  /** The live watcher for a name and options, if any (stats, tests). */
  find(name: string, options: ResolvedOptions): Watcher | undefined {
    return this.watchers.get(watcherKey(name, options));
  }

  stats(): WatcherStats[] {
    return [...this.watchers.values()].map((watcher) => watcher.stats());
  }

  get size(): { watchers: number; resolvers: number } {
    return { watchers: this.watchers.size, resolvers: this.resolvers.size };
  }

  private createWatcher(key: string, name: string, options: ResolvedOptions): Watcher {
    const { resolver, pacer } = this.acquireResolver(options);
    const watcher: Watcher = new Watcher(
      name,
      options,
      async (target, family, known) => limitAddresses(await resolver.resolve(target, family, known), options.maxAddresses),
      () => {
        if (this.watchers.get(key) === watcher) this.watchers.delete(key);
        this.releaseResolver(options);
      },
      { pacer: pacer.join(options.refreshInterval) },
    );
    return watcher;
  }

  private acquireResolver(options: ResolvedOptions): { resolver: StubResolver; pacer: StartupPacer } {
    const key = resolverKey(options);
    let entry = this.resolvers.get(key);
    if (!entry) {
      entry = {
        resolver: new StubResolver({
          nameservers: options.nameservers,
          timeoutMs: options.timeout,
          attempts: options.attempts,
          resolvConfPath: options.resolvConfPath,
          hostsPath: options.hostsPath,
        }),
        pacer: new StartupPacer(),
        users: 0,
      };
      this.resolvers.set(key, entry);
    }
    entry.users++;
    return entry;
  }

  private releaseResolver(options: ResolvedOptions): void {
    const key = resolverKey(options);
    const entry = this.resolvers.get(key);
    if (!entry) return;
    entry.users--;
    if (entry.users <= 0) {
      entry.resolver.close();
      this.resolvers.delete(key);
    }
  }
}

function resolverKey(options: ResolvedOptions): string {
  return JSON.stringify([options.nameservers ?? null, options.timeout ?? null, options.attempts ?? null, options.resolvConfPath ?? null, options.hostsPath ?? null]);
}

function watcherKey(name: string, options: ResolvedOptions): string {
  // `my-svc` and `my-svc.` stay distinct: only the first goes through the search list.
  return JSON.stringify([
    name.toLowerCase(),
    options.family,
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
