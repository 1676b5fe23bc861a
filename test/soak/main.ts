/**
 * `npm run soak` — the long soak (default 60 s of run phase; see engine.ts).
 *
 *   npm run soak -- --seconds 60 --seed 1234 --json /tmp/soak.json
 *
 * --rpc-deadline-ms and --converge-ms loosen the wall-clock limits (default
 * 2,000 and 8,000) for a run on a busy machine, as test/soak.test.ts does.
 *
 * Prints progress and a report, writes the full report (with every sample)
 * as JSON (default $TMPDIR/grpc-dns-watch-soak.json), and sets exit code 1 if
 * an invariant broke. It never calls process.exit(): once the soak has
 * destroyed everything, the process must end by itself — test/soak.test.ts
 * checks exactly that.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CONVERGE_MS, RPC_DEADLINE_MS, formatReport, runSoak } from './engine.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string' },
    names: { type: 'string', default: '5' },
    channels: { type: 'string', default: '6' },
    json: { type: 'string', default: path.join(tmpdir(), 'grpc-dns-watch-soak.json') },
    quiet: { type: 'boolean', default: false },
    'rpc-deadline-ms': { type: 'string', default: String(RPC_DEADLINE_MS) },
    'converge-ms': { type: 'string', default: String(CONVERGE_MS) },
  },
});

const seconds = Number(values.seconds);
const names = Number(values.names);
const channels = Number(values.channels);
const seed = values.seed === undefined ? undefined : Number(values.seed);
const rpcDeadlineMs = Number(values['rpc-deadline-ms']);
const convergeMs = Number(values['converge-ms']);
const problem =
  !Number.isFinite(seconds) || seconds <= 0 || seconds > 3_600
    ? `--seconds must be a number of seconds from 1 to 3600, got ${values.seconds}`
    : !Number.isInteger(names) || names < 1 || names > 16
      ? `--names must be an integer from 1 to 16 (the pod address pool holds 48), got ${values.names}`
      : !Number.isInteger(channels) || channels < 1 || channels > 50
        ? `--channels must be an integer from 1 to 50, got ${values.channels}`
        : seed !== undefined && !Number.isInteger(seed)
          ? `--seed must be an integer, got ${values.seed}`
          : !Number.isInteger(rpcDeadlineMs) || rpcDeadlineMs < 1 || rpcDeadlineMs > 600_000
            ? `--rpc-deadline-ms must be an integer from 1 to 600000, got ${values['rpc-deadline-ms']}`
            : !Number.isInteger(convergeMs) || convergeMs < 1 || convergeMs > 600_000
              ? `--converge-ms must be an integer from 1 to 600000, got ${values['converge-ms']}`
              : undefined;
if (problem) {
  console.error(problem);
  process.exitCode = 2;
} else {
  const report = await runSoak({
    durationMs: seconds * 1_000,
    names,
    channelsPerName: channels,
    seed,
    sampleEveryMs: seconds >= 30 ? 1_000 : 250,
    heapGrowthLimit: seconds >= 30 ? 0.1 : 0.15,
    rpcDeadlineMs,
    convergeMs,
    log: values.quiet ? undefined : (line) => console.log(`[soak] ${line}`),
  });
  await writeFile(values.json, `${JSON.stringify(report, null, 2)}\n`);
  console.log(formatReport(report));
  console.log(`full report: ${values.json}`);
  if (report.violations.length > 0) {
    console.error(`soak: ${report.violations.length} invariant(s) broken`);
    process.exitCode = 1;
  }
}
