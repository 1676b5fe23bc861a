/**
 * Property tests: the direct query writer and reply reader (src/dns/fast-wire.ts)
 * give exactly what dns-packet gives, or decline. Replies are built byte by
 * byte (compression pointers to the question, to earlier names and to
 * themselves, labels of every byte value, A/AAAA/CNAME and other types,
 * classes with and without the flush bit, right and wrong rdata lengths,
 * lying answer counts) and then have random bytes flipped.
 */
import * as dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeCommonReply, encodeQueryFast, ttlFromWire } from '../src/dns/fast-wire.js';
import { MAX_ANSWER_LABELS, decodeByDnsPacket, decodeReply, encodeQuery, zeroCounts } from '../src/dns/wire.js';

const label = fc.oneof(
  { weight: 6, arbitrary: fc.stringMatching(/^[a-zA-Z0-9_-]{1,20}$/) },
  { weight: 1, arbitrary: fc.string({ minLength: 0, maxLength: 70 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-z]{60,66}$/) },
);
const name = fc
  .tuple(fc.array(label, { minLength: 1, maxLength: 6 }), fc.boolean(), fc.boolean())
  .map(([labels, leading, trailing]) => `${leading ? '.' : ''}${labels.join('.')}${trailing ? '.' : ''}`);

function referenceQuery(id: number, text: string, type: 'A' | 'AAAA' | 'TXT', udpPayloadSize: number): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, class: 'IN', name: text }],
    additionals:
      udpPayloadSize > 0
        ? [{ type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
        : [],
  });
}

describe('encodeQueryFast', () => {
  it('writes the bytes dns-packet writes, or declines', () => {
    let written = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65_535 }), name, fc.constantFrom('A' as const, 'AAAA' as const, 'TXT' as const), fc.constantFrom(0, 512, 1232, 4096), (id, text, type, size) => {
        const fast = encodeQueryFast(id, text, type, size);
        if (fast === null) return;
        written++;
        expect(fast.toString('hex')).toBe(referenceQuery(id, text, type, size).toString('hex'));
      }),
      { numRuns: 3_000 },
    );
    expect(written).toBeGreaterThan(1_000);
  });

  it('writes every ASCII name of 1-63 character labels, and encodeQuery agrees with dns-packet for any name', () => {
    expect(encodeQueryFast(7, 'my-svc.default.svc.cluster.local', 'AAAA', 1232)).not.toBeNull();
    for (const text of ['a..b', 'é.test', `${'x'.repeat(64)}.test`, '.', '', 'svc.test.']) {
      expect(encodeQuery(9, text, 'A', 1232).toString('hex')).toBe(referenceQuery(9, text, 'A', 1232).toString('hex'));
    }
  });
});

// ------------------------------------------------------------ replies, byte by byte

const QUESTION = 'Svc.Fast.Test';

interface RecordSpec {
  owner: { kind: 'question' } | { kind: 'earlier'; pick: number } | { kind: 'labels'; labels: number[][] } | { kind: 'self' };
  type: number;
  klass: number;
  ttl: number;
  rdata: { kind: 'bytes'; bytes: number[] } | { kind: 'name'; labels: number[][]; pointer: boolean };
  rdlengthDelta: number;
}

