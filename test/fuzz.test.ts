/**
 * Property tests (fast-check) of the stub resolver's receive path, over real
 * loopback sockets: a scripted DNS server answers every query with a burst of
 * hostile packets, then the genuine reply. The resolver must never throw
 * anything but a DnsError, never let an exception or rejection escape, never
 * use data from a packet that fails the RFC 5452 checks, and still take the
 * genuine answer.
 *
 * - UDP, rejected by construction: random bytes, byte-flipped and
 *   count-lying replies whose question no longer matches, compression
 *   pointers to themselves / forward / in ladders, huge rdata, queries echoed
 *   back, questions of class CH / ANY or type TXT, forged addresses with a
 *   wrong id or from another port, oversized datagrams (these go to TCP).
 * - UDP, accepted: a reply with our id and question whose answer section
 *   mixes the genuine records with records for other names, other classes
 *   (CH, HS, ANY, the mDNS flush bit), other types (TXT, MX, NS, SRV, CNAME of
 *   other names, the other family) and address records in the authority and
 *   additional sections: only the genuine addresses come out.
 * - UDP, indistinguishable: a reply with our id and question, flipped bytes in
 *   its answer section. If it still passes the checks, the resolver may use it
 *   (RFC 5452's residual risk, docs/hostile-input.md); every address that
 *   comes out must then be an address record of the asked name in that packet.
 * - TCP (after a truncated UDP reply): hostile frames before the genuine one,
 *   in random chunks; lying length prefixes and early closes.
 */
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { trackEscapes } from '../harness/escapes.js';
import { ScriptedDnsServer, tcpFrame, writeChunked, type ScriptedQuery } from '../harness/scripted-dns.js';
import { MAX_POINTER_CHAIN } from '../src/dns/wire.js';
import { MAX_UDP_REPLY_SIZE } from '../src/dns/udp-tries.js';
import { DnsError } from '../src/dns/errors.js';
import { StubResolver } from '../src/dns/stub-resolver.js';
import type { ResolvConf } from '../src/dns/types.js';

const NAME = 'fuzz.test';
const GENUINE = { A: ['10.1.0.1', '10.1.0.2'], AAAA: ['fd00::1', 'fd00::2'] } as const;
const GENUINE_ALL = [...GENUINE.A, ...GENUINE.AAAA].sort();
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;

// ------------------------------------------------------------ escapes

const escaped = trackEscapes();

afterEach(() => {
  expect(escaped, 'no uncaught exception or unhandled rejection').toEqual([]);
});


// ------------------------------------------------------ scripted server

interface ServerQuery {
  id: number;
  name: string;
  type: 'A' | 'AAAA';
  /** The correct reply, question echoed as asked. */
  genuine: Buffer;
  /** Offset just past the question section in `genuine`. */
  questionEnd: number;
}

type Outgoing = Buffer | { data: Buffer; fromOtherPort: true };

interface TcpPlan {
  /** The bytes written on the connection, in order. */
  stream: Buffer;
  /** Chunk sizes to write them in (cycled), a setImmediate between chunks. */
  chunks?: number[];
}

/**
 * The scripted responder on 127.0.0.1 (UDP and TCP on one port), every reply
 * built from the fuzz query (its genuine reply, where its question ends).
 * Default: the genuine reply, on both transports.
 */
interface FuzzServer {
  udpScript: (query: ServerQuery) => Outgoing[];
  tcpScript: (query: ServerQuery) => TcpPlan;
  readonly port: number;
  close: () => Promise<void>;
}

