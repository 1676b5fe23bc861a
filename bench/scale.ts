/**
 * 4. Scale: many distinct watched names at a short interval.
 *
 * watch() on N distinct names (A+AAAA each) at a short refreshInterval, in
 * this process; the DNS server is the "fast" responder in a child process,
 * so it neither competes for this process's CPU nor becomes the bottleneck
 * (it answers ~100k queries/s on one core). Two phases in the same process,
 * jitter 0 ("off") and jitter 0.2 ("on", the default), each:
 * - start-up: all N names watched at once; time until every name had its first answer
 * - warm-up: a few intervals, so jitter can spread the polls
 * - window: M intervals measured: CPU share (process.cpuUsage / wall), event-loop
 *   delay (perf_hooks.monitorEventLoopDelay), queries per 100 ms at the server
 *   (peak vs mean), failed polls, UDP receive-buffer drops
 * - memory: heap and RSS per watched name after forced GCs, against the phase's start.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { watch, type DnsWatch } from '../src/index.js';
import { registry } from '../src/watch/registry.js';
import { startDnsChild, type RecordSpec } from './lib/dns-child.js';
import { memoryWhilePolling, settledMemory, sleep } from './lib/harness.js';
import { pollUntil } from '../harness/wait.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { coefficientOfVariation, mean, ratio } from './lib/stats.js';
import { bytes, int, ms, pct, sig, times, type Table } from './lib/table.js';
import { dropsBetween, udpCounters } from './lib/udp-drops.js';

const WINDOW_MS = 100;
const TIMEOUT_MS = 1_000;
/** monitorEventLoopDelay's sampling period; its samples are the period plus the delay, so it is subtracted. */
const ELD_RESOLUTION_MS = 5;