const labelBytes = fc.oneof(
  { weight: 5, arbitrary: fc.array(fc.integer({ min: 0x61, max: 0x7a }), { minLength: 1, maxLength: 12 }) },
  { weight: 1, arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 0, maxLength: 70 }) },
);
const zeroBiased = fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 255 }));
const record: fc.Arbitrary<RecordSpec> = fc.record({
  owner: fc.oneof(
    { weight: 6, arbitrary: fc.constant({ kind: 'question' as const }) },
    { weight: 2, arbitrary: fc.nat({ max: 20 }).map((pick) => ({ kind: 'earlier' as const, pick })) },
    { weight: 2, arbitrary: fc.array(labelBytes, { maxLength: 4 }).map((labels) => ({ kind: 'labels' as const, labels })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'self' as const }) },
  ),
  type: fc.constantFrom(1, 1, 28, 28, 5, 5, 16, 15, 2, 33),
  klass: fc.constantFrom(1, 1, 1, 0x8001, 3, 4, 255),
  // Small TTLs mostly (the common shape is picked by ttl % 3), and the top bit set now and then (RFC 2181 §8: read as 0).
  ttl: fc.oneof({ weight: 6, arbitrary: fc.nat({ max: 600 }) }, { weight: 1, arbitrary: fc.constantFrom(0xffffffff, 0x80000000, 0x7fffffff) }, { weight: 1, arbitrary: fc.nat({ max: 0xffffffff }) }),
  rdata: fc.oneof(
    fc.array(zeroBiased, { minLength: 0, maxLength: 20 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
    fc.array(zeroBiased, { minLength: 16, maxLength: 16 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
    fc.array(zeroBiased, { minLength: 4, maxLength: 4 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
    fc.record({ labels: fc.array(labelBytes, { maxLength: 3 }), pointer: fc.boolean() }).map((spec) => ({ kind: 'name' as const, ...spec })),
  ),
  rdlengthDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }),
});

/** Type-appropriate rdata most of the time, so the common shape is well represented. */
function fitRdata(spec: RecordSpec): RecordSpec {
  if (spec.rdata.kind === 'bytes' && spec.type === 1 && spec.rdata.bytes.length !== 4 && spec.ttl % 4 !== 0) {
    return { ...spec, rdata: { kind: 'bytes', bytes: spec.rdata.bytes.concat([1, 2, 3, 4]).slice(0, 4) } };
  }
  if (spec.rdata.kind === 'bytes' && spec.type === 28 && spec.rdata.bytes.length !== 16 && spec.ttl % 4 !== 0) {
    return { ...spec, rdata: { kind: 'bytes', bytes: [...spec.rdata.bytes, ...new Array<number>(16).fill(0)].slice(0, 16) } };
  }
  return spec;
}

function build(flags: number, records: RecordSpec[], countDelta: number): { message: Buffer; end: number } {
  const query = encodeQuery(0x4242, QUESTION, 'A', 0);
  const bytes: number[] = [...query.subarray(0, query.length)];
  const end = bytes.length;
  bytes[2] = ((flags | 0x8000) >> 8) & 0xff;
  bytes[3] = flags & 0xff;
  const nameStarts: number[] = [12];
  const writeLabels = (labels: number[][]): void => {
    for (const l of labels) bytes.push(l.length & 0xff, ...l);
  };
  for (const spec of records.map(fitRdata)) {
    const start = bytes.length;
    switch (spec.owner.kind) {
      case 'question':
        bytes.push(0xc0, 12);
        break;
      case 'earlier': {
        const target = nameStarts[spec.owner.pick % nameStarts.length]!;
        bytes.push(0xc0 | (target >> 8), target & 0xff);
        break;
      }
      case 'self':
        bytes.push(0xc0 | (start >> 8), start & 0xff);
        break;
      case 'labels':
        nameStarts.push(start);
        writeLabels(spec.owner.labels);
        bytes.push(0);
        break;
    }
    const rdata: number[] = [];
    if (spec.rdata.kind === 'bytes') rdata.push(...spec.rdata.bytes);
    else {
      for (const l of spec.rdata.labels) rdata.push(l.length & 0xff, ...l);
      if (spec.rdata.pointer) rdata.push(0xc0, 12);
      else rdata.push(0);
    }
    const rdlength = Math.max(0, rdata.length + spec.rdlengthDelta);
    bytes.push(spec.type >> 8, spec.type & 0xff, spec.klass >> 8, spec.klass & 0xff);
    bytes.push((spec.ttl >>> 24) & 0xff, (spec.ttl >>> 16) & 0xff, (spec.ttl >>> 8) & 0xff, spec.ttl & 0xff);
    bytes.push(rdlength >> 8, rdlength & 0xff);
    if (spec.rdata.kind === 'name') nameStarts.push(bytes.length);
    bytes.push(...rdata);
  }
  const count = Math.max(0, records.length + countDelta);
  bytes[6] = count >> 8;
  bytes[7] = count & 0xff;
  return { message: Buffer.from(bytes), end };
}

/** decodeReply's dns-packet reading of the same bytes (on a copy: it rewrites the header). */
function reference(message: Buffer, count = message.readUInt16BE(6), maxLabels = MAX_ANSWER_LABELS): unknown {
  const packet = decodeByDnsPacket(Buffer.from(message), count, maxLabels);
  return typeof packet === 'string' ? packet : { flags: packet.flags, flag_tc: packet.flag_tc, answers: packet.answers };
}

/** A record of the common shape: A, AAAA or CNAME of class IN (flush bit or not), rdata of the right form. */
function plain(spec: RecordSpec): RecordSpec {
  const type = [1, 28, 5][spec.ttl % 3]!;
  const klass = spec.klass === 0x8001 ? 0x8001 : 1;
  const bytes = spec.rdata.kind === 'bytes' ? spec.rdata.bytes : [];
  const rdata: RecordSpec['rdata'] =
    type === 5
      ? { kind: 'name', labels: spec.rdata.kind === 'name' ? spec.rdata.labels : [[0x61, 0x62]], pointer: spec.rdata.kind === 'name' && spec.rdata.pointer }
      : { kind: 'bytes', bytes: [...bytes, ...new Array<number>(16).fill(0)].slice(0, type === 1 ? 4 : 16) };
  return { ...spec, type, klass, rdata, rdlengthDelta: 0 };
}

const reply = fc.record({
  plain: fc.boolean(),
  flags: fc.integer({ min: 0, max: 0xffff }),
  records: fc.array(record, { maxLength: 8 }),
  countDelta: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) }),
  flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 2 }),
  // A small label budget now and then, so stopping at it is exercised.
  maxLabels: fc.oneof({ weight: 4, arbitrary: fc.constant(MAX_ANSWER_LABELS) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 30 }) }),
  cap: fc.oneof({ weight: 4, arbitrary: fc.constant(Infinity) }, { weight: 1, arbitrary: fc.nat({ max: 6 }) }),
});

