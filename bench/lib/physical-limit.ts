/**
 * Benchmark 1's second part (what was benchmark 2, `overhead`): the
 * resolver's own work against the physical limit.
 *
 * The physical limit of a resolution from Node is the loopback UDP round
 * trip itself: a pre-encoded query out, the answer in, nothing decoded. A
 * full A+AAAA resolution does the same two round trips plus the resolver's
 * own work (encode, id, timers, validation, decode, CNAME walk, promises).
 * Sides, interleaved in one process, against one "fast" responder in a child
 * process (pre-encoded answers, no dns-packet on its hot path, so the server
 * adds as little as possible to every side alike):
 * - raw A:        one pre-encoded A query, wait for the reply (id matched, not decoded)
 * - raw A+AAAA:   the two queries of a resolution in parallel: the physical limit
 * - stub A+AAAA:  StubResolver.resolve(name, 0)
 * - c-ares A+AAAA: reference
 * Plus the pieces of the stub's own work, micro-benchmarked with tinybench.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import { randomInt } from 'node:crypto';
import { isIP } from 'node:net';
import * as dnsPacket from 'dns-packet';
import { Bench } from 'tinybench';
import { StubResolver } from '../../src/dns/stub-resolver.js';
import { startDnsChild } from './dns-child.js';
import { interleaved, type Side, roundRatios, type SideResult } from './harness.js';
import type { BenchContext, SummaryLine } from './report.js';
import { ratio, summarize, type Summary } from './stats.js';
import { ms, pct, times, us, type Table } from './table.js';

const NAME = 'svc.overhead.bench.test';
const EDNS = { type: 'OPT' as const, name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] };

/** The query the stub itself sends (same flags, same EDNS option), pre-encoded. */
function encodeQuery(type: 'A' | 'AAAA', id = 0): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, class: 'IN', name: NAME }], additionals: [EDNS] });
}

/** A bare UDP client: sends pre-encoded queries, matches replies by id only. */
class RawClient {
  private readonly socket = dgram.createSocket('udp4');
  private readonly waiting = new Map<number, () => void>();
  private readonly queries = { A: encodeQuery('A'), AAAA: encodeQuery('AAAA') };
  private nextId = 1;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.socket.on('message', (message) => {
      if (message.length < 2) return;
      const id = message.readUInt16BE(0);
      const done = this.waiting.get(id);
      if (done) {
        this.waiting.delete(id);
        done();
      }
    });
  }

  ask(type: 'A' | 'AAAA'): Promise<void> {
    const id = this.nextId;
    this.nextId = (this.nextId % 65_535) + 1;
    const buffer = this.queries[type];
    buffer.writeUInt16BE(id, 0);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`raw ${type} query got no reply within 2 s`));
      }, 2_000);
      this.waiting.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.send(buffer, this.port, this.host);
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** What the overhead part adds to benchmark 1's report. */
export interface OverheadPart {
  tables: Table[];
  summary: SummaryLine[];
  data: Record<string, unknown>;
}

type Measured = SideResult & { latency: Summary };

/** Each piece of the stub's own work, and how many times one A+AAAA resolution does it. */
function pieceSpecs(): Array<{ name: string; perResolution: number; fn: () => unknown }> {
  const reply = (type: 'A' | 'AAAA', data: string[]) =>
    dnsPacket.encode({ type: 'response', id: 1, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ type, class: 'IN', name: NAME }], answers: data.map((address) => ({ type, class: 'IN' as const, name: NAME, ttl: 30, data: address })) });
  const replyA = reply('A', ['10.1.0.1', '10.1.0.2', '10.1.0.3']);
  const replyAAAA = reply('AAAA', ['fd00::1', 'fd00::2', 'fd00::3']);
  return [
    { name: 'dnsPacket.encode(query with EDNS)', perResolution: 2, fn: () => encodeQuery('A', 7).length },
    { name: 'dnsPacket.decode(A reply, 3 answers)', perResolution: 1, fn: () => dnsPacket.decode(replyA).answers?.length },
    { name: 'dnsPacket.decode(AAAA reply, 3 answers)', perResolution: 1, fn: () => dnsPacket.decode(replyAAAA).answers?.length },
    { name: 'crypto.randomInt (query id)', perResolution: 2, fn: () => randomInt(0, 65_536) },
    { name: 'setTimeout + clearTimeout (per-query timer)', perResolution: 2, fn: () => clearTimeout(setTimeout(() => {}, 2_000)) },
    { name: 'net.isIP(AAAA address) (answer check)', perResolution: 3, fn: () => isIP('fd00::3') },
  ];
}

/** Mean time per call of each piece (tinybench, synchronous). */
async function measurePieces(quick: boolean): Promise<Array<{ name: string; meanUs: number; perResolution: number }>> {
  const specs = pieceSpecs();
  let sink = 0;
  const pieces = new Bench({ time: quick ? 100 : 400, warmupTime: 100, iterations: 100 });
  for (const piece of specs) pieces.add(piece.name, () => void (sink += Number(piece.fn()) || 0));
  await pieces.run();
  if (sink < 0) throw new Error('unreachable: keeps the pieces from being optimised away');
  return pieces.tasks.map((task, index) => {
    const result = task.result;
    const mean = result.state === 'completed' ? result.latency.mean : NaN;
    return { name: task.name, meanUs: mean * 1000, perResolution: specs[index]!.perResolution };
  });
}

