import { writtenNameKey } from '../dns/names.js';
import { StubResolver } from '../dns/stub-resolver.js';
import type { AbortSignalLike, Family, ResolveControl } from '../dns/types.js';
import type { ResolvedOptions } from './options.js';
import { STARTUP_BURST, StartupPacer } from './pacer.js';
import { pollTimers, type PollTimers } from './poll-timers.js';
import { report } from './observe.js';
import { trace } from './trace.js';
import type { ResolveFn } from './dns-source.js';
import { Poller, type PollerEnvironment } from './poller.js';
import type { AddressSource } from './source.js';
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

/** What the registry uses of a poller, whatever its source answers. */
type SharedPoller = Pick<Poller, 'name' | 'isStopped' | 'subscribe' | 'stats'>;

/**
 * The pollers of one set of settings, by key: for DNS (schedule, family, DNS
 * settings, maxAddresses) by lower-cased name; for a polling resolver (its
 * registration and schedule) by target. What a poller would otherwise hold
 * per name — its options, what to do when it stops — is held here once, so
 * 10,000 names with the same settings hold one copy (docs/benchmarks.md, "Load").
 */
interface Group {
  readonly key: string;
  /** The first subscriber's options, validated: equal (by the key) to every later one's. */
  readonly options: ResolvedOptions;
  readonly pollers: Map<string, SharedPoller>;
  /** How a poller's name maps to its key in {@link pollers}. */
  readonly keyOf: (name: string) => string;
  /** First polls of many pollers starting together are paced. */
  readonly pacer: StartupPacer;
  /** After a poller of the group stopped (a DNS group releases its resolver). */
  readonly released: () => void;
  readonly onStop: (poller: SharedPoller) => void;
}

/** A DNS group: a group with the stub resolver its watchers ask. */
interface DnsGroup extends Group {
  readonly resolve: ResolveFn;
  readonly resolver: ResolverEntry;
}

/** A source of polled addresses other than DNS: `registerPollingResolver`'s function for one target. */
interface SourceRequest {
  /** What the settings are shared by besides the schedule (a registration), and the target in it. */
  readonly group: string;
  readonly target: string;
  readonly createSource: () => AddressSource;
}

/**
 * Sharing. One poller per (name, family, schedule, DNS settings) in the
 * process, so N channels to one Service cost one query per interval — and
 * one per (polling resolver, target, schedule) for other sources; one
 * {@link StubResolver} (one UDP socket per family) per set of DNS settings,
 * so 10,000 watched names do not open 10,000 sockets, with one
 * {@link StartupPacer} beside it so they do not all ask at once either. All
 * are reference-counted and closed when their last user leaves.
 */
export class Registry {
  private readonly groups = new Map<string, Group>();
  private readonly resolvers = new Map<string, ResolverEntry>();

  /**
   * `timers`: where every poller's next poll waits; its clock is the one
   * clock of everything this registry creates (pollers, start-up pacers,
   * DNS try timeouts, hosts-file re-reads), so a test can drive them all.
   */
  constructor(private readonly timers: PollTimers = pollTimers) {}

  /** `takesServiceConfig`: a channel's subscription, told the service config too (subscribers.ts): for a DNS name, its TXT records ({@link wantingTxt}). */
  subscribe(name: string, options: ResolvedOptions, deliver: (delivery: Delivery) => void, takesServiceConfig = false): Subscription {
    const group = this.dnsGroupFor(options);
    const subscription = this.subscribeIn(group, name, deliver, takesServiceConfig, () => {
      group.resolver.users++;
      return new Watcher(name, group.options, group.resolve, group.onStop, this.environment(group));
    });
    if (!takesServiceConfig) return subscription;
    return wantingTxt(group.pollers.get(group.keyOf(name)) as Watcher, subscription);
  }