/** IPv6 text as dns-packet writes it (its AAAA codec is not in the type definitions). */
function aaaaText(bytes: number[]): string {
  return (dnsPacket as unknown as { aaaa: { decode(buf: Buffer): string } }).aaaa.decode(Buffer.from([0, 16, ...bytes]));
}

describe('decodeCommonReply', () => {
  it('reads what dns-packet reads, or declines', () => {
    let read = 0;
    let withAnswers = 0;
    fc.assert(
      fc.property(reply, ({ plain: isPlain, flags, records, countDelta, flips, maxLabels, cap }) => {
        const { message, end } = build(flags, isPlain ? records.map(plain) : records, isPlain ? 0 : countDelta);
        for (const [at, value] of isPlain ? flips.slice(0, 1) : flips) {
          if (message.length > end) message[end + (at % (message.length - end))] = value;
        }
        const count = Math.min(message.readUInt16BE(6), cap);
        // As decodeReply calls it: on the message with the header's counts zeroed.
        const zeroed = Buffer.from(message);
        zeroCounts(zeroed);
        const fast = decodeCommonReply(zeroed, end, count, maxLabels);
        if (fast === null) return;
        read++;
        if ((fast.answers ?? []).length > 0) withAnswers++;
        expect(fast).toEqual(reference(message, count, maxLabels));
      }),
      { numRuns: 20_000 },
    );
    // The direct path must be the one most plain replies take.
    expect(read).toBeGreaterThan(2_000);
    expect(withAnswers).toBeGreaterThan(800);
  }, 120_000);

  it('reads a name that points into the header as dns-packet does, after decodeReply zeroed the counts', () => {
    // Found by the property above: an owner pointer to offset 7 (the answer count's low byte).
    const query = encodeQuery(0x4242, QUESTION, 'A', 0);
    const message = Buffer.concat([query, Buffer.from([0xc0, 7, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0])]);
    message.writeUInt16BE(0x8000, 2);
    message.writeUInt16BE(1, 6);
    const decoded = decodeReply(Buffer.from(message), query.length);
    expect(decoded).toEqual({ flags: 0, flag_tc: false, answers: [{ name: '.', type: 'A', ttl: 0, class: 'IN', flush: false, data: '0.0.0.0' }] });
    expect(reference(message, 1)).toEqual(decoded);
  });

  it('reads the replies a cluster DNS sends: A, AAAA (every zero-run shape), a CNAME chain', () => {
    fc.assert(
      fc.property(fc.array(fc.array(zeroBiased, { minLength: 16, maxLength: 16 }), { minLength: 1, maxLength: 5 }), (addresses) => {
        const packet = dnsPacket.encode({
          type: 'response',
          id: 1,
          flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
          questions: [{ type: 'AAAA', class: 'IN', name: QUESTION }],
          answers: [
            { type: 'CNAME', class: 'IN', name: QUESTION, ttl: 30, data: 'target.fast.test' },
            ...addresses.map((bytes) => ({
              type: 'AAAA' as const,
              class: 'IN' as const,
              name: 'target.fast.test',
              ttl: 5,
              data: aaaaText(bytes),
            })),
          ],
        });
        const end = encodeQuery(1, QUESTION, 'AAAA', 0).length;
        const count = packet.readUInt16BE(6);
        const zeroed = Buffer.from(packet);
        zeroCounts(zeroed);
        const fast = decodeCommonReply(zeroed, end, count, MAX_ANSWER_LABELS);
        expect(fast).not.toBeNull();
        expect(fast).toEqual(reference(packet));
      }),
      { numRuns: 1_000 },
    );
  });

  it('leaves other replies to dns-packet inside decodeReply: same answers either way', () => {
    const packet = dnsPacket.encode({
      type: 'response',
      id: 3,
      questions: [{ type: 'A', class: 'IN', name: QUESTION }],
      answers: [
        { type: 'TXT', class: 'IN', name: QUESTION, ttl: 5, data: 'x' },
        { type: 'A', class: 'IN', name: QUESTION, ttl: 5, data: '10.0.0.1' },
      ],
    });
    const end = encodeQuery(3, QUESTION, 'A', 0).length;
    expect(decodeCommonReply(packet, end, 2, MAX_ANSWER_LABELS)).toBeNull();
    const decoded = decodeReply(Buffer.from(packet), end);
    expect(decoded).toMatchObject({ answers: [{ type: 'TXT' }, { type: 'A', data: '10.0.0.1' }] });
  });
});

