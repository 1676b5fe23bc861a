/**
 * 7. Fleet: what a fleet of clients costs one DNS server, and how fast a
 * change reaches all of them.
 *
 * P client processes (bench/fleet-client.ts), each watching the same N names
 * with `watch()` (family 0: A and AAAA), against one real dnsmasq in its own
 * process. Single-stack Services (A records only, AAAA NODATA: the AAAA of
 * each name demoted after 3 polls, src/watch/family-demotion.ts) and
 * dual-stack ones (A and AAAA records). Queries are counted at the server, from dnsmasq's own query log
 * (`--log-queries` to a file, one timestamped line per query), in 1 s
 * windows: at start-up (all processes started together) and in steady state.
 * Server CPU is read from /proc/<pid>/stat over the steady phase. Then every
 * name gets a new address at once (one hosts file swapped in) and each
 * client records when its set first holds it: the spread of convergence
 * over all P × N watchers. With jitter 0.2 (the default) and 0, and then the
 * same behind a caching dnsmasq (`--server` to the first one, answers cached
 * for their TTL, like NodeLocal DNSCache or CoreDNS `cache`), where the
 * first one answers with the cache's TTL.
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MIN_EVIDENCE_MS, RECONFIRM_MS } from '../src/watch/cache-detect.js';
import { DEMOTE_AFTER_POLLS, demotedAskAfterMs } from '../src/watch/family-demotion.js';
import { DEFAULTS } from '../src/watch/options.js';
import { CACHE_EXPIRY_MARGIN_MS, cacheWaitCap } from '../src/watch/schedule.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import type { FleetClientConfig, FleetClientMessage, FleetClientRequest } from './fleet-client.js';
import { PROJECT_ROOT } from './lib/dns-child.js';
import { sleep } from './lib/harness.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { mean, summarize } from './lib/stats.js';
import { int, ms, pct, sig, type Table } from './lib/table.js';

const CLIENT = path.join(PROJECT_ROOT, 'bench', 'fleet-client.ts');
const FAMILIES = 2;
const NEW_ADDRESS_V6 = 'fd00:1::1';
const NEW_ADDRESS = '10.1.0.99';

export interface Sizes {
  processes: number;
  namesPerProcess: number;
  refreshMs: number;
  /** TTL the server answers with when asked directly (CoreDNS kubernetes plugin default: 5 s). */
  directTtl: number;
  /** TTL of the cached scenario: the server's answers, cached that long (kubeadm `ttl 30`, NodeLocal DNSCache 30 s). */
  cacheTtl: number;
  /** Start-up phase: from spawning the clients until this long after the last one is ready (single-stack: at least until the AAAA is demoted). */
  startupMs: number;
  steadyMs: number;
}

// Steady phase: two whole cache TTLs, so the cache's refetch bursts (every TTL) count fully. Start-up: the first
// three polls and more (a single-stack name's AAAA is demoted at the third), so the steady phase starts demoted.
const FULL: Sizes = { processes: 8, namesPerProcess: 250, refreshMs: 5_000, directTtl: 5, cacheTtl: 30, startupMs: 20_000, steadyMs: 60_000 };
const QUICK: Sizes = { processes: 2, namesPerProcess: 40, refreshMs: 1_000, directTtl: 1, cacheTtl: 3, startupMs: 4_000, steadyMs: 3_000 };

export interface Scenario {
  label: string;
  cached: boolean;
  jitter: number;
  /** Default true (the library's default). */
  respectTtl?: boolean;
  /** The Services' records: A only (AAAA NODATA, demoted), or A and AAAA. Default single. */
  stack?: 'single' | 'dual';
}

export interface Rate {
  /** Queries per 1 s window. */
  windows: number[];
  peak: number;
  mean: number;
}

