/**
 * The transport's bounds under outage and load, over real loopback sockets:
 * queries in flight per nameserver and the line behind them (33,000 names
 * against a dead server end, none hangs), UDP sockets per nameserver (3,000
 * names against a dead server under `ulimit -n 256` in a child process: no
 * EMFILE, the app's own sockets still open), a closed port failing at once
 * (ICMP port unreachable on a connected socket), A/AAAA records of the wrong
 * size refused, the decode budget against label-ladder messages over TCP, and
 * an `attempt` event for every failed try.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { DnsClient, type DnsClientOptions } from '../src/dns/client.js';
import { MAX_ANSWER_LABELS } from '../src/dns/wire.js';
import { MAX_ANSWERS_DECODED_PER_TRY } from '../src/dns/reply-reader.js';
import { MAX_UDP_SOCKETS_PER_NAMESERVER } from '../src/dns/udp-lane.js';
import { DnsError } from '../src/dns/errors.js';
import { GROUP_SHARE, INITIAL_IN_FLIGHT_PER_NAMESERVER, MAX_IN_FLIGHT_PER_NAMESERVER, MAX_QUEUED_PER_NAMESERVER } from '../src/dns/query-gate.js';
import type { Nameserver } from '../src/dns/types.js';
import { observe, report, type WatchEvent } from '../src/watch/observe.js';
import { labelLadderMessage } from '../harness/hostile-messages.js';
import { recordingTimers } from '../harness/recording-timers.js';
import { expectDnsError, unusedUdpPort } from '../harness/resolver-helpers.js';
import { ScriptedDnsServer, tcpFrame } from '../harness/scripted-dns.js';
import { serverFixture } from '../harness/server-fixture.js';
import { withTimeout } from '../harness/within.js';
import { waitUntil } from '../harness/wait.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { start: liveServer, cleanups } = serverFixture('bounds.test');

function newClient(options: Partial<DnsClientOptions> = {}): DnsClient {
  const client = new DnsClient({ timeoutMs: 1_000, attempts: 1, onAttempt: report, ...options });
  cleanups.push(() => client.close());
  return client;
}

/** The scripted responder counting queries and never answering: a dead nameserver. */
async function deadServer(): Promise<{ nameserver: Nameserver; received: () => number }> {
  const server = await ScriptedDnsServer.start(() => null);
  cleanups.push(() => server.close());
  return { nameserver: server.nameserver, received: () => server.queries.length };
}

/** The scripted responder answering every query with `reply(query)`: raw bytes, one datagram or several. */
async function rawServer(reply: (query: dnsPacket.DecodedPacket) => Buffer | Buffer[]): Promise<Nameserver> {
  const server = await ScriptedDnsServer.start((query) =>
    // One datagram after the other, 1 ms apart: a burst of dozens would overflow the client's receive buffer and test nothing.
    [reply(query.packet)].flat().flatMap((datagram, index) => (index === 0 ? [datagram] : [{ delayMs: 1 }, datagram])),
  );
  cleanups.push(() => server.close());
  return server.nameserver;
}

function collectEvents(): WatchEvent[] {
  const events: WatchEvent[] = [];
  cleanups.push(observe((event) => events.push(event)));
  return events;
}

