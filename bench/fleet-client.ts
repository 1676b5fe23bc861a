/**
 * One client process of the fleet benchmark (bench/fleet.ts), forked with IPC:
 *
 *   node --import tsx bench/fleet-client.ts '<json FleetClientConfig>'
 *
 * Watches `names` with `watch()` (one watcher per name: what one pod that
 * talks to that many Services costs) and answers the parent's messages:
 * `ready` once every name has its first set; on `{ expect }` the epoch ms at
 * which each name's set first held that address; on `stop`, closes every
 * watcher and exits with nothing left open.
 */
import { observe, watch, type DnsWatch, type WatchOptions } from '../src/index.js';

export interface FleetClientConfig {
  names: string[];
  options: WatchOptions;
}

export type FleetClientRequest = { type: 'expect'; address: string; timeoutMs: number } | { type: 'stop' };

export type FleetClientMessage =
  | { type: 'ready'; at: number }
  /** Per name, when its set first held the address (epoch ms), or null within the timeout; resolutions and failures seen. */
  | { type: 'converged'; times: Array<number | null>; queries: number; failures: number };

const config = JSON.parse(process.argv[2] ?? '{}') as FleetClientConfig;
const send = (message: FleetClientMessage): void => {
  process.send?.(message);
};

let queries = 0;
let failures = 0;
const stopObserving = observe((event) => {
  if (event.type === 'query') queries++;
  else if (event.type === 'error') failures++;
});

const latest = new Map<string, string[]>();
let expected: { address: string; times: Map<string, number> } | undefined;
const watches: DnsWatch[] = config.names.map((name) => {
  const handle = watch(name, config.options);
  handle.on('update', (update) => {
    const first = !latest.has(name);
    latest.set(name, update.addresses);
    if (first && latest.size === config.names.length) send({ type: 'ready', at: Date.now() });
    if (expected && !expected.times.has(name) && update.addresses.includes(expected.address)) expected.times.set(name, Date.now());
  });
  handle.on('error', () => {});
  return handle;
});

process.on('message', (message: FleetClientRequest) => {
  if (message.type === 'expect') {
    const current = { address: message.address, times: new Map<string, number>() };
    expected = current;
    const done = (): void => {
      clearInterval(check);
      clearTimeout(deadline);
      send({ type: 'converged', times: config.names.map((name) => current.times.get(name) ?? null), queries, failures });
    };
    const check = setInterval(() => {
      if (current.times.size === config.names.length) done();
    }, 50);
    const deadline = setTimeout(done, message.timeoutMs);
  } else if (message.type === 'stop') {
    for (const handle of watches) handle.close();
    stopObserving();
    process.disconnect?.();
  }
});
