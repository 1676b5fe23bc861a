/**
 * 9. Hostile TCP decode cost (docs/hostile-input.md, finding 1).
 *
 * What one query costs the client when a hostile server answers its UDP
 * query "truncated" and then sends 7 label-ladder messages over TCP (each
 * 1,024 records owned by 127-label names, cut short at the end: the worst
 * decode per byte dns-packet allows), against the same server answering
 * with one genuine record over TCP. The server runs in its own process
 * (bench/lib/hostile-tcp-server.ts), so its encoding is not counted.
 * Per query: wall time, CPU of this process (process.cpuUsage) and the
 * longest event-loop stall (monitorEventLoopDelay, 1 ms resolution,
 * subtracted). Rounds alternate the two sides; medians with p10–p90 and
 * min–max.
 */
import { fork, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { DnsClient } from '../src/dns/client.js';
import { MAX_ANSWER_LABELS, MAX_ANSWER_RECORDS } from '../src/dns/wire.js';
import { MAX_ANSWERS_DECODED_PER_TRY } from '../src/dns/reply-reader.js';
import type { Nameserver } from '../src/dns/types.js';
import { PROJECT_ROOT } from './lib/dns-child.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { int, ms, type Table } from './lib/table.js';

const SERVER = path.join(PROJECT_ROOT, 'bench', 'lib', 'hostile-tcp-server.ts');

interface Sample {
  wallMs: number;
  cpuMs: number;
  stallMs: number;
  answers: number;
  error?: string;
}

async function startServer(ladders: number): Promise<{ nameserver: Nameserver; child: ChildProcess }> {
  const child = fork(SERVER, ['--ladders', String(ladders)], { cwd: PROJECT_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('hostile-tcp-server did not start within 20 s')), 20_000);
    child.once('message', (message: { port: number }) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    child.once('exit', (code) => reject(new Error(`hostile-tcp-server exited (code ${code})`)));
  });
  return { nameserver: { host: '127.0.0.1', port }, child };
}

async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.disconnect();
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

async function measure(client: DnsClient, server: Nameserver, queries: number): Promise<Sample[]> {
  const samples: Sample[] = [];
  for (let i = 0; i < queries; i++) {
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const cpu = process.cpuUsage();
    const started = performance.now();
    let answers = 0;
    let error: string | undefined;
    try {
      answers = (await client.query([server], `q${i}.hostile.bench.test`, 'A')).answers.length;
    } catch (caught) {
      error = (caught as { code?: string }).code ?? String(caught);
    }
    const wallMs = performance.now() - started;
    const used = process.cpuUsage(cpu);
    // Let the histogram take one more sample after the query's last stall.
    await new Promise((resolve) => setTimeout(resolve, 3));
    histogram.disable();
    samples.push({ wallMs, cpuMs: (used.user + used.system) / 1000, stallMs: Math.max(0, histogram.max / 1e6 - 1), answers, error });
  }
  return samples;
}

function describe(values: number[]): { p50: number; p10: number; p90: number; min: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p10: percentile(sorted, 10), p90: percentile(sorted, 90), min: sorted[0]!, max: sorted[sorted.length - 1]! };
}

const cell = (summary: ReturnType<typeof describe>): string => `${ms(summary.p50)} (${ms(summary.p10)}–${ms(summary.p90)}; ${ms(summary.min)}–${ms(summary.max)})`;

interface Side {
  label: string;
  server: Nameserver;
  samples: Sample[];
}

type Row = ReturnType<typeof rowOf>;