async function startFuzzServer(): Promise<FuzzServer> {
  const scripts: Pick<FuzzServer, 'udpScript' | 'tcpScript'> = {
    udpScript: (query) => [query.genuine],
    tcpScript: (query) => ({ stream: tcpFrame(query.genuine) }),
  };
  const server = await ScriptedDnsServer.start(
    (asked) => {
      const query = fuzzQuery(asked);
      return query && scripts.udpScript(query).map((out) => (Buffer.isBuffer(out) ? out : { fromOtherPort: out.data }));
    },
    {
      tcp: (asked, socket) => {
        const query = fuzzQuery(asked);
        if (!query) return;
        const plan = scripts.tcpScript(query);
        void writeChunked(socket, plan.stream, plan.chunks ?? [plan.stream.length || 1]).then(() => socket.end());
      },
    },
  );
  return Object.assign(scripts, { port: server.port, close: () => server.close() });
}

function fuzzQuery(asked: ScriptedQuery): ServerQuery | undefined {
  const query = asked.packet;
  const question = query.questions?.[0];
  if (!question || (question.type !== 'A' && question.type !== 'AAAA')) return undefined;
  const id = query.id ?? 0;
  const type = question.type;
  const known = question.name.toLowerCase() === NAME;
  const genuine = dnsPacket.encode({
    type: 'response',
    id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | (known ? 0 : 3),
    questions: [{ type: question.type, class: 'IN', name: question.name }],
    answers: known ? GENUINE[type].map((data) => addressRecord(type, question.name, data)) : [],
  });
  return { id, name: question.name, type: question.type, genuine, questionEnd: 12 + encodedNameLength(question.name) + 4 };
}

function encodedNameLength(name: string): number {
  return name.split('.').reduce((sum, label) => sum + label.length + 1, 0) + 1;
}

// -------------------------------------------------- packet surgery

/** `genuine` with the answers replaced by `answers` (and optional other sections), same id and question. */
function replyWith(query: ServerQuery, sections: { answers?: dnsPacket.Answer[]; authorities?: dnsPacket.Answer[]; additionals?: dnsPacket.Answer[] }): Buffer {
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED,
    questions: [{ type: query.type, class: 'IN', name: query.name }],
    answers: sections.answers ?? [],
    authorities: sections.authorities ?? [],
    additionals: sections.additionals ?? [],
  });
}

/**
 * Make the question differ from the one asked whatever else was mutated: the
 * first label keeps its length and starts with "g" (the name is "fuzz.test").
 */
function breakQuestion(packet: Buffer): Buffer {
  if (packet.length > 13) {
    packet[12] = 4;
    packet[13] = 0x67;
  }
  return packet;
}

function withId(packet: Buffer, id: number): Buffer {
  if (packet.length >= 2) packet.writeUInt16BE(id & 0xffff, 0);
  return packet;
}

/** A record header: name bytes, type, class IN, TTL, rdlength; then rdata. */
function rawRecord(name: Buffer, type: number, rdata: Buffer, rdlength = rdata.length): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(type, 0);
  fixed.writeUInt16BE(1, 2);
  fixed.writeUInt32BE(30, 4);
  fixed.writeUInt16BE(rdlength & 0xffff, 8);
  return Buffer.concat([name, fixed, rdata]);
}

function pointer(offset: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(0xc000 | (offset & 0x3fff), 0);
  return bytes;
}

/** Header + question of `query`'s genuine reply, with `count` answers announced. */
function headerAndQuestion(query: ServerQuery, answers: number): Buffer {
  const head = Buffer.from(query.genuine.subarray(0, query.questionEnd));
  head.writeUInt16BE(answers, 6);
  head.writeUInt16BE(0, 8);
  head.writeUInt16BE(0, 10);
  return head;
}

type PointerAbuse = { kind: 'self' } | { kind: 'forward'; by: number } | { kind: 'ladder'; rungs: number; users: number };

