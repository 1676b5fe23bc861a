/**
 * 3. Coalescing: N grpc-js channels to one target.
 *
 * Sides, interleaved per channel count, in one process, against one
 * DnsTestServer in a child process (which counts the queries):
 * - dns-watch:  `dns-watch:///name:port` (register({ replaceBuiltin: false, nameservers }))
 * - built-in:   grpc-js's own dns resolver, `dns://127.0.0.1:PORT/name:port`, with
 *               GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true so it uses c-ares against
 *               the test server named in the target (set by bench/run.ts before grpc-js loads)
 * - ipv4:       `ipv4:host:port,...`, no DNS at all: the memory baseline of a channel
 * Every channel is made to connect (getConnectivityState(true)) to two real
 * grpc-js pods and must reach READY. Counted at the server: A/AAAA queries
 * while the channels start, and per refresh interval afterwards. Memory per
 * channel: heap and RSS after forced GCs, before vs after creating them.
 */
import * as grpc from '@grpc/grpc-js';
import { register, unregister } from '../src/index.js';
import { registry } from '../src/watch/registry.js';
import { PodFleet } from '../harness/pods.js';
import { startDnsChild, type DnsChild } from './lib/dns-child.js';
import { sleep } from './lib/harness.js';
import { pollUntil } from '../harness/wait.js';
import { measureInFreshProcess } from './lib/channel-memory.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { bytes, int, ms, sig, type Table } from './lib/table.js';

const NAME = 'svc.coalesce.bench.test';
type SideName = 'dns-watch' | 'built-in dns (c-ares)' | 'ipv4 (no DNS)';

interface Row {
  side: SideName;
  channels: number;
  readyMs: number;
  notReady: number;
  startupA: number;
  startupAAAA: number;
  startupTXT: number;
  perIntervalA: number;
  perIntervalAAAA: number;
  heapPerChannel: number;
  rssPerChannel: number;
}

interface Settings {
  /** Channel counts, in the order the rounds take them. */
  counts: number[];
  refreshInterval: number;
  /** Refresh intervals the steady state is counted over. */
  intervals: number;
  /** Channel counts whose memory is measured in fresh processes. */
  memoryCounts: number[];
}

/** The setting up shared by every phase: pods, the DNS server, the targets of each side. */
interface Bench {
  settings: Settings;
  server: DnsChild;
  targets: Record<SideName, string>;
  sides: SideName[];
  log: (line: string) => void;
  quick: boolean;
}

const CHANNEL_OPTIONS = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };

function settingsFor(quick: boolean): Settings {
  // Quick (CI: "it runs"): the two ends only, two intervals each.
  return {
    counts: quick ? [1, 1_000] : [1, 100, 1_000],
    refreshInterval: quick ? 200 : 500,
    intervals: quick ? 2 : 8,
    memoryCounts: quick ? [1_000] : [100, 1_000],
  };
}

async function openChannels(target: string, channels: number): Promise<grpc.Channel[]> {
  const list = Array.from({ length: channels }, () => new grpc.Channel(target, grpc.credentials.createInsecure(), CHANNEL_OPTIONS));
  for (const channel of list) channel.getConnectivityState(true);
  await pollUntil(() => list.every((channel) => channel.getConnectivityState(false) === grpc.connectivityState.READY), 15_000, 5);
  return list;
}

