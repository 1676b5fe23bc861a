/**
 * Benchmark orchestrator.
 *
 *   npm run bench                         full run, writes bench/results.json
 *   npm run bench -- --quick              small sizes, two at a time, < 60 s (CI: checks every benchmark runs and reports)
 *   npm run bench -- --only load          one benchmark (comma-separated list accepted)
 *   npm run bench -- --out file.json      write the results elsewhere
 *
 * Each benchmark runs in its own worker process (bench/lib/worker.ts); those
 * in NETNS_RESOLV_CONFS inside a private network namespace when `unshare` is
 * available (see bench/lib/netns.ts). Exits non-zero only when a benchmark
 * crashed, failed to report, or did not exit by itself; never on timing.
 * --quick writes bench/results.quick.json and --only bench/results.<names>.json
 * unless --out is given, so a CI-size or partial run never overwrites the full
 * results the README quotes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT } from './lib/dns-child.js';
import { describeMachine, machineInfo } from './lib/machine.js';
import { GLIBC_DEFAULTS_RESOLV_CONF, NETNS_RESOLV_CONF, POD_SEARCH, prepareNetns, type Netns } from './lib/netns.js';
import type { BenchReport } from './lib/report.js';
import { formatTable, type Table } from './lib/table.js';
import { BENCHMARKS, type BenchName } from './lib/benchmarks.js';

interface Outcome {
  name: BenchName;
  status: 'ok' | 'failed';
  durationMs: number;
  error?: string;
  report?: BenchReport;
}

const WORKER = path.join(PROJECT_ROOT, 'bench', 'lib', 'worker.ts');
/** Benchmarks a quick run runs at once. */
const QUICK_LANES = 2;
/** After a report is written, the worker has this long to exit by itself. */
const EXIT_GRACE_MS = 10_000;
/**
 * How long a worker may run: quick, and full unless FULL_RUN_LIMIT_MS says otherwise. A quick
 * coalescing run took 33 s alone at a load average of 10 on 2 cores, and over 50 s beside another
 * benchmark at 16 (its three fresh processes of 1,000 channels each); a hung worker is still caught.
 */
const QUICK_RUN_LIMIT_MS = 90_000;
const FULL_RUN_LIMIT_MS: Partial<Record<BenchName, number>> = { 'lossy-network': 2_400_000 };
const DEFAULT_FULL_RUN_LIMIT_MS = 900_000;
/**
 * Benchmarks that run inside a private network namespace (lib/netns.ts),
 * with the resolv.conf bind-mounted over /etc/resolv.conf there: where
 * getaddrinfo is one of the sides, or nftables drops packets.
 */
const NETNS_RESOLV_CONFS: Partial<Record<BenchName, string>> = {
  'resolution-cost': NETNS_RESOLV_CONF,
  // queries-per-poll's dns.lookup side walks a pod's search list.
  'queries-per-poll': `${NETNS_RESOLV_CONF}${POD_SEARCH}`,
  // A pod's resolv.conf with no options line: glibc's 5 s timeout and 2 attempts.
  'lossy-network': GLIBC_DEFAULTS_RESOLV_CONF,
};

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

