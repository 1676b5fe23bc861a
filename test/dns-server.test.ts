import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsTestServer, type Fault } from '../harness/dns-server.js';
import { activeHandleCounts, waitForHandlesAtMost } from '../harness/resolver-helpers.js';

// ---------------------------------------------------------------- raw client

type Reply = { buf: Buffer; port: number; address: string };

function makeQuery(name: string, type: dnsPacket.RecordType = 'A', opts: { id?: number; edns?: number; rd?: boolean } = {}) {
  const id = opts.id ?? randomInt(0, 65536);
  const additionals: dnsPacket.Answer[] = opts.edns
    ? [{ type: 'OPT', name: '.', udpPayloadSize: opts.edns, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    : [];
  const buf = dnsPacket.encode({
    type: 'query',
    id,
    flags: opts.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
    questions: [{ type, name, class: 'IN' }],
    additionals,
  });
  return { id, buf };
}

/** Sends `msgs` from one UDP socket; resolves with the first `expect` datagrams, or what came before `timeoutMs`. */
function udpExchange(server: DnsTestServer, msgs: Buffer | Buffer[], expectN = 1, timeoutMs = 2000): Promise<Reply[]> {
  const sock = dgram.createSocket(net.isIPv6(server.host) ? 'udp6' : 'udp4');
  const replies: Reply[] = [];
  return new Promise<Reply[]>((resolve, reject) => {
    const done = () => {
      clearTimeout(timer);
      sock.close();
      resolve(replies);
    };
    const timer = setTimeout(done, timeoutMs);
    sock.on('error', (err) => {
      clearTimeout(timer);
      sock.close();
      reject(err);
    });
    sock.on('message', (buf, rinfo) => {
      replies.push({ buf, port: rinfo.port, address: rinfo.address });
      if (replies.length >= expectN) done();
    });
    void (async () => {
      for (const m of Array.isArray(msgs) ? msgs : [msgs]) {
        await new Promise<void>((res, rej) => sock.send(m, server.port, server.host, (e) => (e ? rej(e) : res())));
      }
    })().catch(reject);
  });
}

/** Sends framed `msgs` over one TCP connection (optionally one byte per write); resolves with `expectN` replies. */
function tcpExchange(server: DnsTestServer, msgs: Buffer[], expectN = msgs.length, opts: { byteByByte?: boolean } = {}) {
  return new Promise<{ replies: Buffer[]; dataEvents: number }>((resolve, reject) => {
    const sock = net.connect({ host: server.host, port: server.port });
    let buffer = Buffer.alloc(0);
    let dataEvents = 0;
    const replies: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`tcp: got ${replies.length}/${expectN} replies`));
    }, 3000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('data', (chunk) => {
      dataEvents++;
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        replies.push(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
      }
      if (replies.length >= expectN) {
        clearTimeout(timer);
        sock.destroy();
        resolve({ replies, dataEvents });
      }
    });
    const send = async (): Promise<void> => {
      const all = Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m])));
      if (!opts.byteByByte) return void sock.write(all);
      for (const byte of all) {
        sock.write(Buffer.from([byte]));
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    sock.on('connect', () => void send());
  });
}

const decode = (b: Buffer) => dnsPacket.decode(b);
const rcodeOf = (p: dnsPacket.DecodedPacket) => (p.flags ?? 0) & 0xf;
const dataOf = (p: dnsPacket.DecodedPacket) => (p.answers ?? []).map((a) => ('data' in a ? a.data : undefined));
const ttlOf = (a: dnsPacket.Answer | undefined) => (a && 'ttl' in a ? a.ttl : undefined);

async function ask(server: DnsTestServer, name: string, type: dnsPacket.RecordType = 'A', opts: { edns?: number; rd?: boolean } = {}) {
  const q = makeQuery(name, type, opts);
  const [r] = await udpExchange(server, q.buf);
  if (!r) throw new Error(`no UDP reply for ${name} ${type}`);
  const p = decode(r.buf);
  expect(p.id).toBe(q.id);
  return p;
}

// ---------------------------------------------------------------- fixtures

