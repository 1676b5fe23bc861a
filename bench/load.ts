/**
 * 8. Load: memory per name, event-loop delay and poll cadence at scale.
 *
 * N distinct names polled every `interval` ms (family 0: one A and one AAAA
 * per poll), each run in a fresh process (bench/lib/load-probe.ts) so that
 * memory starts from a clean heap, against the "fast" responder in a DNS
 * server process of its own (bench/dns-server-process.ts). Configurations:
 * 10,000 names every 2 s through `watch()` and through the registry (as a
 * grpc channel uses it), 5,000 names every 1 s through `watch()`. Runs are
 * repeated and interleaved (every configuration once per round), so a
 * shared machine's drift lands on all alike; medians with min–max.
 *
 * Counted at the server over the window: A queries per second (one per
 * resolution, plus retries), and per name the gap between consecutive A
 * queries (p50, p99, max: a name polled every `interval` should show gaps of
 * interval ± jitter).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDnsChild, type RecordSpec } from './lib/dns-child.js';
import { runLoadProbe, type LoadJob, type LoadResult } from './lib/load-probe.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { median, percentile } from './lib/stats.js';
import { bytes, int, ms, pct, sig, type Table } from './lib/table.js';

interface Config {
  label: string;
  names: number;
  interval: number;
  via: 'watch' | 'registry';
  /** CPU-bound processes run beside the probe: a process that gets less CPU than its polling needs. */
  busyLoops?: number;
}

/**
 * Processes that only burn CPU, beside a run: each stops by itself after
 * `limitMs`, and is killed when the run ends.
 */
function startBusyLoops(count: number, limitMs: number): () => void {
  const loops = Array.from({ length: count }, () =>
    spawn(process.execPath, ['-e', `const end = Date.now() + ${limitMs}; while (Date.now() < end) {}`], { stdio: 'ignore' }),
  );
  return () => {
    for (const loop of loops) loop.kill('SIGKILL');
  };
}

interface Run extends LoadResult {
  config: string;
  round: number;
  loadAverage: number[];
  serverA: number;
  serverAAAA: number;
  resolutionsPerSecond: number;
  queriesPerSecond: number;
  gap: { p50: number; p99: number; max: number; count: number };
}

