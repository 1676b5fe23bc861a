/**
 * 5. Convergence: time from a DNS change to the first RPC served by the new pod.
 *
 * Scale-up, the case grpc-js's built-in resolver never notices: a Service has
 * one pod, clients are READY on it, a second pod starts and DNS now lists
 * both. Each trial runs two clients side by side in this process, against the
 * same in-process DnsTestServer and the same real grpc-js pods on 127.0.0.x:
 * - dns-watch: `dns-watch:///name:port` (register({ replaceBuiltin: false, nameservers, refreshInterval }), default jitter)
 * - built-in:  `dns://127.0.0.1:PORT/name:port` with GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true
 *              (set by bench/run.ts before grpc-js loads), i.e. c-ares asking the test server
 * Both use round_robin and a local subchannel pool (no connection shared between them).
 * The change lands at a random moment of the poll cycle (uniform over one
 * refreshInterval after the clients are READY). Each client then sends RPCs
 * back to back (5 ms apart) until the new pod answers or the window ends.
 * Trials run in parallel batches, each trial with its own name.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { register, unregister } from '../src/index.js';
import { DnsTestServer } from '../harness/dns-server.js';
import { PodFleet, createPodClient, type PodClient } from '../harness/pods.js';
import { sleep } from './lib/harness.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { summarize } from './lib/stats.js';
import { int, ms, sig, type Table } from './lib/table.js';

type SideName = 'dns-watch' | 'built-in dns (c-ares)';
const SIDES: SideName[] = ['dns-watch', 'built-in dns (c-ares)'];
const RPC_GAP_MS = 5;

interface TrialSide {
  /** ms from the DNS change to the first RPC answered by the new pod; undefined: not within the window. */
  lagMs: number | undefined;
  rpcs: number;
  failedRpcs: number;
}

interface Trial {
  name: string;
  delayMs: number;
  sides: Record<SideName, TrialSide>;
}

async function untilServedBy(client: PodClient, host: string, windowMs: number, since: number): Promise<TrialSide> {
  let rpcs = 0;
  let failedRpcs = 0;
  for (;;) {
    const left = windowMs - (performance.now() - since);
    if (left <= 0) return { lagMs: undefined, rpcs, failedRpcs };
    rpcs++;
    try {
      // A fixed deadline, so an RPC started near the end of the window is not failed by the window itself.
      const served = await client.whoAmI(500);
      const at = performance.now() - since;
      if (served === host) return { lagMs: at <= windowMs ? at : undefined, rpcs, failedRpcs };
    } catch {
      failedRpcs++;
    }
    await sleep(RPC_GAP_MS);
  }
}

async function warm(client: PodClient, host: string, timeoutMs: number): Promise<void> {
  const end = performance.now() + timeoutMs;
  let last = '';
  while (performance.now() < end) {
    try {
      if ((await client.whoAmI(500)) === host) return;
    } catch (error) {
      last = String((error as Error).message);
    }
    await sleep(10);
  }
  throw new Error(`${client.target} never reached ${host} within ${timeoutMs} ms (${last})`);
}

interface Settings {
  refreshInterval: number;
  trials: number;
  /** Trials at a time, each with a new pod of its own. */
  parallel: number;
  windowMs: number;
  jitter: number;
}

type Figures = Record<SideName, { converged: number; never: number; lag: ReturnType<typeof summarize>; failedRpcs: number }>;

/** The DNS server, the pods and the registered resolver the trials share. */
interface Bench {
  settings: Settings;
  dns: DnsTestServer;
  fleet: PodFleet;
}

function settingsFor(quick: boolean): Settings {
  const refreshInterval = quick ? 500 : 1_000;
  return { refreshInterval, trials: quick ? 10 : 100, parallel: 10, windowMs: 3 * refreshInterval, jitter: 0.2 };
}

/** One trial: both clients READY on the old pod, the change at a random moment, then each until the new pod answers. */
async function oneTrial({ settings, dns, fleet }: Bench, index: number, newPod: { host: string }): Promise<Trial> {
  const oldPod = fleet.pods[0]!;
  const name = `conv-${index}.convergence.bench.test`;
  const channelOptions = { 'grpc.use_local_subchannel_pool': 1 };
  dns.setRecords(name, { A: [oldPod.host], ttl: 30 });
  const clients: Record<SideName, PodClient> = {
    'dns-watch': createPodClient(`dns-watch:///${name}:${fleet.port}`, { channelOptions }),
    'built-in dns (c-ares)': createPodClient(`dns://${dns.address}/${name}:${fleet.port}`, { channelOptions }),
  };
  try {
    await Promise.all(SIDES.map((side) => warm(clients[side], oldPod.host, 5_000)));
    const delayMs = Math.random() * settings.refreshInterval;
    await sleep(delayMs);
    dns.setRecords(name, { A: [oldPod.host, newPod.host], ttl: 30 });
    const changedAt = performance.now();
    const outcomes = await Promise.all(SIDES.map((side) => untilServedBy(clients[side], newPod.host, settings.windowMs, changedAt)));
    return { name, delayMs, sides: { 'dns-watch': outcomes[0]!, 'built-in dns (c-ares)': outcomes[1]! } };
  } finally {
    for (const side of SIDES) clients[side].close();
    dns.deleteName(name);
  }
}

/** The trials in batches of `parallel`; pod 0 is every trial's old pod, pods 1..parallel the new pods of a batch. */
async function trialBatches(bench: Bench, log: (line: string) => void): Promise<Trial[]> {
  const { trials, parallel } = bench.settings;
  const newPods = bench.fleet.pods.slice(1);
  const results: Trial[] = [];
  for (let batch = 0; batch * parallel < trials; batch++) {
    const size = Math.min(parallel, trials - batch * parallel);
    results.push(...(await Promise.all(Array.from({ length: size }, (_, slot) => oneTrial(bench, batch * parallel + slot, newPods[slot]!)))));
    log(`batch ${batch + 1}: ${results.length}/${trials} trials`);
  }
  return results;
}

