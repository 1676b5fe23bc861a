/**
 * One side of the poller benchmark (bench/poller.ts), in its own process so
 * that process.cpuUsage() is that side's CPU and nothing else's:
 *
 *   node --import tsx bench/lib/poller-side.ts <watch|c-ares> --names N --server host:port
 *        --interval ms --jitter f --window-at epoch-ms --window ms --resolv-conf path
 *
 * Polls N names (`w<i>.poll.bench.test` or `c<i>…`, A+AAAA each) every `interval` ms
 * ±jitter until the window ends, then prints one JSON line on stdout:
 * CPU (user + system) of the window, its start and end (Date.now(), the
 * clock the DNS server's query log uses), resolutions completed and failed
 * in it, and the process's heap. Both sides start every name at once and run
 * the same schedule: the next poll `interval × (1 − jitter + 2·jitter·random)`
 * after an answer.
 */
import dns from 'node:dns';
import { fileURLToPath } from 'node:url';
import { stats, watch, type DnsWatch } from '../../src/index.js';

export type PollerSideName = 'watch' | 'c-ares';

export interface PollerSideResult {
  side: PollerSideName;
  names: number;
  windowStart: number;
  windowEnd: number;
  cpuUs: number;
  /** Resolutions (A+AAAA of one name) completed within the window, as the side counts them. */
  completed: number;
  failed: number;
  heapUsed: number;
}

export const POLL_TIMEOUT_MS = 1_000;
export const POLL_ATTEMPTS = 2;

/** The names one side polls; the two sides poll names of the same length but their own, so the server tells them apart. */
export function pollerNames(count: number, side: PollerSideName = 'watch'): string[] {
  const letter = side === 'watch' ? 'w' : 'c';
  return Array.from({ length: count }, (_, i) => `${letter}${i}.poll.bench.test`);
}

function option(name: string): string {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? process.argv[index + 1] : undefined;
  if (value === undefined) throw new Error(`poller-side: --${name} is required`);
  return value;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The poller a Node user would write on c-ares: one timer per name, resolve4 + resolve6 with TTLs. */
function caresPoller(names: string[], server: string, interval: number, jitter: number, onDone: (ok: boolean) => void): () => void {
  const resolver = new dns.promises.Resolver({ timeout: POLL_TIMEOUT_MS, tries: POLL_ATTEMPTS });
  resolver.setServers([server]);
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const poll = (name: string): void => {
    Promise.all([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]).then(
      () => next(name, true),
      () => next(name, false),
    );
  };
  const next = (name: string, ok: boolean): void => {
    if (stopped) return;
    onDone(ok);
    const timer = setTimeout(() => {
      timers.delete(timer);
      poll(name);
    }, interval * (1 - jitter + 2 * jitter * Math.random()));
    timers.add(timer);
  };
  for (const name of names) poll(name);
  return () => {
    stopped = true;
    for (const timer of timers) clearTimeout(timer);
    resolver.cancel();
  };
}

function watchPoller(names: string[], server: string, interval: number, jitter: number, resolvConfPath: string): { stop: () => void; count: () => { completed: number; failed: number } } {
  const handles: DnsWatch[] = names.map((name) =>
    watch(name, {
      refreshInterval: interval,
      jitter,
      nameservers: [server],
      timeout: POLL_TIMEOUT_MS,
      attempts: POLL_ATTEMPTS,
      hostsPath: false,
      resolvConfPath,
    }).unref(),
  );
  for (const handle of handles) handle.on('error', () => {});
  return {
    stop: () => {
      for (const handle of handles) handle.close();
    },
    // The watchers' own counters, read only at the window's edges.
    count: () => {
      let completed = 0;
      let failed = 0;
      for (const entry of stats()) {
        completed += entry.queries - entry.failures;
        failed += entry.failures;
      }
      return { completed, failed };
    },
  };
}

async function main(): Promise<void> {
  const given = process.argv[2] ?? '';
  if (given !== 'watch' && given !== 'c-ares') throw new Error(`poller-side: unknown side ${JSON.stringify(given)} (watch or c-ares)`);
  const side: PollerSideName = given;
  const count = Number(option('names'));
  const server = option('server');
  const interval = Number(option('interval'));
  const jitter = Number(option('jitter'));
  // The window starts at an agreed moment (epoch ms), so two sides run side by side measure the same stretch of time.
  const windowAt = Number(option('window-at'));
  const windowMs = Number(option('window'));
  const names = pollerNames(count, side);

  let completed = 0;
  let failed = 0;
  let stop: () => void;
  let counts: () => { completed: number; failed: number };
  if (side === 'c-ares') {
    stop = caresPoller(names, server, interval, jitter, (ok) => (ok ? completed++ : failed++));
    counts = () => ({ completed, failed });
  } else {
    const poller = watchPoller(names, server, interval, jitter, option('resolv-conf'));
    stop = poller.stop;
    counts = poller.count;
  }
  await sleep(Math.max(0, windowAt - Date.now()));
  const before = counts();
  const windowStart = Date.now();
  const cpuStart = process.cpuUsage();
  await sleep(windowMs);
  const cpu = process.cpuUsage(cpuStart);
  const windowEnd = Date.now();
  const after = counts();
  const heapUsed = process.memoryUsage().heapUsed;
  stop();
  const result: PollerSideResult = {
    side,
    names: count,
    windowStart,
    windowEnd,
    cpuUs: cpu.user + cpu.system,
    completed: after.completed - before.completed,
    failed: after.failed - before.failed,
    heapUsed,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

// Run only as a script (bench/poller.ts imports the names and types).
if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    process.stderr.write(`poller-side: ${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  });
}