describe(`queries in flight: INITIAL_IN_FLIGHT_PER_NAMESERVER (${INITIAL_IN_FLIGHT_PER_NAMESERVER}) up to MAX_IN_FLIGHT_PER_NAMESERVER (${MAX_IN_FLIGHT_PER_NAMESERVER}), MAX_QUEUED_PER_NAMESERVER (${MAX_QUEUED_PER_NAMESERVER})`, () => {
  it('33,000 names in two domains against a dead server: at most 256 queries out at once, one domain at most its share, the line bounded, every query ends (TIMEOUT or OVERLOADED)', async () => {
    const dead = await deadServer();
    const client = newClient({ timeoutMs: 1_000 });
    const codes = new Map<string, number>();
    let firstOverloaded = '';
    const all = Array.from({ length: 33_000 }, (_, i) =>
      client.query([dead.nameserver], `n${i}.${i % 2 ? 'a' : 'b'}.bounds.test`, i % 2 ? 'A' : 'AAAA').then(
        () => codes.set('ANSWER', (codes.get('ANSWER') ?? 0) + 1),
        (error: DnsError) => {
          codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
          if (error.code === 'OVERLOADED') firstOverloaded ||= error.message;
        },
      ),
    );
    // Past the line, the rest fail at once: nothing waits for a slot that cannot come.
    const share = Math.floor(INITIAL_IN_FLIGHT_PER_NAMESERVER * GROUP_SHARE);
    await waitUntil(() => (codes.get('OVERLOADED') ?? 0) >= 33_000 - INITIAL_IN_FLIGHT_PER_NAMESERVER - MAX_QUEUED_PER_NAMESERVER, 'the overflow failed', 10_000);
    expect(firstOverloaded).toMatch(
      new RegExp(
        `^Could not ask DNS for n\\d+\\.[ab]\\.bounds\\.test A+: 127\\.0\\.0\\.1:\\d+ has 256 queries in flight and 16384 queries already wait ` +
          `\\(its limit now 256, ${share} for names under [ab]\\.bounds\\.test, MAX_QUEUED_PER_NAMESERVER 16384`,
      ),
    );
    // The first domain takes its share, the second the rest of the window; a dead server never lets it grow.
    // At least the window's worth reached the server: exactly 256 while the first tries wait out their 1 s, but on a busy
    // machine a try whose timer fires before its socket connected times out unsent, and the retries that follow
    // carry the count past 256 between two looks, so an exact count is no condition to wait for.
    await waitUntil(() => dead.received() >= INITIAL_IN_FLIGHT_PER_NAMESERVER, 'the first 256 queries reached the server', 10_000);
    expect(client.servers()[0]!.inFlightLimit).toBe(INITIAL_IN_FLIGHT_PER_NAMESERVER);
    expect(client.servers()[0]!.inFlight).toBeLessThanOrEqual(INITIAL_IN_FLIGHT_PER_NAMESERVER);
    expect(client.udpSocketCount).toBeLessThanOrEqual(MAX_UDP_SOCKETS_PER_NAMESERVER);
    // Bounded wait: the in-flight tries time out (1 s), then the line expires.
    await withTimeout(Promise.all(all), 60_000, 'every query to settle');
    expect([...codes.keys()].sort()).toEqual(['OVERLOADED', 'TIMEOUT']);
    expect(codes.get('TIMEOUT')).toBeGreaterThanOrEqual(INITIAL_IN_FLIGHT_PER_NAMESERVER);
    // Every query sent was one that got a slot: the server never saw a burst past the cap. (A try
    // whose timer fires before its socket has connected times out unsent, so not "equal".)
    expect(dead.received()).toBeLessThanOrEqual(codes.get('TIMEOUT')!);
    expect(client.servers()[0]!.inFlightLimit).toBe(INITIAL_IN_FLIGHT_PER_NAMESERVER);
  }, 90_000);

  it('queues behind a small cap in order and hands each freed slot to the oldest try', async () => {
    const server = await liveServer();
    server.setFault({ delayMs: 50 });
    const client = newClient({ maxInFlightPerNameserver: 2, maxQueuedPerNameserver: 10, timeoutMs: 2_000 });
    const replies = await Promise.all(Array.from({ length: 8 }, (_, i) => client.query([server.nameserver], `q${i}.bounds.test`, 'A').catch((e: DnsError) => e.code)));
    expect(replies.every((reply) => typeof reply === 'object')).toBe(true); // NXDOMAIN replies, none failed
    // The server saw them in the order they were asked.
    expect(server.queries.map((q) => q.name)).toEqual(Array.from({ length: 8 }, (_, i) => `q${i}.bounds.test`));
  });

  it('a full line refuses at once with OVERLOADED, and the next nameserver is asked instead', async () => {
    const dead = await deadServer();
    const live = await liveServer();
    const client = newClient({ maxInFlightPerNameserver: 1, maxQueuedPerNameserver: 1, timeoutMs: 5_000 });
    const events = collectEvents();
    const held = [client.query([dead.nameserver], 'a.bounds.test', 'A').catch(() => 'ended'), client.query([dead.nameserver], 'b.bounds.test', 'A').catch(() => 'ended')];
    const reply = await client.query([dead.nameserver, live.nameserver], 'bounds.test', 'A');
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : answer.type))).toEqual(['10.0.0.1']);
    const attempt = events.find((event) => event.type === 'attempt');
    expect(attempt).toMatchObject({ type: 'attempt', name: 'bounds.test', recordType: 'A', transport: 'udp', server: `127.0.0.1:${dead.nameserver.port}` });
    expect((attempt as { error: DnsError }).error.code).toBe('OVERLOADED');
    client.close();
    expect(await Promise.all(held)).toEqual(['ended', 'ended']);
  });
});

