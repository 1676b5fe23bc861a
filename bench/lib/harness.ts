/**
 * Interleaved measurement on top of tinybench: every side runs in every
 * round, in a rotated order, so drift of the machine (other tenants, CPU
 * frequency, GC state) lands on all sides alike. Per-operation latency comes
 * from tinybench's samples; CPU per operation from process.cpuUsage() around
 * each task's measured phase (whole process: all threads, user + system).
 */
import { Bench } from 'tinybench';
import vm from 'node:vm';
import v8 from 'node:v8';
import { median } from './stats.js';

export interface Side {
  name: string;
  /** One operation. Must reject on failure (tinybench then reports the task as errored). */
  fn: () => Promise<unknown>;
}

export interface SideResult {
  name: string;
  /** Latency of each measured operation, ms. */
  samples: number[];
  /** Measured operations. */
  ops: number;
  /** Process CPU (user + system) per operation, µs: the median over rounds. */
  cpuUsPerOp: number;
  /** The same, round by round (rounds run the sides back to back, in rotated order). */
  cpuUsPerOpRounds: number[];
  /** Wall time per operation over the measured phases (includes harness overhead), µs. */
  wallUsPerOp: number;
}

export interface InterleaveOptions {
  rounds: number;
  /** Minimum measured time per side per round, ms. */
  timeMs: number;
  /** Minimum operations per side per round. */
  iterations: number;
  /** Warm-up before the first round, ms per side. */
  warmupMs: number;
  log?: (message: string) => void;
}

export async function interleaved(sides: readonly Side[], options: InterleaveOptions): Promise<SideResult[]> {
  const totals = new Map(sides.map((side) => [side.name, { samples: [] as number[], ops: 0, cpuUs: 0, wallMs: 0, roundCpuUs: 0, rounds: [] as number[] }]));
  for (let round = 0; round < options.rounds; round++) {
    const bench = new Bench({
      time: options.timeMs,
      iterations: options.iterations,
      warmup: round === 0,
      warmupTime: options.warmupMs,
      warmupIterations: 10,
      retainSamples: true,
      throws: true,
    });
    const order = sides.map((_, index) => sides[(index + round) % sides.length]!);
    for (const side of order) {
      const total = totals.get(side.name)!;
      let cpuStart: NodeJS.CpuUsage | undefined;
      let wallStart = 0;
      bench.add(side.name, side.fn, {
        async: true,
        beforeAll(mode) {
          if (mode !== 'run') return;
          wallStart = performance.now();
          cpuStart = process.cpuUsage();
        },
        afterAll(mode) {
          if (mode !== 'run' || !cpuStart) return;
          const cpu = process.cpuUsage(cpuStart);
          total.cpuUs += cpu.user + cpu.system;
          total.roundCpuUs = cpu.user + cpu.system;
          total.wallMs += performance.now() - wallStart;
        },
      });
    }
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== 'completed') {
        const error = 'error' in result ? (result as { error: Error }).error : undefined;
        throw new Error(`${task.name}: ${result.state}${error ? `: ${error.stack ?? error.message}` : ''}`);
      }
      const total = totals.get(task.name)!;
      const samples = result.latency.samples ?? [];
      total.samples.push(...samples);
      total.ops += samples.length;
      total.rounds.push(total.roundCpuUs / samples.length);
    }
    options.log?.(`  round ${round + 1}/${options.rounds} done`);
  }
  return sides.map((side) => {
    const total = totals.get(side.name)!;
    return {
      name: side.name,
      samples: total.samples,
      ops: total.ops,
      cpuUsPerOp: median(total.rounds),
      cpuUsPerOpRounds: total.rounds,
      wallUsPerOp: (total.wallMs * 1000) / total.ops,
    };
  });
}

/**
 * CPU per operation of `a` over `b`, round by round: the median and the
 * range. Each round ran both sides back to back, so drift of a shared,
 * loaded machine cancels within a round; the range says how far to trust it.
 */
export function roundRatios(a: SideResult, b: SideResult): { median: number; min: number; max: number } {
  const ratios = a.cpuUsPerOpRounds.map((value, round) => value / b.cpuUsPerOpRounds[round]!);
  return { median: median(ratios), min: Math.min(...ratios), max: Math.max(...ratios) };
}

let gcFunction: (() => void) | undefined;

/** A full GC, with or without --expose-gc. */
export function collectGarbage(): void {
  if (!gcFunction) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === 'function') gcFunction = exposed;
    else {
      v8.setFlagsFromString('--expose-gc');
      gcFunction = vm.runInNewContext('gc') as () => void;
    }
  }
  gcFunction();
}

export interface MemorySnapshot {
  rss: number;
  heapUsed: number;
  external: number;
}

/**
 * Memory after full GCs, repeated (with short pauses for finalizers and
 * native handles released in callbacks) until heapUsed stops moving.
 */
export async function settledMemory(): Promise<MemorySnapshot> {
  let previous = Infinity;
  for (let pass = 0; pass < 8; pass++) {
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 20));
    const heap = process.memoryUsage().heapUsed;
    if (Math.abs(heap - previous) < 64 * 1024) break;
    previous = heap;
  }
  return memoryNow();
}

function memoryNow(): MemorySnapshot {
  const usage = process.memoryUsage();
  return { rss: usage.rss, heapUsed: usage.heapUsed, external: usage.external + usage.arrayBuffers };
}

/**
 * Memory of a process that keeps polling, median of `samples` readings taken
 * `spacingMs` apart, each synchronously after one full GC. Not
 * {@link settledMemory}: its back-to-back GCs stall the event loop long enough
 * that hundreds of polls fall due together, and the reading then counts a
 * burst of in-flight queries the steady process never holds. Each reading
 * here sees the queries in flight when its GC began; the pause before it
 * lets the previous GC's backlog drain.
 */
export async function memoryWhilePolling(samples = 3, spacingMs = 1_000): Promise<MemorySnapshot> {
  const readings: MemorySnapshot[] = [];
  for (let i = 0; i < samples; i++) {
    await new Promise((resolve) => setTimeout(resolve, spacingMs));
    collectGarbage();
    readings.push(memoryNow());
  }
  return {
    rss: median(readings.map((reading) => reading.rss)),
    heapUsed: median(readings.map((reading) => reading.heapUsed)),
    external: median(readings.map((reading) => reading.external)),
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