/** A resolv.conf, the DNS server, the pods and the registered resolver around `phase`; all closed after. */
async function withBench<T>(settings: Settings, phase: (bench: Bench) => Promise<T>): Promise<T> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-convergence-'));
  const resolvConfPath = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConfPath, 'nameserver 127.0.0.1\noptions ndots:1\n');
  const dns = await DnsTestServer.start();
  const fleet = await PodFleet.create({ pods: 1 + settings.parallel });
  const { refreshInterval, jitter } = settings;
  register({ replaceBuiltin: false, nameservers: [dns.address], refreshInterval, jitter, hostsPath: false, resolvConfPath, timeout: 1_000 });
  try {
    return await phase({ settings, dns, fleet });
  } finally {
    unregister();
    await fleet.close();
    await dns.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function figuresOf(results: Trial[]): Figures {
  return Object.fromEntries(
    SIDES.map((side) => {
      const lags = results.map((trial) => trial.sides[side].lagMs).filter((lag): lag is number => lag !== undefined);
      return [side, { converged: lags.length, never: results.length - lags.length, lag: summarize(lags), failedRpcs: results.reduce((sum, trial) => sum + trial.sides[side].failedRpcs, 0) }];
    }),
  ) as Figures;
}

/** A lag as a fraction of refreshInterval, with the time. */
function fractionOf(refreshInterval: number): (valueMs: number) => string {
  return (valueMs) => (Number.isFinite(valueMs) ? `${sig(valueMs / refreshInterval)} (${ms(valueMs)})` : '—');
}

function convergenceTable(figures: Figures, trials: number, settings: Settings): Table {
  const { refreshInterval, parallel, jitter, windowMs } = settings;
  const fraction = fractionOf(refreshInterval);
  return {
    title: `Scale-up, ${settings.trials} trials (${parallel} in parallel), refreshInterval ${refreshInterval} ms, jitter ±${jitter * 100} %, window ${windowMs} ms; lag as a fraction of refreshInterval`,
    headers: ['side', 'converged', 'never within the window', 'p50', 'p99', 'max', 'failed RPCs'],
    rows: SIDES.map((side) => {
      const figure = figures[side];
      return [
        side,
        `${figure.converged}/${trials}`,
        figure.never === 0 ? '0' : `${figure.never} (never within ${ms(windowMs)})`,
        fraction(figure.lag.p50),
        fraction(figure.lag.p99),
        fraction(figure.lag.max),
        int(figure.failedRpcs),
      ];
    }),
    notes: [
      'Lag = first RPC answered by the new pod − DNS change; includes the wait for the next poll, connecting to the new pod, and up to one RPC gap (5 ms) plus one RPC.',
      'The built-in resolver re-resolves only when a connection fails or the channel goes idle; a scale-up breaks nothing, so it keeps the old list.',
    ],
  };
}

function summaryLines(figures: Figures, trials: number, settings: Settings): SummaryLine[] {
  const { refreshInterval, windowMs } = settings;
  const ours = figures['dns-watch'];
  const builtin = figures['built-in dns (c-ares)'];
  const bound = 1 + settings.jitter;
  return [
    {
      metric: 'dns-watch: DNS change → first RPC on the new pod, p50 / p99 / max (× refreshInterval)',
      value: `${sig(ours.lag.p50 / refreshInterval)} / ${sig(ours.lag.p99 / refreshInterval)} / ${sig(ours.lag.max / refreshInterval)}; ${ours.converged}/${trials} converged`,
      target: `all trials, max ≤ ${sig(bound)}× refreshInterval (+ connect time)`,
      met: ours.never === 0 && ours.lag.max <= bound * refreshInterval + 100,
    },
    {
      metric: 'built-in grpc-js resolver: converged within the window',
      value:
        builtin.converged === 0
          ? `never within ${ms(windowMs)} in ${trials}/${trials} trials`
          : `${builtin.converged}/${trials} (p50 ${fractionOf(refreshInterval)(builtin.lag.p50)})`,
    },
  ];
}

export async function run(context: BenchContext): Promise<BenchReport> {
  if (process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER !== 'true') {
    // Without it the built-in would call dns.lookup, i.e. the machine's own resolv.conf: never.
    throw new Error('convergence needs GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true before @grpc/grpc-js loads (bench/run.ts sets it)');
  }
  const settings = settingsFor(context.quick);
  const results = await withBench(settings, (bench) => trialBatches(bench, context.log));
  const figures = figuresOf(results);
  const { refreshInterval, jitter, windowMs } = settings;
  return {
    name: 'convergence',
    title: '5. Convergence: DNS change → first RPC served by the new pod',
    method:
      'Real grpc-js clients (round_robin) and pods on 127.0.0.x, in-process DnsTestServer. Per trial: both clients READY on the old pod; after a random delay ' +
      'uniform in [0, refreshInterval) the name gets a second A record (the new pod); both clients send RPCs back to back until the new pod answers or ' +
      `${windowMs} ms pass. dns-watch via register({ replaceBuiltin: false, nameservers: ['127.0.0.1:PORT'] }) and dns-watch:/// targets; the built-in via ` +
      'GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true and dns://127.0.0.1:PORT/ targets (c-ares asking the test server).',
    tables: [convergenceTable(figures, results.length, settings)],
    summary: summaryLines(figures, results.length, settings),
    notes: [],
    data: { refreshInterval, jitter, windowMs, trials: results, figures },
  };
}