describe(`UDP sockets: MAX_UDP_SOCKETS_PER_NAMESERVER (${MAX_UDP_SOCKETS_PER_NAMESERVER})`, () => {
  it('3,000 names against a dead server under ulimit -n 256 (child process): no EMFILE, at most 4 resolver sockets, the app still opens its own', async () => {
    const child = path.join(ROOT, 'test', 'fixtures', 'dead-server-fd-limit.ts');
    const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'loader.mjs');
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        'bash',
        ['-c', `ulimit -n 256 && exec "${process.execPath}" --import "${tsx}" "${child}" 3000`],
        { cwd: ROOT, timeout: 60_000 },
        (error, out, err) => (error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out)),
      );
    });
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!) as { codes: Record<string, number>; emfile: number; udpWhileBusy: number; appSockets: number; appError: string };
    expect(result.emfile).toBe(0);
    expect(Object.keys(result.codes).sort()).toEqual(['OVERLOADED', 'TIMEOUT'].filter((code) => code in result.codes));
    expect(Object.values(result.codes).reduce((sum, n) => sum + n, 0)).toBe(3_000);
    // The dead server's own socket plus the resolver's.
    expect(result.udpWhileBusy).toBeLessThanOrEqual(1 + MAX_UDP_SOCKETS_PER_NAMESERVER);
    expect(result).toMatchObject({ appSockets: 40, appError: '' });
  }, 90_000);
});

