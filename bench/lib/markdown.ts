/**
 * Render a results file as Markdown (for docs/benchmarks.md):
 *
 *   node --import tsx bench/lib/markdown.ts [bench/results.json]
 */
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './dns-child.js';
import { describeMachine, type MachineInfo } from './machine.js';
import type { BenchReport } from './report.js';
import { markdownTable } from './table.js';

interface Results {
  quick: boolean;
  durationMs: number;
  machine: MachineInfo;
  benchmarks: Array<{ name: string; status: string; durationMs: number; error?: string; report?: BenchReport }>;
}

const file = path.resolve(process.argv[2] ?? path.join(PROJECT_ROOT, 'bench', 'results.json'));
const results = JSON.parse(fs.readFileSync(file, 'utf8')) as Results;
const out: string[] = [];
out.push(`Measured ${results.machine.date.slice(0, 10)} on ${describeMachine(results.machine)}; ${results.quick ? 'quick' : 'full'} run, ${(results.durationMs / 1000).toFixed(0)} s.`);
for (const bench of results.benchmarks) {
  out.push('', `### ${bench.report?.title ?? bench.name}`, '');
  if (!bench.report) {
    out.push(`**${bench.status}**: ${bench.error ?? ''}`);
    continue;
  }
  for (const table of bench.report.tables) {
    out.push(`**${table.title}**`, '', markdownTable(table), '');
    for (const note of table.notes ?? []) out.push(`- ${note}`);
    if (table.notes?.length) out.push('');
  }
}
out.push('', '### Summary', '');
out.push(
  markdownTable({
    headers: ['benchmark', 'metric', 'value', 'target', 'verdict'],
    rows: results.benchmarks.flatMap((bench) =>
      (bench.report?.summary ?? []).map((line) => [
        bench.name,
        line.metric,
        line.value,
        line.target ?? '',
        line.met === true ? 'met' : line.met === false ? '**not met**' : line.met === null ? 'n/a' : '',
      ]),
    ),
  }),
);
process.stdout.write(`${out.join('\n')}\n`);