  /** Subscribe to the shared poller of a source other than DNS (see {@link SourceRequest}). */
  subscribeSource(request: SourceRequest, options: ResolvedOptions, deliver: (delivery: Delivery) => void, takesServiceConfig = false): Subscription {
    const key = JSON.stringify([request.group, settingsKey(options)]);
    const group = this.groups.get(key) ?? this.addGroup({ key, options, keyOf: (name) => name, pacer: new StartupPacer(STARTUP_BURST, this.timers.clock), released: () => {} });
    return this.subscribeIn(group, request.target, deliver, takesServiceConfig, () => new Poller(request.createSource(), group.options, group.onStop, this.environment(group)));
  }

  stats(): WatcherStats[] {
    const all: WatcherStats[] = [];
    for (const group of this.groups.values()) for (const poller of group.pollers.values()) all.push(poller.stats());
    return all;
  }

  get size(): { watchers: number; resolvers: number } {
    let watchers = 0;
    for (const group of this.groups.values()) watchers += group.pollers.size;
    return { watchers, resolvers: this.resolvers.size };
  }

  /** The group's live poller of `name`, or a new one from `create`. */
  private subscribeIn(group: Group, name: string, deliver: (delivery: Delivery) => void, takesServiceConfig: boolean, create: () => SharedPoller): Subscription {
    const key = group.keyOf(name);
    let poller = group.pollers.get(key);
    if (!poller || poller.isStopped) {
      poller = create();
      group.pollers.set(key, poller);
    }
    return poller.subscribe(deliver, takesServiceConfig);
  }

  private environment(group: Group): PollerEnvironment {
    return { pacer: group.pacer.join(group.options.refreshInterval), timers: this.timers };
  }

  /** A group, registered, whose pollers leave it when they stop; the group goes with its last. */
  private addGroup<G extends Omit<Group, 'pollers' | 'onStop'>>(fields: G): G & Group {
    const group: G & Group = {
      ...fields,
      pollers: new Map(),
      onStop: (poller) => {
        const key = group.keyOf(poller.name);
        if (group.pollers.get(key) === poller) group.pollers.delete(key);
        group.released();
        if (group.pollers.size === 0 && this.groups.get(group.key) === group) this.groups.delete(group.key);
      },
    };
    this.groups.set(group.key, group);
    return group;
  }

  private dnsGroupFor(options: ResolvedOptions): DnsGroup {
    const key = settingsKey(options);
    const known = this.groups.get(key);
    if (known) return known as DnsGroup;
    const resolver = this.acquireResolver(options);
    return this.addGroup({
      key,
      options,
      keyOf: writtenNameKey,
      pacer: resolver.pacer,
      resolver,
      resolve: Object.assign((target: string, family: Family, polled?: string, control?: ResolveControl) => resolver.resolver.resolve(target, family, polled, control), {
        firstTryTimeoutMs: () => resolver.resolver.firstTryTimeoutMs(),
        nameservers: () => resolver.resolver.nameservers(),
        waitingInLine: () => resolver.resolver.waitingInLine(),
        txt: (name: string, signal?: AbortSignalLike) => resolver.resolver.resolveTxt(name, signal),
      }),
      released: () => this.releaseResolver(resolver),
    });
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

/**
 * A channel's subscription to a DNS watcher, counted as wanting the name's
 * TXT records while it is open: the watcher asks TXT only while one does,
 * so a watch() handle, or a channel with
 * `grpc.service_config_disable_resolution`, shares the watcher and pays no
 * TXT query of its own (src/watch/txt-records.ts).
 */
function wantingTxt(watcher: Watcher, subscription: Subscription): Subscription {
  const { txt } = watcher.dns;
  // A watcher that has answered but never asked TXT (only watch() handles so far): ask at a poll now, not an interval later.
  const askNow = !txt.everAsked && watcher.state.kind !== 'unknown';
  txt.want(1);
  if (askNow) subscription.request();
  let open = true;
  return {
    request: () => subscription.request(),
    stats: () => subscription.stats(),
    close: () => {
      if (open) txt.want(-1);
      open = false;
      subscription.close();
    },
  };
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
