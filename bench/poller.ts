/**
 * 6. Poller: the whole path of `watch()` against the poller a Node user
 * would write on c-ares (issue 14).
 *
 * N names (A+AAAA each, TTL 300 s) polled every second ±20 % by
 * - watch:  N `watch()` handles (watcher, registry, stub resolver, transport)
 * - c-ares: `dns.promises.Resolver`, resolve4 + resolve6 with { ttl: true },
 *           one timer per name, the same interval and jitter
 * each side in its own child process (bench/lib/poller-side.ts), the DNS
 * server ("fast" responder) in a third. In each round the two sides run
 * one after the other, in alternating order (AB, BA, AB…), so a drift of
 * the shared machine's load lands on both. (Run at the same time instead,
 * the two sides and the server compete for the two cores and the server
 * falls behind at 2,000 names a side: timeouts and retries, not a
 * measurement of either side.) Each child measures its own process CPU
 * (process.cpuUsage) and counts the resolutions it completed in its window;
 * the server counts the queries it got in that window, as a check. CPU per
 * resolution = CPU of the window / resolutions completed in it; the ratio
 * is taken within a round and reported as the median over rounds with its
 * range. Each side polls its own names, so a straggling reply of one run is
 * never counted for the next.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, startDnsChild, type DnsChild, type RecordSpec } from './lib/dns-child.js';
import { pollerNames, type PollerSideName, type PollerSideResult } from './lib/poller-side.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { median } from './lib/stats.js';
import { int, times, type Table } from './lib/table.js';

const SIDE_SCRIPT = path.join(PROJECT_ROOT, 'bench', 'lib', 'poller-side.ts');
const INTERVAL_MS = 1_000;
const JITTER = 0.2;
/** Issue 14's targets. */
const TARGET_RATIO = 0.95;
const TARGET_RATE = 0.97;
/** A spread (max/min − 1 of the per-round ratios) above this makes a figure too noisy to read. */
const NOISY_SPREAD = 0.15;
const STARTUP_ALLOWANCE_MS = 2_000;
/** nice −5 for the DNS server process (see DnsChildOptions.priority); both measured sides keep the default. */
const SERVER_PRIORITY = -5;

export interface PollerRun {
  round: number;
  side: PollerSideName;
  names: number;
  windowMs: number;
  cpuUs: number;
  /** Resolutions completed in the window, as the side counted them. */
  resolutions: number;
  /** As the side itself counted them. */
  completed: number;
  failed: number;
  cpuUsPerResolution: number;
  ratePerSecond: number;
  loadAverage: number;
  /** Queries the server saw in the window / 2, over the side's resolutions: about 1 unless queries were lost and asked again. */
  serverCheck: number;
}

interface SizeFigures {
  names: number;
  ratios: number[];
  watchCpu: number[];
  caresCpu: number[];
  watchRate: number[];
  caresRate: number[];
  failed: { watch: number; cares: number };
}

function runSide(side: PollerSideName, names: number, server: DnsChild, resolvConf: string, windowAt: number, windowMs: number): Promise<PollerSideResult> {
  const args = [
    '--import', 'tsx', SIDE_SCRIPT, side,
    '--names', String(names), '--server', server.address,
    '--interval', String(INTERVAL_MS), '--jitter', String(JITTER),
    '--window-at', String(windowAt), '--window', String(windowMs),
    '--resolv-conf', resolvConf,
  ];
  const warmupMs = windowAt - Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    const limit = setTimeout(() => child.kill('SIGKILL'), warmupMs + windowMs + 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(limit);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        if (code !== 0) throw new Error(`exited with ${signal ?? `code ${code}`}`);
        resolve(JSON.parse(line) as PollerSideResult);
      } catch (error) {
        reject(new Error(`poller side ${side} (${names} names): ${(error as Error).message}`));
      }
    });
  });
}

function spread(values: readonly number[]): string {
  if (values.length === 0) return '—';
  return `${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)}`;
}