interface Phase {
  jitter: number;
  names: number;
  startupMs: number;
  startupAnswered: number;
  startupErrors: number;
  startupQueries: number;
  startupDrops: { server: number; clients: number } | null;
  windowMs: number;
  cpuShare: number;
  cpuUsPerQuery: number;
  loopDelay: { p50: number; p99: number; max: number };
  queries: number;
  expectedQueries: number;
  peakPerWindow: number;
  meanPerWindow: number;
  peakToMean: number;
  windowCv: number;
  emptyWindows: number;
  windowErrors: number;
  windowDrops: { server: number; clients: number } | null;
  heapPerName: number;
  rssPerName: number;
  histogram: number[];
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const { quick, log } = context;
  const count = quick ? 1_000 : 10_000;
  const refreshInterval = quick ? 1_000 : 2_000;
  const warmupIntervals = quick ? 1 : 3;
  const windowIntervals = quick ? 1 : 5;
  const names = Array.from({ length: count }, (_, i) => `w${i}.scale.bench.test`);
  const records: RecordSpec[] = names.map((name, i) => ({
    name,
    A: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    AAAA: [`fd00::${i.toString(16)}`],
    ttl: 300,
  }));
  // A resolv.conf of our own, so nothing of the host's (search list, options) applies.
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-scale-'));
  const resolvConfPath = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConfPath, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const server = await startDnsChild({ mode: 'fast', records });
  const phases: Phase[] = [];
  try {
    for (const jitter of [0, 0.2]) {
      log(`jitter ${jitter}: watching ${count} names every ${refreshInterval} ms`);
      const base = await settledMemory();
      await server.reset();
      const answered = new Set<string>();
      let errors = 0;
      const watches: DnsWatch[] = [];
      const countersAtStart = udpCounters();
      const started = performance.now();
      for (const name of names) {
        const handle = watch(name, {
          refreshInterval,
          jitter,
          nameservers: [server.address],
          hostsPath: false,
          resolvConfPath,
          timeout: TIMEOUT_MS,
          attempts: 2,
        });
        handle.on('update', () => void answered.add(name));
        handle.on('error', () => void errors++);
        watches.push(handle);
      }
      const startupLimitMs = 10 * refreshInterval + 10_000;
      await pollUntil(() => answered.size === count, startupLimitMs, 20);
      const startupMs = performance.now() - started;
      const startupQueries = await server.count();
      const startupDrops = dropsBetween(countersAtStart, udpCounters(), server.port);
      const startupAnswered = answered.size;
      const startupErrors = errors;
      log(`  start-up: ${startupAnswered}/${count} answered in ${startupMs.toFixed(0)} ms, ${startupErrors} errors, ${startupQueries} queries, drops ${JSON.stringify(startupDrops)}`);

      await sleep(warmupIntervals * refreshInterval);

      errors = 0;
      const histogram = monitorEventLoopDelay({ resolution: ELD_RESOLUTION_MS });
      const countersBefore = udpCounters();
      const windowStart = Date.now();
      const cpuStart = process.cpuUsage();
      const wallStart = performance.now();
      histogram.enable();
      await sleep(windowIntervals * refreshInterval);
      histogram.disable();
      const cpu = process.cpuUsage(cpuStart);
      const windowMs = performance.now() - wallStart;
      const windowEnd = Date.now();
      const windowDrops = dropsBetween(countersBefore, udpCounters(), server.port);
      const windowErrors = errors;
      const perWindow = await server.windows(windowStart, windowEnd, WINDOW_MS);
      const queries = perWindow.reduce((sum, n) => sum + n, 0);
      const memory = quick ? await memoryWhilePolling(1, 500) : await memoryWhilePolling();

      const phase: Phase = {
        jitter,
        names: count,
        startupMs,
        startupAnswered,
        startupErrors,
        startupQueries,
        startupDrops,
        windowMs,
        cpuShare: (cpu.user + cpu.system) / 1000 / windowMs,
        cpuUsPerQuery: (cpu.user + cpu.system) / queries,
        loopDelay: {
          p50: Math.max(0, histogram.percentile(50) / 1e6 - ELD_RESOLUTION_MS),
          p99: Math.max(0, histogram.percentile(99) / 1e6 - ELD_RESOLUTION_MS),
          max: Math.max(0, histogram.max / 1e6 - ELD_RESOLUTION_MS),
        },
        queries,
        expectedQueries: (2 * count * windowMs) / refreshInterval,
        peakPerWindow: Math.max(...perWindow),
        meanPerWindow: mean(perWindow),
        peakToMean: ratio(Math.max(...perWindow), mean(perWindow)),
        windowCv: coefficientOfVariation(perWindow),
        emptyWindows: perWindow.filter((n) => n === 0).length / perWindow.length,
        windowErrors,
        windowDrops,
        heapPerName: (memory.heapUsed - base.heapUsed) / count,
        rssPerName: (memory.rss - base.rss) / count,
        histogram: perWindow,
      };
      phases.push(phase);
      log(
        `  window: CPU ${(phase.cpuShare * 100).toFixed(1)} %, loop delay p99 ${phase.loopDelay.p99.toFixed(1)} ms, ` +
          `${queries} queries (expected ~${phase.expectedQueries.toFixed(0)}), peak/mean ${phase.peakToMean.toFixed(2)}, errors ${windowErrors}, drops ${JSON.stringify(windowDrops)}`,
      );
      for (const handle of watches) handle.close();
      const stopped = await pollUntil(() => registry.size.watchers === 0, 5_000);
      if (!stopped) throw new Error(`${registry.size.watchers} watchers still running after close()`);
      // Queries in flight when their watcher stopped settle (or time out) within the per-try timeout.
      await sleep(TIMEOUT_MS + 200);
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const label = (phase: Phase): string => (phase.jitter === 0 ? 'jitter off (0)' : `jitter on (±${phase.jitter * 100} %)`);
  const table: Table = {
    title: `${int(count)} watched names (A+AAAA each), refreshInterval ${refreshInterval} ms; window of ${windowIntervals} intervals after ${warmupIntervals} warm-up intervals`,
    headers: ['phase', 'all answered after', 'CPU share', 'CPU/query', 'loop delay p50', 'p99', 'max', 'queries/100 ms mean', 'peak', 'peak/mean', 'empty 100 ms windows', 'failed polls', 'heap/name', 'RSS/name'],
    rows: phases.map((phase) => [
      label(phase),
      phase.startupAnswered === count ? ms(phase.startupMs) : `${int(phase.startupAnswered)}/${int(count)} in ${ms(phase.startupMs)}`,
      pct(phase.cpuShare),
      `${sig(phase.cpuUsPerQuery)} µs`,
      ms(phase.loopDelay.p50),
      ms(phase.loopDelay.p99),
      ms(phase.loopDelay.max),
      sig(phase.meanPerWindow),
      int(phase.peakPerWindow),
      times(phase.peakToMean),
      pct(phase.emptyWindows),
      int(phase.windowErrors),
      bytes(phase.heapPerName),
      phase === phases[0] ? bytes(phase.rssPerName) : '—',
    ]),
    notes: [
      'CPU share: process CPU (user+system, all threads) / wall time over the window, as a share of one core. Queries counted at the server.',
      `Event-loop delay: monitorEventLoopDelay({ resolution: ${ELD_RESOLUTION_MS} }) over the window, with the ${ELD_RESOLUTION_MS} ms sampling period subtracted.`,
      'RSS/name only for the first phase: RSS does not shrink after the first phase\'s watchers close, so the second phase\'s RSS difference means nothing.',
      `failed polls: 'error' events in the window (a poll that could not get an answer); per-try timeout ${TIMEOUT_MS} ms, 2 attempts.`,
      ...phases.map(
        (phase) =>
          `${label(phase)}: start-up ${int(phase.startupQueries)} queries for ${int(2 * count)} questions, ${int(phase.startupErrors)} errors; ` +
          `UDP drops start-up ${phase.startupDrops ? `${int(phase.startupDrops.clients)} client / ${int(phase.startupDrops.server)} server` : 'n/a'}, ` +
          `window ${phase.windowDrops ? `${int(phase.windowDrops.clients)} client / ${int(phase.windowDrops.server)} server` : 'n/a'}; ` +
          `window queries ${int(phase.queries)} (steady state would be ~${int(phase.expectedQueries)}).`,
      ),
    ],
  };
  const off = phases.find((phase) => phase.jitter === 0)!;
  const on = phases.find((phase) => phase.jitter > 0)!;
  const summary: SummaryLine[] = [
    {
      metric: `Query stream peak/mean per 100 ms, jitter off / on (${int(count)} names)`,
      value: `${times(off.peakToMean)} / ${times(on.peakToMean)}`,
      target: 'no lock-step with jitter on (peak/mean ≤ 2×)',
      met: on.peakToMean <= 2,
    },
    {
      metric: `CPU share / event-loop delay p99, jitter on (${int(count)} names every ${refreshInterval / 1000} s)`,
      value: `${pct(on.cpuShare)} of a core / ${ms(on.loopDelay.p99)}`,
    },
    {
      metric: 'Failed polls in the window, jitter off / on',
      value: `${int(off.windowErrors)} / ${int(on.windowErrors)}`,
      target: 'none',
      met: on.windowErrors === 0 && off.windowErrors === 0,
    },
    {
      metric: `All ${int(count)} names answered after start-up, jitter off / on`,
      value: `${off.startupAnswered === count ? ms(off.startupMs) : `only ${int(off.startupAnswered)}`} / ${on.startupAnswered === count ? ms(on.startupMs) : `only ${int(on.startupAnswered)}`}`,
    },
    { metric: 'Heap per watched name (jitter off / on); RSS per name (first phase)', value: `${bytes(off.heapPerName)} / ${bytes(on.heapPerName)}; ${bytes(off.rssPerName)}` },
  ];
  return {
    name: 'scale',
    title: `4. Scale: ${int(count)} distinct watched names at a short interval`,
    method:
      `watch() of ${int(count)} distinct names at once, refreshInterval ${refreshInterval} ms, family 0 (A+AAAA), against the pre-encoded responder in a child process (query log with timestamps). ` +
      'Two phases in the same process: jitter 0, then jitter 0.2. Memory after forced GCs against the phase\'s start.',
    tables: [table],
    summary,
    notes: [],
    data: { count, refreshInterval, warmupIntervals, windowIntervals, timeoutMs: TIMEOUT_MS, phases },
  };
}
