/**
 * One load run in a fresh process (used by bench/load.ts): N distinct names
 * polled every `interval` ms (with the jitter asked, the library's default
 * otherwise), through `watch()` or through the registry as a
 * grpc channel uses it, against a DNS server in another process. Measures
 * what this process pays and delivers:
 * - memory per name, against the process after a warm-up (modules loaded, a
 *   few watchers opened and closed), while the N names are polled (so
 *   in-flight queries and timers count): heap right after a forced GC, median
 *   of three readings a second apart (harness.ts `memoryWhilePolling`); RSS
 *   once GCs in a row have settled the heap (`settledMemory`, as the heap is
 *   when polling leaves it time), and RSS right after the single GC ("busy
 *   RSS": it includes the young generation V8 grows with the allocation rate,
 *   up to 2 × 16 MiB whatever the number of names);
 * - event-loop delay (monitorEventLoopDelay) and CPU share over a window of
 *   steady polling;
 * - resolutions delivered: polls the watchers completed with an answer
 *   (registry stats, before and after the window).
 *
 *   node --import tsx --expose-gc bench/lib/load-probe.ts '<json LoadJob>'
 *
 * Prints one JSON line (LoadResult) on stdout; exits by itself.
 *
 * What runs is this file and src/ bundled by tsup the way the package is
 * built (bench/lib/load-probe.bundle/), not tsx's on-the-fly transform:
 * tsx compiles with esbuild's keepNames, which gives every closure a
 * `name` property of its own and about 250 bytes more heap, so per-name
 * memory under tsx reads ~1 KiB higher than what users run.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { PROJECT_ROOT } from './dns-child.js';

export interface LoadJob {
  /** `host:port` of the DNS server (bench/dns-server-process.ts). */
  nameserver: string;
  resolvConfPath: string;
  names: number;
  /** Name i is `w<i>.<suffix>`. */
  suffix: string;
  interval: number;
  /** The watchers' jitter; the library's default (0.2) when absent. */
  jitter?: number;
  via: 'watch' | 'registry';
  warmupIntervals: number;
  windowIntervals: number;
  /** Heap readings while polling, a second apart (median taken); default 3. */
  memorySamples?: number;
  /** Write a V8 CPU profile of the window into this directory. */
  cpuProfDir?: string;
  /** Write heap snapshots (after warm-up, and at the end of the window) into this directory. */
  heapSnapshotDir?: string;
}

export interface LoadResult {
  startupMs: number;
  startupAnswered: number;
  /** Date.now() at the window's ends, to count at the server. */
  windowFrom: number;
  windowTo: number;
  windowMs: number;
  /** Polls completed in the window with an answer / with a failure (watcher counters). */
  resolutions: number;
  failedPolls: number;
  cpuShare: number;
  loopDelay: { p50: number; p99: number; max: number };
  heapPerName: number;
  rssPerName: number;
  busyRssPerName: number;
  /** Base heap and RSS (after warm-up), bytes. */
  baseHeap: number;
  baseRss: number;
  /** Last errors by code among the watchers at the end of the window. */
  errorCodes: Record<string, number>;
}

const SCRIPT = path.join(PROJECT_ROOT, 'bench', 'lib', 'load-probe.ts');
/** Inside the project, so the bundle resolves dns-packet from its node_modules. */
const BUNDLE_DIR = path.join(PROJECT_ROOT, 'node_modules', '.cache', 'grpc-dns-watch-load-probe');
let bundled: Promise<string> | undefined;

/** This file and src/ as one ES module, built like the package (tsup, no keepNames). Once per process. */
function bundle(): Promise<string> {
  bundled ??= (async () => {
    const { build } = await import('tsup');
    await build({
      entry: { 'load-probe': SCRIPT },
      format: ['esm'],
      outDir: BUNDLE_DIR,
      platform: 'node',
      target: 'node18',
      // Not tsup.config.ts: it empties dist/.
      config: false,
      dts: false,
      sourcemap: false,
      splitting: false,
      silent: true,
      // .mjs: package.json's "type" does not reach into node_modules/.
      outExtension: () => ({ js: '.mjs' }),
      external: ['@grpc/grpc-js', 'dns-packet', 'tsup'],
    });
    return path.join(BUNDLE_DIR, 'load-probe.mjs');
  })();
  return bundled;
}
/** monitorEventLoopDelay's sampling period; its samples are the period plus the delay, so it is subtracted. */
const ELD_RESOLUTION_MS = 5;

/** Run one job in a fresh process, bounded in time. */
export async function runLoadProbe(job: LoadJob): Promise<LoadResult> {
  const limitMs = (job.warmupIntervals + job.windowIntervals + 20) * job.interval + 60_000;
  const script = await bundle();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', script, JSON.stringify(job)],
      { cwd: PROJECT_ROOT, timeout: limitMs, killSignal: 'SIGKILL', maxBuffer: 16 << 20, env: { ...process.env, LOAD_PROBE_MAIN: '1' } },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`load probe ${job.names} names via ${job.via}: ${error.message}\n${stderr}`));
          return;
        }
        try {
          resolve(JSON.parse(stdout.trim().split('\n').pop() ?? '') as LoadResult);
        } catch {
          reject(new Error(`load probe: no result in ${JSON.stringify(stdout)}\n${stderr}`));
        }
      },
    );
  });
}