function runWorker(name: BenchName, quick: boolean, netns: Netns | { unavailable: string } | undefined, timeoutMs: number): Promise<Outcome> {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`)), 'report.json');
  const args = ['--import', 'tsx', '--expose-gc', WORKER, name, '--out', out];
  if (quick) args.push('--quick');
  let command = process.execPath;
  let finalArgs = args;
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (name === 'coalescing' || name === 'convergence') {
    // grpc-js's built-in resolver then uses c-ares with the target's authority as server (read when grpc-js loads).
    env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER = 'true';
  }
  if (netns) {
    if ('wrap' in netns) {
      const wrapped = netns.wrap(process.execPath, [...args, '--netns']);
      command = wrapped.command;
      finalArgs = wrapped.args;
      Object.assign(env, wrapped.env);
    } else {
      finalArgs = [...args, '--no-netns', netns.unavailable];
    }
  }
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, finalArgs, { cwd: PROJECT_ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    let killedBecause: string | undefined;
    let reportedAt: number | undefined;
    const kill = (why: string): void => {
      killedBecause ??= why;
      child.kill('SIGKILL');
    };
    const deadline = setTimeout(() => kill(`did not finish within ${timeoutMs / 1000} s`), timeoutMs);
    const poll = setInterval(() => {
      if (reportedAt === undefined && fs.existsSync(out)) reportedAt = performance.now();
      if (reportedAt !== undefined && performance.now() - reportedAt > EXIT_GRACE_MS) {
        kill(`reported but did not exit by itself within ${EXIT_GRACE_MS / 1000} s (handles left open)`);
      }
    }, 250);
    child.on('error', (error) => kill(`could not start: ${error.message}`));
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      clearInterval(poll);
      const durationMs = performance.now() - started;
      let report: BenchReport | undefined;
      let parseError: string | undefined;
      try {
        if (fs.existsSync(out)) report = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchReport;
      } catch (error) {
        parseError = `unreadable report: ${(error as Error).message}`;
      }
      fs.rmSync(path.dirname(out), { recursive: true, force: true });
      const error =
        killedBecause ??
        parseError ??
        (code !== 0 ? `exited with ${signal ?? `code ${code}`}` : undefined) ??
        (report ? undefined : 'exited without a report');
      resolve({ name, status: error ? 'failed' : 'ok', durationMs, error, report });
    });
  });
}

function printReport(report: BenchReport): void {
  console.log(`\n${'═'.repeat(100)}\n${report.title}\n${'═'.repeat(100)}`);
  console.log(report.method);
  for (const table of report.tables) console.log(`\n${formatTable(table)}`);
  for (const note of report.notes) console.log(`\n  note: ${note}`);
}

function verdict(met: boolean | null | undefined): string {
  if (met === true) return 'met';
  if (met === false) return 'NOT met';
  return met === null ? 'n/a' : '';
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = option('only');
  const selected = only ? only.split(',').map((name) => name.trim()) : [...BENCHMARKS];
  const unknown = selected.filter((name) => !(BENCHMARKS as readonly string[]).includes(name));
  if (unknown.length > 0) {
    console.error(`Unknown benchmark ${unknown.join(', ')}; known: ${BENCHMARKS.join(', ')}`);
    process.exitCode = 2;
    return;
  }
  // A partial run (--only) never overwrites the full results the README quotes.
  const defaultOut = quick ? 'results.quick.json' : only ? `results.${selected.join('+')}.json` : 'results.json';
  const outFile = path.resolve(option('out') ?? path.join(PROJECT_ROOT, 'bench', defaultOut));
  const machine = machineInfo();
  console.log(`grpc-dns-watch benchmarks${quick ? ' (--quick)' : ''}\nmachine: ${describeMachine(machine)}`);

  const namespaces = new Map<BenchName, Netns | { unavailable: string }>();
  for (const name of selected as BenchName[]) {
    const resolvConf = NETNS_RESOLV_CONFS[name];
    if (resolvConf === undefined) continue;
    const netns = prepareNetns(resolvConf);
    namespaces.set(name, netns);
    if ('unavailable' in netns) console.log(`${name}: no private network namespace: ${netns.unavailable}`);
  }
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const outcomes: Outcome[] = [];
  // A full run measures one benchmark at a time on an otherwise idle machine.
  // A quick run only shows that every benchmark runs and reports (its figures
  // are too small to read), so it runs two at a time to stay under a minute.
  const lanes = quick ? QUICK_LANES : 1;
  if (quick) console.log(`quick run: ${lanes} benchmarks at a time, small sizes — its figures show that each benchmark runs, not what it measures`);
  const queue = [...(selected as BenchName[])];
  try {
    const lane = async (): Promise<void> => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        console.log(`\n▶ ${name}`);
        const limitMs = quick ? QUICK_RUN_LIMIT_MS : (FULL_RUN_LIMIT_MS[name] ?? DEFAULT_FULL_RUN_LIMIT_MS);
        const outcome = await runWorker(name, quick, namespaces.get(name), limitMs);
        outcomes.push(outcome);
        if (outcome.report) printReport(outcome.report);
        console.log(`\n${outcome.status === 'ok' ? '✔' : '✘'} ${name}: ${outcome.status} in ${(outcome.durationMs / 1000).toFixed(1)} s${outcome.error ? ` — ${outcome.error}` : ''}`);
      }
    };
    await Promise.all(Array.from({ length: lanes }, lane));
    outcomes.sort((a, b) => selected.indexOf(a.name) - selected.indexOf(b.name));
  } finally {
    for (const netns of namespaces.values()) if ('dispose' in netns) netns.dispose();
  }
  const durationMs = performance.now() - started;

  const summary: Table = {
    title: `Summary (${quick ? 'quick' : 'full'} run, ${(durationMs / 1000).toFixed(1)} s)`,
    headers: ['benchmark', 'status', 'metric', 'value', 'target', 'verdict'],
    rows: outcomes.flatMap((outcome) => {
      const head = [outcome.name, `${outcome.status} (${(outcome.durationMs / 1000).toFixed(1)} s)`];
      const lines = outcome.report?.summary ?? [];
      if (lines.length === 0) return [[...head, outcome.error ?? '', '', '', '']];
      return lines.map((line, index) => [...(index === 0 ? head : ['', '']), line.metric, line.value, line.target ?? '', verdict(line.met)]);
    }),
  };
  console.log(`\n${formatTable(summary)}`);

  const results = {
    quick,
    startedAt,
    durationMs,
    machine,
    benchmarks: outcomes.map(({ name, status, durationMs: ms, error, report }) => ({ name, status, durationMs: ms, error, report })),
  };
  fs.writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nwrote ${path.relative(process.cwd(), outFile) || outFile}`);
  const failed = outcomes.filter((outcome) => outcome.status !== 'ok');
  if (failed.length > 0) {
    console.error(`\n${failed.length} benchmark(s) failed: ${failed.map((outcome) => outcome.name).join(', ')}`);
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
