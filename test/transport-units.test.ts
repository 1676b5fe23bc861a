/**
 * Pure pieces of the transport, without sockets: the query-id pool, the
 * per-nameserver gate (limit, share per domain, lines in turn, bound), the TCP frame reader and the wire
 * checks run before any decoding (question match, A/AAAA data length).
 */
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { ID_SPACE, IdPool } from '../src/dns/id-pool.js';
import { ANSWERING_WAIT_FACTOR, GROUP_SHARE, QueryGate, groupOf } from '../src/dns/query-gate.js';
import { TcpFrameReader, frameMessage } from '../src/dns/tcp-frames.js';
import type { Timers } from '../src/dns/timers.js';
import { answersQuery, badAddressRecord, decodeReply, encodeQuery, questionEnd } from '../src/dns/wire.js';

function manualClock(): Timers & { advance(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    setTimeout: () => ({}),
    clearTimeout: () => undefined,
    advance: (ms) => {
      now += ms;
    },
  };
}

describe('IdPool: every draw is a free id, found without looping', () => {
  it('hands out all 65,536 ids exactly once, then says it has none, and takes a released id back', () => {
    const pool = new IdPool();
    const seen = new Uint8Array(ID_SPACE);
    let repeats = 0;
    for (let i = 0; i < ID_SPACE; i++) {
      const id = pool.take()!;
      repeats += seen[id]!;
      seen[id] = 1;
    }
    expect(repeats).toBe(0);
    expect(pool.inUse).toBe(ID_SPACE);
    expect(pool.take()).toBeUndefined();
    pool.release(4_242);
    pool.release(4_242); // twice: no effect
    expect(pool.inUse).toBe(ID_SPACE - 1);
    expect(pool.take()).toBe(4_242);
  });

  it('asks its random source once per draw, over the free ids only', () => {
    const asked: number[] = [];
    const pool = new IdPool((below) => {
      asked.push(below);
      return below - 1;
    });
    const first = pool.take()!;
    const second = pool.take()!;
    expect(first).not.toBe(second);
    expect(asked).toEqual([ID_SPACE, ID_SPACE - 1]);
    pool.release(first);
    pool.take();
    expect(asked.at(-1)).toBe(ID_SPACE - 1);
  });

  it('draws spread over the id space (not a counter)', () => {
    const pool = new IdPool();
    const ids = Array.from({ length: 200 }, () => pool.take()!);
    expect(Math.max(...ids) - Math.min(...ids)).toBeGreaterThan(30_000);
    expect(new Set(ids.slice(1).map((id, i) => id - ids[i]!)).size).toBeGreaterThan(100);
  });
});

function gate(limit: number, maxQueued: number, maxWaitMs: number, clock: Timers, answering?: () => boolean, maxLimit = limit): QueryGate {
  return new QueryGate({ initialLimit: limit, maxLimit, maxQueued, maxWaitMs, timers: clock, answering });
}

