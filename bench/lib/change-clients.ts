/**
 * One "pod" of the lossy-network benchmark (bench/lossy-network.ts): a process
 * running, side by side, the four ways a Node process can follow a name's
 * address set, each on a name of its own, and reporting every change of each
 * client's set and every poll's duration to its parent over IPC:
 *
 *   watch family 4     this library: watch(name, { family: 4, refreshInterval: 1000 }), defaults otherwise
 *                      (the pod's /etc/resolv.conf: timeout and attempts as it says, glibc's 5 s and 2 without options)
 *   watch family 0     the same with family 0 (A and AAAA)
 *   c-ares poller      what a user writes on c-ares: new dns.promises.Resolver() (default options), setServers,
 *                      resolve4 + resolve6 on a setInterval of 1 s; a poll whose every family answered
 *                      (NODATA/NXDOMAIN count as an empty answer) replaces the set, a failed one keeps it
 *   dns.lookup poller  dns.promises.lookup(name, { all: true, family: 0 }) on a setInterval of 1 s (glibc through
 *                      the pod's /etc/resolv.conf); a failed lookup keeps the set
 *
 *   node --import tsx bench/lib/change-clients.ts '<ChangeClientsConfig as JSON>'
 *
 * Started with child_process.fork. Sends { type: 'ready' } once every client
 * is started, then { type: 'set' } and { type: 'poll' } messages; on
 * { cmd: 'stop' } — or when its parent goes away — it closes every client,
 * sends { type: 'stopped' } and leaves the IPC channel, and exits once
 * glibc's lookups still in flight (which nothing can cancel) return.
 *
 * Bounded: the c-ares poller starts a poll every tick, overlapping a slow one
 * as setInterval code does, but at most MAX_POLLS_IN_FLIGHT at once (a tick
 * beyond that is skipped and counted); the dns.lookup poller skips a tick
 * while its lookup runs (one at a time, as grpc-js's own resolver does: libuv's
 * four pool threads would otherwise queue them and the wait would be counted
 * as glibc's).
 */
import dns from 'node:dns';
import { fileURLToPath } from 'node:url';
import { notInPrivateNetns } from '../../harness/nft-loss.js';
import { observe, watch, type DnsWatch } from '../../src/index.js';

export const CLIENTS = ['watch family 4', 'watch family 0', 'c-ares poller', 'dns.lookup poller'] as const;
export type ClientName = (typeof CLIENTS)[number];

/** Which clients ask AAAA (the conntrack race and an AAAA drop can only touch these). */
export const ASKS_AAAA: Readonly<Record<ClientName, boolean>> = {
  'watch family 4': false,
  'watch family 0': true,
  'c-ares poller': true,
  'dns.lookup poller': true,
};

export const POLL_INTERVAL_MS = 1_000;
export const MAX_POLLS_IN_FLIGHT = 16;

export interface ChangeClientsConfig {
  /** The name each client follows. */
  names: Record<ClientName, string>;
  /** The c-ares poller's servers (setServers): the pod's nameservers. */
  caresServers: string[];
  /** The c-ares poller's per-try timeout, ms; absent: c-ares' default. */
  caresTimeoutMs?: number;
}

export type ChangeClientsMessage =
  | { type: 'ready' }
  /** A client's set changed (the first set included); `at` is Date.now() when the client had it. */
  | { type: 'set'; client: ClientName; at: number; addresses: string[] }
  /** A poll ended: its start (Date.now()), duration and whether it answered. */
  | { type: 'poll'; client: ClientName; startedAt: number; durationMs: number; ok: boolean }
  /** Stopped: ticks skipped by the bounds, and what still held the process after closing. */
  | { type: 'stopped'; skippedTicks: Record<ClientName, number>; activeResources: string[] };

export type ChangeClientsCommand = { cmd: 'stop' };

function send(message: ChangeClientsMessage): void {
  process.send?.(message);
}

/** Tracks one client's set and reports it when it changes. */
function setReporter(client: ClientName): (addresses: string[]) => void {
  let last = '';
  return (addresses) => {
    const sorted = [...new Set(addresses)].sort();
    const key = sorted.join(',');
    if (key === last) return;
    last = key;
    send({ type: 'set', client, at: Date.now(), addresses: sorted });
  };
}