/** Our id and question; answer names built from compression pointers dns-packet must refuse or we must. */
function pointerAbuse(query: ServerQuery, abuse: PointerAbuse): Buffer {
  const head = headerAndQuestion(query, 1);
  const at = head.length;
  if (abuse.kind === 'self') return Buffer.concat([head, rawRecord(pointer(at), 1, Buffer.from([6, 6, 6, 6]))]);
  if (abuse.kind === 'forward') return Buffer.concat([head, rawRecord(pointer(at + abuse.by), 1, Buffer.from([6, 6, 6, 6]))]);
  // A record of unknown type whose rdata is a root label and a ladder of
  // pointers, each to the one before; then records named by the top rung.
  const rdataStart = at + 1 + 10;
  const ladder = Buffer.alloc(1 + 2 * abuse.rungs);
  for (let rung = 0; rung < abuse.rungs; rung++) {
    pointer(rung === 0 ? rdataStart : rdataStart + 1 + 2 * (rung - 1)).copy(ladder, 1 + 2 * rung);
  }
  const top = rdataStart + 1 + 2 * (abuse.rungs - 1);
  const users = Array.from({ length: abuse.users }, () => rawRecord(pointer(top), 1, Buffer.from([6, 6, 6, 6])));
  const packet = Buffer.concat([head, rawRecord(Buffer.from([0]), 0xff00, ladder), ...users]);
  packet.writeUInt16BE(1 + abuse.users, 6);
  return packet;
}

// ---------------------------------------------------------- arbitraries

const flips = fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { minLength: 1, maxLength: 16 });
const counts = fc.record({
  qd: fc.integer({ min: 0, max: 0xffff }),
  an: fc.integer({ min: 0, max: 0xffff }),
  ns: fc.integer({ min: 0, max: 0xffff }),
  ar: fc.integer({ min: 0, max: 0xffff }),
});

/** A forgery the resolver must reject, as a function of the query it answers. */
type Forgery = (query: ServerQuery) => Outgoing;