describe('QueryGate: a limit, a share per domain, lines in turn behind it, a bound on the lines', () => {
  it('admits up to the limit at once, one domain up to its share; queues in order; refuses past the queue bound', async () => {
    const clock = manualClock();
    const g = gate(4, 2, 1_000, clock);
    expect(g.groupLimit).toBe(Math.floor(4 * GROUP_SHARE));
    expect([g.tryEnter('a'), g.tryEnter('a'), g.tryEnter('a'), g.tryEnter('a')]).toEqual([true, true, true, false]);
    // The last quarter is for other domains.
    expect([g.tryEnter('b'), g.tryEnter('c')]).toEqual([true, false]);
    const order: string[] = [];
    const a1 = g.wait('a').admitted.then(() => order.push('a1'));
    const a2 = g.wait('a').admitted.then(() => order.push('a2'));
    await expect(g.wait('c').admitted).rejects.toBe('full');
    expect(g.queued).toBe(2);
    // b's slot frees, but a holds its share: the slot stays free for others.
    g.leave('b');
    expect(g.active).toBe(3);
    expect(g.tryEnter('d')).toBe(true);
    g.leave('a');
    await a1;
    expect(order).toEqual(['a1']);
    expect(g.active).toBe(4); // the slot passed on
    g.leave('a');
    await a2;
    for (const group of ['a', 'a', 'a', 'd']) g.leave(group);
    expect([g.active, g.queued]).toEqual([0, 0]);
    expect(order).toEqual(['a1', 'a2']);
  });

  it('domains waiting in line take turns (round robin), each in its own order', async () => {
    const g = gate(1, 10, 1_000, manualClock());
    g.tryEnter('x');
    const order: string[] = [];
    const waits = ['a1', 'a2', 'a3', 'b1', 'b2'].map((name) => g.wait(name[0]!).admitted.then(() => order.push(name)));
    for (const group of ['x', 'a', 'b', 'a', 'b', 'a']) g.leave(group);
    await Promise.all(waits);
    expect(order).toEqual(['a1', 'b1', 'a2', 'b2', 'a3']);
  });

  it('a domain of slow tries cannot hold every slot: another domain\'s try goes in at once', () => {
    const g = gate(256, 16_384, 2_000, manualClock());
    let slow = 0;
    while (g.tryEnter('slow.test')) slow++;
    for (let i = 0; i < 3_808; i++) void g.wait('slow.test').admitted.catch(() => undefined);
    expect(slow).toBe(192);
    expect(Array.from({ length: 10 }, () => g.tryEnter('fast.test'))).toEqual(Array.from({ length: 10 }, () => true));
    expect([g.active, g.queued]).toEqual([202, 3_808]);
    g.close();
  });

  it('grows by one per answer while tries wait, up to its maximum; falls back when a try times out and the server is silent', async () => {
    let answering = true;
    const g = gate(2, 100, 1_000, manualClock(), () => answering, 4);
    g.answered();
    expect(g.limit).toBe(2); // nobody waits: nothing to grow for
    const admitted: number[] = [];
    g.tryEnter('a');
    g.tryEnter('b');
    const waits = [1, 2, 3].map((i) => g.wait(`c${i}`).admitted.then(() => admitted.push(i)));
    g.answered();
    await Promise.resolve();
    expect(g.limit).toBe(3);
    expect(admitted).toEqual([1]);
    g.answered();
    g.answered();
    expect(g.limit).toBe(4);
    await Promise.resolve();
    expect(admitted).toEqual([1, 2]);
    g.leave('a');
    await Promise.all(waits);
    expect(admitted).toEqual([1, 2, 3]);
    // Answering: a timeout (a lost datagram) keeps the limit.
    g.timedOut();
    expect(g.limit).toBe(4);
    answering = false;
    g.timedOut();
    expect(g.limit).toBe(2);
  });

  it('refuses waiters that waited longer than maxWaitMs when a slot frees, and gives it to the next in time', async () => {
    const clock = manualClock();
    const g = gate(1, 10, 500, clock);
    g.tryEnter('g');
    const old = g.wait('g').admitted;
    clock.advance(400);
    const recent = g.wait('g').admitted;
    clock.advance(200); // old has waited 600 ms, recent 200 ms
    g.leave('g');
    await expect(old).rejects.toBe('expired');
    await expect(recent).resolves.toBeUndefined();
    expect(g.active).toBe(1);
  });

  it('while the nameserver answers, waiters wait up to ANSWERING_WAIT_FACTOR × maxWaitMs: a slow process polls late, not failed', async () => {
    const clock = manualClock();
    let answering = true;
    const g = gate(1, 10, 500, clock, () => answering);
    g.tryEnter('g');
    const late = g.wait('g').admitted;
    const later = g.wait('g').admitted;
    const last = g.wait('g').admitted;
    clock.advance(500 * ANSWERING_WAIT_FACTOR - 100); // past maxWaitMs, within the answering allowance
    g.leave('g');
    await expect(late).resolves.toBeUndefined();
    expect(g.longestWait()).toBe(500 * ANSWERING_WAIT_FACTOR);
    clock.advance(200); // now past the allowance too
    g.leave('g');
    await expect(later).rejects.toBe('expired');
    await expect(last).rejects.toBe('expired');
    // The server stopped answering: back to maxWaitMs.
    answering = false;
    expect(g.longestWait()).toBe(500);
    g.tryEnter('g');
    const next = g.wait('g').admitted;
    clock.advance(600);
    g.leave('g');
    await expect(next).rejects.toBe('expired');
  });

  it('a cancelled waiter leaves the line at once: it is refused as cancelled, and the next slot goes to the one behind it', async () => {
    const g = gate(1, 10, 500, manualClock());
    g.tryEnter('g');
    const first = g.wait('g');
    const second = g.wait('g');
    expect(g.queued).toBe(2);
    first.cancel();
    expect(g.queued).toBe(1);
    await expect(first.admitted).rejects.toBe('cancelled');
    g.leave('g');
    await expect(second.admitted).resolves.toBeUndefined();
    // Admitted: too late to cancel; the slot is given back with leave().
    second.cancel();
    expect(g.active).toBe(1);
    g.leave('g');
    expect([g.active, g.queued]).toEqual([0, 0]);
  });

  it('refuses every waiter on close()', async () => {
    const g = gate(1, 10, 500, manualClock());
    g.tryEnter('g');
    const waiting = [g.wait('g').admitted, g.wait('h').admitted];
    g.close();
    for (const wait of waiting) await expect(wait).rejects.toBe('closed');
  });

  it('keeps a long line FIFO', async () => {
    const g = gate(1, 5_000, 1_000, manualClock());
    g.tryEnter('g');
    const order: number[] = [];
    const waits = Array.from({ length: 3_000 }, (_, i) => g.wait('g').admitted.then(() => order.push(i)));
    for (let i = 0; i < 3_000; i++) g.leave('g');
    await Promise.all(waits);
    expect(order).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
  });

  it('groups tries by the parent domain of the name, letter case aside', () => {
    expect(groupOf('web.ns.svc.cluster.local')).toBe('ns.svc.cluster.local');
    expect(groupOf('API.NS.svc.cluster.local')).toBe('ns.svc.cluster.local');
    expect(groupOf('localhost')).toBe('localhost');
  });
});

