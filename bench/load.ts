/**
 * 8. Load: memory per name, event-loop delay, poll cadence and the query
 * stream at scale (what was benchmark 4, `scale`, is its jitter-off row and
 * its query-stream table).
 *
 * N distinct names polled every `interval` ms (family 0: one A and one AAAA
 * per poll), each run in a fresh process (bench/lib/load-probe.ts) so that
 * memory starts from a clean heap, against the "fast" responder in a DNS
 * server process of its own (bench/dns-server-process.ts). Configurations:
 * 10,000 names every 2 s through `watch()` with jitter 0.2 (the default) and
 * with jitter 0, and through the registry (as a grpc channel uses it);
 * 5,000 names every 1 s through `watch()`, alone and beside six busy loops.
 * Runs are repeated and interleaved (every configuration once per round), so
 * a shared machine's drift lands on all alike; medians with min–max.
 *
 * Counted at the server over the window: A queries per second (one per
 * resolution, plus retries), per name the gap between consecutive A queries
 * (p50, p99, max: a name polled every `interval` should show gaps of
 * interval ± jitter), and every query per 100 ms (peak against mean: with
 * jitter off the names poll in lock-step).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDnsChild, type DnsChild, type RecordSpec } from './lib/dns-child.js';
import { runLoadProbe, type LoadJob, type LoadResult } from './lib/load-probe.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { mean, median, medianWithRange as spread, percentile, ratio } from './lib/stats.js';
import { bytes, int, ms, pct, sig, times, type Table } from './lib/table.js';

interface Config {
  label: string;
  names: number;
  interval: number;
  via: 'watch' | 'registry';
  /** The watchers' jitter; the library's default (0.2) when absent. */
  jitter?: number;
  /** CPU-bound processes run beside the probe: a process that gets less CPU than its polling needs. */
  busyLoops?: number;
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
  /** Every query at the server over the window, per 100 ms. */
  stream: QueryStream;
}

interface QueryStream {
  queries: number;
  meanPerWindow: number;
  peakPerWindow: number;
  peakToMean: number;
  /** Share of 100 ms windows with no query at all. */
  emptyWindows: number;
  /** This process's CPU per query at the server. */
  cpuUsPerQuery: number;
}

/** The query stream's bucket. */
const STREAM_WINDOW_MS = 100;
const DEFAULT_JITTER = 0.2;
const SUFFIX = 'load.bench.test';

function configsFor(quick: boolean): Config[] {
  return quick
    ? [
        { label: '1,000 names / 1 s, watch()', names: 1_000, interval: 1_000, via: 'watch' },
        { label: '1,000 names / 1 s, watch(), jitter 0', names: 1_000, interval: 1_000, via: 'watch', jitter: 0 },
        { label: '1,000 names / 1 s, registry', names: 1_000, interval: 1_000, via: 'registry' },
      ]
    : [
        { label: '10,000 names / 2 s, watch()', names: 10_000, interval: 2_000, via: 'watch' },
        { label: '10,000 names / 2 s, watch(), jitter 0', names: 10_000, interval: 2_000, via: 'watch', jitter: 0 },
        { label: '10,000 names / 2 s, registry', names: 10_000, interval: 2_000, via: 'registry' },
        { label: '5,000 names / 1 s, watch()', names: 5_000, interval: 1_000, via: 'watch' },
        // Starved: the probe gets about a third of a core, less than 5,000 polls a second need.
        { label: '5,000 names / 1 s, watch(), 6 busy loops beside', names: 5_000, interval: 1_000, via: 'watch', busyLoops: 6 },
      ];
}

function loadRecords(count: number): RecordSpec[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `w${i}.${SUFFIX}`,
    A: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    AAAA: [`fd00::${i.toString(16)}`],
    ttl: 300,
  }));
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