const servers: DnsTestServer[] = [];
async function start(options?: Parameters<typeof DnsTestServer.start>[0]) {
  const s = await DnsTestServer.start(options);
  servers.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

// ------------------------------------------------------------------- tests

describe('DnsTestServer answers', () => {
  it('serves A and AAAA with TTL, AA set, RD copied, RA clear', async () => {
    const s = await start();
    s.setRecords('svc.test.', { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::1'], ttl: 7 });
    const a = await ask(s, 'svc.test');
    expect(rcodeOf(a)).toBe(0);
    expect(a.flag_aa).toBe(true);
    expect(a.flag_rd).toBe(true);
    expect(a.flag_ra).toBe(false);
    expect(a.flag_qr).toBe(true);
    expect(dataOf(a)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(a.answers?.every((x) => x.type === 'A' && ttlOf(x) === 7 && x.name === 'svc.test')).toBe(true);
    const aaaa = await ask(s, 'svc.test', 'AAAA', { rd: false });
    expect(aaaa.flag_rd).toBe(false);
    expect(dataOf(aaaa)).toEqual(['fd00::1']);
    s.setRecords('default.test', { A: ['10.0.0.9'] });
    expect(ttlOf((await ask(s, 'default.test')).answers?.[0])).toBe(30);
  });

  it('matches names case-insensitively and echoes the question exactly', async () => {
    const s = await start();
    s.setRecords('Mixed.Test', { A: ['10.1.1.1'] });
    const q = makeQuery('mIxEd.TEST', 'A');
    const [r] = await udpExchange(s, q.buf);
    const p = decode(r!.buf);
    expect(p.questions).toEqual([{ name: 'mIxEd.TEST', type: 'A', class: 'IN' }]);
    expect(r!.buf.subarray(12, q.buf.length).equals(q.buf.subarray(12))).toBe(true);
    expect(dataOf(p)).toEqual(['10.1.1.1']);
  });

  it('NXDOMAIN for unknown names, NODATA for known names without that type', async () => {
    const s = await start();
    s.setRecords('v4only.test', { A: ['10.0.0.1'] });
    const nx = await ask(s, 'nope.test');
    expect(rcodeOf(nx)).toBe(3);
    expect(nx.questions?.[0]?.name).toBe('nope.test');
    expect(nx.answers).toEqual([]);
    for (const type of ['AAAA', 'TXT', 'MX'] as const) {
      const nodata = await ask(s, 'v4only.test', type);
      expect(rcodeOf(nodata)).toBe(0);
      expect(nodata.answers).toEqual([]);
    }
    s.deleteName('V4ONLY.test.');
    expect(rcodeOf(await ask(s, 'v4only.test'))).toBe(3);
    s.setRecords('a.test', { A: ['10.0.0.1'] });
    s.clearRecords();
    expect(rcodeOf(await ask(s, 'a.test'))).toBe(3);
  });

  it('setRecords replaces and validates', async () => {
    const s = await start();
    s.setRecords('x.test', { A: ['10.0.0.1'] });
    s.setRecords('x.test', { AAAA: ['::2'] });
    expect((await ask(s, 'x.test')).answers).toEqual([]);
    expect(() => s.setRecords('x.test', { A: ['::1'] })).toThrow(TypeError);
    expect(() => s.setRecords('x.test', { AAAA: ['1.2.3.4'] })).toThrow(TypeError);
    expect(() => s.setRecords('x.test', { A: ['1.2.3.4'], CNAME: 'y.test' })).toThrow(TypeError);
    expect(() => s.setRecords('', { A: ['1.2.3.4'] })).toThrow(TypeError);
    expect(() => s.setRecords('x.test', { ttl: -1 })).toThrow(TypeError);
    expect(() => s.setRecords('x.test', { ttl: 2 ** 32 })).toThrow(TypeError);
  });

  it('serves any 32-bit TTL, and a TTL computed at each reply', async () => {
    const s = await start();
    s.setRecords('top-bit.test', { A: ['10.0.0.1'], ttl: 0xffffffff });
    // dns-packet's decode (the test's own, not the library's) shows the raw value.
    expect(ttlOf((await ask(s, 'top-bit.test')).answers?.[0])).toBe(0xffffffff);
    let left = 86_400;
    s.setRecords('counting.test', { A: ['10.0.0.2'], AAAA: ['fd00::2'], ttl: () => left });
    expect(ttlOf((await ask(s, 'counting.test')).answers?.[0])).toBe(86_400);
    left = 86_396;
    expect(ttlOf((await ask(s, 'counting.test', 'AAAA')).answers?.[0])).toBe(86_396);
  });

  it('follows CNAME chains inside the server, stops on loops and unknown targets', async () => {
    const s = await start();
    s.setRecords('alias.test', { CNAME: 'Mid.test.', ttl: 5 });
    s.setRecords('mid.test', { CNAME: 'real.test' });
    s.setRecords('real.test', { A: ['10.2.0.1'], AAAA: ['fd00::2'], ttl: 9 });
    const a = await ask(s, 'alias.test');
    expect(a.answers?.map((x) => [x.name, x.type, 'data' in x ? x.data : null, ttlOf(x)])).toEqual([
      ['alias.test', 'CNAME', 'Mid.test', 5],
      ['Mid.test', 'CNAME', 'real.test', 30],
      ['real.test', 'A', '10.2.0.1', 9],
    ]);
    expect(dataOf(await ask(s, 'alias.test', 'AAAA')).at(-1)).toBe('fd00::2');
    // CNAME query: just the CNAME itself
    expect(dataOf(await ask(s, 'alias.test', 'CNAME'))).toEqual(['Mid.test']);
    // out-of-server target: the CNAME only
    s.setRecords('ext.test', { CNAME: 'elsewhere.example' });
    const ext = await ask(s, 'ext.test');
    expect(rcodeOf(ext)).toBe(0);
    expect(dataOf(ext)).toEqual(['elsewhere.example']);
    // loop: terminates
    s.setRecords('l1.test', { CNAME: 'l2.test' });
    s.setRecords('l2.test', { CNAME: 'l1.test' });
    const loop = await ask(s, 'l1.test');
    expect(rcodeOf(loop)).toBe(0);
    expect(loop.answers?.length).toBe(2);
    // long chain: capped at 16 steps
    for (let i = 0; i < 30; i++) s.setRecords(`c${i}.test`, { CNAME: `c${i + 1}.test` });
    s.setRecords('c30.test', { A: ['10.3.0.1'] });
    const long = await ask(s, 'c0.test', 'A', { edns: 4096 });
    expect(long.answers?.length).toBe(17);
    expect(long.answers?.every((x) => x.type === 'CNAME')).toBe(true);
  });

  it('truncates at 512 bytes without EDNS, honours the EDNS size, TCP gets everything', async () => {
    const s = await start();
    const ips = Array.from({ length: 40 }, (_, i) => `10.9.0.${i + 1}`);
    s.setRecords('big.test', { A: ips });
    const plain = await ask(s, 'big.test');
    expect(plain.flag_tc).toBe(true);
    expect(plain.answers).toEqual([]);
    expect(plain.additionals).toEqual([]);
    const edns = await ask(s, 'big.test', 'A', { edns: 4096 });
    expect(edns.flag_tc).toBe(false);
    expect(dataOf(edns)).toEqual(ips);
    expect(edns.additionals?.[0]?.type).toBe('OPT');
    const small = await ask(s, 'big.test', 'A', { edns: 600 });
    expect(small.flag_tc).toBe(true);
    expect(small.answers).toEqual([]);
    const q = makeQuery('big.test');
    const { replies } = await tcpExchange(s, [q.buf]);
    const tcp = decode(replies[0]!);
    expect(tcp.flag_tc).toBe(false);
    expect(tcp.id).toBe(q.id);
    expect(dataOf(tcp)).toEqual(ips);
  });
});

describe('DnsTestServer TCP', () => {
  it('handles several queries per connection, partial reads and chunked replies', async () => {
    const s = await start({ tcpChunkSize: 3 });
    s.setRecords('t1.test', { A: ['10.0.0.1'] });
    s.setRecords('t2.test', { AAAA: ['fd00::7'] });
    const qs = [makeQuery('t1.test'), makeQuery('t2.test', 'AAAA'), makeQuery('missing.test')];
    const { replies, dataEvents } = await tcpExchange(
      s,
      qs.map((q) => q.buf),
      3,
      { byteByByte: true },
    );
    const ps = replies.map(decode);
    expect(ps.map((p) => p.id)).toEqual(qs.map((q) => q.id));
    expect(dataOf(ps[0]!)).toEqual(['10.0.0.1']);
    expect(dataOf(ps[1]!)).toEqual(['fd00::7']);
    expect(rcodeOf(ps[2]!)).toBe(3);
    expect(dataEvents).toBeGreaterThan(3); // replies really arrived in pieces
    expect(s.countQueries({ transport: 'tcp' })).toBe(3);
  });

  it('a client that half-closes still gets its delayed reply, then the server ends', async () => {
    const s = await start({ tcpChunkSize: 5 });
    s.setRecords('hc.test', { A: ['10.0.0.1'] });
    s.setFault({ delayMs: 30 });
    const q = makeQuery('hc.test');
    const sock = net.connect({ host: s.host, port: s.port });
    const chunks: Buffer[] = [];
    sock.on('data', (c) => chunks.push(c));
    const ended = new Promise<void>((resolve, reject) => {
      sock.on('end', () => resolve());
      sock.on('error', reject);
    });
    sock.end(Buffer.concat([Buffer.from([q.buf.length >> 8, q.buf.length & 0xff]), q.buf]));
    await ended;
    const all = Buffer.concat(chunks);
    expect(all.readUInt16BE(0)).toBe(all.length - 2);
    expect(decode(all.subarray(2)).id).toBe(q.id);
  });

  it('ignores malformed packets on UDP and TCP and keeps serving', async () => {
    const s = await start();
    s.setRecords('ok.test', { A: ['10.0.0.1'] });
    const junk = [Buffer.from([1, 2, 3]), Buffer.alloc(40, 0xff), Buffer.from('hello world, not dns')];
    const q = makeQuery('ok.test');
    const udp = await udpExchange(s, [...junk, q.buf], 1);
    expect(decode(udp[0]!.buf).id).toBe(q.id);
    const { replies } = await tcpExchange(s, [...junk, q.buf], 1);
    expect(decode(replies[0]!).id).toBe(q.id);
    // a response packet is not a query: ignored, not logged
    const resp = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'ok.test', type: 'A' }] });
    const q2 = makeQuery('ok.test');
    const r2 = await udpExchange(s, [resp, q2.buf], 1);
    expect(decode(r2[0]!.buf).id).toBe(q2.id);
    expect(s.queries.map((e) => e.name)).toEqual(['ok.test', 'ok.test', 'ok.test']);
  });
});

