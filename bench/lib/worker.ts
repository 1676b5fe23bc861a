/**
 * One benchmark in its own process (started by bench/run.ts):
 *
 *   node --import tsx --expose-gc bench/lib/worker.ts <name> --out <file> [--quick] [--netns | --no-netns <why>]
 *
 * Own process per benchmark: memory figures start from a clean heap, the
 * process-wide registry and grpc-js state do not carry over, and a benchmark
 * that leaves a handle open shows up as a process that does not exit.
 * Writes the BenchReport as JSON to --out; progress goes to stderr.
 */
import fs from 'node:fs';
import { BENCHMARKS, type BenchName } from './benchmarks.js';
import { verifyInsideNetns } from './netns.js';
import type { BenchContext, BenchModule } from './report.js';


function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

async function main(): Promise<void> {
  const name = process.argv[2] as BenchName | undefined;
  const out = option('out');
  if (!name || !(BENCHMARKS as readonly string[]).includes(name) || !out) {
    throw new Error(`usage: worker.ts <${BENCHMARKS.join('|')}> --out <file> [--quick] [--netns]`);
  }
  const started = performance.now();
  const log = (message: string): void => {
    process.stderr.write(`[${name} ${((performance.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  };
  let netns = process.argv.includes('--netns');
  let netnsUnavailable = option('no-netns');
  if (netns) {
    const problem = verifyInsideNetns();
    if (problem) {
      netns = false;
      netnsUnavailable = `namespace check failed: ${problem}`;
    }
  }
  const context: BenchContext = { quick: process.argv.includes('--quick'), netns, netnsUnavailable, log };
  const module = (await import(`../${name}.js`)) as BenchModule;
  const report = await module.run(context);
  fs.writeFileSync(out, JSON.stringify(report, (_key, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? String(value) : value)));
  log('reported');
  // Diagnostics only: an unref'd timer fires only if something else keeps the process alive.
  setTimeout(() => {
    log(`still alive 3 s after reporting; active resources: ${process.getActiveResourcesInfo().join(', ')}`);
  }, 3_000).unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`[${process.argv[2]}] crashed: ${String((error as Error)?.stack ?? error)}\n`);
  process.exitCode = 1;
});
