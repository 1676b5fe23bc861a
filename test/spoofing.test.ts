/**
 * Off-path spoofing over real loopback sockets: a second socket races forged
 * replies against the genuine one — wrong ids, the wrong question, the wrong
 * source port, replies delivered to the wrong one of our ports, duplicates and
 * late replies — and none of it changes what a query returns or what a
 * watcher reports. Query ids are random per query; source ports are random
 * per socket and rotate (UDP_PORT_MAX_QUERIES / UDP_PORT_MAX_AGE_MS); a
 * retired socket closes once its last query settles.
 *
 * The attacker here is given more than an off-path one has: it reads the
 * query's source port (and, for some tests, its id) from the server's log.
 */
import dgram from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as dnsPacket from 'dns-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { trackEscapes } from '../harness/escapes.js';
import { DnsClient } from '../src/dns/client.js';
import { MAX_UDP_SOCKETS_PER_NAMESERVER, UDP_PORT_MAX_QUERIES } from '../src/dns/udp-lane.js';
import { watch, type WatchUpdate } from '../src/index.js';
import { activeHandleCounts, addressesOf, expectDnsError, waitForHandlesAtMost } from '../harness/resolver-helpers.js';
import { ScriptedDnsServer, type ScriptedQuery } from '../harness/scripted-dns.js';
import { bindUdp, closeUdp, sendUdp } from '../harness/udp-sockets.js';
import { waitUntil } from '../harness/wait.js';

const NAME = 'spoof.test';
const FORGED_V4 = '6.6.6.6';

// ------------------------------------------------------------ escapes

const escaped = trackEscapes();


const cleanups: Array<() => Promise<void> | void> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  expect(escaped, 'no uncaught exception or unhandled rejection').toEqual([]);
  await waitForHandlesAtMost({ udp: 0, tcp: 0, timeout: Infinity });
});

// ------------------------------------------------ server and attacker

/**
 * The scripted responder holding NAME's records, answering each query
 * genuinely unless a test sets `script`: a query for which the script
 * returns undefined is held, and the test replies with `send()`.
 */
async function startServer() {
  const records: Record<string, string[]> = { A: ['10.2.0.1', '10.2.0.2'], AAAA: [] };
  /** The records the server holds for `query`. */
  const answers = (query: Pick<ScriptedQuery, 'name' | 'type'>): dnsPacket.Answer[] =>
    (records[query.type] ?? []).map((data) => ({ type: query.type as 'A' | 'AAAA', class: 'IN', name: query.name, ttl: 30, data }));
  const server = await ScriptedDnsServer.start((query) => ({ answers: answers(query) }));
  cleanups.push(() => server.close());
  return Object.assign(server, {
    records,
    answers,
    /** The correct reply to `query`, or one with `answers` instead (same id and question). */
    genuine: (query: ScriptedQuery, instead?: dnsPacket.Answer[]) => server.reply(query, instead ?? answers(query)),
  });
}

function forgedAnswers(query: Pick<ScriptedQuery, 'name' | 'type'>): dnsPacket.Answer[] {
  return query.type === 'A'
    ? [{ type: 'A', class: 'IN', name: query.name, ttl: 86_400, data: FORGED_V4 }]
    : [{ type: 'AAAA', class: 'IN', name: query.name, ttl: 86_400, data: '2001:db8:bad::6' }];
}

/** A second socket (its own port, or another loopback address) for the attacker. */
async function attacker(host = '127.0.0.1', port = 0): Promise<dgram.Socket> {
  const socket = await bindUdp(host, port);
  cleanups.push(() => closeUdp(socket));
  return socket;
}

/** Whether a UDP port on 127.0.0.1 is free (nothing of ours still holds it). */
async function portIsFree(port: number): Promise<boolean> {
  try {
    await closeUdp(await bindUdp('127.0.0.1', port));
    return true;
  } catch {
    return false;
  }
}

function newClient(options: Partial<ConstructorParameters<typeof DnsClient>[0]> = {}): DnsClient {
  const client = new DnsClient({ timeoutMs: 1_000, attempts: 1, ...options });
  cleanups.push(() => client.close());
  return client;
}