function watchClient(client: ClientName, name: string, family: 0 | 4): () => void {
  const report = setReporter(client);
  const handle: DnsWatch = watch(name, { family, refreshInterval: POLL_INTERVAL_MS }).unref();
  handle.on('update', (update) => report(update.addresses));
  // Could not ask, or no set yet: the watch keeps its last set and tries again; the benchmark reads sets only.
  handle.on('error', () => {});
  return () => handle.close();
}

/** An empty answer for "this name has no such records", a rejection for "could not ask". */
function noneIsEmpty(lookup: Promise<string[]>): Promise<string[]> {
  return lookup.catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENODATA' || error.code === 'ENOTFOUND') return [];
    throw error;
  });
}

interface Poller {
  stop(): void;
  skipped(): number;
}

/** A setInterval poller: `poll` each tick (now, then every interval), with at most `maxInFlight` running. */
function intervalPoller(client: ClientName, maxInFlight: number, poll: () => Promise<string[]>): Poller {
  const report = setReporter(client);
  let inFlight = 0;
  let skipped = 0;
  let stopped = false;
  const tick = (): void => {
    if (inFlight >= maxInFlight) {
      skipped++;
      return;
    }
    inFlight++;
    const startedAt = Date.now();
    const started = performance.now();
    const ended = (ok: boolean): void => {
      inFlight--;
      if (!stopped) send({ type: 'poll', client, startedAt, durationMs: performance.now() - started, ok });
    };
    poll().then(
      (addresses) => {
        if (!stopped) report(addresses);
        ended(true);
      },
      () => ended(false),
    );
  };
  const timer = setInterval(tick, POLL_INTERVAL_MS);
  tick();
  return {
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
    skipped: () => skipped,
  };
}

function caresPoller(name: string, config: ChangeClientsConfig): Poller {
  const resolver = config.caresTimeoutMs === undefined ? new dns.promises.Resolver() : new dns.promises.Resolver({ timeout: config.caresTimeoutMs });
  resolver.setServers(config.caresServers);
  const poller = intervalPoller('c-ares poller', MAX_POLLS_IN_FLIGHT, async () => {
    const [v4, v6] = await Promise.all([noneIsEmpty(resolver.resolve4(name)), noneIsEmpty(resolver.resolve6(name))]);
    return [...v4, ...v6];
  });
  return {
    stop: () => {
      poller.stop();
      resolver.cancel();
    },
    skipped: () => poller.skipped(),
  };
}

function lookupPoller(name: string): Poller {
  return intervalPoller('dns.lookup poller', 1, async () => {
    const list = await dns.promises.lookup(name, { all: true, family: 0 });
    return list.map((entry) => entry.address);
  });
}

function main(): void {
  if (typeof process.send !== 'function') throw new Error('change-clients.ts must be started with an IPC channel (child_process.fork)');
  // watch() and glibc read /etc/resolv.conf: only the namespace's own file, never the machine's nameserver.
  const outside = notInPrivateNetns();
  if (outside) throw new Error(`change-clients.ts runs only inside the benchmark's network namespace: ${outside}`);
  const config = JSON.parse(process.argv[2] ?? '') as ChangeClientsConfig;
  const { names } = config;
  const stopObserving = observe((event) => {
    if (event.type !== 'query') return;
    const client = event.name === names['watch family 4'] ? 'watch family 4' : event.name === names['watch family 0'] ? 'watch family 0' : undefined;
    if (client) send({ type: 'poll', client, startedAt: Date.now() - event.durationMs, durationMs: event.durationMs, ok: event.result === 'NOERROR' });
  });
  const closeWatch4 = watchClient('watch family 4', names['watch family 4'], 4);
  const closeWatch0 = watchClient('watch family 0', names['watch family 0'], 0);
  const cares = caresPoller(names['c-ares poller'], config);
  const lookup = lookupPoller(names['dns.lookup poller']);
  let stopped = false;
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    stopObserving();
    closeWatch4();
    closeWatch0();
    cares.stop();
    lookup.stop();
    if (!process.connected) return;
    send({
      type: 'stopped',
      skippedTicks: { 'watch family 4': 0, 'watch family 0': 0, 'c-ares poller': cares.skipped(), 'dns.lookup poller': lookup.skipped() },
      activeResources: process.getActiveResourcesInfo(),
    });
    process.disconnect();
  };
  send({ type: 'ready' });
  process.on('message', (command: ChangeClientsCommand) => {
    if (command.cmd === 'stop') stop();
  });
  // A parent that died (or was killed) leaves no client polling: the process stops with it.
  process.on('disconnect', stop);
}

// Run only as a script (bench/lossy-network.ts imports the client names and types).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) main();
