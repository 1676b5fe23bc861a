/**
 * 10. Poller: the whole path of `watch()` against the poller a Node user
 * would write on c-ares (issue 14).
 *
 * N names (A+AAAA each, TTL 300 s) polled every second ±20 % by
 * - watch:  N `watch()` handles (watcher, registry, stub resolver, transport)
 * - c-ares: `dns.promises.Resolver`, resolve4 + resolve6 with { ttl: true },
 *           one timer per name, the same interval and jitter
 * each side in its own child process (bench/lib/poller-side.ts), the DNS
 * server ("fast" responder, at nice −5 where permitted) in a third. In each
 * round the two sides run at the same time, each on its own N names, and
 * measure the same window (an agreed start time): on a shared machine whose
 * load moves from second to second, only that gives both the same machine.
 * (Run one after the other, 12 s apart, the per-round ratio moved 0.41–1.26
 * at a load average of 10.) A round in which either side fell behind
 * (failures, or under 90 % of names/s: the machine could not carry both) is
 * listed but not used. Each child measures its own process CPU
 * (process.cpuUsage) and counts the resolutions it completed in the window;
 * the server counts the queries of both, as a check. CPU per resolution =
 * CPU of the window / resolutions completed in it; the ratio is taken within
 * a round and reported as the median over the rounds used, with its range.
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
/** A round counts when both sides completed at least this fraction of names/s, none failed. */
const CARRIED_RATE = 0.9;
/** Fewer carried rounds than this and the ratio is not read. */
const MIN_CARRIED = 3;
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
  /** watch / c-ares CPU per resolution, per carried round. */
  ratios: number[];
  /** Rounds in which both sides kept up (no failure, ≥ 90 % of names/s). */
  carried: number;
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

interface Settings {
  sizes: number[];
  rounds: number;
  warmupMs: number;
  windowMs: number;
  quick: boolean;
}

function settingsFor(quick: boolean): Settings {
  return {
    sizes: quick ? [500] : [500, 2_000],
    rounds: quick ? 1 : 4,
    // Long enough for V8 to have optimised the hot path on a loaded machine (its compiler threads share the
    // process's CPU, and get little of it at a load average of 10+ on 2 cores): shorter warm-ups measured JIT work.
    warmupMs: quick ? 1_000 : 6_000,
    windowMs: quick ? 1_500 : 4_000,
    quick,
  };
}

/** Each side's own names, for the largest size: A+AAAA, TTL 300 s. */
function pollerRecords(names: number): RecordSpec[] {
  return [...pollerNames(names, 'watch'), ...pollerNames(names, 'c-ares')].map((name, i) => ({
    name,
    A: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    AAAA: [`fd00::${i.toString(16)}`],
    ttl: 300,
  }));
}

/** One round at one size: both sides at once, on the same agreed window; the server's count as a check. */
async function oneRound(server: DnsChild, resolvConf: string, settings: Settings, round: number, names: number): Promise<PollerRun[]> {
  await server.reset();
  const loadAverage = os.loadavg()[0]!;
  // Process start (tsx) takes about a second on a loaded machine; the warm-up counts from the agreed time.
  const windowAt = Date.now() + STARTUP_ALLOWANCE_MS + settings.warmupMs;
  const order: PollerSideName[] = round % 2 === 0 ? ['watch', 'c-ares'] : ['c-ares', 'watch'];
  const results = await Promise.all(order.map((side) => runSide(side, names, server, resolvConf, windowAt, settings.windowMs)));
  const from = Math.min(...results.map((result) => result.windowStart));
  const to = Math.max(...results.map((result) => result.windowEnd));
  const serverQueries = (await server.windows(from, to, to - from))[0] ?? 0;
  const sideTotal = results.reduce((sum, result) => sum + result.completed + result.failed, 0);
  return results.map((result) => {
    const windowMs = result.windowEnd - result.windowStart;
    const { side, cpuUs, completed, failed } = result;
    const perResolution = { cpuUsPerResolution: cpuUs / completed, ratePerSecond: completed / (windowMs / 1000) };
    return { round, side, names, windowMs, cpuUs, resolutions: completed, completed, failed, ...perResolution, loadAverage, serverCheck: serverQueries / 2 / sideTotal };
  });
}

function describeRun(entry: PollerRun, rounds: number): string {
  return (
    `round ${entry.round + 1}/${rounds}, ${entry.names} names, ${entry.side}: ${entry.cpuUsPerResolution.toFixed(0)} µs CPU/resolution, ` +
    `${entry.ratePerSecond.toFixed(0)} resolutions/s (${entry.failed} failed; server saw ${(entry.serverCheck * 100).toFixed(0)} % of both sides' count), load ${entry.loadAverage.toFixed(1)}`
  );
}