describe('TcpFrameReader: messages out of a byte stream', () => {
  const message = (size: number, fill: number): Buffer => Buffer.alloc(size, fill);

  it('returns whole messages whatever the chunking: all at once, byte by byte, split across the prefix', () => {
    const stream = Buffer.concat([frameMessage(message(5, 1)), frameMessage(message(0, 0)), frameMessage(message(300, 3))]);
    for (const size of [stream.length, 1, 2, 3, 7, 301]) {
      const reader = new TcpFrameReader(10_000);
      const frames: Buffer[] = [];
      for (let at = 0; at < stream.length; at += size) frames.push(...reader.push(stream.subarray(at, at + size))!);
      expect(frames.map((frame) => [frame.length, frame[0]]), `chunks of ${size}`).toEqual([
        [5, 1],
        [0, undefined],
        [300, 3],
      ]);
      expect(reader.pendingBytes).toBe(0);
    }
  });

  it('holds an unfinished message, and gives up (null) once more than maxBytes arrived', () => {
    const reader = new TcpFrameReader(10);
    expect(reader.push(Buffer.from([0, 20, 1, 2, 3]))).toEqual([]);
    expect(reader.pendingBytes).toBe(5);
    expect(reader.push(Buffer.alloc(5))).toEqual([]);
    expect(reader.bytesRead).toBe(10);
    expect(reader.push(Buffer.alloc(1))).toBeNull();
  });

  it('hands out frames the caller may modify without touching the next one', () => {
    const reader = new TcpFrameReader(100);
    const [first, second] = reader.push(Buffer.concat([frameMessage(message(3, 7)), frameMessage(message(3, 8))]))!;
    first!.fill(0);
    expect([...second!]).toEqual([8, 8, 8]);
  });
});