const forgery: fc.Arbitrary<{ label: string; make: Forgery }> = fc.oneof(
  fc.uint8Array({ maxLength: 600 }).map((bytes) => ({
    label: 'random bytes',
    make: (q: ServerQuery) => {
      const packet = Buffer.from(bytes);
      // Any id but ours (random bytes would match it once in 65536 runs and
      // could then, in theory, spell our question).
      if (packet.length >= 2 && packet.readUInt16BE(0) === q.id) withId(packet, q.id ^ 1);
      return packet;
    },
  })),
  fc.record({ bytes: fc.uint8Array({ minLength: 12, maxLength: 600 }), qd: fc.constantFrom(0, 2, 3, 0xffff) }).map(({ bytes, qd }) => ({
    label: 'random bytes with our id, QR set and no single question',
    make: (q: ServerQuery) => {
      const packet = withId(Buffer.from(bytes), q.id);
      packet[2] = packet[2]! | 0x80;
      packet.writeUInt16BE(qd, 4);
      return packet;
    },
  })),
  fc.record({ flips, tail: fc.uint8Array({ maxLength: 64 }) }).map(({ flips: changes, tail }) => ({
    label: 'genuine reply, bytes flipped, question broken',
    make: (q: ServerQuery) => {
      const packet = Buffer.concat([q.genuine, Buffer.from(tail)]);
      for (const { at, value } of changes) packet[2 + (at % (packet.length - 2))] = value;
      return breakQuestion(packet);
    },
  })),
  counts.map((c) => ({
    label: 'genuine reply, lying counts, question broken',
    make: (q: ServerQuery) => {
      const packet = breakQuestion(Buffer.from(q.genuine));
      packet.writeUInt16BE(c.qd, 4);
      packet.writeUInt16BE(c.an, 6);
      packet.writeUInt16BE(c.ns, 8);
      packet.writeUInt16BE(c.ar, 10);
      return packet;
    },
  })),
  fc
    .oneof(
      fc.constant<PointerAbuse>({ kind: 'self' }),
      fc.integer({ min: 0, max: 200 }).map<PointerAbuse>((by) => ({ kind: 'forward', by })),
      fc
        .record({ rungs: fc.integer({ min: MAX_POINTER_CHAIN + 2, max: 1_200 }), users: fc.integer({ min: 1, max: 100 }) })
        .map<PointerAbuse>(({ rungs, users }) => ({ kind: 'ladder', rungs, users })),
    )
    .map((abuse) => ({ label: `compression pointers: ${abuse.kind}`, make: (q: ServerQuery) => pointerAbuse(q, abuse) })),
  fc.record({ size: fc.integer({ min: 256, max: 3_500 }), lie: fc.integer({ min: -300, max: 300 }), type: fc.constantFrom(1, 16, 28, 0xff00) }).map(
    ({ size, lie, type }) => ({
      label: 'huge rdata (lying rdlength), question broken',
      make: (q: ServerQuery) =>
        breakQuestion(Buffer.concat([headerAndQuestion(q, 1), rawRecord(pointer(12), type, Buffer.alloc(size, 0x41), size + lie)])),
    }),
  ),
  fc.constantFrom('query echo', 'class CH', 'class ANY', 'type TXT').map((kind) => ({
    label: kind,
    make: (q: ServerQuery) => {
      const answers: dnsPacket.Answer[] = [{ type: 'A', class: 'IN', name: q.name, ttl: 30, data: '6.6.6.6' }];
      if (kind === 'query echo') return dnsPacket.encode({ type: 'query', id: q.id, questions: [{ type: q.type, class: 'IN', name: q.name }], answers });
      const question: dnsPacket.Question =
        kind === 'type TXT' ? { type: 'TXT', class: 'IN', name: q.name } : { type: q.type, class: kind === 'class CH' ? 'CH' : 'ANY', name: q.name };
      return dnsPacket.encode({ type: 'response', id: q.id, questions: [question], answers });
    },
  })),
  fc.integer({ min: 1, max: 0xffff }).map((delta) => ({
    label: 'forged addresses, wrong id',
    make: (q: ServerQuery) => withId(replyWith(q, { answers: [forgedRecord(q)] }), q.id ^ delta),
  })),
  fc.constant({
    label: 'forged addresses, our id and question, from another port',
    make: (q: ServerQuery): Outgoing => ({ data: replyWith(q, { answers: [forgedRecord(q)] }), fromOtherPort: true }),
  }),
  fc.integer({ min: MAX_UDP_REPLY_SIZE + 1, max: 9_000 }).map((size) => ({
    label: 'oversized datagram with our id (asked again over TCP)',
    make: (q: ServerQuery) => {
      const packet = Buffer.alloc(size, 0xab);
      q.genuine.copy(packet);
      return packet;
    },
  })),
);

function forgedRecord(q: ServerQuery): dnsPacket.Answer {
  return q.type === 'A' ? { type: 'A', class: 'IN', name: q.name, ttl: 99_999, data: '6.6.6.6' } : { type: 'AAAA', class: 'IN', name: q.name, ttl: 99_999, data: '2001:db8:bad::6' };
}

/** Names that are not NAME in any letter case. */
const otherName = fc.oneof(
  fc.constantFrom('evil.test', 'fuzz.test.evil', 'xfuzz.test', 'fuzz.tes', 'test', 'fuzz', 'fuzz-test', 'a.fuzz.test', '*.fuzz.test', 'fuzz\\.test'),
  fc.array(fc.stringMatching(/^[a-z0-9-]{1,12}$/), { minLength: 1, maxLength: 4 }).map((labels) => labels.join('.')).filter((name) => name !== NAME),
);

type Poison = (type: 'A' | 'AAAA') => dnsPacket.Answer;