/** Raw round trips, the stub and c-ares, interleaved, against a fresh fast responder. */
async function measureRoundTrips(context: BenchContext, rounds: number): Promise<{ sides: Side[]; byName: Map<string, Measured> }> {
  const { quick, log } = context;
  const server = await startDnsChild({
    mode: 'fast',
    records: [{ name: NAME, A: ['10.1.0.1', '10.1.0.2', '10.1.0.3'], AAAA: ['fd00::1', 'fd00::2', 'fd00::3'], ttl: 30 }],
  });
  const raw = new RawClient(server.host, server.port);
  const stub = new StubResolver({
    resolvConf: { nameservers: [{ host: server.host, port: server.port }], search: [], ndots: 1, timeoutMs: 2_000, attempts: 2, warnings: [] },
    hostsPath: false,
  });
  const cares = new dns.promises.Resolver({ timeout: 2_000, tries: 2 });
  cares.setServers([server.address]);
  try {
    const check = await stub.resolve(NAME, 0);
    if (check.addresses.length !== 6) throw new Error(`fast responder gave ${check.addresses.length} addresses, expected 6`);
    log('round trips: raw vs stub vs c-ares');
    const sides: Side[] = [
      { name: 'raw A (1 round trip)', fn: () => raw.ask('A') },
      { name: 'raw A+AAAA (physical limit)', fn: () => Promise.all([raw.ask('A'), raw.ask('AAAA')]) },
      { name: 'stub A+AAAA', fn: () => stub.resolve(NAME, 0) },
      { name: 'c-ares A+AAAA', fn: () => Promise.all([cares.resolve4(NAME), cares.resolve6(NAME)]) },
    ];
    const results = await interleaved(sides, { rounds, timeMs: quick ? 150 : 500, iterations: quick ? 50 : 200, warmupMs: quick ? 200 : 300, log });
    return { sides, byName: new Map(results.map((result) => [result.name, { ...result, latency: summarize(result.samples) }])) };
  } finally {
    raw.close();
    stub.close();
    cares.cancel();
    await server.close();
  }
}

function roundTripTable(sides: Side[], byName: Map<string, Measured>, limit: Measured, rounds: number): Table {
  return {
    title: `Round trips vs full resolution (${rounds} interleaved rounds, fast responder in a child process)`,
    headers: ['side', 'wall p50', 'wall mean', 'wall p99', 'CPU/op (median of rounds)', 'wall p50 vs limit', 'CPU vs limit (median, range over rounds)'],
    rows: sides.map((side) => {
      const result = byName.get(side.name)!;
      const { median, min, max } = roundRatios(result, limit);
      return [
        side.name,
        ms(result.latency.p50),
        ms(result.latency.mean),
        ms(result.latency.p99),
        us(result.cpuUsPerOp),
        times(ratio(result.latency.p50, limit.latency.p50)),
        `${times(median)} (${min.toFixed(2)}–${max.toFixed(2)})`,
      ];
    }),
    notes: ['limit = raw A+AAAA: the same two UDP round trips a resolution needs, with nothing encoded or decoded in this process.'],
  };
}

/** The overhead part of benchmark 1: round trips against the physical limit, then the pieces of the stub's own work. */
export async function measureOverhead(context: BenchContext): Promise<OverheadPart> {
  const rounds = context.quick ? 2 : 6;
  const { sides, byName } = await measureRoundTrips(context, rounds);
  const limit = byName.get('raw A+AAAA (physical limit)')!;
  const stubResult = byName.get('stub A+AAAA')!;
  context.log('pieces of the stub’s own work');
  const pieceRows = await measurePieces(context.quick);

  const ownCpuUs = stubResult.cpuUsPerOp - limit.cpuUsPerOp;
  const roundTripUs = limit.latency.p50 * 1000;
  const ownFraction = ownCpuUs / roundTripUs;
  const wallExtraUs = (stubResult.latency.p50 - limit.latency.p50) * 1000;
  const pieceTable: Table = {
    title: 'Pieces of the resolver’s own work (tinybench, synchronous, mean per call)',
    headers: ['operation', 'mean per call', 'calls per resolution', 'share of own CPU'],
    rows: pieceRows.map((row) => [row.name, us(row.meanUs), String(row.perResolution), pct((row.perResolution * row.meanUs) / ownCpuUs)]),
  };
  return {
    tables: [roundTripTable(sides, byName, limit, rounds), pieceTable],
    summary: [
      {
        metric: 'Resolver’s own CPU per resolution / loopback round trip (p50)',
        value: `${us(ownCpuUs)} / ${us(roundTripUs)} = ${pct(ownFraction)}`,
        target: 'a small fraction (≤ 25 %)',
        met: ownFraction <= 0.25,
      },
      {
        metric: 'Full resolution wall p50 / raw A+AAAA wall p50',
        value: `${ms(stubResult.latency.p50)} / ${ms(limit.latency.p50)} = ${times(ratio(stubResult.latency.p50, limit.latency.p50))} (+${us(wallExtraUs)})`,
      },
    ],
    data: {
      sides: Object.fromEntries([...byName].map(([name, result]) => [name, { ops: result.ops, cpuUsPerOp: result.cpuUsPerOp, latencyMs: result.latency }])),
      ownCpuUs,
      roundTripUs,
      ownFraction,
      pieces: pieceRows,
    },
  };
}