/** The probe's figures for one configuration, with what the server counted over its window. */
async function measureRun(server: DnsChild, resolvConfPath: string, config: Config, round: number, quick: boolean): Promise<Run> {
  await server.reset();
  const job: LoadJob = {
    nameserver: server.address,
    resolvConfPath,
    names: config.names,
    suffix: SUFFIX,
    interval: config.interval,
    jitter: config.jitter,
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
  // AAAA counted over the whole run only matters as a check; per-second figures come from A in the window.
  const aaaa = await server.count({ type: 'AAAA' });
  const perWindow = await server.windows(result.windowFrom, result.windowTo, STREAM_WINDOW_MS);
  const windowS = (result.windowTo - result.windowFrom) / 1000;
  return {
    ...result,
    config: config.label,
    round,
    loadAverage,
    serverA: a.queries,
    serverAAAA: aaaa,
    resolutionsPerSecond: result.resolutions / windowS,
    queriesPerSecond: a.queries / windowS,
    gap: { p50: percentile(a.gaps, 50), p99: percentile(a.gaps, 99), max: a.gaps[a.gaps.length - 1] ?? NaN, count: a.gaps.length },
    stream: queryStream(perWindow, result),
  };
}

function queryStream(perWindow: number[], result: LoadResult): QueryStream {
  const queries = perWindow.reduce((sum, n) => sum + n, 0);
  const peakPerWindow = Math.max(...perWindow);
  return {
    queries,
    meanPerWindow: mean(perWindow),
    peakPerWindow,
    peakToMean: ratio(peakPerWindow, mean(perWindow)),
    emptyWindows: perWindow.filter((n) => n === 0).length / perWindow.length,
    cpuUsPerQuery: (result.cpuShare * result.windowMs * 1000) / queries,
  };
}

function describeRun(rounds: number, entry: Run, names: number): string {
  return (
    `round ${entry.round + 1}/${rounds} ${entry.config}: load ${entry.loadAverage.map((x) => x.toFixed(2)).join(' ')}; ` +
    `${sig(entry.resolutionsPerSecond)} resolutions/s (${sig(entry.queriesPerSecond)} A/s at the server), gap p50 ${ms(entry.gap.p50)} p99 ${ms(entry.gap.p99)} max ${ms(entry.gap.max)}, ` +
    `loop delay p99 ${ms(entry.loopDelay.p99)} max ${ms(entry.loopDelay.max)}, CPU ${pct(entry.cpuShare)}, heap/name ${bytes(entry.heapPerName)}, RSS/name ${bytes(entry.rssPerName)}, ` +
    `query stream peak/mean ${times(entry.stream.peakToMean)}, failed polls ${entry.failedPolls}, start-up ${ms(entry.startupMs)} (${entry.startupAnswered}/${names}) ${JSON.stringify(entry.errorCodes)}`
  );
}

/** Every configuration once per round, the order rotated from round to round. */
async function runRounds(context: BenchContext, configs: Config[], rounds: number): Promise<Run[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-load-'));
  // A resolv.conf of our own, so nothing of the host's (search list, options) applies.
  const resolvConfPath = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConfPath, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const server = await startDnsChild({ mode: 'fast', records: loadRecords(Math.max(...configs.map((config) => config.names))) });
  const runs: Run[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const config of configs.map((_, index) => configs[(index + round) % configs.length]!)) {
        const entry = await measureRun(server, resolvConfPath, config, round, context.quick);
        runs.push(entry);
        context.log(describeRun(rounds, entry, config.names));
      }
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return runs;
}

function pollLoadTable(configs: Config[], of: (config: Config) => Run[], rounds: number): Table {
  return {
    title: `Poll load per configuration: median (min–max) over ${rounds} interleaved round${rounds === 1 ? '' : 's'}, each run in a fresh process; family 0, jitter 0.2 unless the row says otherwise, per-try timeout 1 s, 2 attempts`,
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
}

function queryStreamTable(configs: Config[], of: (config: Config) => Run[], rounds: number): Table {
  return {
    title: `Start-up and the query stream at the server per ${STREAM_WINDOW_MS} ms: median (min–max) over ${rounds} round${rounds === 1 ? '' : 's'}`,
    headers: ['configuration', 'jitter', 'all answered after', 'CPU/query', `queries/${STREAM_WINDOW_MS} ms mean`, 'peak', 'peak/mean', `empty ${STREAM_WINDOW_MS} ms windows`],
    rows: configs.map((config) => {
      const list = of(config);
      return [
        config.label,
        String(config.jitter ?? DEFAULT_JITTER),
        spread(list.map((entry) => entry.startupMs), ms),
        spread(list.map((entry) => entry.stream.cpuUsPerQuery), (value) => `${sig(value)} µs`),
        spread(list.map((entry) => entry.stream.meanPerWindow), (value) => sig(value)),
        spread(list.map((entry) => entry.stream.peakPerWindow), int),
        spread(list.map((entry) => entry.stream.peakToMean), times),
        spread(list.map((entry) => entry.stream.emptyWindows), pct),
      ];
    }),
    notes: [
      'all answered after: from the first watch() (all N at once, paced by src/watch/pacer.ts) until every name had its first answer.',
      'CPU/query: this process\'s CPU over the window / every query (A and AAAA) the server counted in it. Peak/mean near 1×: the polls spread evenly; with jitter 0 the names keep the phase of their first polls.',
    ],
  };
}

function summaryLines(configs: Config[], of: (config: Config) => Run[]): SummaryLine[] {
  const maxNames = Math.max(...configs.map((config) => config.names));
  const medianOf = (config: Config, figure: (entry: Run) => number): number => median(of(config).map(figure));
  const jitterOn = configs.find((config) => config.names === maxNames && config.via === 'watch' && config.jitter === undefined && !config.busyLoops)!;
  const jitterOff = configs.find((config) => config.jitter === 0)!;
  return [
    {
      metric: `Query stream peak/mean per ${STREAM_WINDOW_MS} ms, jitter off / on (${int(maxNames)} names)`,
      value: `${times(medianOf(jitterOff, (entry) => entry.stream.peakToMean))} / ${times(medianOf(jitterOn, (entry) => entry.stream.peakToMean))}`,
      target: 'no lock-step with jitter on (peak/mean ≤ 2×)',
      met: medianOf(jitterOn, (entry) => entry.stream.peakToMean) <= 2,
    },
    ...configs.filter((config) => config.names === maxNames && config.jitter === undefined).map((config) => {
      const heap = medianOf(config, (entry) => entry.heapPerName);
      const rss = medianOf(config, (entry) => entry.rssPerName);
      const delay = medianOf(config, (entry) => entry.loopDelay.p99);
      return {
        metric: `${config.label}: heap / RSS per name, loop delay p99 (median of ${of(config).length})`,
        value: `${bytes(heap)} / ${bytes(rss)}, ${ms(delay)}`,
        target: 'heap ≤ 2 KiB, RSS ≤ 6 KiB per name, loop delay p99 ≤ 20 ms',
        met: heap <= 2048 && rss <= 6144 && delay <= 20,
      };
    }),
    ...configs.filter((config) => !config.busyLoops).map((config) => {
      const rate = medianOf(config, (entry) => entry.resolutionsPerSecond);
      const target = (config.names * 1000) / config.interval;
      return {
        metric: `${config.label}: resolutions/s, gap p99, loop delay p99 (median of ${of(config).length})`,
        value: `${int(rate)} / ${int(target)}, ${ms(medianOf(config, (entry) => entry.gap.p99))}, ${ms(medianOf(config, (entry) => entry.loopDelay.p99))}`,
        target: 'every name polled at its interval (≥ 95 % of N / interval)',
        met: rate >= 0.95 * target,
      };
    }),
    // Starved: no rate can be promised; what counts is that a slow process polls late instead of failing.
    ...configs.filter((config) => config.busyLoops).map((config) => {
      const failed = medianOf(config, (entry) => entry.failedPolls);
      return {
        metric: `${config.label}: resolutions/s, failed polls in the window, CPU share (median of ${of(config).length})`,
        value: `${int(medianOf(config, (entry) => entry.resolutionsPerSecond))} / ${int((config.names * 1000) / config.interval)}, ${int(failed)}, ${pct(medianOf(config, (entry) => entry.cpuShare))}`,
        target: 'short of CPU, polls come late, not failed (0 failed polls)',
        met: failed === 0,
      };
    }),
  ];
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const configs = configsFor(context.quick);
  const rounds = Number(process.env.LOAD_ROUNDS ?? (context.quick ? 1 : 3));
  const runs = await runRounds(context, configs, rounds);
  const of = (config: Config): Run[] => runs.filter((entry) => entry.config === config.label);
  return {
    name: 'load',
    title: '8. Load: memory per name, event-loop delay, poll cadence and the query stream at scale',
    method:
      'N distinct names (A+AAAA each, TTL 300 s) polled every interval with jitter 0.2 (the default; one row with jitter 0), each run in a fresh process (bench/lib/load-probe.ts) against the pre-encoded responder in a DNS server process of its own. ' +
      'Start-up (all N at once, paced), 3 warm-up intervals, then a window of 5 intervals: event-loop delay, CPU, resolutions delivered (watcher counters) and queries at the server (per name, and per 100 ms); then memory after forced GCs while polling. ' +
      `Configurations interleaved, ${rounds} rounds.`,
    tables: [pollLoadTable(configs, of, rounds), queryStreamTable(configs, of, rounds)],
    summary: summaryLines(configs, of),
    notes: [],
    data: { rounds, configs, runs, measuredAt: runs[0] ? new Date(runs[0].windowFrom).toISOString() : undefined },
  };
}
