/**
 * 1. Resolution cost: one A+AAAA resolution of one name.
 *
 * Sides, all in this process, interleaved, against one DNS server
 * (DnsTestServer in a child process, so this process's CPU is the resolvers'):
 * - stub:      this package's StubResolver.resolve(name, 0) (A and AAAA in parallel)
 * - c-ares:    Node's dns.promises.Resolver, resolve4 + resolve6 in parallel
 * - dns.lookup: getaddrinfo on libuv's thread pool ({ all: true, family: 0 });
 *              only inside a private network namespace whose resolv.conf
 *              says `nameserver 127.0.0.1` (see lib/netns.ts); skipped otherwise.
 *
 * Sequential: tinybench, one resolution per sample, rounds interleaved.
 * In flight: N distinct names started at once; wall time of the batch,
 * latency of each resolution, CPU of the process over the batch; once with
 * the server answering at once, once with every answer 1 ms late (a DNS
 * server a network hop away), where getaddrinfo's 4-thread pool queues.
 *
 * Then the overhead against the physical limit (bench/lib/physical-limit.ts,
 * what was benchmark 2, `overhead`): the stub's own CPU per resolution
 * against two bare loopback round trips, and the pieces of that work.
 */
import dns from 'node:dns';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { startDnsChild, type DnsChild, type RecordSpec } from './lib/dns-child.js';
import { interleaved, roundRatios, sleep, type Side, type SideResult } from './lib/harness.js';
import { measureOverhead } from './lib/physical-limit.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { ratio, summarize, type Summary } from './lib/stats.js';
import { int, ms, times, us, type Table } from './lib/table.js';
import { dropsBetween, udpCounters } from './lib/udp-drops.js';

const TIMEOUT_MS = 2_000;
const ATTEMPTS = 2;

type SideName = 'stub' | 'c-ares' | 'dns.lookup';

/** Server answer delays for the in-flight runs: bare loopback, and a DNS server one hop away. */
const DELAYS_MS = [0, 1];

interface BatchResult {
  side: SideName;
  delayMs: number;
  n: number;
  wallMs: number;
  cpuUs: number;
  latenciesMs: number[];
  errors: Record<string, number>;
  queries: number;
  drops: { server: number; clients: number } | null;
}

function names(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `r${i}.cost.bench.test`);
}

function records(list: string[]): RecordSpec[] {
  return list.map((name, i) => ({
    name,
    A: [`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`],
    AAAA: [`fd00::${i.toString(16)}`],
    ttl: 30,
  }));
}

type Resolvers = Record<SideName, (name: string) => Promise<unknown>>;
type Sequential = Map<SideName, SideResult & { latency: Summary }>;
type FlightFigures = ReturnType<typeof flightFigures>;
const ALL_SIDES: SideName[] = ['stub', 'c-ares', 'dns.lookup'];

/** Sanity: every side resolves, and each resolution is exactly one A and one AAAA query. */
async function queriesPerResolution(server: DnsChild, sides: SideName[], resolvers: Resolvers, nameList: string[]): Promise<Partial<Record<SideName, number>>> {
  const perResolution: Partial<Record<SideName, number>> = {};
  for (const side of sides) {
    await server.reset();
    for (let i = 0; i < 20; i++) await resolvers[side](nameList[i]!);
    perResolution[side] = ((await server.count({ type: 'A' })) + (await server.count({ type: 'AAAA' }))) / 20;
  }
  return perResolution;
}

/** One resolution at a time per side, tinybench samples, sides interleaved. */
async function sequentialPhase(context: BenchContext, sides: SideName[], resolvers: Resolvers, nameList: string[]): Promise<Sequential> {
  const { quick, log } = context;
  log(`sequential: ${sides.join(', ')}`);
  const cursor = new Map<SideName, number>(sides.map((side) => [side, 0]));
  const benchSides: Side[] = sides.map((side) => ({
    name: side,
    fn: () => {
      const index = cursor.get(side)!;
      cursor.set(side, index + 1);
      return resolvers[side](nameList[index % nameList.length]!);
    },
  }));
  const sequential = await interleaved(benchSides, { rounds: quick ? 2 : 6, timeMs: quick ? 150 : 500, iterations: quick ? 50 : 200, warmupMs: quick ? 400 : 300, log });
  return new Map(sequential.map((result) => [result.name as SideName, { ...result, latency: summarize(result.samples) }]));
}