describe('wire checks before decoding', () => {
  const query = encodeQuery(0x1234, 'Svc.Test', 'A', 1232);
  const end = questionEnd(query, true);

  function reply(overrides: Partial<dnsPacket.Packet> = {}): Buffer {
    return dnsPacket.encode({
      type: 'response',
      id: 0x1234,
      questions: [{ type: 'A', class: 'IN', name: 'svc.test' }],
      answers: [{ type: 'A', class: 'IN', name: 'svc.test', ttl: 5, data: '10.0.0.1' }],
      ...overrides,
    });
  }

  it('finds where the question ends, with and without the OPT record', () => {
    expect(end).toBe(12 + 'svc.test'.length + 2 + 4);
    const tcp = encodeQuery(1, 'svc.test', 'A', 0);
    expect(questionEnd(tcp, false)).toBe(end);
  });

  it('matches our id, the response bit and our exact question, letter case aside', () => {
    expect(answersQuery(reply(), query, end)).toBe(true);
    expect(answersQuery(reply({ questions: [{ type: 'A', class: 'IN', name: 'SVC.TEST' }] }), query, end)).toBe(true);
    expect(answersQuery(reply({ id: 0x1235 }), query, end)).toBe(false);
    expect(answersQuery(reply({ type: 'query' }), query, end)).toBe(false);
    expect(answersQuery(reply({ questions: [{ type: 'AAAA', class: 'IN', name: 'svc.test' }] }), query, end)).toBe(false);
    expect(answersQuery(reply({ questions: [{ type: 'A', class: 'CH', name: 'svc.test' }] }), query, end)).toBe(false);
    expect(answersQuery(reply({ questions: [{ type: 'A', class: 'IN', name: 'svc.tesu' }] }), query, end)).toBe(false);
    // One label "svc.test" (a dot inside) is not the two labels svc and test.
    const oneLabel = reply();
    oneLabel[12] = 8;
    oneLabel[12 + 4] = 0x2e;
    expect(answersQuery(oneLabel, query, end)).toBe(false);
    expect(answersQuery(reply().subarray(0, end - 1), query, end)).toBe(false);
  });

  /** `reply()` with the first answer's rdlength set to `length` and that many bytes of data. */
  function withRdata(type: 'A' | 'AAAA', length: number): Buffer {
    const base = reply({ answers: [] });
    base.writeUInt16BE(1, 6);
    const record = Buffer.alloc(2 + 10 + length);
    record.writeUInt16BE(0xc00c, 0);
    record.writeUInt16BE(type === 'A' ? 1 : 28, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(30, 6);
    record.writeUInt16BE(length, 10);
    record.fill(10, 12);
    return Buffer.concat([base, record]);
  }

  it('refuses an A record whose data is not 4 bytes and an AAAA not 16, which dns-packet would half-read', () => {
    expect(badAddressRecord(withRdata('A', 4), end, 1)).toBeNull();
    expect(badAddressRecord(withRdata('AAAA', 16), end, 1)).toBeNull();
    expect(badAddressRecord(withRdata('A', 16), end, 1)).toBe('an A record with 16 bytes of data where an IPv4 address has 4');
    expect(badAddressRecord(withRdata('A', 3), end, 1)).toBe('an A record with 3 bytes of data where an IPv4 address has 4');
    expect(badAddressRecord(withRdata('AAAA', 4), end, 1)).toBe('an AAAA record with 4 bytes of data where an IPv6 address has 16');
    // What dns-packet alone makes of the 16-byte A record: an address from its first 4 bytes.
    expect(dnsPacket.decode(withRdata('A', 16)).answers?.[0]).toMatchObject({ type: 'A', data: '10.10.10.10' });
    expect(decodeReply(withRdata('A', 16), end)).toBe('an A record with 16 bytes of data where an IPv4 address has 4');
    expect(decodeReply(withRdata('A', 4), end)).toMatchObject({ answers: [{ type: 'A', data: '10.10.10.10' }] });
  });

  it('walks past records of other types and sizes to find a bad one later', () => {
    const good = reply({
      answers: [
        { type: 'CNAME', class: 'IN', name: 'svc.test', ttl: 5, data: 'other.test' },
        { type: 'TXT', class: 'IN', name: 'other.test', ttl: 5, data: 'x'.repeat(200) },
        { type: 'A', class: 'IN', name: 'other.test', ttl: 5, data: '10.0.0.2' },
      ],
    });
    expect(badAddressRecord(good, end, 3)).toBeNull();
    const bad = Buffer.from(good);
    bad.writeUInt16BE(5, bad.length - 6); // the A record's rdlength
    expect(badAddressRecord(bad, end, 3)).toBe('an A record with 5 bytes of data where an IPv4 address has 4');
  });
});