function usRange(values: readonly number[]): string {
  return `${median(values).toFixed(0)} µs (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
}

function relativeSpread(values: readonly number[]): number {
  return values.length < 2 ? Infinity : Math.max(...values) / Math.min(...values) - 1;
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const { quick, log } = context;
  const sizes = quick ? [500] : [500, 2_000];
  const rounds = quick ? 2 : 4;
  // Long enough for V8 to have optimised the hot path on a loaded machine (its compiler threads share the
  // process's CPU, and get little of it at a load average of 10+ on 2 cores): shorter warm-ups measured JIT work.
  const warmupMs = quick ? 1_500 : 6_000;
  const windowMs = quick ? 2_000 : 4_000;
  const biggest = Math.max(...sizes);
  const records: RecordSpec[] = [...pollerNames(biggest, 'watch'), ...pollerNames(biggest, 'c-ares')].map((name, i) => ({
    name,
    A: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    AAAA: [`fd00::${i.toString(16)}`],
    ttl: 300,
  }));
  // A resolv.conf of our own, so nothing of the host's (search list, options) applies to watch().
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-poller-'));
  const resolvConf = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const server = await startDnsChild({ mode: 'fast', records, priority: SERVER_PRIORITY });
  const runs: PollerRun[] = [];
  try {
    for (let round = 0; round < rounds; round++) {
      for (const names of sizes) {
        const order: PollerSideName[] = round % 2 === 0 ? ['watch', 'c-ares'] : ['c-ares', 'watch'];
        for (const side of order) {
          await server.reset();
          const loadAverage = os.loadavg()[0]!;
          // Process start (tsx) takes about a second on a loaded machine; the warm-up counts from the agreed time.
          const windowAt = Date.now() + STARTUP_ALLOWANCE_MS + warmupMs;
          const result = await runSide(side, names, server, resolvConf, windowAt, windowMs);
          const serverQueries = (await server.windows(result.windowStart, result.windowEnd, result.windowEnd - result.windowStart))[0] ?? 0;
          const seconds = (result.windowEnd - result.windowStart) / 1000;
          const entry: PollerRun = {
            round,
            side: result.side,
            names,
            windowMs: result.windowEnd - result.windowStart,
            cpuUs: result.cpuUs,
            resolutions: result.completed,
            completed: result.completed,
            failed: result.failed,
            cpuUsPerResolution: result.cpuUs / result.completed,
            ratePerSecond: result.completed / seconds,
            loadAverage,
            serverCheck: serverQueries / 2 / (result.completed + result.failed),
          };
          runs.push(entry);
          log(
            `round ${round + 1}/${rounds}, ${names} names, ${result.side}: ${entry.cpuUsPerResolution.toFixed(0)} µs CPU/resolution, ` +
              `${entry.ratePerSecond.toFixed(0)} resolutions/s (${result.failed} failed; server saw ${(entry.serverCheck * 100).toFixed(0)} % of the side's count), load ${loadAverage.toFixed(1)}`,
          );
        }
      }
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }

  const figures: SizeFigures[] = sizes.map((names) => {
    const mine = runs.filter((entry) => entry.names === names);
    const bySide = (side: PollerSideName) => mine.filter((entry) => entry.side === side);
    const ratios = Array.from({ length: rounds }, (_, round) => {
      const w = bySide('watch').find((entry) => entry.round === round)!;
      const c = bySide('c-ares').find((entry) => entry.round === round)!;
      return w.cpuUsPerResolution / c.cpuUsPerResolution;
    });
    return {
      names,
      ratios,
      watchCpu: bySide('watch').map((entry) => entry.cpuUsPerResolution),
      caresCpu: bySide('c-ares').map((entry) => entry.cpuUsPerResolution),
      watchRate: bySide('watch').map((entry) => entry.ratePerSecond),
      caresRate: bySide('c-ares').map((entry) => entry.ratePerSecond),
      failed: {
        watch: bySide('watch').reduce((sum, entry) => sum + entry.failed, 0),
        cares: bySide('c-ares').reduce((sum, entry) => sum + entry.failed, 0),
      },
    };
  });
  const loads = runs.map((entry) => entry.loadAverage);
  const noisy = figures.filter((figure) => quick || relativeSpread(figure.ratios) > NOISY_SPREAD);

  const table: Table = {
    title: `CPU per A+AAAA resolution, ${INTERVAL_MS / 1000} s interval ±${JITTER * 100} %, medians of ${rounds} rounds (range)`,
    headers: ['names', 'watch() CPU/resolution', 'c-ares poller', 'ratio (median)', 'ratio range', 'watch() resolutions/s', 'c-ares resolutions/s', 'failed (watch · c-ares)'],
    rows: figures.map((figure) => [
      int(figure.names),
      usRange(figure.watchCpu),
      usRange(figure.caresCpu),
      times(median(figure.ratios)),
      spread(figure.ratios),
      `${int(median(figure.watchRate))} (${int(Math.min(...figure.watchRate))}–${int(Math.max(...figure.watchRate))})`,
      `${int(median(figure.caresRate))} (${int(Math.min(...figure.caresRate))}–${int(Math.max(...figure.caresRate))})`,
      `${figure.failed.watch} · ${figure.failed.cares}`,
    ]),
    notes: [
      `load average (1 min) at the runs: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
      ...noisy.map((figure) =>
        quick
          ? `${figure.names} names: quick run (${rounds} rounds of ${windowMs / 1000} s): too noisy to read, for "it runs" only`
          : `${figure.names} names: ratio range ${spread(figure.ratios)} is wider than ±${NOISY_SPREAD * 100} %: too noisy to read`,
      ),
    ],
  };
  const perRun: Table = {
    title: 'Every run, in the order run',
    headers: ['round', 'names', 'side', 'CPU/resolution', 'resolutions/s', 'failed', 'server saw / side counted', 'load'],
    rows: runs.map((entry) => [
      String(entry.round + 1),
      int(entry.names),
      entry.side,
      `${entry.cpuUsPerResolution.toFixed(0)} µs`,
      int(entry.ratePerSecond),
      String(entry.failed),
      `${(entry.serverCheck * 100).toFixed(0)} %`,
      entry.loadAverage.toFixed(1),
    ]),
  };
  const summary: SummaryLine[] = figures.flatMap((figure) => {
    const ratio = median(figure.ratios);
    const rate = median(figure.watchRate) / figure.names;
    const readable = !noisy.includes(figure);
    return [
      {
        metric: `watch() / c-ares poller CPU per resolution, ${figure.names} names`,
        value: `${times(ratio)} (${spread(figure.ratios)})`,
        target: `≤ ${TARGET_RATIO}x`,
        met: readable ? Math.max(...figure.ratios) <= TARGET_RATIO || ratio <= TARGET_RATIO : null,
      },
      {
        metric: `watch() resolutions/s delivered, ${figure.names} names`,
        value: `${int(median(figure.watchRate))} (${(rate * 100).toFixed(1)} % of names/s)`,
        target: `≥ ${TARGET_RATE * 100} %`,
        met: readable ? rate >= TARGET_RATE : null,
      },
    ];
  });
  return {
    name: 'poller',
    title: '6. Poller: watch() against a hand-written c-ares poller (whole path, each side in its own process)',
    method:
      `N names (A+AAAA, TTL 300 s) polled every ${INTERVAL_MS} ms ±${JITTER * 100} %: watch() handles vs dns.promises.Resolver resolve4+resolve6 ` +
      `({ ttl: true }, one timer per name). Each side in its own child process, the "fast" DNS responder in a third. ` +
      `${rounds} rounds, sides one after the other in alternating order, each on its own names: ${warmupMs / 1000} s warm-up, then a ${windowMs / 1000} s window: ` +
      `process.cpuUsage() of the side's process over the resolutions it completed. Ratios are taken within a round.`,
    tables: [table, perRun],
    summary,
    notes: [],
    data: { sizes, rounds, warmupMs, windowMs, intervalMs: INTERVAL_MS, jitter: JITTER, runs },
  };
}
