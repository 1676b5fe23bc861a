/** What a benchmark hands back to bench/run.ts (through a JSON file). */
import type { Table } from './table.js';

export interface SummaryLine {
  /** What was measured, e.g. "CPU per resolution, stub / c-ares". */
  metric: string;
  /** The measured value, formatted. */
  value: string;
  /** The target, in words; absent when there is none. */
  target?: string;
  /** Whether the target is met; null when it cannot be judged (skipped, not applicable). */
  met?: boolean | null;
}

export interface BenchReport {
  name: string;
  title: string;
  /** How it was measured, one paragraph; printed above the tables. */
  method: string;
  tables: Table[];
  summary: SummaryLine[];
  notes: string[];
  /** Raw figures, for results.json. */
  data: Record<string, unknown>;
}

export interface BenchContext {
  quick: boolean;
  /** Running inside a private network namespace with /etc/resolv.conf -> 127.0.0.1 (resolution-cost only). */
  netns: boolean;
  /** Why there is no namespace, when there is none. */
  netnsUnavailable?: string;
  log: (message: string) => void;
}

export interface BenchModule {
  run(context: BenchContext): Promise<BenchReport>;
}