/** One side with N channels: time to READY, the start-up queries, then the queries per interval. */
async function measureSide(bench: Bench, side: SideName, channels: number): Promise<Row> {
  const { server, settings } = bench;
  await server.reset();
  const started = performance.now();
  const list = await openChannels(bench.targets[side], channels);
  const readyMs = performance.now() - started;
  const notReady = list.filter((channel) => channel.getConnectivityState(false) !== grpc.connectivityState.READY).length;
  // Let any start-up query still in flight land before counting.
  await sleep(50);
  const startupA = await server.count({ name: NAME, type: 'A' });
  const startupAAAA = await server.count({ name: NAME, type: 'AAAA' });
  const startupTXT = await server.count({ type: 'TXT' });
  await server.reset();
  await sleep(settings.intervals * settings.refreshInterval);
  const perIntervalA = (await server.count({ name: NAME, type: 'A' })) / settings.intervals;
  const perIntervalAAAA = (await server.count({ name: NAME, type: 'AAAA' })) / settings.intervals;
  bench.log(`${side} × ${channels}: ready in ${readyMs.toFixed(0)} ms (${notReady} not ready), start-up A/AAAA ${startupA}/${startupAAAA}, per interval ${perIntervalA}/${perIntervalAAAA}`);
  for (const channel of list) channel.close();
  if (side === 'dns-watch') {
    const stopped = await pollUntil(() => registry.size.watchers === 0, 5_000);
    if (!stopped) throw new Error(`dns-watch watcher still running after all ${channels} channels closed`);
  }
  // Closed channels release timers and native handles over the next turns; let the next side start clean.
  await sleep(bench.quick ? 200 : 500);
  const row = { side, channels, readyMs, notReady, startupA, startupAAAA, startupTXT, perIntervalA, perIntervalAAAA };
  return { ...row, heapPerChannel: NaN, rssPerChannel: NaN };
}

/** Every channel count, the sides in an order rotated per count. */
async function queryRounds(bench: Bench): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [round, channels] of bench.settings.counts.entries()) {
    for (let k = 0; k < bench.sides.length; k++) {
      rows.push(await measureSide(bench, bench.sides[(k + round) % bench.sides.length]!, channels));
    }
  }
  return rows;
}

/** Memory: each side and count in a fresh process (see lib/channel-memory.ts for why), into its row. */
async function memoryPhase(bench: Bench, rows: Row[]): Promise<void> {
  for (const channels of bench.settings.memoryCounts) {
    for (const side of bench.sides) {
      const result = await measureInFreshProcess({ target: bench.targets[side], channels, nameserver: bench.server.address, refreshInterval: bench.settings.refreshInterval });
      const row = rows.find((entry) => entry.side === side && entry.channels === channels)!;
      row.heapPerChannel = result.heapPerChannel;
      row.rssPerChannel = result.rssPerChannel;
      bench.log(`memory ${side} × ${channels}: heap ${(result.heapPerChannel / 1024).toFixed(2)} KiB/channel, RSS ${(result.rssPerChannel / 1024).toFixed(2)} KiB/channel`);
    }
  }
}

/** Pods, the DNS server and the registered resolver around `phases`; all closed after. */
async function withBench<T>(context: BenchContext, settings: Settings, phases: (bench: Bench) => Promise<T>): Promise<T> {
  const fleet = await PodFleet.create({ pods: 2 });
  const server = await startDnsChild({ mode: 'full', records: [{ name: NAME, A: fleet.addresses, ttl: 30 }] });
  register({ replaceBuiltin: false, nameservers: [server.address], refreshInterval: settings.refreshInterval, jitter: 0, hostsPath: false });
  const targets: Record<SideName, string> = {
    'dns-watch': `dns-watch:///${NAME}:${fleet.port}`,
    'built-in dns (c-ares)': `dns://${server.address}/${NAME}:${fleet.port}`,
    'ipv4 (no DNS)': fleet.ipv4Target(),
  };
  try {
    return await phases({ settings, server, targets, sides: Object.keys(targets) as SideName[], log: context.log, quick: context.quick });
  } finally {
    unregister();
    await server.close();
    await fleet.close();
  }
}

const findRow = (rows: Row[], side: SideName, channels: number): Row => rows.find((row) => row.side === side && row.channels === channels)!;