describe('DnsTestServer faults', () => {
  it.each([
    ['servfail', 2],
    ['refused', 5],
    ['nxdomain', 3],
  ] as const)('%s answers with rcode %i on UDP and TCP', async (fault, rcode) => {
    const s = await start();
    s.setRecords('f.test', { A: ['10.0.0.1'] });
    s.setFault(fault);
    const p = await ask(s, 'f.test');
    expect(rcodeOf(p)).toBe(rcode);
    expect(p.answers).toEqual([]);
    expect(p.questions?.[0]?.name).toBe('f.test');
    const q = makeQuery('f.test');
    const { replies } = await tcpExchange(s, [q.buf]);
    expect(rcodeOf(decode(replies[0]!))).toBe(rcode);
  });

  it('drop never answers, is logged, and count limits it', async () => {
    const s = await start();
    s.setRecords('d.test', { A: ['10.0.0.1'] });
    s.setFault('drop', { count: 1 });
    const q1 = makeQuery('d.test');
    const q2 = makeQuery('d.test', 'A', { id: (q1.id + 1) & 0xffff });
    // Both from one socket, in order: had q1 been answered, its reply would come first.
    const replies = await udpExchange(s, [q1.buf, q2.buf], 1);
    expect(decode(replies[0]!.buf).id).toBe(q2.id);
    expect(s.queries.map((e) => [e.id, e.fault])).toEqual([
      [q1.id, 'drop'],
      [q2.id, undefined],
    ]);
  });

  it('truncate sets TC over UDP only by default; TCP answers normally', async () => {
    const s = await start();
    s.setRecords('tc.test', { A: ['10.0.0.1'] });
    s.setFault('truncate');
    const p = await ask(s, 'tc.test', 'A', { edns: 4096 });
    expect(p.flag_tc).toBe(true);
    expect(p.answers).toEqual([]);
    const { replies } = await tcpExchange(s, [makeQuery('tc.test').buf]);
    const t = decode(replies[0]!);
    expect(t.flag_tc).toBe(false);
    expect(dataOf(t)).toEqual(['10.0.0.1']);
  });

  it('wrong-id changes the id, keeps the answer', async () => {
    const s = await start();
    s.setRecords('w.test', { A: ['10.0.0.1'] });
    s.setFault('wrong-id');
    const q = makeQuery('w.test');
    const [r] = await udpExchange(s, q.buf);
    const p = decode(r!.buf);
    expect([q.id ^ 0x5a5a, (q.id + 1) & 0xffff]).toContain(p.id);
    expect(dataOf(p)).toEqual(['10.0.0.1']);
  });

  it('wrong-question keeps the id, changes the question name', async () => {
    const s = await start();
    s.setRecords('wq.test', { A: ['10.0.0.1'] });
    s.setFault('wrong-question');
    const q = makeQuery('wq.test');
    const [r] = await udpExchange(s, q.buf);
    const p = decode(r!.buf);
    expect(p.id).toBe(q.id);
    expect(p.questions?.[0]?.name).not.toBe('wq.test');
    expect(p.questions?.[0]?.name.toLowerCase()).toContain('wq.test');
  });

  it('garbage sends 12..60 random bytes starting with the query id', async () => {
    const s = await start();
    s.setRecords('g.test', { A: ['10.0.0.1'] });
    s.setFault('garbage');
    for (let i = 0; i < 5; i++) {
      const q = makeQuery('g.test');
      const [r] = await udpExchange(s, q.buf);
      expect(r!.buf.length).toBeGreaterThanOrEqual(12);
      expect(r!.buf.length).toBeLessThanOrEqual(60);
      expect(r!.buf.readUInt16BE(0)).toBe(q.id);
    }
  });

  it('other-port sends the genuine reply from a different port', async () => {
    const s = await start();
    s.setRecords('op.test', { A: ['10.0.0.1'] });
    s.setFault('other-port');
    const q = makeQuery('op.test');
    const [r] = await udpExchange(s, q.buf);
    expect(r!.port).not.toBe(s.port);
    expect(r!.address).toBe(s.host);
    const p = decode(r!.buf);
    expect(p.id).toBe(q.id);
    expect(dataOf(p)).toEqual(['10.0.0.1']);
    expect(() => s.setFault('other-port', { transport: 'tcp' })).toThrow(TypeError);
  });

  it('delayMs answers correctly after the delay; close() cancels pending delays', async () => {
    const s = await start();
    s.setRecords('slow.test', { A: ['10.0.0.1'] });
    s.setFault({ delayMs: 150 });
    const t0 = Date.now();
    const p = await ask(s, 'slow.test');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(dataOf(p)).toEqual(['10.0.0.1']);

    s.setFault(null);
    const baseline = activeHandleCounts();
    s.setFault({ delayMs: 60_000 });
    const pending = udpExchange(s, makeQuery('slow.test').buf, 1, 500);
    await s.waitForQueries(2);
    await s.close();
    expect(await pending).toEqual([]);
    // The 60 s reply timer went with close(): no timer is left beyond those from before.
    await waitForHandlesAtMost(baseline, 5_000);
  });

  it.each(['wrong-id', 'wrong-question', 'garbage', 'other-port'] as const)(
    'thenAnswer: %s sends the forgery first, then the genuine reply from the server port',
    async (fault) => {
      const s = await start();
      s.setRecords('ta.test', { A: ['10.0.0.1'] });
      s.setFault(fault, { thenAnswer: true });
      const q = makeQuery('ta.test');
      const replies = await udpExchange(s, q.buf, 2);
      expect(replies).toHaveLength(2);
      const [forged, real] = replies as [Reply, Reply];
      expect(real.port).toBe(s.port);
      const genuine = decode(real.buf);
      expect(genuine.id).toBe(q.id);
      expect(genuine.questions?.[0]?.name).toBe('ta.test');
      expect(dataOf(genuine)).toEqual(['10.0.0.1']);
      if (fault === 'other-port') {
        expect(forged.port).not.toBe(s.port);
        expect(forged.buf.equals(real.buf)).toBe(true);
      } else {
        expect(forged.port).toBe(s.port);
        expect(forged.buf.equals(real.buf)).toBe(false);
      }
    },
  );

  it('thenAnswer works over TCP too, and is rejected for faults it does not apply to', async () => {
    const s = await start();
    s.setRecords('ta.test', { A: ['10.0.0.1'] });
    s.setFault('wrong-id', { thenAnswer: true });
    const q = makeQuery('ta.test');
    const { replies } = await tcpExchange(s, [q.buf], 2);
    expect(replies.map((b) => decode(b).id)).toEqual([q.id ^ 0x5a5a, q.id]);
    expect(() => s.setFault('servfail', { thenAnswer: true })).toThrow(TypeError);
  });

  it('name and type filters, count, transport and ordering (most recent first)', async () => {
    const s = await start();
    s.setRecords('a.test', { A: ['10.0.0.1'] });
    s.setRecords('b.test', { A: ['10.0.0.2'] });
    s.setFault('servfail', { name: 'A.TEST.', count: 2 });
    expect(rcodeOf(await ask(s, 'b.test'))).toBe(0);
    expect(rcodeOf(await ask(s, 'a.test'))).toBe(2);
    expect(rcodeOf(await ask(s, 'A.test'))).toBe(2);
    expect(rcodeOf(await ask(s, 'a.test'))).toBe(0); // count used up

    s.setFault('refused');
    s.setFault('nxdomain', { name: 'b.test' }); // newer: checked first
    expect(rcodeOf(await ask(s, 'b.test'))).toBe(3);
    expect(rcodeOf(await ask(s, 'a.test'))).toBe(5);

    s.setFault(null);
    s.setFault('servfail', { transport: 'tcp' });
    expect(rcodeOf(await ask(s, 'a.test'))).toBe(0);
    const { replies } = await tcpExchange(s, [makeQuery('a.test').buf]);
    expect(rcodeOf(decode(replies[0]!))).toBe(2);

    s.setFault(null);
    s.setRecords('a.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'] });
    s.setFault('servfail', { name: 'a.test', type: 'aaaa', count: 1 });
    expect(rcodeOf(await ask(s, 'a.test', 'A'))).toBe(0); // another type: not this fault's
    expect(rcodeOf(await ask(s, 'a.test', 'AAAA'))).toBe(2);
    expect(rcodeOf(await ask(s, 'a.test', 'AAAA'))).toBe(0); // count used up

    s.setFault(null);
    expect(rcodeOf(await ask(s, 'a.test'))).toBe(0);
    expect(() => s.setFault('bogus' as Fault)).toThrow(TypeError);
    expect(() => s.setFault('drop', { count: 0 })).toThrow(TypeError);
  });
});