/** Median with min–max of a list of numbers, formatted by `format`. */
function spread(values: number[], format: (value: number) => string): string {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 1) return format(sorted[0]!);
  return `${format(median(sorted))} (${format(sorted[0]!)}–${format(sorted[sorted.length - 1]!)})`;
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const { quick, log } = context;
  const configs: Config[] = quick
    ? [
        { label: '1,000 names / 1 s, watch()', names: 1_000, interval: 1_000, via: 'watch' },
        { label: '1,000 names / 1 s, registry', names: 1_000, interval: 1_000, via: 'registry' },
      ]
    : [
        { label: '10,000 names / 2 s, watch()', names: 10_000, interval: 2_000, via: 'watch' },
        { label: '10,000 names / 2 s, registry', names: 10_000, interval: 2_000, via: 'registry' },
        { label: '5,000 names / 1 s, watch()', names: 5_000, interval: 1_000, via: 'watch' },
        // Starved: the probe gets about a third of a core, less than 5,000 polls a second need.
        { label: '5,000 names / 1 s, watch(), 6 busy loops beside', names: 5_000, interval: 1_000, via: 'watch', busyLoops: 6 },
      ];
  const rounds = Number(process.env.LOAD_ROUNDS ?? (quick ? 1 : 3));
  const suffix = 'load.bench.test';
  const maxNames = Math.max(...configs.map((config) => config.names));
  const records: RecordSpec[] = Array.from({ length: maxNames }, (_, i) => ({
    name: `w${i}.${suffix}`,
    A: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    AAAA: [`fd00::${i.toString(16)}`],
    ttl: 300,
  }));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-load-'));
  const resolvConfPath = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConfPath, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const server = await startDnsChild({ mode: 'fast', records });
  const runs: Run[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      const order = configs.map((_, index) => configs[(index + round) % configs.length]!);
      for (const config of order) {
        await server.reset();
        const job: LoadJob = {
          nameserver: server.address,
          resolvConfPath,
          names: config.names,
          suffix,
          interval: config.interval,
          via: config.via,
          warmupIntervals: quick ? 1 : 3,
          windowIntervals: quick ? 1 : 5,
          memorySamples: quick ? 1 : 3,
          cpuProfDir: process.env.LOAD_CPU_PROF_DIR,
          heapSnapshotDir: process.env.LOAD_HEAP_SNAPSHOT_DIR,
        };
        const loadAverage = os.loadavg();
        const stopBusyLoops = startBusyLoops(config.busyLoops ?? 0, 120_000);
        let result: LoadResult;
        try {
          result = await runLoadProbe(job);
        } finally {
          stopBusyLoops();
        }
        const a = await server.gaps(result.windowFrom, result.windowTo, { type: 'A' });
        const aaaa = await server.count({ type: 'AAAA' });
        const windowS = (result.windowTo - result.windowFrom) / 1000;
        // AAAA counted over the whole run only matters as a check; per-second figures come from A in the window.
        const entry: Run = {
          ...result,
          config: config.label,
          round,
          loadAverage,
          serverA: a.queries,
          serverAAAA: aaaa,
          resolutionsPerSecond: result.resolutions / windowS,
          queriesPerSecond: a.queries / windowS,
          gap: { p50: percentile(a.gaps, 50), p99: percentile(a.gaps, 99), max: a.gaps[a.gaps.length - 1] ?? NaN, count: a.gaps.length },
        };
        runs.push(entry);
        log(
          `round ${round + 1}/${rounds} ${config.label}: load ${loadAverage.map((x) => x.toFixed(2)).join(' ')}; ` +
            `${sig(entry.resolutionsPerSecond)} resolutions/s (${sig(entry.queriesPerSecond)} A/s at the server), gap p50 ${ms(entry.gap.p50)} p99 ${ms(entry.gap.p99)} max ${ms(entry.gap.max)}, ` +
            `loop delay p99 ${ms(entry.loopDelay.p99)} max ${ms(entry.loopDelay.max)}, CPU ${pct(entry.cpuShare)}, heap/name ${bytes(entry.heapPerName)}, RSS/name ${bytes(entry.rssPerName)}, ` +
            `failed polls ${entry.failedPolls}, start-up ${ms(entry.startupMs)} (${entry.startupAnswered}/${config.names}) ${JSON.stringify(entry.errorCodes)}`,
        );
      }
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const of = (config: Config): Run[] => runs.filter((entry) => entry.config === config.label);
  const table: Table = {
    title: `Poll load per configuration: median (min–max) over ${rounds} interleaved round${rounds === 1 ? '' : 's'}, each run in a fresh process; family 0, jitter 0.2, per-try timeout 1 s, 2 attempts`,
    headers: ['configuration', 'resolutions/s (target)', 'A queries/s at server', 'gap between polls p50', 'gap p99', 'loop delay p99', 'loop delay max', 'CPU share', 'heap/name', 'RSS/name', 'busy RSS/name', 'failed polls', 'load average (1 min)'],
    rows: configs.map((config) => {
      const list = of(config);
      return [
        config.label,
        `${spread(list.map((entry) => entry.resolutionsPerSecond), (value) => int(value))} (${int((config.names * 1000) / config.interval)})`,
        spread(list.map((entry) => entry.queriesPerSecond), (value) => int(value)),
        spread(list.map((entry) => entry.gap.p50), ms),
        spread(list.map((entry) => entry.gap.p99), ms),
        spread(list.map((entry) => entry.loopDelay.p99), ms),
        spread(list.map((entry) => entry.loopDelay.max), ms),
        spread(list.map((entry) => entry.cpuShare), pct),
        spread(list.map((entry) => entry.heapPerName), bytes),
        spread(list.map((entry) => entry.rssPerName), bytes),
        spread(list.map((entry) => entry.busyRssPerName), bytes),
        spread(list.map((entry) => entry.failedPolls), int),
        spread(list.map((entry) => entry.loadAverage[0]!), (value) => value.toFixed(2)),
      ];
    }),
    notes: [
      'resolutions/s: polls completed with an answer in the window (watcher counters) / window; A queries/s: counted at the server (one per poll, more when retried).',
      'gap: per name, time between consecutive A queries at the server over the window.',
      'Loop delay: monitorEventLoopDelay({ resolution: 5 }) over the window, 5 ms sampling period subtracted. CPU share: this process (user+system) / wall, of one core.',
      'heap/name: median of three readings a second apart, each right after one forced GC while the names are polled (back-to-back GCs would stall the loop and count the burst of polls that falls due meanwhile: 2,764 polls in flight in one such reading), against the same process after a warm-up (200 names opened and closed), / names.',
      'RSS/name: the same, once forced GCs in a row have settled the heap (V8 gives back the young generation and free pages, as it does when polling leaves it time). busy RSS/name: right after the single GC, young generation included (V8 grows it with the allocation rate, up to 2 × 16 MiB whatever the number of names).',
      'load average: os.loadavg() of the machine (shared, 2 cores) when the run started.',
    ],
  };
  const memoryConfigs = configs.filter((config) => config.names === maxNames);
  const summary: SummaryLine[] = [
    ...memoryConfigs.map((config) => {
      const list = of(config);
      const heap = median(list.map((entry) => entry.heapPerName));
      const rss = median(list.map((entry) => entry.rssPerName));
      const delay = median(list.map((entry) => entry.loopDelay.p99));
      return {
        metric: `${config.label}: heap / RSS per name, loop delay p99 (median of ${list.length})`,
        value: `${bytes(heap)} / ${bytes(rss)}, ${ms(delay)}`,
        target: 'heap ≤ 2 KiB, RSS ≤ 6 KiB per name, loop delay p99 ≤ 20 ms',
        met: heap <= 2048 && rss <= 6144 && delay <= 20,
      };
    }),
    ...configs.filter((config) => !config.busyLoops).map((config) => {
      const list = of(config);
      const rate = median(list.map((entry) => entry.resolutionsPerSecond));
      const target = (config.names * 1000) / config.interval;
      return {
        metric: `${config.label}: resolutions/s, gap p99, loop delay p99 (median of ${list.length})`,
        value: `${int(rate)} / ${int(target)}, ${ms(median(list.map((entry) => entry.gap.p99)))}, ${ms(median(list.map((entry) => entry.loopDelay.p99)))}`,
        target: 'every name polled at its interval (≥ 95 % of N / interval)',
        met: rate >= 0.95 * target,
      };
    }),
    // Starved: no rate can be promised; what counts is that a slow process polls late instead of failing.
    ...configs.filter((config) => config.busyLoops).map((config) => {
      const list = of(config);
      const failed = median(list.map((entry) => entry.failedPolls));
      return {
        metric: `${config.label}: resolutions/s, failed polls in the window, CPU share (median of ${list.length})`,
        value: `${int(median(list.map((entry) => entry.resolutionsPerSecond)))} / ${int((config.names * 1000) / config.interval)}, ${int(failed)}, ${pct(median(list.map((entry) => entry.cpuShare)))}`,
        target: 'short of CPU, polls come late, not failed (0 failed polls)',
        met: failed === 0,
      };
    }),
  ];
  return {
    name: 'load',
    title: '8. Load: memory per name, event-loop delay and poll cadence at scale',
    method:
      'N distinct names (A+AAAA each, TTL 300 s) polled every interval with jitter 0.2 (the default), each run in a fresh process (bench/lib/load-probe.ts) against the pre-encoded responder in a DNS server process of its own. ' +
      'Start-up (all N at once, paced), 3 warm-up intervals, then a window of 5 intervals: event-loop delay, CPU, resolutions delivered (watcher counters) and queries at the server; then memory after forced GCs while polling. ' +
      `Configurations interleaved, ${rounds} rounds.`,
    tables: [table],
    summary,
    notes: [],
    data: { rounds, configs, runs, measuredAt: runs[0] ? new Date(runs[0].windowFrom).toISOString() : undefined },
  };
}