describe('a closed nameserver port fails the try at once (connected sockets see ICMP port unreachable)', () => {
  it('fails with CONNREFUSED "connection refused" long before a 20 s timeout', async () => {
    const closed: Nameserver = { host: '127.0.0.1', port: await unusedUdpPort() };
    const timers = recordingTimers();
    const client = newClient({ timeoutMs: 20_000, attempts: 2, timers });
    const started = Date.now();
    const error = await expectDnsError(client.query([closed], 'bounds.test', 'A'), 'CONNREFUSED');
    expect(error.message).toContain('connection refused');
    expect(error.message).toContain(`127.0.0.1:${closed.port}`);
    // Generous: the timeout asked for is 20 s a try, two tries.
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(timers.delays.filter((ms) => ms === 20_000)).toHaveLength(2);
  });

  it('fails over to the next, working nameserver at once, and reports the refused try', async () => {
    const closed: Nameserver = { host: '127.0.0.1', port: await unusedUdpPort() };
    const live = await liveServer();
    const events = collectEvents();
    const client = newClient({ timeoutMs: 20_000 });
    const started = Date.now();
    const reply = await client.query([closed, live.nameserver], 'bounds.test', 'A');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : answer.type))).toEqual(['10.0.0.1']);
    const attempts = events.filter((event): event is Extract<WatchEvent, { type: 'attempt' }> => event.type === 'attempt');
    expect(attempts).toHaveLength(1);
    expect(attempts[0]).toMatchObject({ name: 'bounds.test', recordType: 'A', server: `127.0.0.1:${closed.port}`, transport: 'udp' });
    expect(attempts[0]!.error.code).toBe('CONNREFUSED');
    expect(attempts[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('every try is CONNREFUSED, whichever call the kernel reports the refusal to (a read, or the next send)', async () => {
    const closed: Nameserver = { host: '127.0.0.1', port: await unusedUdpPort() };
    const events = collectEvents();
    const client = newClient({ timeoutMs: 3_000, attempts: 2 });
    // Queries sent back to back on one socket: the first one's ICMP error is
    // waiting when the next is sent, and that send fails with it. Issue 22:
    // that send was NETWORK, and the queries in flight, whose refusal it took,
    // waited out their timeout (TIMEOUT).
    const names = ['a', 'b', 'c', 'd'].map((label) => `${label}.bounds.test`);
    const outcomes = await Promise.allSettled(names.flatMap((name) => [client.query([closed], name, 'A'), client.query([closed], name, 'AAAA')]));
    expect(outcomes.map((outcome) => (outcome.status === 'rejected' ? (outcome.reason as DnsError).code : 'answered'))).toEqual(
      Array<string>(8).fill('CONNREFUSED'),
    );
    const tries = events.filter((event): event is Extract<WatchEvent, { type: 'attempt' }> => event.type === 'attempt');
    expect(tries).toHaveLength(16);
    expect(new Set(tries.map((event) => event.error.code))).toEqual(new Set(['CONNREFUSED']));
  });

  it('an IPv6 nameserver on a closed port of ::1 too', async () => {
    const closed: Nameserver = { host: '::1', port: await unusedUdpPort('::1') };
    const error = await expectDnsError(newClient({ timeoutMs: 20_000 }).query([closed], 'bounds.test', 'AAAA'), 'CONNREFUSED');
    expect(error.message).toContain(`nothing listens on [::1]:${closed.port} (connection refused`);
  });
});

describe('attempt events', () => {
  it('name the transport a try failed on (TCP after truncation)', async () => {
    const server = await liveServer({ tcp: false });
    server.setFault('truncate');
    const client = newClient({ timeoutMs: 2_000 });
    const events = collectEvents();
    await expectDnsError(client.query([server.nameserver], 'bounds.test', 'A'), 'NETWORK');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'attempt', name: 'bounds.test', recordType: 'A', server: server.address, transport: 'tcp' });
    expect((events[0] as { error: DnsError }).error.message).toMatch(/^Could not ask DNS for bounds\.test A: the TCP connection to 127\.0\.0\.1:\d+ failed \(ECONNREFUSED\)$/);
  });
});

describe('address records of the wrong size are a bad reply, not a truncated address', () => {
  /** A reply with one address record of `type` carrying `length` bytes of data. */
  function sizedReply(query: dnsPacket.DecodedPacket, type: 'A' | 'AAAA', length: number): Buffer {
    const head = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions });
    const record = Buffer.alloc(12 + length, 10);
    record.writeUInt16BE(0xc00c, 0);
    record.writeUInt16BE(type === 'A' ? 1 : 28, 2);
    record.writeUInt16BE(1, 4);
    record.writeUInt32BE(30, 6);
    record.writeUInt16BE(length, 10);
    const message = Buffer.concat([head, record]);
    message.writeUInt16BE(1, 6);
    return message;
  }

  for (const [type, length, good] of [['A', 16, 4], ['A', 3, 4], ['AAAA', 4, 16], ['AAAA', 17, 16]] as const) {
    it(`${type} with ${length} bytes: BADRESPONSE naming it; ${good} bytes: used`, async () => {
      let size: number = length;
      const server = await rawServer((query) => sizedReply(query, type, size));
      const client = newClient({ timeoutMs: 300 });
      const error = await expectDnsError(client.query([server], 'bounds.test', type), 'BADRESPONSE');
      expect(error.message).toContain(`sent an unusable reply: an ${type} record with ${length} bytes of data`);
      size = good;
      const reply = await client.query([server], 'bounds.test', type);
      expect(reply.answers).toHaveLength(1);
    });
  }
});