async function main(job: LoadJob): Promise<void> {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const v8 = await import('node:v8');
  const inspector = await import('node:inspector');
  const fs = await import('node:fs');
  const { watch } = await import('../../src/index.js');
  const { resolveOptions } = await import('../../src/watch/options.js');
  const { registry } = await import('../../src/watch/registry.js');
  const { memoryWhilePolling, settledMemory, sleep } = await import('./harness.js');
  const { pollUntil: waitFor } = await import('../../harness/wait.js');
  const options = {
    refreshInterval: job.interval,
    ...(job.jitter === undefined ? {} : { jitter: job.jitter }),
    nameservers: [job.nameserver],
    hostsPath: false as const,
    resolvConfPath: job.resolvConfPath,
    timeout: 1_000,
    attempts: 2,
  };
  const names = Array.from({ length: job.names }, (_, i) => `w${i}.${job.suffix}`);
  const answered = new Set<string>();
  const open = (list: readonly string[]): Array<() => void> => {
    if (job.via === 'watch') {
      return list.map((name) => {
        const handle = watch(name, options);
        handle.on('update', () => void answered.add(name));
        handle.on('error', () => {});
        return () => handle.close();
      });
    }
    // As src/grpc/resolver.ts does for a channel: one registry subscription per target.
    const resolved = resolveOptions(options);
    return list.map((name) => {
      const subscription = registry.subscribe(name, resolved, (delivery) => {
        if (delivery.kind === 'update') answered.add(name);
      });
      return () => subscription.close();
    });
  };
  const totals = (): { answers: number; failures: number; codes: Record<string, number> } => {
    let answers = 0;
    let failures = 0;
    const codes: Record<string, number> = {};
    for (const stats of registry.stats()) {
      answers += stats.queries - stats.failures;
      failures += stats.failures;
      if (stats.lastError) codes[stats.lastError.code] = (codes[stats.lastError.code] ?? 0) + 1;
    }
    return { answers, failures, codes };
  };

  // Warm-up: load and optimize the code paths, open and close the sockets once.
  const warm = open(names.slice(0, 200));
  await waitFor(() => answered.size >= 200, 10_000, 10);
  for (const close of warm) close();
  await waitFor(() => registry.size.watchers === 0 && registry.size.resolvers === 0, 5_000);
  answered.clear();
  await sleep(200);
  const base = await settledMemory();
  const snapshot = (label: string): void => {
    if (job.heapSnapshotDir) v8.writeHeapSnapshot(path.join(job.heapSnapshotDir, `load-${job.names}-${job.via}-${label}.heapsnapshot`));
  };
  snapshot('base');

  const started = performance.now();
  const closers = open(names);
  await waitFor(() => answered.size === job.names, 10 * job.interval + 10_000, 20);
  const startupMs = performance.now() - started;
  const startupAnswered = answered.size;
  await sleep(job.warmupIntervals * job.interval);

  let session: InstanceType<typeof inspector.Session> | undefined;
  if (job.cpuProfDir) {
    session = new inspector.Session();
    session.connect();
    await new Promise<void>((resolve) => session!.post('Profiler.enable', () => session!.post('Profiler.start', () => resolve())));
  }
  const before = totals();
  const histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
  const windowFrom = Date.now();
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();
  histogram.enable();
  await sleep(job.windowIntervals * job.interval);
  histogram.disable();
  const cpu = process.cpuUsage(cpuStart);
  const windowMs = performance.now() - wallStart;
  const windowTo = Date.now();
  if (session && job.cpuProfDir) {
    const profile = await new Promise<unknown>((resolve) => session.post('Profiler.stop', (_error, result) => resolve(result.profile)));
    fs.writeFileSync(path.join(job.cpuProfDir, `load-${job.names}-${job.interval}-${job.via}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
  const after = totals();
  const memory = await memoryWhilePolling(job.memorySamples ?? 3, job.memorySamples === 1 ? 500 : 1_000);
  snapshot('polling');
  const settled = await settledMemory();
  const ms = (nanoseconds: number): number => Math.max(0, nanoseconds / 1e6 - ELD_RESOLUTION_MS);
  const result: LoadResult = {
    startupMs,
    startupAnswered,
    windowFrom,
    windowTo,
    windowMs,
    resolutions: after.answers - before.answers,
    failedPolls: after.failures - before.failures,
    cpuShare: (cpu.user + cpu.system) / 1000 / windowMs,
    loopDelay: { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max) },
    heapPerName: (memory.heapUsed - base.heapUsed) / job.names,
    rssPerName: (settled.rss - base.rss) / job.names,
    busyRssPerName: (memory.rss - base.rss) / job.names,
    baseHeap: base.heapUsed,
    baseRss: base.rss,
    errorCodes: after.codes,
  };
  for (const close of closers) close();
  await waitFor(() => registry.size.watchers === 0, 5_000);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.env.LOAD_PROBE_MAIN === '1') {
  main(JSON.parse(process.argv[2] ?? '{}') as LoadJob).catch((error: unknown) => {
    process.stderr.write(`${String((error as Error)?.stack ?? error)}\n`);
    process.exitCode = 1;
  });
}