/** The resolv.conf and the DNS server around every round at every size. */
async function measureRounds(context: BenchContext, settings: Settings): Promise<PollerRun[]> {
  // A resolv.conf of our own, so nothing of the host's (search list, options) applies to watch().
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-poller-'));
  const resolvConf = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const server = await startDnsChild({ mode: 'fast', records: pollerRecords(Math.max(...settings.sizes)), priority: SERVER_PRIORITY });
  const runs: PollerRun[] = [];
  try {
    for (let round = 0; round < settings.rounds; round++) {
      for (const names of settings.sizes) {
        const measured = await oneRound(server, resolvConf, settings, round, names);
        for (const entry of measured) context.log(describeRun(entry, settings.rounds));
        runs.push(...measured);
      }
    }
  } finally {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return runs;
}

function figuresOf(runs: PollerRun[], settings: Settings): SizeFigures[] {
  return settings.sizes.map((names) => {
    const bySide = (side: PollerSideName) => runs.filter((entry) => entry.names === names && entry.side === side);
    const pairs = Array.from({ length: settings.rounds }, (_, round) => ({
      watch: bySide('watch').find((entry) => entry.round === round)!,
      cares: bySide('c-ares').find((entry) => entry.round === round)!,
    }));
    // A round in which either side fell behind (failures, or under 90 % of names/s) measured an overloaded
    // machine, not the cost of a resolution: its ratio is shown in the per-run table but not used.
    const carriedPairs = pairs.filter(({ watch: w, cares: c }) => [w, c].every((entry) => entry.failed === 0 && entry.ratePerSecond >= CARRIED_RATE * names));
    const failedOf = (side: PollerSideName) => bySide(side).reduce((sum, entry) => sum + entry.failed, 0);
    return {
      names,
      ratios: carriedPairs.map(({ watch: w, cares: c }) => w.cpuUsPerResolution / c.cpuUsPerResolution),
      carried: carriedPairs.length,
      watchCpu: bySide('watch').map((entry) => entry.cpuUsPerResolution),
      caresCpu: bySide('c-ares').map((entry) => entry.cpuUsPerResolution),
      watchRate: bySide('watch').map((entry) => entry.ratePerSecond),
      caresRate: bySide('c-ares').map((entry) => entry.ratePerSecond),
      failed: { watch: failedOf('watch'), cares: failedOf('c-ares') },
    };
  });
}

/** Why a size's figures are not read, if they are not. */
function notReadable(figure: SizeFigures, { quick, rounds, windowMs }: Settings): string | undefined {
  if (quick) return `${figure.names} names: quick run (${rounds} round${rounds === 1 ? '' : 's'} of ${windowMs / 1000} s): too noisy to read, for "it runs" only`;
  if (figure.carried < MIN_CARRIED) {
    return `${figure.names} names: only ${figure.carried} of ${rounds} rounds carried by the machine (a side failed resolutions or fell under ${CARRIED_RATE * 100} % of names/s): not read`;
  }
  if (relativeSpread(figure.ratios) > NOISY_SPREAD) return `${figure.names} names: ratio range ${spread(figure.ratios)} is wider than ±${NOISY_SPREAD * 100} %: too noisy to read`;
  return undefined;
}

const rateRange = (rates: number[]): string => `${int(median(rates))} (${int(Math.min(...rates))}–${int(Math.max(...rates))})`;

function cpuTable(figures: SizeFigures[], runs: PollerRun[], settings: Settings): Table {
  const loads = runs.map((entry) => entry.loadAverage);
  return {
    title: `CPU per A+AAAA resolution, ${INTERVAL_MS / 1000} s interval ±${JITTER * 100} %, medians of ${settings.rounds} rounds (range)`,
    headers: ['names', 'watch() CPU/resolution', 'c-ares poller', 'ratio (median)', 'ratio range', 'rounds carried', 'watch() resolutions/s', 'c-ares resolutions/s', 'failed (watch · c-ares)'],
    rows: figures.map((figure) => [
      int(figure.names),
      usRange(figure.watchCpu),
      usRange(figure.caresCpu),
      times(median(figure.ratios)),
      spread(figure.ratios),
      `${figure.carried} of ${settings.rounds}`,
      rateRange(figure.watchRate),
      rateRange(figure.caresRate),
      `${figure.failed.watch} · ${figure.failed.cares}`,
    ]),
    notes: [
      `load average (1 min) at the runs: ${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
      ...figures.flatMap((figure) => notReadable(figure, settings) ?? []),
    ],
  };
}

function perRunTable(runs: PollerRun[]): Table {
  return {
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
}

function summaryLines(figures: SizeFigures[], settings: Settings): SummaryLine[] {
  return figures.flatMap((figure) => {
    const ratio = median(figure.ratios);
    const rate = median(figure.watchRate) / figure.names;
    const readable = notReadable(figure, settings) === undefined;
    return [
      {
        metric: `watch() / c-ares poller CPU per resolution, ${figure.names} names`,
        value: `${times(ratio)} (${spread(figure.ratios)}; ${figure.carried} of ${settings.rounds} rounds)`,
        target: `≤ ${TARGET_RATIO}x`,
        met: readable ? ratio <= TARGET_RATIO : null,
      },
      {
        metric: `watch() resolutions/s delivered, ${figure.names} names`,
        value: `${int(median(figure.watchRate))} (${(rate * 100).toFixed(1)} % of names/s)`,
        target: `≥ ${TARGET_RATE * 100} %`,
        met: readable ? rate >= TARGET_RATE : null,
      },
    ];
  });
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const settings = settingsFor(context.quick);
  const { sizes, rounds, warmupMs, windowMs } = settings;
  const runs = await measureRounds(context, settings);
  const figures = figuresOf(runs, settings);
  return {
    name: 'poller',
    title: '10. Poller: watch() against a hand-written c-ares poller (whole path, each side in its own process)',
    method:
      `N names (A+AAAA, TTL 300 s) polled every ${INTERVAL_MS} ms ±${JITTER * 100} %: watch() handles vs dns.promises.Resolver resolve4+resolve6 ` +
      `({ ttl: true }, one timer per name). Each side in its own child process, the "fast" DNS responder in a third. ` +
      `${rounds} rounds; in each, both sides run at the same time on their own names: ${warmupMs / 1000} s warm-up, then the same ${windowMs / 1000} s window: ` +
      `process.cpuUsage() of the side's process over the resolutions it completed. Ratios are taken within a round.`,
    tables: [cpuTable(figures, runs, settings), perRunTable(runs)],
    summary: summaryLines(figures, settings),
    notes: [],
    data: { sizes, rounds, warmupMs, windowMs, intervalMs: INTERVAL_MS, jitter: JITTER, runs },
  };
}