/** `names` started at once on one side: wall, CPU, latencies, failures, queries and drops. */
async function oneBatch(server: DnsChild, side: SideName, delayMs: number, resolve: (name: string) => Promise<unknown>, names: string[]): Promise<BatchResult> {
  await sleep(200);
  await server.reset();
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const countersBefore = udpCounters();
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  await Promise.all(
    names.map((name) =>
      resolve(name).then(
        () => void latencies.push(performance.now() - start),
        (error: { code?: string }) => {
          const code = String(error?.code ?? 'ERROR');
          errors[code] = (errors[code] ?? 0) + 1;
        },
      ),
    ),
  );
  const wallMs = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const drops = dropsBetween(countersBefore, udpCounters(), server.port);
  const queries = (await server.count({ type: 'A' })) + (await server.count({ type: 'AAAA' }));
  return { side, delayMs, n: names.length, wallMs, cpuUs: cpu.user + cpu.system, latenciesMs: latencies, errors, queries, drops };
}

/** N names in flight at once per side, at each server delay, the sides rotated round by round. */
async function inFlightPhase(context: BenchContext, server: DnsChild, sides: SideName[], resolvers: Resolvers, batchNames: string[], rounds: number): Promise<BatchResult[]> {
  const batches: BatchResult[] = [];
  for (const delayMs of DELAYS_MS) {
    await server.delay(delayMs);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < sides.length; k++) {
        const side = sides[(k + round) % sides.length]!;
        const batch = await oneBatch(server, side, delayMs, resolvers[side], batchNames);
        batches.push(batch);
        context.log(`  ${batch.n} in flight, server delay ${delayMs} ms, ${side}: ${batch.wallMs.toFixed(0)} ms, ${batch.latenciesMs.length} ok, errors ${JSON.stringify(batch.errors)}, ${batch.queries} queries, drops ${JSON.stringify(batch.drops)}`);
      }
    }
  }
  await server.delay(0);
  return batches;
}

/** One side's batches at one server delay, summed up. */
function flightFigures(batches: BatchResult[], side: SideName, delayMs: number) {
  const mine = batches.filter((batch) => batch.side === side && batch.delayMs === delayMs);
  if (mine.length === 0) return undefined;
  const total = mine.reduce((sum, batch) => sum + batch.n, 0);
  const ok = mine.reduce((sum, batch) => sum + batch.latenciesMs.length, 0);
  const errors: Record<string, number> = {};
  for (const batch of mine) for (const [code, n] of Object.entries(batch.errors)) errors[code] = (errors[code] ?? 0) + n;
  return {
    batches: mine.length,
    resolutions: total,
    ok,
    failed: total - ok,
    errors,
    batchWallMs: summarize(mine.map((batch) => batch.wallMs)).p50,
    wallUsPerResolution: (mine.reduce((sum, batch) => sum + batch.wallMs, 0) * 1000) / total,
    cpuUsPerResolution: mine.reduce((sum, batch) => sum + batch.cpuUs, 0) / total,
    latency: summarize(mine.flatMap((batch) => batch.latenciesMs)),
    queriesPerResolution: mine.reduce((sum, batch) => sum + batch.queries, 0) / total,
    clientDrops: mine.every((batch) => batch.drops) ? mine.reduce((sum, batch) => sum + batch.drops!.clients, 0) : NaN,
    serverDrops: mine.every((batch) => batch.drops) ? mine.reduce((sum, batch) => sum + batch.drops!.server, 0) : NaN,
  };
}

function sequentialTable(seq: Sequential, perResolution: Partial<Record<SideName, number>>, rounds: number, lookupSkipped: string | undefined): Table {
  const caresSeq = seq.get('c-ares')!;
  const lookupSeq = seq.get('dns.lookup');
  return {
    title: `Sequential: one A+AAAA resolution at a time (${seq.get('stub')?.ops ?? 0}+ resolutions per side, ${rounds} interleaved rounds)`,
    headers: ['side', 'CPU/resolution (median of rounds)', 'wall p50', 'wall mean', 'wall p99', 'CPU vs c-ares (median, range over rounds)', 'wall p50 vs c-ares', 'wall p50 vs dns.lookup', 'queries/res.'],
    rows: ALL_SIDES.map((side) => {
      const result = seq.get(side);
      if (!result) return [side, lookupSkipped ?? 'skipped', '—', '—', '—', '—', '—', '—', '—'];
      return [
        side,
        us(result.cpuUsPerOp),
        ms(result.latency.p50),
        ms(result.latency.mean),
        ms(result.latency.p99),
        rangeText(roundRatios(result, caresSeq)),
        times(ratio(result.latency.p50, caresSeq.latency.p50)),
        lookupSeq ? times(ratio(result.latency.p50, lookupSeq.latency.p50)) : '—',
        String(perResolution[side] ?? '—'),
      ];
    }),
  };
}

