/** The benchmarks, in the order bench/run.ts runs them; each is bench/<name>.ts. */
export const BENCHMARKS = ['resolution-cost', 'coalescing', 'convergence', 'queries-per-poll', 'fleet', 'load', 'hostile-tcp', 'poller', 'lossy-network'] as const;
export type BenchName = (typeof BENCHMARKS)[number];