describe('TTLs with the top bit set (RFC 2181 §8)', () => {
  /** A reply to an A query for QUESTION with one A record of raw TTL `ttl`, and a TXT record first when `viaDnsPacket`. */
  function replyWithTtl(ttl: number, viaDnsPacket: boolean): { message: Buffer; end: number } {
    const packet = dnsPacket.encode({
      type: 'response',
      id: 5,
      questions: [{ type: 'A', class: 'IN', name: QUESTION }],
      answers: [
        ...(viaDnsPacket ? [{ type: 'TXT' as const, class: 'IN' as const, name: QUESTION, ttl: 5, data: 'x' }] : []),
        { type: 'A', class: 'IN', name: QUESTION, ttl: 30, data: '10.0.0.1' },
      ],
    });
    // dns-packet writes the TTL it is given; put the raw 32 bits in by hand (the A record is last).
    packet.writeUInt32BE(ttl, packet.length - 4 - 2 - 4);
    return { message: packet, end: encodeQuery(5, QUESTION, 'A', 0).length };
  }

  it.each([
    [0, 0],
    [30, 30],
    [86_400, 86_400],
    [0x7fffffff, 0x7fffffff],
    [0x80000000, 0],
    [0xffffffff, 0],
  ])('raw TTL %i reads as %i on both paths', (raw, expected) => {
    expect(ttlFromWire(raw)).toBe(expected);
    for (const viaDnsPacket of [false, true]) {
      const { message, end } = replyWithTtl(raw, viaDnsPacket);
      // dns-packet alone hands the raw value over.
      expect(dnsPacket.decode(Buffer.from(message)).answers?.at(-1)).toMatchObject({ type: 'A', ttl: raw });
      if (!viaDnsPacket) expect(decodeCommonReply(Buffer.from(message), end, 1, MAX_ANSWER_LABELS)?.answers?.[0]).toMatchObject({ ttl: expected });
      const decoded = decodeReply(Buffer.from(message), end);
      expect(typeof decoded).not.toBe('string');
      expect((decoded as { answers: dnsPacket.Answer[] }).answers.at(-1)).toMatchObject({ type: 'A', data: '10.0.0.1', ttl: expected });
    }
  });
});