function flightTable(flight: Map<string, FlightFigures>, inFlight: number, rounds: number, lookupSkipped: string | undefined): Table {
  return {
    title: `${int(inFlight)} names in flight at once (${rounds} interleaved round${rounds === 1 ? '' : 's'} per server delay; per-try timeout ${TIMEOUT_MS} ms, ${ATTEMPTS} attempts on every side)`,
    headers: ['server delay', 'side', 'batch wall', 'wall/resolution', 'CPU/resolution', 'latency p50', 'latency p99', 'failed', 'queries/res.', 'UDP drops client/server', 'wall vs dns.lookup', 'CPU vs c-ares'],
    rows: DELAYS_MS.flatMap((delayMs) =>
      ALL_SIDES.map((side) => {
        const result = flight.get(`${delayMs}|${side}`);
        const delay = delayMs === 0 ? 'none' : `${delayMs} ms`;
        if (!result) return [delay, side, lookupSkipped ?? 'skipped', '—', '—', '—', '—', '—', '—', '—', '—', '—'];
        const lookup = flight.get(`${delayMs}|dns.lookup`);
        const cares = flight.get(`${delayMs}|c-ares`)!;
        const failed = result.failed === 0 ? '0' : `${result.failed} (${Object.entries(result.errors).map(([code, n]) => `${code} ${n}`).join(', ')})`;
        return [
          delay,
          side,
          ms(result.batchWallMs),
          us(result.wallUsPerResolution),
          us(result.cpuUsPerResolution),
          ms(result.latency.p50),
          ms(result.latency.p99),
          failed,
          result.queriesPerResolution.toFixed(3),
          `${int(result.clientDrops)} / ${int(result.serverDrops)}`,
          lookup ? times(ratio(result.batchWallMs, lookup.batchWallMs)) : '—',
          times(ratio(result.cpuUsPerResolution, cares.cpuUsPerResolution)),
        ];
      }),
    ),
    notes: [
      `server delay: the test server answers every query that much later (DnsTestServer's delay fault), like a cluster DNS one network hop away; "none" is bare loopback.`,
      'queries/res. above 2 means retransmissions: a query or its reply was lost and asked again after the per-try timeout.',
      'UDP drops: kernel receive-buffer overflows (/proc/net/snmp RcvbufErrors) during the batch; "server" is the DNS server socket\'s own drop counter, "client" the rest.',
    ],
  };
}

function summaryLines(seq: Sequential, flight: Map<string, FlightFigures>, inFlight: number, quick: boolean, lookupSkipped: string | undefined): SummaryLine[] {
  const stubSeq = seq.get('stub')!;
  const caresSeq = seq.get('c-ares')!;
  const summary: SummaryLine[] = [
    {
      metric: 'CPU per resolution, stub / c-ares (sequential)',
      value: `${us(stubSeq.cpuUsPerOp)} / ${us(caresSeq.cpuUsPerOp)}: ${rangeText(roundRatios(stubSeq, caresSeq))}`,
      target: 'at most the c-ares cost (≤ 1×)',
      met: quick ? null : roundRatios(stubSeq, caresSeq).median <= 1,
    },
  ];
  for (const delayMs of DELAYS_MS) {
    const stubFlight = flight.get(`${delayMs}|stub`)!;
    const caresFlight = flight.get(`${delayMs}|c-ares`)!;
    const lookupFlight = flight.get(`${delayMs}|dns.lookup`);
    const where = `${inFlight} in flight, server delay ${delayMs === 0 ? 'none' : `${delayMs} ms`}`;
    summary.push(
      {
        metric: `CPU per resolution, stub / c-ares (${where})`,
        value: `${us(stubFlight.cpuUsPerResolution)} / ${us(caresFlight.cpuUsPerResolution)} = ${times(ratio(stubFlight.cpuUsPerResolution, caresFlight.cpuUsPerResolution))}`,
        target: 'at most the c-ares cost (≤ 1×)',
        met: stubFlight.cpuUsPerResolution <= caresFlight.cpuUsPerResolution,
      },
      lookupFlight
        ? {
            metric: `Batch wall time, stub / dns.lookup (${where})`,
            value: `${ms(stubFlight.batchWallMs)} / ${ms(lookupFlight.batchWallMs)} = ${times(ratio(stubFlight.batchWallMs, lookupFlight.batchWallMs))}; failed ${stubFlight.failed} / ${lookupFlight.failed}`,
            target: "well under dns.lookup's (≤ 0.5×), none failed",
            met: stubFlight.batchWallMs <= 0.5 * lookupFlight.batchWallMs && stubFlight.failed === 0,
          }
        : { metric: `Batch wall time, stub / dns.lookup (${where})`, value: lookupSkipped ?? 'skipped', target: "well under dns.lookup's (≤ 0.5×)", met: null },
    );
  }
  return summary;
}

interface Measured {
  sides: SideName[];
  perResolution: Partial<Record<SideName, number>>;
  seq: Sequential;
  batches: BatchResult[];
}