/** A record that must contribute nothing to the addresses of NAME (for a query of `type`). */
const poison: fc.Arbitrary<Poison> = fc.oneof(
  fc
    .record({ name: otherName, v4: fc.ipV4(), v6: fc.ipV6(), family: fc.constantFrom<'A' | 'AAAA'>('A', 'AAAA') })
    .map(({ name, v4, v6, family }): Poison => () => addressRecord(family, name, family === 'A' ? v4 : v6, 5)),
  fc
    .record({ cls: fc.constantFrom<dnsPacket.RecordClass | 'flush'>('CH', 'HS', 'ANY', 'flush'), v4: fc.ipV4(), v6: fc.ipV6() })
    .map(
      ({ cls, v4, v6 }): Poison =>
        (type) => {
          const record = addressRecord(type, NAME, type === 'A' ? v4 : v6, 5, cls === 'flush' ? 'IN' : cls);
          return cls === 'flush' ? { ...record, flush: true } : record;
        },
    ),
  // The other family, owned by NAME.
  fc.record({ v4: fc.ipV4(), v6: fc.ipV6() }).map(({ v4, v6 }): Poison => (type) => (type === 'A' ? addressRecord('AAAA', NAME, v6, 5) : addressRecord('A', NAME, v4, 5))),
  fc
    .array(fc.string({ maxLength: 255, unit: 'binary-ascii' }), { minLength: 1, maxLength: 8 })
    .map((strings): Poison => () => ({ type: 'TXT', class: 'IN', name: NAME, ttl: 5, data: strings })),
  // Huge rdata: up to 10 KiB of TXT strings (over UDP's limit: served over TCP).
  fc
    .integer({ min: 1, max: 40 })
    .map((strings): Poison => () => ({ type: 'TXT', class: 'IN', name: NAME, ttl: 5, data: Array.from({ length: strings }, () => Buffer.alloc(255, 0x41)) })),
  otherName.map((exchange): Poison => () => ({ type: 'MX', class: 'IN', name: NAME, ttl: 5, data: { preference: 10, exchange } })),
  otherName.map((data): Poison => () => ({ type: 'NS', class: 'IN', name: NAME, ttl: 5, data })),
  otherName.map((target): Poison => () => ({ type: 'SRV', class: 'IN', name: NAME, ttl: 5, data: { port: 443, target } })),
  fc
    .record({ owner: otherName, target: fc.oneof(otherName, fc.constant(NAME)) })
    .map(({ owner, target }): Poison => () => ({ type: 'CNAME', class: 'IN', name: owner, ttl: 5, data: target })),
);

function addressRecord(type: 'A' | 'AAAA', name: string, data: string, ttl = 30, cls: dnsPacket.RecordClass = 'IN'): dnsPacket.Answer {
  return type === 'A' ? { type: 'A', class: cls, name, ttl, data } : { type: 'AAAA', class: cls, name, ttl, data };
}

const resolvConf = (port: number): ResolvConf => ({
  nameservers: [{ host: '127.0.0.1', port }],
  search: [],
  ndots: 1,
  // Only a failing run waits this long: every run ends with the genuine reply.
  timeoutMs: 1_000,
  attempts: 1,
  warnings: [],
});

function sortedAddresses(resolution: { addresses: Array<{ address: string }> }): string[] {
  return resolution.addresses.map((entry) => entry.address).sort();
}

// ------------------------------------------------------------ tests

let server: FuzzServer;
let resolver: StubResolver;
const stats = { forgeries: new Map<string, number>(), acceptedMutations: 0, rejectedMutations: 0 };

beforeAll(async () => {
  server = await startFuzzServer();
  // One resolver for every run: its sockets must survive all of it.
  resolver = new StubResolver({ resolvConf: resolvConf(server.port), hostsPath: false });
});

afterAll(async () => {
  resolver.close();
  await server.close();
  if (process.env.FUZZ_STATS) {
    console.info('fuzz stats', { forgeries: Object.fromEntries(stats.forgeries), accepted: stats.acceptedMutations, rejected: stats.rejectedMutations });
  }
});

