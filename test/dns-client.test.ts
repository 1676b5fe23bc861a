/**
 * DnsClient — the UDP/TCP transport of the stub resolver — against
 * DnsTestServer over real loopback sockets: query ids, RFC 5452 validation,
 * forged and malformed packets, TC→TCP fallback, rcodes, failover, attempts,
 * one shared socket per family, close(), and an IPv6 nameserver.
 *
 * Every query goes to a test server on loopback; none to the machine's own
 * nameserver.
 */
import dgram from 'node:dgram';
import { getEventListeners } from 'node:events';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { DnsClient } from '../src/dns/client.js';
import { RCODE } from '../src/dns/wire.js';
import { UDP_PORT_MAX_AGE_MS } from '../src/dns/udp-lane.js';
import { DnsError } from '../src/dns/errors.js';
import type { Timers } from '../src/dns/timers.js';
import type { Nameserver } from '../src/dns/types.js';
import type { DnsTestServer, Fault } from '../harness/dns-server.js';
import { recordingTimers } from '../harness/recording-timers.js';
import { shiftedTimers } from '../harness/shifted-timers.js';
import { activeHandleCounts, addressesOf, expectDnsError, listenTcpOn, unusedUdpPort, waitForHandlesAtMost } from '../harness/resolver-helpers.js';
import { ScriptedDnsServer } from '../harness/scripted-dns.js';
import { serverFixture } from '../harness/server-fixture.js';
import { bindUdp, closeUdp, sendUdp } from '../harness/udp-sockets.js';

const NAME = 'svc.test';

// Every test starts with no socket open, so the handle baselines taken in tests are exact.
const { start: startServer, cleanups } = serverFixture(NAME, { A: ['10.0.0.1', '10.0.0.2'], AAAA: ['fd00::1'], ttl: 42 });

function newClient(timeoutMs = 250, attempts = 1, timers?: Timers): DnsClient {
  const client = new DnsClient({ timeoutMs, attempts, timers });
  cleanups.push(() => client.close());
  return client;
}

/** A socket of the test's own (an attacker, a rogue): bound on host:port, closed after the test. */
async function udpSocket(host = '127.0.0.1', port = 0): Promise<dgram.Socket> {
  const socket = await bindUdp(host, port);
  cleanups.push(() => closeUdp(socket));
  return socket;
}

/**
 * A UDP-only DnsTestServer plus our own TCP listener on the same port, so a
 * test decides what the TCP side does after a truncated UDP reply.
 */
async function serverWithCustomTcp(onConnection: (socket: net.Socket) => void): Promise<DnsTestServer> {
  let lastError: unknown;
  for (let i = 0; i < 10; i++) {
    const server = await startServer({ tcp: false });
    try {
      const tcp = await listenTcpOn(server.host, server.port, onConnection);
      cleanups.push(tcp.close);
      return server;
    } catch (error) {
      lastError = error; // the TCP port was taken: try another server port
    }
  }
  throw lastError;
}