describe(`decode budget: MAX_ANSWERS_DECODED_PER_TRY (${MAX_ANSWERS_DECODED_PER_TRY})`, () => {
  /** A UDP server that only says "truncated", and a TCP server on the same port that sends `frames` for the query. */
  async function truncatingPair(frames: (query: dnsPacket.DecodedPacket) => Buffer[]): Promise<{ server: Nameserver; sent: () => number }> {
    let sent = 0;
    const server = await ScriptedDnsServer.start(
      (query) => dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.TRUNCATED_RESPONSE, questions: query.packet.questions }),
      {
        tcp: (query, socket) => {
          const messages = frames(query.packet);
          sent = messages.length;
          socket.end(Buffer.concat(messages.map((message) => tcpFrame(message))));
        },
      },
    );
    cleanups.push(() => server.close());
    return { server: server.nameserver, sent: () => sent };
  }

  it('stops reading a TCP stream of undecodable messages once the try has decoded its budget, with BADRESPONSE', async () => {
    // 300 records a message stay under MAX_ANSWER_LABELS, so each is decoded to its cut-short end and fails; 28 pass the budget.
    const pair = await truncatingPair((query) => Array.from({ length: 28 }, () => labelLadderMessage(query, 300)));
    const error = await expectDnsError(newClient({ timeoutMs: 5_000 }).query([pair.server], 'bounds.test', 'A'), 'BADRESPONSE');
    expect(error.message).toContain(`sent more than ${MAX_ANSWERS_DECODED_PER_TRY} answer records over TCP without a usable answer`);
    expect(pair.sent()).toBe(28);
  });

  it(`decodes a label-ladder message only up to MAX_ANSWER_LABELS (${MAX_ANSWER_LABELS}) and reads nothing after it`, async () => {
    const pair = await truncatingPair((query) => Array.from({ length: 7 }, () => labelLadderMessage(query, 1_024)));
    const reply = await newClient({ timeoutMs: 5_000 }).query([pair.server], 'bounds.test', 'A');
    // Each record is owned by a 127-label name: the budget stops the first message after about 384 of its 1,024 records.
    expect(reply.answers.length).toBeLessThanOrEqual(Math.ceil(MAX_ANSWER_LABELS / 128));
    expect(reply.answers.some((answer) => answer.type === 'A')).toBe(false);
    expect(pair.sent()).toBe(7);
  });

  it('refuses a UDP try after the budget when datagrams with our id and question keep failing to decode', async () => {
    // 280 records keep each datagram under MAX_UDP_REPLY_SIZE; 30 of them pass the budget.
    const server = await rawServer((query) => Array.from({ length: 30 }, () => labelLadderMessage(query, 280)));
    const error = await expectDnsError(newClient({ timeoutMs: 2_000 }).query([server], 'bounds.test', 'A'), 'BADRESPONSE');
    expect(error.message).toContain(`sent more than ${MAX_ANSWERS_DECODED_PER_TRY} answer records over UDP without a usable answer`);
  });

  it('a single undecodable datagram is dropped, and the try ends as BADRESPONSE saying why, not TIMEOUT', async () => {
    const server = await rawServer((query) => labelLadderMessage(query, 20));
    const error = await expectDnsError(newClient({ timeoutMs: 300 }).query([server], 'bounds.test', 'A'), 'BADRESPONSE');
    expect(error.message).toContain('sent an unusable reply: malformed');
  });
});