describe('DnsTestServer faults for many names', () => {
  it('domain: every name at or under it, no other', async () => {
    const s = await start();
    for (const name of ['slow.test', 'a.slow.test', 'b.a.slow.test', 'notslow.test', 'fast.test']) s.setRecords(name, { A: ['10.0.0.1'] });
    s.setFault('servfail', { domain: 'SLOW.test.' });
    const rcodes = await Promise.all(['slow.test', 'a.slow.test', 'b.a.slow.test', 'notslow.test', 'fast.test'].map(async (name) => rcodeOf(await ask(s, name))));
    expect(rcodes).toEqual([2, 2, 2, 0, 0]);
  });

  it('probability: each matching query gets the fault with that chance, the others are answered', async () => {
    const s = await start();
    s.setRecords('p.test', { A: ['10.0.0.1'] });
    s.setFault('servfail', { probability: 0.5 });
    const rcodes: number[] = [];
    for (let i = 0; i < 200; i++) rcodes.push(rcodeOf(await ask(s, 'p.test')));
    const failed = rcodes.filter((rcode) => rcode === 2).length;
    expect(failed + rcodes.filter((rcode) => rcode === 0).length).toBe(200);
    // 100 expected; 60..140 is more than 5 standard deviations each way.
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
    expect(() => s.setFault('drop', { probability: 0 })).toThrow(TypeError);
    expect(() => s.setFault('drop', { probability: 1.5 })).toThrow(TypeError);
  });
});

