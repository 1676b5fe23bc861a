/**
 * What reading a big hosts file costs the process: the longest event-loop
 * stall, the heap kept while the file's answers are held, the peak RSS, and
 * how long the first lookup waits. The figures in docs/reliability.md
 * ("A big hosts file") come from here.
 *
 *   node --import tsx --expose-gc scripts/hosts-cost.ts [--mib 32] [--module path/to/hosts.ts] [--max-bytes N] [--runs 3]
 *
 * The file is 32 MiB (the size cap) of distinct short names, each on its
 * own line with its own address — the worst case for a table of every name.
 * Each run is a fresh child process (peak RSS is per process), asked for one
 * name near the end of the file, then once more after the file changed.
 * `--module` measures another copy of src/dns/hosts.ts (main's, to compare
 * before and after); `--max-bytes` sets its size cap (a lower cap is one of
 * the options issue 20 names).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

interface Measurement {
  /** Longest event-loop stall while the file was read (both reads), ms. */
  maxStallMs: number;
  /** Heap used after a full GC, with the answers held, minus before, MB. */
  heapGrowthMb: number;
  /** Peak resident set size of the process, MB. */
  peakRssMb: number;
  /** First lookup, and the lookup after the file changed, ms (wall time, for orientation). */
  firstLookupMs: number;
  changedLookupMs: number;
  found: boolean;
}

function option(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1] : undefined;
}

/** `mib` MiB of `10.a.b.c nNNNNNNN` lines: distinct addresses and names. Returns the last name. */
function writeHostsFile(file: string, mib: number): string {
  const target = mib * 1024 * 1024;
  const lines: string[] = [];
  let bytes = 0;
  let i = 0;
  let last = '';
  while (bytes < target) {
    const name = `n${i.toString(36)}`;
    const line = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255} ${name}\n`;
    if (bytes + line.length > target) break;
    lines.push(line);
    last = name;
    bytes += line.length;
    i++;
  }
  writeFileSync(file, lines.join(''));
  return last;
}

async function measure(modulePath: string, file: string, name: string, maxBytes: number | undefined): Promise<Measurement> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  const { HostsFile } = (await import(pathToFileURL(modulePath).href)) as typeof import('../src/dns/hosts.js');
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const stalls = monitorEventLoopDelay({ resolution: 10 });
  stalls.enable();
  const hosts = new HostsFile(file, { statIntervalMs: 0, ...(maxBytes === undefined ? {} : { maxBytes }) });
  let started = performance.now();
  const answer = await hosts.lookup(name, 0);
  const firstLookupMs = performance.now() - started;
  const later = new Date(Date.now() + 60_000);
  utimesSync(file, later, later);
  started = performance.now();
  await hosts.lookup(name, 0);
  const changedLookupMs = performance.now() - started;
  stalls.disable();
  gc();
  const heapAfter = process.memoryUsage().heapUsed;
  // Held until here, so the heap above counts what a watcher's HostsFile keeps.
  const found = (await hosts.lookup(name, 0)) !== null && answer !== null;
  return {
    maxStallMs: stalls.max / 1e6,
    heapGrowthMb: (heapAfter - heapBefore) / 1e6,
    peakRssMb: process.resourceUsage().maxRSS / 1024,
    firstLookupMs,
    changedLookupMs,
    found,
  };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  const child = process.argv.indexOf('--child');
  if (child >= 0) {
    const [modulePath, file, name, maxBytes] = process.argv.slice(child + 1);
    const result = await measure(modulePath!, file!, name!, maxBytes === '' ? undefined : Number(maxBytes));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const mib = Number(option('mib') ?? 32);
  const runs = Number(option('runs') ?? 3);
  const modulePath = path.resolve(option('module') ?? path.join(import.meta.dirname, '..', 'src', 'dns', 'hosts.ts'));
  const maxBytes = option('max-bytes') ?? '';
  const dir = mkdtempSync(path.join(tmpdir(), 'hosts-cost-'));
  try {
    const file = path.join(dir, 'hosts');
    const name = writeHostsFile(file, mib);
    const results: Measurement[] = [];
    // Wall-clock stalls grow with other work on the machine (a process waits for a core): say how busy it was.
    const loadBefore = loadavg()[0]!;
    for (let run = 0; run < runs; run++) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', '--expose-gc', import.meta.filename, '--child', modulePath, file, name, maxBytes], {
        encoding: 'utf8',
        maxBuffer: 1 << 20,
      });
      results.push(JSON.parse(out.trim().split('\n').at(-1)!) as Measurement);
    }
    const field = (key: keyof Omit<Measurement, 'found'>) => {
      const values = results.map((result) => result[key]);
      return `${median(values).toFixed(1)} (${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)})`;
    };
    console.log(`${mib} MiB hosts file, ${path.relative(process.cwd(), modulePath)}${maxBytes ? `, maxBytes ${maxBytes}` : ''}: ${runs} runs, median (range)`);
    console.log(`  load average (1 min)       ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after`);
    console.log(`  longest event-loop stall  ${field('maxStallMs')} ms`);
    console.log(`    each run                 ${results.map((result) => result.maxStallMs.toFixed(1)).join(', ')} ms`);
    console.log(`  heap growth (answers held) ${field('heapGrowthMb')} MB`);
    console.log(`  peak RSS                   ${field('peakRssMb')} MB`);
    console.log(`  first lookup               ${field('firstLookupMs')} ms`);
    console.log(`  lookup after a change      ${field('changedLookupMs')} ms`);
    console.log(`  name found                 ${results.map((result) => result.found).join(', ')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