export interface ScenarioResult {
  label: string;
  stack: 'single' | 'dual';
  cached: boolean;
  jitter: number;
  watchers: number;
  /** Queries at the server the clients ask (the cache when cached). */
  startup: Rate;
  steady: Rate;
  /** Cached only: queries the cache sent on to the authoritative server, steady state. */
  upstreamSteady?: Rate;
  /** The model's steady QPS at the server the clients ask (docs/capacity.md). */
  modelQps: number;
  /** Cached only: the model's QPS the cache sends upstream. */
  modelUpstreamQps?: number;
  /** CPU of the server the clients ask over the steady phase, fraction of one core. */
  serverCpu: number;
  upstreamCpu?: number;
  /** ms from the change to each watcher's first set holding the new address. */
  convergence: { n: number; missing: number; p50: number; p99: number; max: number };
  clientQueries: number;
  clientFailures: number;
}

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `svc-${i}.fleet.test`);
}

function records(list: readonly string[], stack: 'single' | 'dual', extra: readonly string[] = []): Map<string, string[]> {
  const v6 = stack === 'dual' ? ['fd00:1::2', 'fd00:1::3'] : [];
  return new Map(list.map((name) => [name, ['10.1.0.1', '10.1.0.2', '10.1.0.3', ...v6, ...extra]]));
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14 and 15 (utime, stime) in clock ticks: 100 a second on Linux (getconf CLK_TCK).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * Epoch seconds of each query dnsmasq logged. Lines look like
 * `Nov 29 18:40:01 dnsmasq[123]: query[A] svc-1.fleet.test from 127.0.0.1`,
 * in local time to the second; the date is taken from `since`.
 */
export function queryTimes(log: string, since: number): number[] {
  const base = new Date(since);
  const times: number[] = [];
  for (const line of log.split('\n')) {
    if (!line.includes(': query[')) continue;
    const match = /(\d\d):(\d\d):(\d\d) dnsmasq/.exec(line);
    if (!match) continue;
    const at = new Date(base.getFullYear(), base.getMonth(), base.getDate(), Number(match[1]), Number(match[2]), Number(match[3])).getTime();
    times.push(at < since - 43_200_000 ? at + 86_400_000 : at); // past midnight
  }
  return times;
}

/** Queries per whole second from `from` (epoch ms, rounded up to a second) for `durationMs`. */
export function rate(times: readonly number[], from: number, durationMs: number): Rate {
  const start = Math.ceil(from / 1000) * 1000;
  const count = Math.max(1, Math.floor(durationMs / 1000));
  const windows = new Array<number>(count).fill(0);
  for (const at of times) {
    const index = Math.floor((at - start) / 1000);
    if (index >= 0 && index < count) windows[index]!++;
  }
  return { windows, peak: Math.max(...windows), mean: mean(windows) };
}

function startClient(config: FleetClientConfig): { child: ChildProcess; ready: Promise<void>; converged: (address: string, timeoutMs: number) => Promise<Extract<FleetClientMessage, { type: 'converged' }>> } {
  const child = fork(CLIENT, [JSON.stringify(config)], { cwd: PROJECT_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const ready = new Promise<void>((resolve, reject) => {
    child.on('message', (message: FleetClientMessage) => {
      if (message.type === 'ready') resolve();
    });
    child.once('exit', (code) => reject(new Error(`fleet client exited with ${String(code)} before it was ready`)));
  });
  const converged = (address: string, timeoutMs: number) =>
    new Promise<Extract<FleetClientMessage, { type: 'converged' }>>((resolve) => {
      const onMessage = (message: FleetClientMessage): void => {
        if (message.type !== 'converged') return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
      child.send({ type: 'expect', address, timeoutMs } satisfies FleetClientRequest);
    });
  return { child, ready, converged };
}

async function stopClient(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.send({ type: 'stop' } satisfies FleetClientRequest);
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Queries per second the model predicts at the server the clients ask: P × N × F ÷ period (docs/capacity.md). */
export function modelQps(processes: number, namesPerProcess: number, families: number, periodMs: number): number {
  return (processes * namesPerProcess * families) / (periodMs / 1000);
}

/**
 * Mean time between two polls of one name by a fleet behind one cache that
 * keeps a copy C seconds, once the watchers have seen its countdown
 * (respectTtl): each polls once per copy, 1 s (the margin) to 1 s + spread
 * after it expires (src/watch/schedule.ts `delayAfterCachedAnswer`); the first of
 * them makes the cache fetch the next copy, so copies follow each other
 * every L = C + 1 s, and so do each watcher's polls. And once the last
 * countdown a watcher saw is RECONFIRM_MS old, it checks the cache inside
 * a copy, p = refreshInterval after its start (held 2 s inside the copy:
 * src/watch/schedule.ts `delayForCacheProbe`): one probe every k copies, k the
 * fewest with k × L − p ≥ RECONFIRM_MS, so k + 1 polls per k copies (two
 * per copy behind a 30 s cache with the defaults). A copy too short for a
 * probe has none. A copy longer than the wait cap (src/watch/schedule.ts
 * `cacheWaitCap`) is asked about every cap + 1 s and once after it expires,
 * each capped poll a countdown (a probe may still come when the last gap is
 * 20 s or more: this ignores it). (Whole-second
 * rounding in the cache adds up to 1 s more; a lone watcher adds half the
 * spread.)
 */
export function cachedPollPeriod(cacheTtlSeconds: number, refreshMs: number, minIntervalMs: number): number {
  const copy = cacheTtlSeconds * 1_000 + CACHE_EXPIRY_MARGIN_MS;
  const earliest = Math.max(minIntervalMs, MIN_EVIDENCE_MS);
  const latest = cacheTtlSeconds * 1_000 - MIN_EVIDENCE_MS;
  // A copy longer than the wait cap is asked about every cap + margin, and once after it expires (each capped poll sees the countdown).
  const capped = cacheWaitCap({ refreshInterval: refreshMs }) + CACHE_EXPIRY_MARGIN_MS;
  if (copy > capped) return copy / Math.ceil(copy / capped);
  if (latest < earliest) return copy;
  const probeAt = Math.min(latest, Math.max(earliest, refreshMs));
  const copiesPerProbe = Math.max(1, Math.ceil((RECONFIRM_MS + probeAt) / copy));
  return (copiesPerProbe * copy) / (copiesPerProbe + 1);
}

/**
 * Queries per poll of one name, family 0 (docs/capacity.md, F): 2 for a
 * dual-stack Service; for a single-stack one the family that answers, plus
 * the demoted one once per ask period — the first poll at least
 * `demotedAskAfterMs` after its last ask, so the wait plus the mean residual
 * of a poll gap (uniform over T(1 ± j): T(1 + j²/3)/2) — 1 + 1/11.1 = 1.09
 * with the defaults. `periodMs`: the mean poll period.
 */
export function familiesPerPoll(stack: 'single' | 'dual', periodMs: number, refreshMs: number, jitter: number): number {
  if (stack === 'dual') return FAMILIES;
  return 1 + periodMs / demotedAskPeriod(periodMs, refreshMs, jitter);
}

/** Mean time between two asks of a demoted family, ms (see {@link familiesPerPoll}); the poll period when nothing is demoted. */
export function demotedAskPeriod(periodMs: number, refreshMs: number, jitter: number): number {
  const askAfter = demotedAskAfterMs({ refreshInterval: refreshMs, jitter, backoff: { ...DEFAULTS.backoff } });
  return askAfter === 0 ? periodMs : askAfter + (periodMs * (1 + jitter ** 2 / 3)) / 2;
}

/**
 * Mean time between two polls of one name: the refresh interval R jittered
 * uniformly over [R(1-j), R(1+j)), floored at minInterval m. The mean is R
 * unless the floor clips the low end (only when R(1-j) < m, e.g. R = 1 s).
 * With `respectTtl` and records that expire no later than R (TTL `ttlMs`),
 * each poll lands in the jitter window before the expiry instead, uniform
 * over [max(m, E(1-j)), E] with E = max(TTL, m) (src/watch/schedule.ts
 * `delayAfterSuccess`): 4.5 s for the kubernetes plugin's 5 s TTL at a 5 s
 * interval with jitter 0.2.
 */
export function meanPollPeriod(refreshMs: number, jitter: number, minIntervalMs: number, ttlMs = Infinity): number {
  const expiry = Math.max(ttlMs, minIntervalMs);
  if (expiry <= refreshMs) return (Math.max(minIntervalMs, expiry * (1 - jitter)) + expiry) / 2;
  const low = refreshMs * (1 - jitter);
  const high = refreshMs * (1 + jitter);
  if (minIntervalMs <= low || high === low) return Math.max(refreshMs, minIntervalMs);
  return ((minIntervalMs - low) * minIntervalMs + (high ** 2 - minIntervalMs ** 2) / 2) / (high - low);
}

type FleetClient = ReturnType<typeof startClient>;
type ConvergedReport = Extract<FleetClientMessage, { type: 'converged' }>;

/** A scenario's stack, its mean poll period, and how long its start-up phase lasts. */
function scenarioSchedule(scenario: Scenario, sizes: Sizes): { stack: 'single' | 'dual'; period: number; startupMs: number } {
  const stack = scenario.stack ?? 'single';
  // Behind a cache, watchers that see its countdown (respectTtl) poll once per cached copy.
  const period =
    scenario.cached && (scenario.respectTtl ?? true)
      ? cachedPollPeriod(sizes.cacheTtl, sizes.refreshMs, Math.min(1_000, sizes.refreshMs))
      : meanPollPeriod(sizes.refreshMs, scenario.jitter, Math.min(1_000, sizes.refreshMs), (scenario.respectTtl ?? true) ? sizes.directTtl * 1_000 : Infinity);
  // Single-stack: the steady phase starts after the third poll, when the AAAA is demoted.
  const startupMs = stack === 'single' ? Math.max(sizes.startupMs, (DEMOTE_AFTER_POLLS - 1) * period + sizes.refreshMs * (1 + scenario.jitter)) : sizes.startupMs;
  return { stack, period, startupMs };
}

/** CPU of each process (undefined: none) over `ms`, as a fraction of one core. */
async function cpuOver(pids: Array<number | undefined>, ms: number): Promise<Array<number | undefined>> {
  const before = pids.map((pid) => (pid === undefined ? NaN : cpuSeconds(pid)));
  await sleep(ms);
  return pids.map((pid, i) => (pid === undefined ? undefined : (cpuSeconds(pid) - before[i]!) / (ms / 1000)));
}

/** Every name changes at once; each watcher notes when its set holds the new address. Lags from the change. */
async function changeEverything(clients: FleetClient[], authoritative: Dnsmasq, watched: string[], scenario: Scenario, stack: 'single' | 'dual', sizes: Sizes) {
  const bound = (scenario.cached ? sizes.cacheTtl * 1000 : 0) + sizes.refreshMs * (1 + scenario.jitter) + 3_000;
  const address = stack === 'dual' ? NEW_ADDRESS_V6 : NEW_ADDRESS;
  const pending = clients.map((client) => client.converged(address, bound + 2_000));
  const changedAt = await authoritative.setHosts('fleet', records(watched, stack, [address]));
  const reports: ConvergedReport[] = await Promise.all(pending);
  const lags = reports.flatMap((report) => report.times.filter((time): time is number => time !== null).map((time) => time - changedAt));
  const missing = reports.reduce((sum, report) => sum + report.times.filter((time) => time === null).length, 0);
  return { reports, lags, missing };
}

interface Phases {
  startedAt: number;
  steadyFrom: number;
  serverCpu: number;
  upstreamCpu: number | undefined;
  cached: boolean;
}

/** What one scenario measured, with the model's figures beside it. */
function scenarioResult(scenario: Scenario, sizes: Sizes, watched: string[], logs: { asked: string; authoritative: string }, phases: Phases, change: Awaited<ReturnType<typeof changeEverything>>): ScenarioResult {
  const { startedAt, steadyFrom } = phases;
  const { stack, period } = scenarioSchedule(scenario, sizes);
  const askedTimes = queryTimes(fs.readFileSync(logs.asked, 'utf8'), startedAt);
  const lagSummary = summarize(change.lags);
  const result: ScenarioResult = {
    label: scenario.label,
    stack,
    cached: scenario.cached,
    jitter: scenario.jitter,
    watchers: sizes.processes * watched.length,
    startup: rate(askedTimes, startedAt, steadyFrom - startedAt),
    steady: rate(askedTimes, steadyFrom, sizes.steadyMs),
    modelQps: modelQps(sizes.processes, watched.length, familiesPerPoll(stack, period, sizes.refreshMs, scenario.jitter), period),
    serverCpu: phases.serverCpu,
    convergence: { n: change.lags.length, missing: change.missing, p50: lagSummary.p50, p99: lagSummary.p99, max: lagSummary.max },
    clientQueries: change.reports.reduce((sum, report) => sum + report.queries, 0),
    clientFailures: change.reports.reduce((sum, report) => sum + report.failures, 0),
  };
  if (phases.cached) {
    result.upstreamSteady = rate(queryTimes(fs.readFileSync(logs.authoritative, 'utf8'), startedAt), steadyFrom, sizes.steadyMs);
    // One cache: each name and family fetched once per TTL, whatever the number of clients; a demoted family only
    // when one of the P clients asks it after its copy expired: every C + (its ask period ÷ P) on average.
    const demotedRefetch = sizes.cacheTtl + demotedAskPeriod(period, sizes.refreshMs, scenario.jitter) / 1000 / sizes.processes;
    result.modelUpstreamQps = watched.length / sizes.cacheTtl + watched.length / (stack === 'dual' ? sizes.cacheTtl : demotedRefetch);
    result.upstreamCpu = phases.upstreamCpu;
  }
  return result;
}

/** One scenario: the client processes start, a start-up phase, a steady phase (server CPU), then every name changes. */
export async function runScenario(scenario: Scenario, sizes: Sizes, log: (message: string) => void): Promise<ScenarioResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-fleet-'));
  const logs = { authoritative: path.join(dir, 'authoritative.log'), asked: path.join(dir, scenario.cached ? 'cache.log' : 'authoritative.log') };
  const watched = names(sizes.namesPerProcess);
  const authoritative = await Dnsmasq.start({ ttl: scenario.cached ? sizes.cacheTtl : sizes.directTtl, queryLogFile: logs.authoritative });
  let cache: Dnsmasq | undefined;
  const clients: FleetClient[] = [];
  try {
    const { stack, startupMs } = scenarioSchedule(scenario, sizes);
    await authoritative.setHosts('fleet', records(watched, stack));
    if (scenario.cached) cache = await Dnsmasq.start({ upstream: authoritative.nameserver, queryLogFile: logs.asked, negativeTtl: sizes.cacheTtl });
    const asked = cache ?? authoritative;
    const options = { nameservers: [`${asked.host}:${asked.port}`], hostsPath: false as const, refreshInterval: sizes.refreshMs, jitter: scenario.jitter, respectTtl: scenario.respectTtl ?? true };
    const startedAt = Date.now();
    for (let i = 0; i < sizes.processes; i++) clients.push(startClient({ names: [...watched], options }));
    await Promise.all(clients.map((client) => client.ready));
    log(`${scenario.label}: ${clients.length} × ${watched.length} watchers ready after ${Date.now() - startedAt} ms`);
    const steadyFrom = Date.now() + startupMs;
    await sleep(startupMs);
    const [serverCpu, upstreamCpu] = await cpuOver([asked.pid, cache ? authoritative.pid : undefined], sizes.steadyMs + 1_000);
    const change = await changeEverything(clients, authoritative, watched, scenario, stack, sizes);
    await Promise.all(clients.map((client) => stopClient(client.child)));
    clients.length = 0;
    return scenarioResult(scenario, sizes, watched, logs, { startedAt, steadyFrom, serverCpu: serverCpu!, upstreamCpu, cached: cache !== undefined }, change);
  } finally {
    await Promise.all(clients.map((client) => stopClient(client.child)));
    await cache?.close();
    await authoritative.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function scenariosFor(quick: boolean, sizes: Sizes): Scenario[] {
  return [
    { label: 'direct, jitter 0.2', cached: false, jitter: 0.2 },
    { label: 'direct, dual-stack, jitter 0.2', cached: false, jitter: 0.2, stack: 'dual' },
    // Quick mode (CI) stays short: lock-step polling is shown by the full run.
    ...(quick ? [] : [{ label: 'direct, jitter 0', cached: false, jitter: 0 }]),
    { label: `behind a cache (TTL ${sizes.cacheTtl} s), jitter 0.2`, cached: true, jitter: 0.2 },
    ...(quick ? [] : [{ label: `behind a cache (TTL ${sizes.cacheTtl} s), jitter 0`, cached: true, jitter: 0 }]),
  ];
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const sizes = context.quick ? QUICK : FULL;
  const title = '7. Fleet: DNS server load and convergence for many client processes';
  if (!dnsmasqBinary()) {
    return { name: 'fleet', title, method: 'skipped: dnsmasq is not installed (apt-get install dnsmasq-base)', tables: [], summary: [{ metric: 'fleet', value: 'skipped (no dnsmasq)', met: null }], notes: [], data: {} };
  }
  const results: ScenarioResult[] = [];
  for (const scenario of scenariosFor(context.quick, sizes)) results.push(await runScenario(scenario, sizes, context.log));

  const load: Table = {
    title: `Queries per second at the server the clients ask (1 s windows; ${sizes.processes} processes × ${sizes.namesPerProcess} names, family 0, refreshInterval ${sizes.refreshMs / 1000} s; single-stack unless said)`,
    headers: ['scenario', 'start-up peak', 'start-up mean', 'steady peak', 'steady mean', 'model', 'measured / model', 'server CPU', 'upstream mean (model)', 'upstream CPU'],
    rows: results.map((r) => [
      r.label,
      int(r.startup.peak),
      sig(r.startup.mean),
      int(r.steady.peak),
      sig(r.steady.mean),
      sig(r.modelQps),
      sig(r.steady.mean / r.modelQps),
      pct(r.serverCpu),
      r.upstreamSteady ? `${sig(r.upstreamSteady.mean)} (${sig(r.modelUpstreamQps!)})` : '—',
      r.upstreamCpu === undefined ? '—' : pct(r.upstreamCpu),
    ]),
    notes: [
      'server CPU: utime + stime of the dnsmasq process over the steady phase, as a share of one core (it logs every query to a file, which is part of it)',
      'model: P × N × F ÷ T, F = 2 for dual-stack Services and 1 + T ÷ (the demoted AAAA\'s ask period) for single-stack ones (familiesPerPoll)',
    ],
  };
  const convergence: Table = {
    title: 'Convergence after every name got a new address at once (ms from the change, over every watcher)',
    headers: ['scenario', 'watchers', 'p50', 'p99', 'max', 'not converged', 'client failures'],
    rows: results.map((r) => [r.label, int(r.watchers), ms(r.convergence.p50), ms(r.convergence.p99), ms(r.convergence.max), int(r.convergence.missing), int(r.clientFailures)]),
  };
  const direct = results.filter((r) => !r.cached);
  const worstModelError = Math.max(...direct.map((r) => Math.abs(r.steady.mean / r.modelQps - 1)));
  const summary: SummaryLine[] = [
    { metric: 'steady QPS vs model P×N×F÷T (direct)', value: direct.map((r) => `${sig(r.steady.mean)} / ${sig(r.modelQps)}`).join(', '), target: 'within 10 %', met: worstModelError <= 0.1 },
    ...results.map((r) => ({ metric: `convergence p99 / max, ${r.label}`, value: `${ms(r.convergence.p99)} / ${ms(r.convergence.max)}${r.convergence.missing > 0 ? ` (${r.convergence.missing} not converged)` : ''}` })),
  ];
  return {
    name: 'fleet',
    title,
    method:
      `${sizes.processes} client processes, each watching the same ${sizes.namesPerProcess} names with watch() (family 0; single-stack names: A records, AAAA NODATA; dual-stack: both), against dnsmasq in its own process; ` +
      `queries counted from dnsmasq's query log in 1 s windows (start-up: the first ${sizes.startupMs / 1000} s; steady: ${sizes.steadyMs / 1000} s after it); ` +
      `then every name gets a new address at once. Direct: the server answers with TTL ${sizes.directTtl} s. Cached: a caching dnsmasq in front, answers with TTL ${sizes.cacheTtl} s.`,
    tables: [load, convergence],
    summary,
    notes: ['The machine is shared with other work while this runs: figures are provisional (QPS is what the clients asked for, the CPU and latency figures move with load).'],
    data: { sizes, results },
  };
}
