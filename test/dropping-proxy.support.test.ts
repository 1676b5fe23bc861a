/**
 * harness/dropping-proxy.ts: a UDP DNS proxy that loses datagrams on purpose,
 * in front of the in-process DnsTestServer (whose query log shows what got
 * through) and, where installed, a real dnsmasq.
 */
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import * as dnsPacket from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { DnsTestServer } from '../harness/dns-server.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { DroppingDnsProxy, type DroppingProxyOptions } from '../harness/dropping-proxy.js';
import { waitUntil } from '../harness/wait.js';

interface Reply {
  id: number;
  name: string;
  type: string;
  addresses: string[];
  from: string;
}

/** A client socket that sends queries to the proxy and keeps every reply. */
class Client {
  readonly replies: Reply[] = [];
  private constructor(private readonly socket: dgram.Socket, private readonly proxy: DroppingDnsProxy) {
    socket.on('message', (message, remote) => {
      const packet = dnsPacket.decode(message);
      const asked = packet.questions?.[0];
      this.replies.push({
        id: packet.id ?? -1,
        name: asked?.name ?? '',
        type: asked?.type ?? '',
        addresses: (packet.answers ?? []).flatMap((answer) => (answer.type === 'A' || answer.type === 'AAAA' ? [answer.data] : [])),
        from: `${remote.address}:${remote.port}`,
      });
    });
  }

  static async open(proxy: DroppingDnsProxy): Promise<Client> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const client = new Client(socket, proxy);
    opened.push(client);
    return client;
  }

  /** Send one query; returns its id. */
  ask(name: string, type: 'A' | 'AAAA'): number {
    const id = randomInt(0, 65536);
    this.socket.send(dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] }), this.proxy.port, this.proxy.host);
    return id;
  }

  /** Wait for the reply to query `id`. */
  async reply(id: number): Promise<Reply> {
    await waitUntil(() => this.replies.some((reply) => reply.id === id), `a reply to query id ${id}`, 5_000);
    return this.replies.find((reply) => reply.id === id)!;
  }

  close(): void {
    this.socket.close();
  }
}

const opened: Array<{ close(): void | Promise<void> }> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
});

async function setUp(options: Omit<DroppingProxyOptions, 'upstream'> = {}): Promise<{ server: DnsTestServer; proxy: DroppingDnsProxy }> {
  const server = await DnsTestServer.start();
  opened.push(server);
  server.setRecords('web.test', { A: ['10.0.0.1'], AAAA: ['fd00::1'], ttl: 5 });
  server.setRecords('api.test', { A: ['10.0.0.2'], ttl: 5 });
  const proxy = await DroppingDnsProxy.start({ ...options, upstream: server.nameserver });
  opened.push(proxy);
  return { server, proxy };
}

