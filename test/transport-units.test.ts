/**
 * Pure pieces of the transport, without sockets: the query-id pool, the
 * per-nameserver gate (cap + FIFO + bound), the TCP frame reader and the wire
 * checks run before any decoding (question match, A/AAAA data length).
 */
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { ID_SPACE, IdPool } from '../src/dns/id-pool.js';
import { ANSWERING_WAIT_FACTOR, QueryGate } from '../src/dns/query-gate.js';
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

describe('QueryGate: a cap, a FIFO behind it, a bound on the FIFO', () => {
  it('admits up to the limit at once, queues in order, refuses past the queue bound', async () => {
    const clock = manualClock();
    const gate = new QueryGate(2, 2, 1_000, clock);
    expect([gate.tryEnter(), gate.tryEnter(), gate.tryEnter()]).toEqual([true, true, false]);
    const order: string[] = [];
    const a = gate.wait().admitted.then(() => order.push('a'));
    const b = gate.wait().admitted.then(() => order.push('b'));
    await expect(gate.wait().admitted).rejects.toBe('full');
    expect(gate.queued).toBe(2);
    gate.leave();
    await a;
    expect(order).toEqual(['a']);
    expect(gate.active).toBe(2); // the slot passed on
    gate.leave();
    await b;
    gate.leave();
    gate.leave();
    expect(gate.active).toBe(0);
    expect(order).toEqual(['a', 'b']);
  });

  it('refuses waiters that waited longer than maxWaitMs when a slot frees, and gives it to the next in time', async () => {
    const clock = manualClock();
    const gate = new QueryGate(1, 10, 500, clock);
    gate.tryEnter();
    const old = gate.wait().admitted;
    clock.advance(400);
    const recent = gate.wait().admitted;
    clock.advance(200); // old has waited 600 ms, recent 200 ms
    gate.leave();
    await expect(old).rejects.toBe('expired');
    await expect(recent).resolves.toBeUndefined();
    expect(gate.active).toBe(1);
  });

  it('while the nameserver answers, waiters wait up to ANSWERING_WAIT_FACTOR × maxWaitMs: a slow process polls late, not failed', async () => {
    const clock = manualClock();
    let answering = true;
    const gate = new QueryGate(1, 10, 500, clock, () => answering);
    gate.tryEnter();
    const late = gate.wait().admitted;
    const later = gate.wait().admitted;
    const last = gate.wait().admitted;
    clock.advance(500 * ANSWERING_WAIT_FACTOR - 100); // past maxWaitMs, within the answering allowance
    gate.leave();
    await expect(late).resolves.toBeUndefined();
    expect(gate.longestWait()).toBe(500 * ANSWERING_WAIT_FACTOR);
    clock.advance(200); // now past the allowance too
    gate.leave();
    await expect(later).rejects.toBe('expired');
    await expect(last).rejects.toBe('expired');
    // The server stopped answering: back to maxWaitMs.
    answering = false;
    expect(gate.longestWait()).toBe(500);
    const next = gate.wait().admitted;
    clock.advance(600);
    gate.leave();
    await expect(next).rejects.toBe('expired');
  });

  it('a cancelled waiter leaves the line at once: it is refused as cancelled, and the next slot goes to the one behind it', async () => {
    const gate = new QueryGate(1, 10, 500, manualClock());
    gate.tryEnter();
    const first = gate.wait();
    const second = gate.wait();
    expect(gate.queued).toBe(2);
    first.cancel();
    expect(gate.queued).toBe(1);
    await expect(first.admitted).rejects.toBe('cancelled');
    gate.leave();
    await expect(second.admitted).resolves.toBeUndefined();
    // Admitted: too late to cancel; the slot is given back with leave().
    second.cancel();
    expect(gate.active).toBe(1);
    gate.leave();
    expect([gate.active, gate.queued]).toEqual([0, 0]);
  });

  it('refuses every waiter on close()', async () => {
    const gate = new QueryGate(1, 10, 500, manualClock());
    gate.tryEnter();
    const waiting = [gate.wait().admitted, gate.wait().admitted];
    gate.close();
    for (const wait of waiting) await expect(wait).rejects.toBe('closed');
  });

  it('keeps a long queue FIFO while it compacts', async () => {
    const gate = new QueryGate(1, 5_000, 1_000, manualClock());
    gate.tryEnter();
    const order: number[] = [];
    const waits = Array.from({ length: 3_000 }, (_, i) => gate.wait().admitted.then(() => order.push(i)));
    for (let i = 0; i < 3_000; i++) gate.leave();
    await Promise.all(waits);
    expect(order).toEqual(Array.from({ length: 3_000 }, (_, i) => i));
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
    expect(badAddressRecord(withRdata('A', 16), end, 1)).toBe('an A record with 16 bytes of data (an IPv4 address is 4)');
    expect(badAddressRecord(withRdata('A', 3), end, 1)).toBe('an A record with 3 bytes of data (an IPv4 address is 4)');
    expect(badAddressRecord(withRdata('AAAA', 4), end, 1)).toBe('an AAAA record with 4 bytes of data (an IPv6 address is 16)');
    // What dns-packet alone makes of the 16-byte A record: an address from its first 4 bytes.
    expect(dnsPacket.decode(withRdata('A', 16)).answers?.[0]).toMatchObject({ type: 'A', data: '10.10.10.10' });
    expect(decodeReply(withRdata('A', 16), end)).toBe('an A record with 16 bytes of data (an IPv4 address is 4)');
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
    expect(badAddressRecord(bad, end, 3)).toBe('an A record with 5 bytes of data (an IPv4 address is 4)');
  });
});