// ---------------------------------------------------------------- tests

describe('ids and source ports', () => {
  it('gives every query a random id, and every UDP_PORT_MAX_QUERIES queries a fresh random source port', async () => {
    const server = await startServer();
    const client = newClient();
    const queries = 4 * UDP_PORT_MAX_QUERIES;
    for (let i = 0; i < queries; i++) await client.query([server.nameserver], NAME, 'A');
    const ids = server.queries.map((q) => q.id);
    expect(new Set(ids).size).toBeGreaterThanOrEqual(queries - 2);
    expect(Math.max(...ids) - Math.min(...ids)).toBeGreaterThan(10_000);
    // Ports: one per block of UDP_PORT_MAX_QUERIES successive queries, never reused.
    const ports = server.queries.map((q) => q.sourcePort);
    const blocks = Array.from({ length: 4 }, (_, i) => ports.slice(i * UDP_PORT_MAX_QUERIES, (i + 1) * UDP_PORT_MAX_QUERIES));
    for (const block of blocks) expect(new Set(block).size).toBe(1);
    expect(new Set(blocks.map((block) => block[0])).size).toBe(4);
  });

  it('draws each new port from the kernel at random, not in sequence', async () => {
    const server = await startServer();
    const client = newClient({ udpPortMaxQueries: 1 });
    for (let i = 0; i < 24; i++) await client.query([server.nameserver], NAME, 'A');
    const ports = server.queries.map((q) => q.sourcePort);
    expect(new Set(ports).size).toBeGreaterThanOrEqual(22);
    const steps = new Set(ports.slice(1).map((port, i) => port - ports[i]!));
    expect(steps.size).toBeGreaterThan(10);
    expect(Math.max(...ports) - Math.min(...ports)).toBeGreaterThan(1_000);
  });

  it('retires a port after UDP_PORT_MAX_AGE_MS even when idle, and frees it', async () => {
    const server = await startServer();
    const client = newClient({ udpPortMaxAgeMs: 150 });
    await client.query([server.nameserver], NAME, 'A');
    const first = server.queries[0]!.sourcePort;
    expect(await portIsFree(first)).toBe(false);
    // Bounded wait: the idle socket closes at its age, with no query to prompt it.
    const deadline = Date.now() + 2_000;
    while (!(await portIsFree(first))) {
      if (Date.now() > deadline) throw new Error(`port ${first} still held 2 s after its 150 ms age`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    await client.query([server.nameserver], NAME, 'A');
    expect(server.queries[1]!.sourcePort).not.toBe(first);
  });

  it('keeps a retired port open for its in-flight query, takes that reply only on it, then closes it', async () => {
    const server = await startServer();
    server.script = () => undefined; // held: the test replies
    server.records.AAAA = ['fd00::2'];
    const before = activeHandleCounts();
    const client = newClient({ udpPortMaxQueries: 1, timeoutMs: 3_000 });
    const first = client.query([server.nameserver], NAME, 'A');
    await waitUntil(() => server.queries.length === 1, 'the first query arrived');
    // The second query leaves from a fresh port while the first is still out.
    const second = client.query([server.nameserver], NAME, 'AAAA');
    await waitUntil(() => server.queries.length === 2, 'the second query arrived');
    const [q1, q2] = server.queries as [ScriptedQuery, ScriptedQuery];
    expect(q2.sourcePort).not.toBe(q1.sourcePort);
    // Two sockets, each with its query in flight.
    expect(activeHandleCounts().udp - before.udp).toBe(2);
    // The first query's id and question, from the server's own address and
    // port, delivered to the second query's port: dropped (RFC 5452: a reply comes in on the port its question left from).
    await server.send(server.genuine(q1, forgedAnswers(q1)), q2.sourcePort);
    await server.send(server.genuine(q2), q2.sourcePort);
    expect(addressesOf(await second)).toEqual(['fd00::2']);
    // The second port is retired and idle: closed. The first waits for its reply.
    await waitUntil(() => activeHandleCounts().udp - before.udp === 1, 'the second socket closed');
    expect(await portIsFree(q2.sourcePort)).toBe(true);
    expect(await portIsFree(q1.sourcePort)).toBe(false);
    await server.send(server.genuine(q1), q1.sourcePort);
    expect(addressesOf(await first)).toEqual(['10.2.0.1', '10.2.0.2']);
    await waitForHandlesAtMost(before);
    expect(await portIsFree(q1.sourcePort)).toBe(true);
  });

  it(`rotates while fewer than MAX_UDP_SOCKETS_PER_NAMESERVER (${MAX_UDP_SOCKETS_PER_NAMESERVER}) sockets are open, then keeps the current port`, async () => {
    const server = await startServer();
    server.script = (query) => [{ delayMs: 30 }, server.genuine(query)];
    const before = activeHandleCounts();
    const client = newClient({ udpPortMaxQueries: 4 });
    const all = Array.from({ length: 20 }, () => client.query([server.nameserver], NAME, 'A'));
    await waitUntil(() => server.queries.length === 20, 'all queries arrived');
    // 20 queries at 4 a port would want 5 ports; the bound holds it at 4, the last serving 8.
    const perPort = new Map<number, number>();
    for (const { sourcePort } of server.queries) perPort.set(sourcePort, (perPort.get(sourcePort) ?? 0) + 1);
    expect([...perPort.values()]).toEqual([4, 4, 4, 8]);
    expect(client.udpSocketCount).toBe(MAX_UDP_SOCKETS_PER_NAMESERVER);
    expect(activeHandleCounts().udp - before.udp).toBeLessThanOrEqual(MAX_UDP_SOCKETS_PER_NAMESERVER);
    for (const reply of await Promise.all(all)) expect(addressesOf(reply)).toEqual(['10.2.0.1', '10.2.0.2']);
    await waitForHandlesAtMost(before);
    for (const port of new Set(server.queries.map((q) => q.sourcePort))) expect(await portIsFree(port)).toBe(true);
  });
});

describe('racing forgeries against one query', () => {
  it('drops forgeries with wrong ids, the wrong question or the wrong source, and takes the genuine reply', async () => {
    const server = await startServer();
    server.script = () => undefined; // the test plays the server
    const client = newClient({ timeoutMs: 3_000 });
    const pending = client.query([server.nameserver], NAME, 'A');
    await waitUntil(() => server.queries.length === 1, 'the query arrived');
    const query = server.queries[0]!;
    const forged = server.reply(query, forgedAnswers(query));
    // 1. From the server's own address and port: 2,000 wrong ids. Paced (16
    // at a time, then a turn of the event loop): a flood that overran the
    // socket buffer would only make the kernel drop the genuine reply too.
    for (let i = 1; i <= 2_000; i++) {
      const wrongId = Buffer.from(forged);
      wrongId.writeUInt16BE((query.id + i * 31) % 65_536, 0);
      await server.send(wrongId, query.sourcePort);
      if (i % 16 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    // 2. Our id, the wrong question (name, type, class).
    for (const question of [
      { type: 'A', class: 'IN', name: `evil.${NAME}` },
      { type: 'AAAA', class: 'IN', name: NAME },
      { type: 'A', class: 'CH', name: NAME },
    ] as dnsPacket.Question[]) {
      await server.send(server.reply(query, forgedAnswers(query), { question }), query.sourcePort);
    }
    // 3. Our id and question from another port, and from another address with the server's port.
    const samehost = await attacker();
    await sendUdp(samehost, forged, query.sourcePort);
    const otherHost = await attacker('127.0.0.2', server.port).catch(() => attacker('127.0.0.2'));
    cleanups.push(() => new Promise<void>((resolve) => otherHost.close(() => resolve())));
    await sendUdp(otherHost, forged, query.sourcePort);
    // Then the genuine reply, twice, and a late "reply" with our id and question.
    await server.send(server.genuine(query), query.sourcePort);
    await server.send(server.genuine(query), query.sourcePort);
    await server.send(forged, query.sourcePort);
    expect(addressesOf(await pending)).toEqual(['10.2.0.1', '10.2.0.2']);
    // The client is intact: the next query works and sees none of it.
    server.script = (q) => [server.genuine(q)];
    expect(addressesOf(await client.query([server.nameserver], NAME, 'A'))).toEqual(['10.2.0.1', '10.2.0.2']);
  });

  it('ignores a reply that arrives after its query timed out, and a replay of an earlier reply', async () => {
    const server = await startServer();
    server.script = () => undefined;
    const client = newClient({ timeoutMs: 150 });
    await expectDnsError(client.query([server.nameserver], NAME, 'A'), 'TIMEOUT');
    const late = server.queries[0]!;
    // Late, and forged: nobody is waiting for it.
    await server.send(server.genuine(late, forgedAnswers(late)), late.sourcePort);
    // The next query is answered; a replay of the late query's reply races it.
    server.script = (query) => [server.genuine(late, forgedAnswers(late)), { delayMs: 20 }, server.genuine(query)];
    expect(addressesOf(await client.query([server.nameserver], NAME, 'A'))).toEqual(['10.2.0.1', '10.2.0.2']);
    expect(server.queries[1]!.id).not.toBe(late.id);
  });
});

describe('racing forgeries against a watcher', () => {
  let dir: string;
  let resolvConfPath: string;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'spoofing-'));
    resolvConfPath = path.join(dir, 'resolv.conf');
    await writeFile(resolvConfPath, 'options ndots:1\n');
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports only genuine sets while every poll is raced by forgeries, duplicates and late replays', async () => {
    const server = await startServer();
    const forger = await attacker();
    const stale: Buffer[] = [];
    server.script = (query) => {
      const forged = server.reply(query, forgedAnswers(query));
      const wrongId = Buffer.from(forged);
      wrongId.writeUInt16BE(query.id ^ 0x8001, 0);
      // Off-path forgeries race the genuine reply: another port, a wrong id,
      // the wrong question; then the genuine reply, its duplicate, a forged
      // late reply, and a replay of an earlier poll's forged reply.
      void sendUdp(forger, forged, query.sourcePort);
      const plan = [
        wrongId,
        server.reply(query, forgedAnswers(query), { question: { type: query.type as 'A' | 'AAAA', class: 'IN', name: `x.${query.name}` } }),
        // (This one is the server's: genuine records among others that must not count.)
        server.genuine(query, [
          ...forgedAnswers({ name: `evil.${NAME}`, type: query.type }),
          { type: 'A', class: 'CH', name: query.name, ttl: 5, data: FORGED_V4 },
          ...server.answers(query),
        ]),
        server.genuine(query),
        forged,
        ...stale.splice(0),
      ];
      stale.push(forged);
      return plan;
    };
    const watcher = watch(NAME, {
      nameservers: [server.address],
      resolvConfPath,
      hostsPath: false,
      family: 4,
      refreshInterval: 40,
      minInterval: 10,
      jitter: 0,
      timeout: 500,
      attempts: 1,
    });
    cleanups.push(() => watcher.close());
    const updates: WatchUpdate[] = [];
    watcher.on('update', (update) => updates.push(update));
    watcher.on('error', () => undefined);
    await waitUntil(() => updates.length === 1, 'the first update', 3_000);
    const polls = server.queries.length;
    // Rotation while the race goes on.
    server.records.A = ['10.2.0.2', '10.2.0.3'];
    await waitUntil(() => updates.length === 2, 'the second update', 3_000);
    await waitUntil(() => server.queries.length >= polls + 10, 'ten more raced polls', 5_000);
    watcher.close();
    expect(updates.map((update) => update.addresses)).toEqual([
      ['10.2.0.1', '10.2.0.2'],
      ['10.2.0.2', '10.2.0.3'],
    ]);
    for (const update of updates) expect(update.ttl).toBe(30);
  });
});