describe('fuzz: UDP receive path', () => {
  it('rejects every forgery in a burst before the genuine reply, and takes the genuine one', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(forgery, { minLength: 1, maxLength: 8 }), async (burst) => {
        for (const { label } of burst) stats.forgeries.set(label, (stats.forgeries.get(label) ?? 0) + 1);
        server.udpScript = (q) => (q.name.toLowerCase() === NAME ? [...burst.map(({ make }) => make(q)), q.genuine] : [q.genuine]);
        server.tcpScript = (q) => ({ stream: tcpFrame(q.genuine) });
        const resolution = await resolver.resolve(NAME, 0);
        expect(sortedAddresses(resolution)).toEqual(GENUINE_ALL);
        expect(resolution.failedFamilies).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('uses only the address records of the asked name, type and class IN from an accepted reply', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(poison, { maxLength: 12 }),
        fc.array(poison, { maxLength: 3 }),
        fc.integer({ min: 0, max: 1_000 }),
        async (answerPoison, otherSections, shuffleSeed) => {
          const poisoned = (q: ServerQuery): Buffer => {
            const genuine = GENUINE[q.type].map((data) => addressRecord(q.type, q.name.toUpperCase(), data));
            const answers = shuffle([...genuine, ...answerPoison.map((make) => make(q.type))], shuffleSeed);
            // Address records of NAME itself, but outside the answer section.
            const elsewhere = [forgedRecord(q), ...otherSections.map((make) => make(q.type))];
            const packet = replyWith(q, { answers, authorities: elsewhere, additionals: elsewhere });
            expect(tryDecode(packet)?.answers, 'the poisoned reply is well-formed').toHaveLength(answers.length);
            return packet;
          };
          // A reply must fit the 65,535 bytes of a TCP message (huge TXT records add up).
          const probe = { id: 0, name: NAME, type: 'A' as const, genuine: Buffer.alloc(0), questionEnd: 0 };
          fc.pre(poisoned(probe).length <= 65_535 && poisoned({ ...probe, type: 'AAAA' }).length <= 65_535);
          // Too big for UDP, it goes over TCP: the same reply is served there.
          server.udpScript = (q) => [q.name.toLowerCase() === NAME ? poisoned(q) : q.genuine];
          server.tcpScript = (q) => ({ stream: tcpFrame(q.name.toLowerCase() === NAME ? poisoned(q) : q.genuine) });
          const resolution = await resolver.resolve(NAME, 0);
          expect(sortedAddresses(resolution)).toEqual(GENUINE_ALL);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('uses a mutated reply that still passes every check only for address records of the asked name in it', async () => {
    await fc.assert(
      fc.asyncProperty(flips, async (changes) => {
        const sent = new Map<string, Buffer>();
        server.udpScript = (q) => {
          if (q.name.toLowerCase() !== NAME) return [q.genuine];
          const packet = Buffer.from(q.genuine);
          const span = packet.length - q.questionEnd;
          for (const { at, value } of changes) packet[q.questionEnd + (at % span)] = value;
          sent.set(q.type, packet);
          return [packet, q.genuine];
        };
        let outcome: { addresses: string[] } | DnsError;
        try {
          outcome = { addresses: sortedAddresses(await resolver.resolve(NAME, 0)) };
        } catch (error) {
          expect(error).toBeInstanceOf(DnsError);
          outcome = error as DnsError;
        }
        // What an independent decoder finds for NAME in the packets sent.
        const allowed = new Set<string>(GENUINE_ALL);
        let accepted = false;
        for (const [type, packet] of sent) {
          const decoded = tryDecode(packet);
          const question = decoded?.questions?.[0];
          if (!decoded || decoded.questions?.length !== 1 || question?.type !== type || question.name.toLowerCase() !== NAME) continue;
          accepted = true;
          for (const answer of decoded.answers ?? []) {
            if ((answer.type === 'A' || answer.type === 'AAAA') && typeof answer.data === 'string') allowed.add(answer.data);
          }
        }
        if (accepted) stats.acceptedMutations++;
        else stats.rejectedMutations++;
        if (!accepted) {
          expect(outcome).toEqual({ addresses: GENUINE_ALL });
        } else if (!(outcome instanceof DnsError)) {
          for (const address of outcome.addresses) expect(allowed, address).toContain(address);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('fuzz: TCP receive path (after a truncated UDP reply)', () => {
  const truncated = (q: ServerQuery): Buffer => {
    const packet = Buffer.from(q.genuine.subarray(0, q.questionEnd));
    packet.writeUInt16BE(packet.readUInt16BE(2) | FLAG_QR | FLAG_TC, 2);
    packet.writeUInt16BE(0, 6);
    return packet;
  };
  const chunkSizes = fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 6 });

  it('skips hostile frames, however chunked, and takes the genuine one', async () => {
    const tcpForgery = forgery.filter(({ label }) => !label.startsWith('oversized') && !label.includes('another port'));
    await fc.assert(
      fc.asyncProperty(fc.array(tcpForgery, { minLength: 1, maxLength: 6 }), fc.boolean(), chunkSizes, async (burst, zeroFrame, chunks) => {
        server.udpScript = (q) => [truncated(q)];
        server.tcpScript = (q) => {
          const frames = burst.map(({ make }) => make(q)).map((out) => tcpFrame(Buffer.isBuffer(out) ? out : out.data));
          if (zeroFrame) frames.unshift(tcpFrame(Buffer.alloc(0)));
          return { stream: Buffer.concat([...frames, tcpFrame(q.genuine)]), chunks };
        };
        const resolution = await resolver.resolve(NAME, 4);
        expect(sortedAddresses(resolution)).toEqual([...GENUINE.A]);
      }),
      { numRuns: 150 },
    );
  });

  it('never takes anything but the genuine answer from a stream with lying length prefixes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.integer({ min: 1, max: 2_000 }).map((extra) => ({ kind: 'prefix longer than the data, then close', extra })),
          fc.integer({ min: 1, max: 40 }).map((short) => ({ kind: 'prefix shorter than the message', extra: -short })),
          fc.integer({ min: 1, max: 2_000 }).map((extra) => ({ kind: 'garbage frame with a long prefix before the genuine frame', extra })),
        ),
        chunkSizes,
        async ({ kind, extra }, chunks) => {
          server.udpScript = (q) => [truncated(q)];
          server.tcpScript = (q) => {
            const forged = replyWith(q, { answers: [forgedRecord(q)] });
            if (kind.startsWith('prefix longer')) return { stream: tcpFrame(q.genuine, q.genuine.length + extra), chunks };
            if (kind.startsWith('prefix shorter')) {
              return { stream: Buffer.concat([tcpFrame(forged, Math.max(0, forged.length + extra)), tcpFrame(q.genuine)]), chunks };
            }
            return { stream: Buffer.concat([tcpFrame(forged.subarray(0, 6), 6 + extra), tcpFrame(q.genuine)]), chunks };
          };
          // Everything on the connection comes from the server asked: a
          // misframed stream may fail the query, never add an address.
          try {
            const resolution = await resolver.resolve(NAME, 4);
            expect(sortedAddresses(resolution)).toEqual([...GENUINE.A]);
          } catch (error) {
            expect(error).toBeInstanceOf(DnsError);
            if (kind.startsWith('prefix longer')) expect((error as DnsError).code).toBe('BADRESPONSE');
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});

function tryDecode(packet: Buffer): dnsPacket.DecodedPacket | undefined {
  try {
    return dnsPacket.decode(packet);
  } catch {
    return undefined;
  }
}

/** Deterministic shuffle (fast-check owns the randomness). */
function shuffle<T>(items: T[], seed: number): T[] {
  let state = seed + 1;
  for (let i = items.length - 1; i > 0; i--) {
    state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
    const j = state % (i + 1);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
