import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArgsError, parseArgs } from '../examples/demo/args.js';
import { planPhases } from '../examples/demo/scenario.js';
import type { DemoSummary } from '../examples/demo/stats.js';

/**
 * The demo (`npm run demo`) as a user runs it: a child process, on its own
 * DNS servers and pods, ending by itself. --quick keeps it to about 10 s.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = path.join(ROOT, 'examples', 'demo', 'main.ts');

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function runDemo(args: string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const env = { ...process.env };
    delete env.GRPC_TRACE;
    delete env.GRPC_VERBOSITY;
    delete env.NO_COLOR;
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`demo ${args.join(' ')} still running after ${timeoutMs} ms\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

describe('npm run demo --quick', () => {
  let dir: string;
  let run: Run;
  let summary: DemoSummary;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'demo-test-'));
    const jsonPath = path.join(dir, 'summary.json');
    run = await runDemo(['--quick', '--no-color', '--json-summary', jsonPath], 45_000);
    if (run.code !== 0) throw new Error(`demo exited ${run.code ?? run.signal}\n--- stdout\n${run.stdout}\n--- stderr\n${run.stderr}`);
    summary = JSON.parse(await readFile(jsonPath, 'utf8')) as DemoSummary;
  }, 50_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ends by itself with exit code 0 (runDemo kills it after 45 s)', () => {
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/demo failed/);
    expect(summary.interrupted).toBe(false);
  });

  it('prints the summary table with every phase, without colours in a pipe', () => {
    const table = run.stdout.slice(run.stdout.indexOf('Summary: RPCs per phase and client'));
    expect(table.length).toBeGreaterThan(0);
    for (const heading of ['1 steady', '2 scale-up', '3 rolling update', '4 pod crash', 'all phases']) {
      expect(table).toContain(heading);
    }
    expect(table).toMatch(/built-in\s+\d+\s+\d+/);
    expect(table).toMatch(/grpc-dns-watch\s+\d+\s+\d+/);
    expect(run.stdout).not.toContain('\x1b[');
    // Not a terminal: one line a second instead of a redrawn table.
    expect(run.stdout).toMatch(/^\s+\d+\.\ds\s+scale-up\s+built-in: .* \| {2}grpc-dns-watch: /m);
  });

  it('writes a JSON summary with the four phases and both clients sending all along', () => {
    expect(summary.phases.map((phase) => phase.key)).toEqual(['steady', 'scale-up', 'rolling-update', 'crash']);
    for (const phase of summary.phases) {
      expect(phase.clients.builtin.rpcs, `${phase.key} built-in`).toBeGreaterThan(0);
      expect(phase.clients.dnsWatch.rpcs, `${phase.key} grpc-dns-watch`).toBeGreaterThan(0);
    }
    expect(summary.totals.dnsWatch.rpcs).toBe(summary.phases.reduce((sum, phase) => sum + phase.clients.dnsWatch.rpcs, 0));
  });

  it('scale-up: grpc-dns-watch reaches every new pod; the built-in resolver, which never polls, reaches none', () => {
    const scaleUp = summary.phases.find((phase) => phase.key === 'scale-up')!;
    expect(scaleUp.added).toHaveLength(summary.options.pods);
    const watchClient = scaleUp.clients.dnsWatch;
    expect(watchClient.newPodsReached).toEqual([...scaleUp.added].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })));
    expect(watchClient.shareOnNewPods).toBeGreaterThan(0);
    expect(watchClient.failed).toBe(0);
    expect(scaleUp.clients.builtin.newPodsReached).toEqual([]);
  });

  it('rolling update and crash: grpc-dns-watch ends on the new pods', () => {
    const rolling = summary.phases.find((phase) => phase.key === 'rolling-update')!;
    expect(rolling.retired.length).toBeGreaterThan(0);
    expect(rolling.clients.dnsWatch.newPodsReached.length).toBeGreaterThan(0);
    const crash = summary.phases.find((phase) => phase.key === 'crash')!;
    expect(crash.killed).toHaveLength(1);
    expect(crash.clients.dnsWatch.podsReached.every((host) => rolling.added.includes(host))).toBe(true);
  });
});

const BAD_FLAGS: Array<[string[], string]> = [
  [['--pods', '0'], '--pods'],
  [['--pods', 'many'], '--pods'],
  [['--interval', '5'], '--interval'],
  [['--interval'], '--interval'],
  [['--duration', '600'], '--duration'],
  [['--quick', '--duration', '20'], '--duration'],
  [['--bogus'], '--bogus'],
];

describe('demo flags', () => {
  it.each(BAD_FLAGS)('%j is refused naming %s', (args, flag) => {
    let refused: unknown;
    try {
      parseArgs(args, { isTTY: false, env: {} });
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(ArgsError);
    expect((refused as ArgsError).flag).toBe(flag);
    expect((refused as ArgsError).message).toContain(flag);
  });

  // The command around the reader, each a child process of its own: side by side. Every refusal takes
  // main.ts's one path (ArgsError: the message and the usage on stderr, exit 2), so one stands for all.
  it.concurrent('a refused flag: exits 2 naming it, with the usage on stderr and nothing on stdout', async () => {
    const [args, flag] = BAD_FLAGS[0]!;
    const run = await runDemo(args, 20_000);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(flag);
    expect(run.stderr).toContain('Usage:');
    expect(run.stdout).toBe('');
  });

  it.concurrent('--help prints the usage and exits 0', async () => {
    const run = await runDemo(['--help'], 20_000);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--pods <n>[\s\S]*--interval <ms>[\s\S]*--duration <s>[\s\S]*--quick/);
  });

  it('parses values in both spellings and picks the modes from the terminal', () => {
    const tty = { isTTY: true, env: {} };
    const pipe = { isTTY: false, env: {} };
    const parsed = parseArgs(['--pods=5', '--interval', '250', '--duration', '12.5'], tty);
    expect(parsed).toEqual({
      help: false,
      options: { pods: 5, intervalMs: 250, durationMs: 12_500, color: true, live: true, jsonSummary: undefined, quick: false },
    });
    const quick = parseArgs(['--quick'], pipe);
    expect(quick.help === false && quick.options).toMatchObject({ durationMs: 10_000, color: false, live: false });
    const plain = parseArgs(['--plain'], { isTTY: true, env: { NO_COLOR: '1' } });
    expect(plain.help === false && plain.options).toMatchObject({ color: false, live: false });
    expect(() => parseArgs(['--pods', '--quick'], tty)).toThrow(new ArgsError('--pods needs a value', '--pods'));
  });

  it('plans four phases that fill the duration exactly', () => {
    for (const ms of [8_000, 10_000, 40_000, 50_000]) {
      const phases = planPhases(ms);
      expect(phases.map((phase) => phase.key)).toEqual(['steady', 'scale-up', 'rolling-update', 'crash']);
      expect(phases[0]!.startMs).toBe(0);
      expect(phases.at(-1)!.endMs).toBe(ms);
      for (let i = 1; i < phases.length; i++) expect(phases[i]!.startMs).toBe(phases[i - 1]!.endMs);
    }
  });
});