function coalescingTable(rows: Row[], sides: SideName[], settings: Settings): Table {
  return {
    title: `N channels to one target (refreshInterval ${settings.refreshInterval} ms, jitter 0; steady state counted over ${settings.intervals} intervals)`,
    headers: ['side', 'channels', 'READY after', 'start-up A+AAAA', 'A / interval', 'AAAA / interval', 'heap / channel', 'RSS / channel', 'heap / channel − ipv4'],
    rows: rows
      .slice()
      .sort((a, b) => a.channels - b.channels || sides.indexOf(a.side) - sides.indexOf(b.side))
      .map((row) => [
        row.side,
        int(row.channels),
        `${ms(row.readyMs)}${row.notReady ? ` (${row.notReady} not READY)` : ''}`,
        int(row.startupA + row.startupAAAA),
        sig(row.perIntervalA),
        sig(row.perIntervalAAAA),
        bytes(row.heapPerChannel),
        bytes(row.rssPerChannel),
        row.side === 'ipv4 (no DNS)' || !Number.isFinite(row.heapPerChannel) ? '—' : bytes(row.heapPerChannel - findRow(rows, 'ipv4 (no DNS)', row.channels).heapPerChannel),
      ]),
    notes: [
      'Channels share grpc-js\'s global subchannel pool, so N channels hold 2 connections in all; per-channel memory is the channel plus its resolver.',
      'Memory per channel: each side and count measured in a fresh process (warm-up of N channels created and closed, then N live READY channels; heap after forced GCs). Not measured for 1 channel (below GC noise). "− ipv4" is the resolver\'s share: the same channel with a static address list subtracted.',
      'The built-in resolver also asks TXT (_grpc_config) once per channel at start-up; not counted above.',
    ],
  };
}

function summaryLines(rows: Row[], settings: Settings): SummaryLine[] {
  const ours = findRow(rows, 'dns-watch', 1_000);
  const builtin = findRow(rows, 'built-in dns (c-ares)', 1_000);
  const baseline = findRow(rows, 'ipv4 (no DNS)', 1_000);
  const maxPerInterval = Math.max(...rows.filter((row) => row.side === 'dns-watch').map((row) => Math.max(row.perIntervalA, row.perIntervalAAAA)));
  return [
    {
      metric: 'dns-watch queries per interval per family, 1 / 100 / 1,000 channels',
      value: settings.counts.map((channels) => `${sig(findRow(rows, 'dns-watch', channels).perIntervalA)}+${sig(findRow(rows, 'dns-watch', channels).perIntervalAAAA)}`).join(' / '),
      target: 'one per family, whatever the channel count',
      met: maxPerInterval <= 1.25,
    },
    {
      metric: 'Start-up A+AAAA queries for 1,000 channels, dns-watch / built-in',
      value: `${int(ours.startupA + ours.startupAAAA)} / ${int(builtin.startupA + builtin.startupAAAA)}`,
    },
    {
      metric: 'Heap per channel at 1,000 channels, dns-watch / built-in / ipv4',
      value: `${bytes(ours.heapPerChannel)} / ${bytes(builtin.heapPerChannel)} / ${bytes(baseline.heapPerChannel)}`,
    },
  ];
}

export async function run(context: BenchContext): Promise<BenchReport> {
  if (process.env.GRPC_NODE_USE_ALTERNATIVE_RESOLVER !== 'true') {
    // Without it the built-in would call dns.lookup, i.e. the machine's own resolv.conf: never.
    throw new Error('coalescing needs GRPC_NODE_USE_ALTERNATIVE_RESOLVER=true before @grpc/grpc-js loads (bench/run.ts sets it)');
  }
  const settings = settingsFor(context.quick);
  const { rows, sides } = await withBench(context, settings, async (bench) => {
    const measured = await queryRounds(bench);
    await memoryPhase(bench, measured);
    return { rows: measured, sides: bench.sides };
  });
  const notReady = rows.filter((row) => row.notReady > 0);
  return {
    name: 'coalescing',
    title: '3. Coalescing: 1, 100, 1,000 channels to one target',
    method:
      'Real grpc-js channels (round_robin) to two real grpc-js pods on 127.0.0.x; DNS answered by DnsTestServer in a child process that counts queries. ' +
      'Sides interleaved per channel count (rotated order). Memory per channel: process.memoryUsage() after forced GCs before and after opening N channels, each side in a fresh process.',
    tables: [coalescingTable(rows, sides, settings)],
    summary: summaryLines(rows, settings),
    notes: notReady.length ? [`Some channels never reached READY: ${notReady.map((row) => `${row.side} × ${row.channels}: ${row.notReady}`).join('; ')}`] : [],
    data: { refreshInterval: settings.refreshInterval, intervals: settings.intervals, rows },
  };
}