describe('DnsTestServer plumbing', () => {
  it('serves on ::1 over UDP and TCP', async () => {
    const s = await start({ host: '::1' });
    expect(s.address).toBe(`[::1]:${s.port}`);
    expect(s.nameserver).toEqual({ host: '::1', port: s.port });
    s.setRecords('six.test', { AAAA: ['fd00::6'] });
    expect(dataOf(await ask(s, 'six.test', 'AAAA'))).toEqual(['fd00::6']);
    const { replies } = await tcpExchange(s, [makeQuery('six.test', 'AAAA').buf]);
    expect(dataOf(decode(replies[0]!))).toEqual(['fd00::6']);
    expect(s.queries[0]?.sourceHost).toBe('::1');
  });

  it('logs queries; countQueries filters; waitForQueries waits and times out clearly', async () => {
    const s = await start();
    expect(s.address).toBe(`127.0.0.1:${s.port}`);
    s.setRecords('log.test', { A: ['10.0.0.1'] });
    const waiting = s.waitForQueries(2, { name: 'LOG.test.', type: 'aaaa' });
    const before = Date.now();
    await ask(s, 'log.test');
    await ask(s, 'log.test', 'AAAA');
    await tcpExchange(s, [makeQuery('log.test', 'AAAA').buf]);
    await waiting;
    expect(s.countQueries()).toBe(3);
    expect(s.countQueries({ type: 'AAAA' })).toBe(2);
    expect(s.countQueries({ transport: 'udp' })).toBe(2);
    expect(s.countQueries({ name: 'other.test' })).toBe(0);
    const e = s.queries[0]!;
    expect(e).toMatchObject({ name: 'log.test', type: 'A', transport: 'udp', sourceHost: '127.0.0.1' });
    expect(e.sourcePort).toBeGreaterThan(0);
    expect(e.at).toBeGreaterThanOrEqual(before);
    await expect(s.waitForQueries(1, { name: 'never.test' }, 50)).rejects.toThrow(/timed out after 50 ms.*never\.test/);
    s.resetLog();
    expect(s.queries).toEqual([]);
    await s.waitForQueries(0);
  });

  it('close() is idempotent, closes TCP connections and frees the port', async () => {
    const s = await start();
    const client = net.connect({ host: s.host, port: s.port });
    await new Promise<void>((r) => client.once('connect', () => r()));
    client.on('error', () => undefined);
    const clientClosed = new Promise<void>((r) => client.once('close', () => r()));
    const waiter = expect(s.waitForQueries(1, undefined, 10_000)).rejects.toThrow(/closed/);
    await Promise.all([s.close(), s.close()]);
    await s.close();
    await clientClosed;
    await waiter;
    await expect(s.waitForQueries(1)).rejects.toThrow(/closed/);
    // both the UDP and TCP port are free again
    const again = await DnsTestServer.start({ port: s.port });
    servers.push(again);
    expect(again.port).toBe(s.port);
  });

  it('tcp: false serves UDP only', async () => {
    const s = await start({ tcp: false });
    s.setRecords('u.test', { A: ['10.0.0.1'] });
    expect(dataOf(await ask(s, 'u.test'))).toEqual(['10.0.0.1']);
    await expect(tcpExchange(s, [makeQuery('u.test').buf])).rejects.toThrow();
  });
});
