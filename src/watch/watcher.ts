/**
 * A watcher: the poller (src/watch/poller.ts) of one DNS name, its source
 * the DNS source (src/watch/dns-source.ts) asking through `resolve` — the
 * shared stub resolver of its DNS settings (src/watch/registry.ts), or a
 * scripted one in tests. What every channel and watch() handle of a name
 * shares.
 */
import type { Family } from '../dns/types.js';
import { DnsSource, type DnsAnswer, type ResolveFn } from './dns-source.js';
import { Poller, type PollerEnvironment, type PollerOptions } from './poller.js';

export interface WatcherOptions extends PollerOptions {
  /** 4 (A), 6 (AAAA) or 0 (both). */
  family: Family;
  /** Family 0: ask A and AAAA at every poll, never demoting one that answers NODATA (src/watch/family-demotion.ts). Default false. */
  askBothFamilies?: boolean;
}

export class Watcher extends Poller<DnsAnswer> {
  /** The DNS source polled (its TXT side counts the subscribers that want a service config). */
  readonly dns: DnsSource;

  constructor(
    name: string,
    options: WatcherOptions,
    resolve: ResolveFn,
    onStop?: (watcher: Poller<DnsAnswer>) => void,
    environment?: PollerEnvironment,
  ) {
    const source = new DnsSource(name, options.family, resolve, options, options.askBothFamilies);
    super(source, options, onStop, environment);
    this.dns = source;
  }
}