describe('harness/dropping-proxy', () => {
  it('forwards queries to the server and replies from the address the client asked', async () => {
    const { server, proxy } = await setUp();
    const client = await Client.open(proxy);
    const a = await client.reply(client.ask('web.test', 'A'));
    const aaaa = await client.reply(client.ask('WEB.test', 'AAAA'));
    expect(a.addresses).toEqual(['10.0.0.1']);
    expect(aaaa.addresses).toEqual(['fd00::1']);
    expect(a.from).toBe(proxy.address);
    expect(server.countQueries()).toBe(2);
    expect(proxy.counters).toMatchObject({ queries: 2, replies: 2, droppedQueries: 0, droppedReplies: 0 });
    expect(proxy.sessions).toBe(1);
  });

  it('drops exactly the next query matching a name and type, and only that one', async () => {
    const { server, proxy } = await setUp();
    const client = await Client.open(proxy);
    const order = proxy.dropNext({ name: 'web.test.', type: 'AAAA' });
    const otherName = client.ask('api.test', 'AAAA');
    const a = client.ask('web.test', 'A');
    const lost = client.ask('web.test', 'AAAA');
    await client.reply(otherName);
    await client.reply(a);
    const [dropped] = await order.done;
    expect(dropped).toMatchObject({ direction: 'query', cause: 'order', name: 'web.test', type: 'AAAA' });
    // The next AAAA of the name passes: the order was for one.
    const again = await client.reply(client.ask('web.test', 'AAAA'));
    expect(again.addresses).toEqual(['fd00::1']);
    expect(client.replies.some((reply) => reply.id === lost)).toBe(false);
    expect(server.countQueries({ name: 'web.test', type: 'AAAA' })).toBe(1);
    expect(proxy.counters).toMatchObject({ droppedQueries: 1, order: 1 });
  });

  it('drops the next query of any kind with an empty order; a cancelled order drops nothing', async () => {
    const { server, proxy } = await setUp();
    const client = await Client.open(proxy);
    const cancelled = proxy.dropNext({ name: 'api.test' });
    expect(cancelled.cancel()).toBe(0);
    const any = proxy.dropNext();
    client.ask('web.test', 'A');
    await any.done;
    const next = await client.reply(client.ask('api.test', 'A'));
    expect(next.addresses).toEqual(['10.0.0.2']);
    expect(server.countQueries()).toBe(1);
  });

  it('reproduces the conntrack race: the second of two queries sent together from one socket is lost', async () => {
    const { server, proxy } = await setUp({ conntrackRace: { windowMs: 50 } });
    const glibcLike = await Client.open(proxy);
    const a = glibcLike.ask('web.test', 'A');
    const raced = glibcLike.ask('web.test', 'AAAA');
    // Another socket is another conntrack entry: its pair's first query passes.
    const other = await Client.open(proxy);
    const otherA = other.ask('web.test', 'A');
    await glibcLike.reply(a);
    await other.reply(otherA);
    expect(proxy.drops.filter((drop) => drop.cause === 'conntrack-race').map((drop) => `${drop.name} ${drop.type}`)).toEqual(['web.test AAAA']);
    // Sent alone, after the window, the retry passes (what glibc and c-ares do after their timeout).
    await sleep(60);
    const retry = await glibcLike.reply(glibcLike.ask('web.test', 'AAAA'));
    expect(retry.addresses).toEqual(['fd00::1']);
    expect(glibcLike.replies.some((reply) => reply.id === raced)).toBe(false);
    expect(server.countQueries({ type: 'AAAA' })).toBe(1);
    proxy.setConntrackRace(false);
    const pair = [glibcLike.ask('api.test', 'A'), glibcLike.ask('web.test', 'A')];
    for (const id of pair) await glibcLike.reply(id);
  });

  it('drops queries at random with the fraction asked (a known random sequence)', async () => {
    const sequence = [0.05, 0.5, 0.09, 0.95];
    let next = 0;
    const { server, proxy } = await setUp({ loss: 0.1, lossDirection: 'queries', random: () => sequence[next++ % sequence.length]! });
    const client = await Client.open(proxy);
    const ids = [0, 1, 2, 3].map(() => client.ask('web.test', 'A'));
    await client.reply(ids[1]!);
    await client.reply(ids[3]!);
    expect(server.countQueries()).toBe(2);
    expect(proxy.counters).toMatchObject({ queries: 4, droppedQueries: 2, random: 2, replies: 2, droppedReplies: 0 });
  });

  it('drops replies at random when told to: the server answered, the client never heard', async () => {
    const { server, proxy } = await setUp({ loss: 1, lossDirection: 'replies' });
    const client = await Client.open(proxy);
    client.ask('web.test', 'A');
    await waitUntil(() => proxy.counters.droppedReplies === 1, 'the reply dropped', 5_000);
    expect(server.countQueries()).toBe(1);
    proxy.setLoss(0);
    const kept = await client.reply(client.ask('web.test', 'A'));
    expect(kept.addresses).toEqual(['10.0.0.1']);
    expect(client.replies).toHaveLength(1);
  });

  it('keeps at most maxSessions client sessions, evicting the least recently used', async () => {
    const { proxy } = await setUp({ maxSessions: 2 });
    const clients = [await Client.open(proxy), await Client.open(proxy), await Client.open(proxy)];
    for (const client of clients) await client.reply(client.ask('web.test', 'A'));
    expect(proxy.sessions).toBe(2);
    expect(proxy.counters.evictedSessions).toBe(1);
    // The evicted client asks again: a new session, and an answer.
    const first = await clients[0]!.reply(clients[0]!.ask('web.test', 'A'));
    expect(first.addresses).toEqual(['10.0.0.1']);
  });

  it('closes idle sessions', async () => {
    const { proxy } = await setUp({ sessionIdleMs: 50 });
    const client = await Client.open(proxy);
    await client.reply(client.ask('web.test', 'A'));
    await waitUntil(() => proxy.sessions === 0, 'the idle session closed', 5_000);
  });

  it('rejects bad options with an error naming them', async () => {
    const upstream = { host: '127.0.0.1', port: 53 };
    await expect(DroppingDnsProxy.start({ upstream, loss: 1.5 })).rejects.toThrow(/loss must be a fraction from 0 to 1, got 1.5/);
    await expect(DroppingDnsProxy.start({ upstream: { host: 'localhost', port: 53 } })).rejects.toThrow(/upstream must be/);
    await expect(DroppingDnsProxy.start({ upstream, conntrackRace: { windowMs: 0 } })).rejects.toThrow(/windowMs/);
    await expect(DroppingDnsProxy.start({ upstream, maxSessions: 0 })).rejects.toThrow(/maxSessions/);
    const { proxy } = await setUp();
    expect(() => proxy.dropNext({ count: 0 })).toThrow(/count must be an integer/);
    expect(() => proxy.setLoss(0.5, 'sideways' as never)).toThrow(/'queries', 'replies' or 'both'/);
  });

  it('close() is idempotent and closes every socket', async () => {
    const { proxy } = await setUp();
    const client = await Client.open(proxy);
    await client.reply(client.ask('web.test', 'A'));
    await Promise.all([proxy.close(), proxy.close()]);
    expect(proxy.sessions).toBe(0);
    expect(() => proxy.port).toThrow();
  });

  const binary = dnsmasqBinary();
  it.skipIf(!binary)('sits in front of a real dnsmasq', async () => {
    const dnsmasq = await Dnsmasq.start({ ttl: 5 });
    opened.push(dnsmasq);
    await dnsmasq.setHost('svc.ns.svc.cluster.local', ['10.1.0.1', '10.1.0.2']);
    const proxy = await DroppingDnsProxy.start({ upstream: dnsmasq.nameserver });
    opened.push(proxy);
    const client = await Client.open(proxy);
    proxy.dropNext({ type: 'A' });
    client.ask('svc.ns.svc.cluster.local', 'A');
    const answered = await client.reply(client.ask('svc.ns.svc.cluster.local', 'A'));
    expect(answered.addresses.sort()).toEqual(['10.1.0.1', '10.1.0.2']);
    expect(client.replies).toHaveLength(1);
  });
});