/** Both servers, a warm-up, then the rounds with the sides alternating; the servers stopped after. */
async function measureSides(context: BenchContext, rounds: number, perRound: number): Promise<Side[]> {
  const hostile = await startServer(7);
  const genuine = await startServer(0);
  const client = new DnsClient({ timeoutMs: 5_000, attempts: 1 });
  const sides: Side[] = [
    { label: '7 label-ladder messages (1,024 records each)', server: hostile.nameserver, samples: [] },
    { label: 'one genuine A record (baseline)', server: genuine.nameserver, samples: [] },
  ];
  try {
    // Warm-up: the decoder's code optimized, sockets once.
    for (const side of sides) await measure(client, side.server, context.quick ? 2 : 5);
    for (let round = 0; round < rounds; round++) {
      for (const side of round % 2 === 0 ? sides : [...sides].reverse()) side.samples.push(...(await measure(client, side.server, perRound)));
      context.log(`round ${round + 1}/${rounds} done`);
    }
  } finally {
    client.close();
    await stop(hostile.child);
    await stop(genuine.child);
  }
  return sides;
}

function rowOf(side: Side) {
  const outcomes = new Map<string, number>();
  for (const sample of side.samples) {
    const key = sample.error ?? `${sample.answers} answers`;
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  return {
    label: side.label,
    queries: side.samples.length,
    wall: describe(side.samples.map((sample) => sample.wallMs)),
    cpu: describe(side.samples.map((sample) => sample.cpuMs)),
    stall: describe(side.samples.map((sample) => sample.stallMs)),
    outcomes: Object.fromEntries(outcomes),
  };
}

function costTable(rows: Row[], rounds: number, perRound: number, loadAverage: number): Table {
  return {
    title: `One query answered "truncated" over UDP, then over TCP (${rounds} rounds × ${perRound} queries per side, alternating): median (p10–p90; min–max); machine load average ${loadAverage.toFixed(1)} at the start`,
    headers: ['TCP answer', 'queries', 'wall per query', 'CPU per query', 'longest event-loop stall', 'outcome'],
    rows: rows.map((row) => [row.label, int(row.queries), cell(row.wall), cell(row.cpu), cell(row.stall), Object.entries(row.outcomes).map(([key, n]) => `${key}: ${n}`).join(', ')]),
    notes: [
      `Budgets: MAX_ANSWER_LABELS ${MAX_ANSWER_LABELS} labels per message, MAX_ANSWER_RECORDS ${MAX_ANSWER_RECORDS}, MAX_ANSWERS_DECODED_PER_TRY ${MAX_ANSWERS_DECODED_PER_TRY}.`,
      'CPU: process.cpuUsage() of this process (user + system) around each query; the server is another process.',
      'Stall: monitorEventLoopDelay({ resolution: 1 }) max over the query, 1 ms subtracted.',
    ],
  };
}

function summaryLines([ladder, baseline]: Row[]): SummaryLine[] {
  return [
    {
      metric: 'Hostile TCP reply (7 label-ladder messages): wall / CPU / longest stall per query, median (min–max)',
      value: `${ms(ladder!.wall.p50)} / ${ms(ladder!.cpu.p50)} / ${ms(ladder!.stall.p50)} (${ms(ladder!.stall.min)}–${ms(ladder!.stall.max)}); genuine TCP reply ${ms(baseline!.wall.p50)}`,
    },
  ];
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const rounds = context.quick ? 2 : 6;
  const perRound = context.quick ? 5 : 20;
  const loadBefore = os.loadavg();
  const measuredAt = new Date().toISOString();
  const rows = (await measureSides(context, rounds, perRound)).map(rowOf);
  return {
    name: 'hostile-tcp',
    title: '9. Hostile TCP decode cost: 7 label-ladder messages per query',
    method:
      'DnsClient (attempts 1, timeout 5 s) asks a server in its own process that answers UDP "truncated" and then sends 7 label-ladder messages over TCP (harness/hostile-messages.ts), or one genuine record. ' +
      'Per query: wall time, CPU of this process, longest event-loop stall. Sides alternate by round.',
    tables: [costTable(rows, rounds, perRound, loadBefore[0]!)],
    summary: summaryLines(rows),
    notes: [],
    data: { rounds, perRound, rows, measuredAt, loadAverage: { before: loadBefore, after: os.loadavg() } },
  };
}