describe('DnsClient: A and AAAA over UDP', () => {
  it('asks A and AAAA over UDP and returns the validated answers with their TTLs', async () => {
    const server = await startServer();
    const client = newClient();
    const a = await client.query([server.nameserver], NAME, 'A');
    expect(a).toMatchObject({ rcode: RCODE.NOERROR, truncated: false, transport: 'udp' });
    expect(addressesOf(a)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(a.answers.map((answer) => (answer.type === 'A' ? answer.ttl : undefined))).toEqual([42, 42]);
    const aaaa = await client.query([server.nameserver], NAME, 'AAAA');
    expect(addressesOf(aaaa)).toEqual(['fd00::1']);
    expect(server.queries.map((q) => `${q.transport} ${q.type} ${q.name}`)).toEqual([`udp A ${NAME}`, `udp AAAA ${NAME}`]);
  });

  it('uses random query ids: they vary within one client and between fresh clients', async () => {
    const server = await startServer();
    const client = newClient();
    for (let i = 0; i < 30; i++) await client.query([server.nameserver], NAME, 'A');
    const ids = server.queries.map((q) => q.id);
    expect(new Set(ids).size).toBeGreaterThanOrEqual(25);
    // Not a counter: differences are not constant and the ids spread over the id space.
    const steps = new Set(ids.slice(1).map((id, i) => (id - ids[i]! + 65_536) % 65_536));
    expect(steps.size).toBeGreaterThan(1);
    expect(Math.max(...ids) - Math.min(...ids)).toBeGreaterThan(1_000);

    server.resetLog();
    for (let i = 0; i < 8; i++) await newClient().query([server.nameserver], NAME, 'A');
    expect(new Set(server.queries.map((q) => q.id)).size).toBeGreaterThan(1);
  });

  it('reuses one UDP socket (one source port) per record type for successive and concurrent queries until it rotates; A and AAAA never share one', async () => {
    const server = await startServer();
    const client = newClient();
    await client.query([server.nameserver], NAME, 'A');
    await client.query([server.nameserver], NAME, 'AAAA');
    await Promise.all([client.query([server.nameserver], NAME, 'A'), client.query([server.nameserver], NAME, 'AAAA')]);
    await Promise.all([client.query([server.nameserver], 'other.test', 'A'), client.query([server.nameserver], 'other.test', 'A')]);
    expect(server.queries).toHaveLength(6);
    const portsOf = (type: string): Set<number> => new Set(server.queries.filter((q) => q.type === type).map((q) => q.sourcePort));
    expect(portsOf('A').size).toBe(1);
    expect(portsOf('AAAA').size).toBe(1);
    // Two flows: the pair of one poll never races for one conntrack entry.
    expect([...portsOf('A')][0]).not.toBe([...portsOf('AAAA')][0]);
    expect(client.udpSocketCount).toBe(2);
  });
});

describe('DnsClient: RFC 5452 validation — accept only our server, id and question', () => {
  const forgeries = ['wrong-id', 'wrong-question', 'garbage', 'other-port'] as const satisfies readonly Fault[];

  for (const fault of forgeries) {
    it(`drops a ${fault} reply and accepts the genuine one that follows`, async () => {
      const server = await startServer();
      server.setFault(fault, { thenAnswer: true, thenAnswerDelayMs: 20 });
      const reply = await newClient(1_000).query([server.nameserver], NAME, 'A');
      expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
      expect(server.queries).toHaveLength(1);
      expect(server.queries[0]?.fault).toBe(fault);
    });

    it(`never trusts a ${fault} reply: with nothing else it times out`, async () => {
      const server = await startServer();
      server.setFault(fault);
      const started = Date.now();
      await expectDnsError(newClient(250).query([server.nameserver], NAME, 'A'), 'TIMEOUT');
      expect(Date.now() - started).toBeGreaterThanOrEqual(240);
      expect(server.queries).toHaveLength(1);
    });
  }

  it('drops forged and malformed datagrams sent to its socket by a third party, and keeps waiting', async () => {
    const server = await startServer();
    server.setFault({ delayMs: 200 });
    const client = newClient(2_000);
    const started = Date.now();
    const pending = client.query([server.nameserver], NAME, 'A');
    await server.waitForQueries(1);
    const { sourcePort, id } = server.queries[0]!;
    const question: dnsPacket.Question = { type: 'A', class: 'IN', name: NAME };
    const forged = dnsPacket.encode({
      type: 'response',
      id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: [question],
      answers: [{ type: 'A', class: 'IN', name: NAME, ttl: 99_999, data: '6.6.6.6' }],
    });
    const junk = [
      Buffer.alloc(0),
      Buffer.from([0xde, 0xad]),
      Buffer.from([id >> 8, id & 0xff, 0x81, 0x80, 0xff, 0xff]), // our id, header cut short
      Buffer.concat([forged.subarray(0, 12), Buffer.from([0xc0, 0xff, 0xc0, 0xff])]), // pointer loop
      dnsPacket.encode({ type: 'query', id, questions: [question] }), // our id and question, but a query
      forged,
    ];
    // Same address, another port.
    const attacker = await udpSocket('127.0.0.1');
    for (const message of junk) await sendUdp(attacker, message, sourcePort);
    // Another loopback address, with the server's own port number when it is free.
    const spoofer = await udpSocket('127.0.0.2', server.port).catch(() => udpSocket('127.0.0.2'));
    await sendUdp(spoofer, forged, sourcePort);

    const reply = await pending;
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    // The socket survived all that and still works.
    expect(addressesOf(await client.query([server.nameserver], NAME, 'A'))).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('drops a reply for our id from a server it did not ask, while waiting for the one it asked', async () => {
    const asked = await startServer();
    const other = await startServer();
    asked.setFault({ delayMs: 150 });
    const client = newClient(2_000);
    const pending = client.query([asked.nameserver], NAME, 'A');
    await asked.waitForQueries(1);
    const { sourcePort, id } = asked.queries[0]!;
    // A real DNS server, not the one asked, answers our exact id and question.
    other.setRecords(NAME, { A: ['6.6.6.6'] });
    const rogue = await udpSocket('127.0.0.1');
    const rogueQuery = dnsPacket.encode({ type: 'query', id, questions: [{ type: 'A', class: 'IN', name: NAME }] });
    // Relay: ask `other` from the rogue socket, then forward its reply to the client.
    const rogueReply = new Promise<Buffer>((resolve) => rogue.once('message', (message) => resolve(message)));
    await sendUdp(rogue, rogueQuery, other.port, other.host);
    await sendUdp(rogue, await rogueReply, sourcePort);
    expect(addressesOf(await pending)).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});

describe('DnsClient: truncated replies are retried over TCP', () => {
  it('retries a TC reply (truncate fault) over TCP and returns the TCP answer', async () => {
    const server = await startServer();
    server.setFault('truncate');
    const reply = await newClient().query([server.nameserver], NAME, 'A');
    expect(reply.transport).toBe('tcp');
    expect(reply.truncated).toBe(false);
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(server.queries.map((q) => `${q.transport} ${q.type}`)).toEqual(['udp A', 'tcp A']);
  });

  it('falls back to TCP when the answer really does not fit (200 A records), reading partial TCP chunks', async () => {
    const many = Array.from({ length: 200 }, (_, i) => `10.1.${i >> 8}.${i & 255}`);
    for (const tcpChunkSize of [undefined, 1, 7]) {
      const server = await startServer({ tcpChunkSize });
      server.setRecords('big.test', { A: many });
      // A generous timeout: 3,000 one-byte writes crawl on a loaded machine, and the timeout is not what this tests.
      const reply = await newClient(10_000).query([server.nameserver], 'big.test', 'A');
      expect(reply.transport, `tcpChunkSize ${tcpChunkSize}`).toBe('tcp');
      expect(addressesOf(reply)).toEqual([...many].sort());
      expect(server.countQueries({ transport: 'udp' })).toBe(1);
      expect(server.countQueries({ transport: 'tcp' })).toBe(1);
    }
  });

  it('skips foreign messages on the TCP connection until its own reply arrives', async () => {
    const server = await startServer({ tcpChunkSize: 3 });
    server.setFault('truncate');
    server.setFault('wrong-id', { transport: 'tcp', thenAnswer: true });
    const reply = await newClient(2_000).query([server.nameserver], NAME, 'A');
    expect(reply.transport).toBe('tcp');
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('never trusts a TCP reply with the wrong question: it times out', async () => {
    const server = await startServer();
    server.setFault('truncate');
    server.setFault('wrong-question', { transport: 'tcp' });
    await expectDnsError(newClient(250).query([server.nameserver], NAME, 'A'), 'TIMEOUT');
  });

  it('reports a refused TCP connection as NETWORK, and keeps working', async () => {
    const server = await startServer({ tcp: false });
    server.setFault('truncate', { count: 1 });
    const client = newClient();
    const error = await expectDnsError(client.query([server.nameserver], NAME, 'A'), 'NETWORK');
    expect(error.message).toMatch(/TCP/);
    expect(addressesOf(await client.query([server.nameserver], NAME, 'A'))).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('reports a TCP connection closed before the answer as BADRESPONSE', async () => {
    const server = await serverWithCustomTcp((socket) => socket.once('data', () => socket.end()));
    server.setFault('truncate');
    await expectDnsError(newClient().query([server.nameserver], NAME, 'A'), 'BADRESPONSE');
  });

  it('reports a TCP connection closed in the middle of a message as BADRESPONSE', async () => {
    const server = await serverWithCustomTcp((socket) =>
      socket.once('data', () => {
        socket.write(Buffer.from([0, 100, 1, 2, 3, 4, 5])); // announces 100 bytes, sends 5
        socket.end();
      }),
    );
    server.setFault('truncate');
    await expectDnsError(newClient().query([server.nameserver], NAME, 'A'), 'BADRESPONSE');
  });

  it('reports a reset TCP connection as NETWORK', async () => {
    const server = await serverWithCustomTcp((socket) => socket.once('data', () => socket.resetAndDestroy()));
    server.setFault('truncate');
    await expectDnsError(newClient().query([server.nameserver], NAME, 'A'), 'NETWORK');
  });

  it('fails over to the next server when TCP to the first fails', async () => {
    const broken = await startServer({ tcp: false });
    broken.setFault('truncate');
    const good = await startServer();
    const reply = await newClient().query([broken.nameserver, good.nameserver], NAME, 'A');
    expect(reply.transport).toBe('udp');
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
  });
});

describe('DnsClient: rcodes, failover and attempts', () => {
  it('returns NXDOMAIN replies (a server answered) without asking the next server', async () => {
    const first = await startServer();
    const second = await startServer();
    const reply = await newClient().query([first.nameserver, second.nameserver], 'missing.test', 'A');
    expect(reply.rcode).toBe(RCODE.NXDOMAIN);
    expect(second.queries).toHaveLength(0);
  });

  it('reports SERVFAIL and REFUSED with their own codes', async () => {
    const server = await startServer();
    server.setFault('servfail', { count: 1 });
    await expectDnsError(newClient().query([server.nameserver], NAME, 'A'), 'SERVFAIL');
    server.setFault('refused', { count: 1 });
    await expectDnsError(newClient().query([server.nameserver], NAME, 'A'), 'REFUSED');
  });

  it('moves on to the next server after SERVFAIL, REFUSED or silence', async () => {
    for (const fault of ['servfail', 'refused', 'drop'] as const) {
      const first = await startServer();
      first.setFault(fault);
      const second = await startServer();
      second.setRecords(NAME, { A: ['10.9.9.9'] });
      const reply = await newClient(150).query([first.nameserver, second.nameserver], NAME, 'A');
      expect(addressesOf(reply), fault).toEqual(['10.9.9.9']);
      expect(first.queries).toHaveLength(1);
      expect(second.queries).toHaveLength(1);
    }
  });

  it('fails over from a dead port (nothing listening) to the next server', async () => {
    const dead: Nameserver = { host: '127.0.0.1', port: await unusedUdpPort() };
    const live = await startServer();
    const reply = await newClient(150).query([dead, live.nameserver], NAME, 'A');
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('makes `attempts` rounds over the servers in order, each try bounded by the timeout', async () => {
    const first = await startServer();
    const second = await startServer();
    first.setFault('drop');
    second.setFault('drop');
    const timers = recordingTimers();
    const started = Date.now();
    await expectDnsError(newClient(100, 3, timers).query([first.nameserver, second.nameserver], NAME, 'A'), 'TIMEOUT');
    const elapsed = Date.now() - started;
    expect(first.queries).toHaveLength(3);
    expect(second.queries).toHaveLength(3);
    const order = [...first.queries.map((q) => ({ at: q.at, who: 1 })), ...second.queries.map((q) => ({ at: q.at, who: 2 }))]
      .sort((x, y) => x.at - y.at)
      .map((q) => q.who);
    expect(order).toEqual([1, 2, 1, 2, 1, 2]);
    expect(elapsed).toBeGreaterThanOrEqual(6 * 100 - 10);
    // Each of the six tries was bounded by one timer of the timeout, and nothing else waited.
    expect(timers.delays.filter((ms) => ms !== UDP_PORT_MAX_AGE_MS)).toEqual([100, 100, 100, 100, 100, 100]);
  });

  it('schedules exactly one timeout per try, and a try ends when it fires (manual timers: no waiting)', async () => {
    const server = await startServer();
    server.setFault('drop');
    const delays: number[] = [];
    const callbacks: Array<() => void> = [];
    const timers: Timers = {
      now: () => 0,
      setTimeout: (callback, ms) => {
        delays.push(ms);
        callbacks.push(callback);
        return {};
      },
      clearTimeout: () => undefined,
    };
    const client = new DnsClient({ timeoutMs: 60_000, attempts: 2, timers });
    cleanups.push(() => client.close());
    const outcome = expectDnsError(client.query([server.nameserver], NAME, 'A'), 'TIMEOUT');
    await server.waitForQueries(1);
    // The new port's age timer, then the first try's timeout.
    expect(delays).toEqual([UDP_PORT_MAX_AGE_MS, 60_000]);
    callbacks[1]!();
    await server.waitForQueries(2);
    // The timeout retired the port: the second attempt leaves from a fresh one (its age timer), then its own timeout.
    expect(delays).toEqual([UDP_PORT_MAX_AGE_MS, 60_000, UDP_PORT_MAX_AGE_MS, 60_000]);
    expect(server.queries[0]!.sourcePort).not.toBe(server.queries[1]!.sourcePort);
    callbacks[3]!();
    const error = await outcome;
    expect(error.message).toMatch(/^Could not ask DNS for svc\.test A: no reply from 127\.0\.0\.1:\d+ within 60000 ms \(2 attempts\)$/);
  });

  it('a reply that reached its socket while the event loop was held up beats the timeout that expired meanwhile', async () => {
    // A bare UDP server that answers, then holds the loop past the client's
    // timeout (as a long GC pause or a busy app would): the reply sits in the
    // client's socket buffer while the client's timer expires, and Node runs
    // expired timers before it reads sockets.
    const TIMEOUT_MS = 100;
    let held = 0;
    const server = await ScriptedDnsServer.start((query) => {
      // After this turn's socket reads (the reply is sent meanwhile), before the next turn's timers.
      setImmediate(() => {
        const until = performance.now() + 3 * TIMEOUT_MS;
        while (performance.now() < until) held++;
      });
      return { answers: [{ type: 'A', name: query.name, ttl: 30, data: '10.9.9.9' }] };
    });
    cleanups.push(() => server.close());
    const reply = await newClient(TIMEOUT_MS, 1).query([server.nameserver], NAME, 'A');
    expect(held).toBeGreaterThan(0);
    expect(addressesOf(reply)).toEqual(['10.9.9.9']);
  });

  it('a line behind a nameserver that answers is served late, not refused: waiters wait past the timeout while replies come', async () => {
    const server = await startServer();
    server.setFault({ delayMs: 50 });
    // One try in flight at a time: the 16th waits ~750 ms in line, past the 500 ms timeout.
    const client = new DnsClient({ timeoutMs: 500, attempts: 1, maxInFlightPerNameserver: 1 });
    cleanups.push(() => client.close());
    const outcomes = await Promise.allSettled(Array.from({ length: 16 }, () => client.query([server.nameserver], NAME, 'A')));
    const refused = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [String((outcome.reason as Error).message)] : []));
    expect(refused).toEqual([]);
    expect(server.queries).toHaveLength(16);
  });

  it('names the most telling failure: SERVFAIL from one server beats silence from another', async () => {
    const silent = await startServer();
    silent.setFault('drop');
    const failing = await startServer();
    failing.setFault('servfail');
    const error = await expectDnsError(newClient(100, 2).query([silent.nameserver, failing.nameserver], NAME, 'A'), 'SERVFAIL');
    expect(error.authoritative).toBe(false);
    expect(error.message).toContain('2 attempts');
  });

  it('rejects with NETWORK when there is no nameserver at all', async () => {
    await expectDnsError(newClient().query([], NAME, 'A'), 'NETWORK');
  });
});

describe('DnsClient: IPv6 nameserver', () => {
  it('asks a nameserver on ::1 over UDP, and over TCP after truncation', async () => {
    const server = await startServer({ host: '::1' });
    const client = newClient();
    expect(addressesOf(await client.query([server.nameserver], NAME, 'AAAA'))).toEqual(['fd00::1']);
    expect(server.queries[0]?.sourceHost).toBe('::1');
    server.setFault('truncate', { count: 1 });
    const reply = await client.query([server.nameserver], NAME, 'A');
    expect(reply.transport).toBe('tcp');
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('drops an other-port reply on IPv6 too', async () => {
    const server = await startServer({ host: '::1' });
    server.setFault('other-port');
    await expectDnsError(newClient(200).query([server.nameserver], NAME, 'A'), 'TIMEOUT');
  });
});

/** 'settled' when `promise` settles before the next turn of the event loop. */
function settlesAtOnce(promise: Promise<unknown>): Promise<'settled' | 'pending'> {
  return Promise.race([
    promise.then(
      () => 'settled' as const,
      () => 'settled' as const,
    ),
    new Promise<'pending'>((resolve) => setImmediate(() => resolve('pending'))),
  ]);
}

describe('DnsClient: a query given up with an AbortSignal (a server that never answers)', () => {
  it('drops the try in flight at once: id, slot, socket count and timer released; no further try starts', async () => {
    const silent = await startServer();
    silent.setFault('drop');
    const next = await startServer();
    const timers = shiftedTimers();
    const before = activeHandleCounts();
    // glibc's defaults: a 5 s try, 2 rounds over the two servers.
    const client = newClient(5_000, 2, timers);
    const controller = new AbortController();
    const outcome = client.query([silent.nameserver, next.nameserver], NAME, 'A', { signal: controller.signal });
    await silent.waitForQueries(1);
    expect(client.idsInUse).toBe(1);
    // Both servers of the query are known; only the first was asked.
    expect(client.servers()).toMatchObject([
      { server: silent.address, inFlight: 1, queued: 0, udpSockets: 1 },
      { server: next.address, inFlight: 0, queued: 0, udpSockets: 0 },
    ]);
    expect(timers.armed(5_000)).toBe(1);
    expect(activeHandleCounts().udp).toBe(before.udp + 1);

    controller.abort();
    expect(await settlesAtOnce(outcome)).toBe('settled');
    const error = await expectDnsError(outcome, 'TIMEOUT');
    expect(error.message).toMatch(/^Could not ask DNS for svc\.test A: gave up before an answer came \(/);
    expect(client.idsInUse).toBe(0);
    expect(client.servers()[0]).toMatchObject({ server: silent.address, inFlight: 0, queued: 0, lingering: 0, udpSockets: 1 });
    expect(timers.armed(5_000)).toBe(0);
    // The socket stays open for the next query but no longer holds the process.
    await waitForHandlesAtMost(before, 500);

    // Nothing else was sent: a later query finds the log as the abort left it.
    await client.query([next.nameserver], NAME, 'AAAA');
    expect(silent.queries).toHaveLength(1);
    expect(next.queries.map((q) => q.type)).toEqual(['AAAA']);
    expect(timers.delays.filter((ms) => ms === 5_000)).toHaveLength(2);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('gives up its place in line, rejecting with the signal\'s DnsError reason; the slot it waited for is not lost', async () => {
    const server = await startServer();
    server.setFault('drop');
    const client = new DnsClient({ timeoutMs: 5_000, attempts: 1, maxInFlightPerNameserver: 1 });
    cleanups.push(() => client.close());
    const holding = new AbortController();
    const waiting = new AbortController();
    const first = client.query([server.nameserver], 'first.test', 'A', { signal: holding.signal });
    const second = client.query([server.nameserver], 'second.test', 'A', { signal: waiting.signal });
    await server.waitForQueries(1);
    expect(client.servers()[0]).toMatchObject({ inFlight: 1, queued: 1 });

    const deadline = new DnsError('TIMEOUT', 'second.test', 'poll deadline passed');
    waiting.abort(deadline);
    expect(await settlesAtOnce(second)).toBe('settled');
    await expect(second).rejects.toBe(deadline);
    expect(client.servers()[0]).toMatchObject({ inFlight: 1, queued: 0 });

    holding.abort();
    await expectDnsError(first, 'TIMEOUT');
    expect(client.servers()[0]).toMatchObject({ inFlight: 0, queued: 0 });
    expect(client.idsInUse).toBe(0);

    // The one slot is free: the next query goes out at once and is answered.
    server.setFault(null);
    server.setRecords('third.test', { A: ['10.3.3.3'] });
    expect(addressesOf(await client.query([server.nameserver], 'third.test', 'A'))).toEqual(['10.3.3.3']);
    expect(server.queries.map((q) => q.name)).toEqual(['first.test', 'third.test']);
  });

  it('an already aborted signal rejects without sending anything or opening a socket', async () => {
    const server = await startServer();
    const client = newClient(5_000, 2);
    const reason = new DnsError('TIMEOUT', NAME, 'deadline passed before the query');
    await expect(client.query([server.nameserver], NAME, 'A', { signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    await expectDnsError(client.query([server.nameserver], NAME, 'A', { signal: AbortSignal.abort() }), 'TIMEOUT');
    expect(client.servers()).toEqual([]);
    expect(client.udpSocketCount).toBe(0);
    expect(server.queries).toHaveLength(0);
  });

  it('drops a TCP try (after truncation) at once: the connection is closed and its id released', async () => {
    const server = await startServer();
    server.setFault('drop', { transport: 'tcp' });
    server.setFault('truncate');
    const timers = shiftedTimers();
    const before = activeHandleCounts();
    const client = newClient(5_000, 2, timers);
    const controller = new AbortController();
    const outcome = client.query([server.nameserver], NAME, 'A', { signal: controller.signal });
    await server.waitForQueries(1, { transport: 'tcp' });
    expect(client.idsInUse).toBe(1);
    controller.abort();
    expect(await settlesAtOnce(outcome)).toBe('settled');
    await expectDnsError(outcome, 'TIMEOUT');
    expect(client.idsInUse).toBe(0);
    expect(client.servers()[0]).toMatchObject({ inFlight: 0, queued: 0 });
    expect(timers.armed(5_000)).toBe(0);
    await waitForHandlesAtMost(before);
  });

  it('an abort after the answer changes nothing, and leaves no listener on the signal', async () => {
    const server = await startServer();
    const client = newClient();
    const controller = new AbortController();
    const reply = await client.query([server.nameserver], NAME, 'A', { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort();
    expect(addressesOf(reply)).toEqual(['10.0.0.1', '10.0.0.2']);
    expect(client.idsInUse).toBe(0);
  });
});

describe('DnsClient: close() and process liveness', () => {
  it('rejects an in-flight UDP query with CLOSED at once, refuses new ones, and releases every handle', async () => {
    const server = await startServer();
    server.setFault('drop');
    const before = activeHandleCounts();
    const client = newClient(10_000);
    const outcome = expectDnsError(client.query([server.nameserver], NAME, 'A'), 'CLOSED');
    await server.waitForQueries(1);
    const started = Date.now();
    client.close();
    await outcome;
    // Generous: well under the 10 s timeout, which is all this tells apart.
    expect(Date.now() - started).toBeLessThan(5_000);
    await expectDnsError(client.query([server.nameserver], NAME, 'A'), 'CLOSED');
    expect(server.queries).toHaveLength(1);
    await waitForHandlesAtMost(before);
    client.close(); // idempotent
  });

  it('rejects an in-flight TCP query with CLOSED and releases the TCP socket', async () => {
    const server = await startServer();
    server.setFault('drop', { transport: 'tcp' });
    server.setFault('truncate');
    const before = activeHandleCounts();
    const client = newClient(10_000);
    const pending = client.query([server.nameserver], NAME, 'A');
    const outcome = expectDnsError(pending, 'CLOSED');
    await server.waitForQueries(1, { transport: 'tcp' });
    // Our connection and the server's end of it.
    expect(activeHandleCounts().tcp).toBe(before.tcp + 2);
    client.close();
    await outcome;
    await waitForHandlesAtMost(before);
  });

  it('keeps no socket or timer alive once its queries have settled (an idle client never holds the process)', async () => {
    const v4 = await startServer();
    const v6 = await startServer({ host: '::1' });
    // The IPv6 query settles last, so the IPv4 socket goes idle while another query is in flight.
    v6.setFault({ delayMs: 100 });
    const before = activeHandleCounts();
    const client = newClient(300);
    await Promise.all([client.query([v4.nameserver], NAME, 'A'), client.query([v6.nameserver], NAME, 'AAAA')]);
    await waitForHandlesAtMost(before, 500);
    // The same holds after a timeout and after a TCP fallback.
    v4.setFault('drop', { count: 1 });
    await expectDnsError(client.query([v4.nameserver], NAME, 'A'), 'TIMEOUT');
    v4.setFault('truncate', { count: 1 });
    expect((await client.query([v4.nameserver], NAME, 'A')).transport).toBe('tcp');
    await waitForHandlesAtMost(before, 500);
  });
});