/** The DNS server and the three resolvers around the phases: queries per resolution, sequential, in flight. */
async function measureResolvers(context: BenchContext, nameList: string[], inFlight: number, flightRounds: number): Promise<Measured> {
  const lookupAvailable = context.netns;
  // In the namespace the server takes 127.0.0.1:53, where resolv.conf points getaddrinfo.
  const server = await startDnsChild({ mode: 'full', port: lookupAvailable ? 53 : 0, records: records(nameList) });
  const stub = new StubResolver({
    resolvConf: { nameservers: [{ host: server.host, port: server.port }], search: [], ndots: 1, timeoutMs: TIMEOUT_MS, attempts: ATTEMPTS, warnings: [] },
    hostsPath: false,
  });
  const cares = new dns.promises.Resolver({ timeout: TIMEOUT_MS, tries: ATTEMPTS });
  cares.setServers([server.address]);
  const resolvers: Resolvers = {
    stub: (name) => stub.resolve(name, 0),
    'c-ares': (name) => Promise.all([cares.resolve4(name), cares.resolve6(name)]),
    'dns.lookup': (name) => dns.promises.lookup(name, { all: true, family: 0 }),
  };
  const sides: SideName[] = lookupAvailable ? ['stub', 'c-ares', 'dns.lookup'] : ['stub', 'c-ares'];
  try {
    const perResolution = await queriesPerResolution(server, sides, resolvers, nameList);
    const seq = await sequentialPhase(context, sides, resolvers, nameList);
    const batches = await inFlightPhase(context, server, sides, resolvers, nameList.slice(0, inFlight), flightRounds);
    return { sides, perResolution, seq, batches };
  } finally {
    stub.close();
    cares.cancel();
    await server.close();
  }
}

function methodText(inFlight: number, lookupAvailable: boolean, lookupSkipped: string | undefined): string {
  return (
    'One A+AAAA resolution of one name against DnsTestServer in a child process (this process\'s CPU is the resolver\'s). ' +
    'Sequential: tinybench samples, sides interleaved in rotated order each round; CPU = process.cpuUsage() (user+system, all threads) over each measured phase / resolutions. ' +
    `In flight: ${inFlight} distinct names started at once per side, with the server answering at once and ${DELAYS_MS.filter((d) => d > 0).join(', ')} ms later. ` +
    (lookupAvailable
      ? 'Runs in a private network namespace (unshare --net --mount; only lo; resolv.conf bind-mounted to "nameserver 127.0.0.1"), DNS server on 127.0.0.1:53, so dns.lookup asks the same server. '
      : `dns.lookup ${lookupSkipped}. `) +
    'Overhead: raw round trips, the stub and c-ares interleaved with tinybench against a pre-encoded-answer responder in a child process; ' +
    '"raw" sends the stub\'s own query bytes (pre-encoded, EDNS included) over a plain dgram socket and matches replies by id without decoding. ' +
    'Own work = stub CPU per resolution − raw A+AAAA CPU per resolution (process.cpuUsage, user+system).'
  );
}

export async function run(context: BenchContext): Promise<BenchReport> {
  const { quick } = context;
  const inFlight = quick ? 200 : 1_000;
  const flightRounds = quick ? 1 : 3;
  const lookupSkipped = context.netns ? undefined : `skipped: ${context.netnsUnavailable ?? 'needs unshare'}`;
  const { sides, perResolution, seq, batches } = await measureResolvers(context, names(Math.max(inFlight, 1_000)), inFlight, flightRounds);
  const flight = new Map(DELAYS_MS.flatMap((delayMs) => sides.map((side) => [`${delayMs}|${side}`, flightFigures(batches, side, delayMs)] as const)));
  const overhead = await measureOverhead(context);
  return {
    name: 'resolution-cost',
    title: '1. Resolution cost: stub vs c-ares vs dns.lookup, and the overhead vs the physical limit',
    method: methodText(inFlight, context.netns, lookupSkipped),
    tables: [sequentialTable(seq, perResolution, quick ? 2 : 6, lookupSkipped), flightTable(flight, inFlight, flightRounds, lookupSkipped), ...overhead.tables],
    summary: [...summaryLines(seq, flight, inFlight, quick, lookupSkipped), ...overhead.summary],
    notes: [],
    data: {
      inFlight,
      netns: context.netns,
      queriesPerResolution: perResolution,
      sequential: Object.fromEntries([...seq].map(([side, result]) => [side, { ops: result.ops, cpuUsPerOp: result.cpuUsPerOp, wallUsPerOp: result.wallUsPerOp, latencyMs: result.latency }])),
      inFlightResults: Object.fromEntries(flight),
      overhead: overhead.data,
    },
  };
}

/** A median ratio with its range over rounds, e.g. `1.05× (0.98–1.12)`. */
function rangeText({ median, min, max }: { median: number; min: number; max: number }): string {
  return `${times(median)} (${min.toFixed(2)}–${max.toFixed(2)})`;
}
