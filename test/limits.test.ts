/**
 * Every limit a hostile or broken DNS server (or user) can run into, each
 * with its error or its documented truncation, at and just past the limit:
 * answers used per response, CNAME depth, TCP message size, bytes and read
 * timeout, UDP reply size, compression-pointer chains, addresses handed to
 * grpc-js, and the name rules for targets. docs/hostile-input.md gives the
 * reasons for each value.
 */
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DnsClient } from '../src/dns/client.js';
import { MAX_TCP_BYTES_PER_QUERY, MAX_TCP_MESSAGE_SIZE } from '../src/dns/tcp-exchange.js';
import { MAX_UDP_REPLY_SIZE } from '../src/dns/udp-tries.js';
import { UDP_PORT_MAX_AGE_MS } from '../src/dns/udp-lane.js';
import type { Timers } from '../src/dns/timers.js';
import { hasPointerLadder, MAX_ANSWER_LABELS, MAX_ANSWER_RECORDS, MAX_POINTER_CHAIN } from '../src/dns/wire.js';
import { StubResolver } from '../src/dns/stub-resolver.js';
import { MAX_CNAME_DEPTH } from '../src/dns/answer-records.js';
import type { Nameserver } from '../src/dns/types.js';
import { ListenerAdapter, MAX_ADDRESSES_TO_GRPC, type HostPort } from '../src/grpc/listener.js';
import type { GrpcModuleLike } from '../src/grpc/types.js';
import { MAX_LABEL_LENGTH, MAX_NAME_LENGTH } from '../src/dns/names.js';
import { TargetError, parseTarget } from '../src/target.js';
import { setTraceSink, trace } from '../src/watch/trace.js';
import { opaqueRecord, pointerLadder } from '../harness/hostile-messages.js';
import { recordingTimers } from '../harness/recording-timers.js';
import { expectDnsError } from '../harness/resolver-helpers.js';
import { ScriptedDnsServer, tcpFrame } from '../harness/scripted-dns.js';
import { serverFixture } from '../harness/server-fixture.js';
import { escapeRegExp } from '../harness/within.js';

const NAME = 'limits.test';

const { start: dnsServer, cleanups } = serverFixture();
let traces: string[] = [];

beforeEach(() => {
  traces = [];
  setTraceSink((text) => traces.push(text));
});

afterEach(async () => {
  setTraceSink(null);
});

function resolverFor(nameservers: Nameserver[], timeoutMs = 2_000): StubResolver {
  const resolver = new StubResolver({
    resolvConf: { nameservers, search: [], ndots: 1, timeoutMs, attempts: 1, warnings: [] },
    hostsPath: false,
    trace,
  });
  cleanups.push(() => resolver.close());
  return resolver;
}

function clientFor(timeoutMs: number, timers?: Timers): DnsClient {
  const client = new DnsClient({ timeoutMs, attempts: 1, timers });
  cleanups.push(() => client.close());
  return client;
}

/** `n` distinct IPv4 addresses 10.x.y.z, in an order that is not sorted. */
function manyV4(n: number, prefix = 10): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}.${(i >> 8) & 255}.${i & 255}.${1 + ((i * 7) % 250)}`);
}

/** The per-try timeouts a client scheduled (its UDP ports' age timers left out). */
function tryTimeouts(timers: { delays: number[] }): number[] {
  return timers.delays.filter((ms) => ms !== UDP_PORT_MAX_AGE_MS);
}

/**
 * The scripted responder answering every UDP query with TC set (our id and
 * question), and on TCP on the same port as the test chooses.
 */
async function truncatingServerWithTcp(
  onQuery: (socket: net.Socket, query: dnsPacket.DecodedPacket) => void,
  udpReply: (query: dnsPacket.DecodedPacket) => Buffer = (query) =>
    dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.TRUNCATED_RESPONSE, questions: query.questions }),
): Promise<Nameserver> {
  const server = await ScriptedDnsServer.start((query) => udpReply(query.packet), { tcp: (query, socket) => onQuery(socket, query.packet) });
  cleanups.push(() => server.close());
  return server.nameserver;
}

function genuineReply(query: dnsPacket.DecodedPacket, addresses: string[] = ['10.9.0.1']): Buffer {
  const question = query.questions![0]!;
  return dnsPacket.encode({
    type: 'response',
    id: query.id,
    flags: dnsPacket.AUTHORITATIVE_ANSWER,
    questions: [question],
    answers: addresses.map((data) => ({ type: 'A', class: 'IN', name: question.name, ttl: 30, data })),
  });
}

// ------------------------------------------------------------------ answers

/** A reply to `query` (our id and question) whose answer section is `records`, raw. */
function rawReply(query: dnsPacket.DecodedPacket, records: Buffer[]): Buffer {
  const head = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions });
  head.writeUInt16BE(records.length, 6);
  return Buffer.concat([head, ...records]);
}

/** An A record owned by the question's name (a pointer to offset 12), 16 bytes. */
function pointedA(address: string): Buffer {
  return Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, ...address.split('.').map(Number)]);
}

/** A record of an unknown type with empty rdata and the given owner name bytes: cheap filler. */
function filler(owner: Buffer = Buffer.from([0])): Buffer {
  return Buffer.concat([owner, Buffer.from([0xff, 0x00, 0, 1, 0, 0, 0, 30, 0, 0])]);
}

describe(`answers used per response: every address, MAX_ANSWER_RECORDS (${MAX_ANSWER_RECORDS}), MAX_ANSWER_LABELS (${MAX_ANSWER_LABELS})`, () => {
  it('uses every address of a maximum-size TCP answer (4,094 A records), whatever their order, with no trace', async () => {
    // 65,535 bytes: 12 header + 17 question + 16 per A record owned by a compressed name.
    const all = manyV4(Math.floor((65_535 - 12 - (NAME.length + 2) - 4) / 16));
    expect(all).toHaveLength(4_094);
    let order = all;
    const server = await truncatingServerWithTcp((socket, query) => {
      const reply = rawReply(query, order.map(pointedA));
      expect(reply.length).toBeLessThanOrEqual(MAX_TCP_MESSAGE_SIZE);
      socket.end(tcpFrame(reply));
    });
    const resolver = resolverFor([server]);
    for (const next of [all, [...all].reverse()]) {
      order = next;
      const resolution = await resolver.resolve(NAME, 4);
      expect(resolution.addresses.map((entry) => entry.address).sort()).toEqual([...all].sort());
    }
    expect(traces.filter((line) => line.includes('MAX_'))).toEqual([]);
  });

  it('decodes at most MAX_ANSWER_RECORDS answer records of a reply, and traces it', async () => {
    // Past the limit, records whose addresses would sort first: never seen.
    // Root-owned filler (11 bytes a record) is what lets so many fit in 64 KB.
    const used = manyV4(100, 20);
    const ignored = manyV4(40, 1);
    const records = [...used.map(pointedA), ...Array.from({ length: MAX_ANSWER_RECORDS - used.length }, () => filler()), ...ignored.map(pointedA)];
    const server = await truncatingServerWithTcp((socket, query) => socket.end(tcpFrame(rawReply(query, records))));
    const resolution = await resolverFor([server]).resolve(NAME, 4);
    expect(resolution.addresses.map((entry) => entry.address).sort()).toEqual([...used].sort());
    expect(traces).toContain(`${NAME} A: reply holds ${MAX_ANSWER_RECORDS + 40} answer records; using the first ${MAX_ANSWER_RECORDS} (MAX_ANSWER_RECORDS)`);
  });

  it('stops decoding at MAX_ANSWER_LABELS: records owned by 127-label names cannot buy 4,096 x 127 decoding steps', async () => {
    // One owner name of 127 one-letter labels (255 octets), then records owned by a pointer to it:
    // 12 bytes on the wire, 128 labels of decoding each.
    const longName = Buffer.concat([...Array.from({ length: 127 }, () => Buffer.from([1, 0x62])), Buffer.from([0])]);
    const used = manyV4(10, 20);
    const ignored = manyV4(10, 1);
    let expensive: Buffer[] = [];
    const server = await truncatingServerWithTcp((socket, query) => {
      const longNameAt = rawReply(query, used.map(pointedA)).length;
      const pointer = Buffer.from([0xc0 | (longNameAt >> 8), longNameAt & 0xff]);
      expensive = [filler(longName), ...Array.from({ length: 3_000 }, () => filler(pointer))];
      socket.end(tcpFrame(rawReply(query, [...used.map(pointedA), ...expensive, ...ignored.map(pointedA)])));
    });
    const resolution = await resolverFor([server]).resolve(NAME, 4);
    expect(resolution.addresses.map((entry) => entry.address).sort()).toEqual([...used].sort());
    const announced = used.length + expensive.length + ignored.length;
    const line = traces.find((text) => text.startsWith(`${NAME} A: reply holds ${announced} answer records; using the first `));
    expect(line).toMatch(/\(MAX_ANSWER_LABELS\)$/);
    const decoded = Number(/using the first (\d+)/.exec(line!)![1]);
    // 1 + 2 labels per A record ("limits", "test"), 1 + 127 per expensive one.
    expect(decoded).toBe(used.length + Math.floor((MAX_ANSWER_LABELS - used.length * 3) / 128));
  });
});

// -------------------------------------------------------------------- CNAME

describe(`CNAME depth: MAX_CNAME_DEPTH (${MAX_CNAME_DEPTH})`, () => {
  /** One CNAME per reply, so every hop costs a re-query. */
  async function chainServer(hops: number, loopTo?: number): Promise<ScriptedDnsServer> {
    const server = await ScriptedDnsServer.start(({ name, type }) => {
      const match = /^hop(\d+)\.test$/.exec(name);
      if (!match) return { rcode: 3 };
      const n = Number(match[1]);
      if (n === hops) return { answers: type === 'A' ? [{ type: 'A', name, ttl: 30, data: '10.8.0.1' }] : [] };
      const next = loopTo !== undefined && n === hops - 1 ? loopTo : n + 1;
      return { answers: [{ type: 'CNAME', name, ttl: 30, data: `hop${next}.test` }] };
    });
    cleanups.push(() => server.close());
    return server;
  }

  it(`follows ${MAX_CNAME_DEPTH} hops across re-queries and refuses ${MAX_CNAME_DEPTH + 1} with BADRESPONSE`, async () => {
    const ok = await chainServer(MAX_CNAME_DEPTH);
    expect((await resolverFor([ok.nameserver]).resolve('hop0.test', 4)).addresses.map((a) => a.address)).toEqual(['10.8.0.1']);
    expect(ok.queries).toHaveLength(MAX_CNAME_DEPTH + 1);
    const long = await chainServer(MAX_CNAME_DEPTH + 1);
    const error = await expectDnsError(resolverFor([long.nameserver]).resolve('hop0.test', 4), 'BADRESPONSE');
    expect(error.message).toBe(`Could not ask DNS for hop0.test A: its CNAME chain is longer than ${MAX_CNAME_DEPTH} hops`);
    expect(long.queries).toHaveLength(MAX_CNAME_DEPTH + 1);
  });

  it('refuses a CNAME loop across re-queries with BADRESPONSE, after one query per name', async () => {
    const server = await chainServer(5, 2);
    const error = await expectDnsError(resolverFor([server.nameserver]).resolve('hop0.test', 4), 'BADRESPONSE');
    expect(error.message).toMatch(/^Could not ask DNS for hop0\.test A: its CNAME chain loops back to hop2\.test$/);
    expect(server.queries).toHaveLength(5);
  });

  it('refuses to re-query for a CNAME target that is not a valid name', async () => {
    const server = await ScriptedDnsServer.start(({ name }) => ({ answers: [{ type: 'CNAME', name, ttl: 30, data: '.' }] }));
    cleanups.push(() => server.close());
    const error = await expectDnsError(resolverFor([server.nameserver]).resolve(NAME, 4), 'BADRESPONSE');
    expect(error.message).toBe(`Could not ask DNS for ${NAME} A: its CNAME chain points to an invalid name ""`);
    expect(server.queries).toHaveLength(1);
    // The rule every asked name follows (src/dns/names.ts), as glibc's res_hnok refuses such answers.
    const slash = await ScriptedDnsServer.start(({ name }) => ({ answers: [{ type: 'CNAME', name, ttl: 30, data: 'a/b.test' }] }));
    cleanups.push(() => slash.close());
    const notAHost = await expectDnsError(resolverFor([slash.nameserver]).resolve(NAME, 4), 'BADRESPONSE');
    expect(notAHost.message).toBe(`Could not ask DNS for ${NAME} A: its CNAME chain points to an invalid name "a/b.test"`);
    expect(slash.queries).toHaveLength(1);
  });
});

// ---------------------------------------------------------------------- TCP

describe(`TCP: MAX_TCP_MESSAGE_SIZE (${MAX_TCP_MESSAGE_SIZE}), MAX_TCP_BYTES_PER_QUERY (${MAX_TCP_BYTES_PER_QUERY}), read timeout = per-try timeout`, () => {
  it('reads a reply of exactly MAX_TCP_MESSAGE_SIZE bytes', async () => {
    const server = await truncatingServerWithTcp((socket, query) => {
      const reply = genuineReply(query);
      // Pad with one opaque additional record (never decoded) up to the framing maximum.
      const padding = MAX_TCP_MESSAGE_SIZE - reply.length - 11;
      const message = Buffer.concat([reply, opaqueRecord(padding), Buffer.alloc(padding)]);
      message.writeUInt16BE(1, 10);
      expect(message.length).toBe(MAX_TCP_MESSAGE_SIZE);
      socket.end(tcpFrame(message));
    });
    const reply = await clientFor(2_000).query([server], NAME, 'A');
    expect(reply.transport).toBe('tcp');
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : answer.type))).toEqual(['10.9.0.1']);
  });

  it('gives up with BADRESPONSE after MAX_TCP_BYTES_PER_QUERY bytes without its answer', async () => {
    let written = 0;
    const server = await truncatingServerWithTcp((socket, query) => {
      // Well-framed, maximum-size messages that are not ours, without end.
      const foreign = Buffer.alloc(MAX_TCP_MESSAGE_SIZE);
      foreign.writeUInt16BE((query.id! + 1) % 65_536, 0);
      const write = (): void => {
        if (socket.destroyed) return;
        written += foreign.length + 2;
        if (socket.write(tcpFrame(foreign))) setImmediate(write);
        else socket.once('drain', write);
      };
      write();
    });
    // BADRESPONSE with this message, not TIMEOUT: the byte cap ended the try, not the 5 s clock.
    const error = await expectDnsError(clientFor(5_000).query([server], NAME, 'A'), 'BADRESPONSE');
    expect(error.message).toContain(`sent more than ${MAX_TCP_BYTES_PER_QUERY} bytes over TCP without an answer`);
    expect(written).toBeGreaterThan(MAX_TCP_BYTES_PER_QUERY);
  });

  it('times out a server that accepts the connection and never answers, within the per-try timeout', async () => {
    const server = await truncatingServerWithTcp(() => undefined);
    const timers = recordingTimers();
    const started = Date.now();
    const error = await expectDnsError(clientFor(300, timers).query([server], NAME, 'A'), 'TIMEOUT');
    expect(error.message).toContain(': no TCP reply from');
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    // What bounds it: one timer of the per-try timeout for the UDP try, one for the TCP try.
    expect(tryTimeouts(timers)).toEqual([300, 300]);
  });

  it('cuts a server that trickles bytes forever at the per-try timeout', async () => {
    const server = await truncatingServerWithTcp((socket, query) => {
      const reply = tcpFrame(genuineReply(query));
      let sent = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) return clearInterval(timer);
        // Never the last byte: the message never completes.
        if (sent < reply.length - 1) socket.write(reply.subarray(sent, ++sent));
        else socket.write(Buffer.alloc(0));
      }, 10);
      socket.on('close', () => clearInterval(timer));
    });
    const timers = recordingTimers();
    const error = await expectDnsError(clientFor(300, timers).query([server], NAME, 'A'), 'TIMEOUT');
    expect(error.message).toContain(': no TCP reply from');
    // The trickle never moves the deadline: the TCP try has its one timer, set when it started.
    expect(tryTimeouts(timers)).toEqual([300, 300]);
  });
});

// ------------------------------------------------------- decoding limits

describe(`decoding: MAX_UDP_REPLY_SIZE (${MAX_UDP_REPLY_SIZE}) and MAX_POINTER_CHAIN (${MAX_POINTER_CHAIN})`, () => {
  it('never decodes a UDP reply bigger than MAX_UDP_REPLY_SIZE: it asks again over TCP, as for a truncated one', async () => {
    let tcpQueries = 0;
    let udpReplySize = 0;
    const server = await truncatingServerWithTcp(
      (socket, query) => {
        tcpQueries++;
        socket.end(tcpFrame(genuineReply(query)));
      },
      // Our id and question, and 300 address records (about 7.5 KB) the UDP path must not use.
      (query) => {
        const reply = genuineReply(query, manyV4(300, 66));
        udpReplySize = reply.length;
        return reply;
      },
    );
    const reply = await clientFor(2_000).query([server], NAME, 'A');
    expect(udpReplySize).toBeGreaterThan(MAX_UDP_REPLY_SIZE);
    expect(reply.transport).toBe('tcp');
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : answer.type))).toEqual(['10.9.0.1']);
    expect(tcpQueries).toBe(1);
  });

  it('decodes a UDP reply of exactly MAX_UDP_REPLY_SIZE', async () => {
    const server = await truncatingServerWithTcp(
      () => undefined,
      (query) => {
        const reply = genuineReply(query);
        const padding = MAX_UDP_REPLY_SIZE - reply.length - 11;
        const message = Buffer.concat([reply, opaqueRecord(padding), Buffer.alloc(padding)]);
        message.writeUInt16BE(1, 10);
        return message;
      },
    );
    const reply = await clientFor(2_000).query([server], NAME, 'A');
    expect(reply.transport).toBe('udp');
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : answer.type))).toEqual(['10.9.0.1']);
  });

  it(`drops a message with a compression-pointer chain longer than ${MAX_POINTER_CHAIN} at once, and reads the genuine one after it`, async () => {
    let ladderBytes: Buffer = Buffer.alloc(0);
    const server = await truncatingServerWithTcp((socket, query) => {
      ladderBytes = pointerLadder(query, 16_000, 2_700);
      socket.end(Buffer.concat([tcpFrame(ladderBytes), tcpFrame(genuineReply(query))]));
    });
    const reply = await clientFor(5_000).query([server], NAME, 'A');
    expect(reply.answers.map((answer) => (answer.type === 'A' ? answer.data : answer.type))).toEqual(['10.9.0.1']);
    expect(ladderBytes.length).toBeGreaterThan(60_000);
    expect(hasPointerLadder(ladderBytes)).toBe(true);
    // dns-packet alone decodes the ladder (slowly) into a reply with our id and
    // question: read without the guard, it would have been taken as the answer.
    const unguarded = dnsPacket.decode(ladderBytes);
    expect(unguarded.questions?.[0]?.name).toBe(NAME);
    expect(unguarded.answers).toHaveLength(2_701);
  });
});

// ------------------------------------------------------------ to grpc-js

describe(`addresses handed to grpc-js: MAX_ADDRESSES_TO_GRPC (${MAX_ADDRESSES_TO_GRPC})`, () => {
  const grpc: GrpcModuleLike = {
    Metadata: class {},
    status: { UNAVAILABLE: 14 },
    logVerbosity: { DEBUG: 0 },
    experimental: { registerResolver: () => undefined, trace: () => undefined, endpointToString: () => '' },
  };

  /** A 1.14-style callback listener recording the hosts of each update. */
  function callbackListener(): { listener: (result: { ok: boolean; value?: unknown[] }) => boolean; updates: string[][] } {
    const updates: string[][] = [];
    const listener = (result: { ok: boolean; value?: unknown[] }): boolean => {
      const endpoints = result.value as Array<{ addresses: HostPort[] }>;
      updates.push(endpoints.map((endpoint) => `${endpoint.addresses[0]!.host}:${endpoint.addresses[0]!.port}`));
      return true;
    };
    return { listener, updates };
  }

  function hostPorts(hosts: string[], port = 50051): HostPort[] {
    return hosts.map((host) => ({ host, port }));
  }

  it('hands over at most MAX_ADDRESSES_TO_GRPC: the lowest, in their order, the same subset for any order, and traces it', () => {
    const { listener, updates } = callbackListener();
    const adapter = new ListenerAdapter(grpc, listener);
    const hosts = [...manyV4(MAX_ADDRESSES_TO_GRPC + 476, 10), 'fd00::1', 'fd00::2'];
    expect(adapter.addresses(hostPorts(hosts))).toBe(true);
    expect(adapter.addresses(hostPorts([...hosts].reverse()))).toBe(true);
    const expected = new Set([...hosts.map((host) => `${host}:50051`)].sort().slice(0, MAX_ADDRESSES_TO_GRPC));
    for (const update of updates) {
      expect(update).toHaveLength(MAX_ADDRESSES_TO_GRPC);
      expect(new Set(update)).toEqual(expected);
    }
    // Order kept: the second update is the first reversed.
    expect(updates[1]).toEqual([...updates[0]!].reverse());
    expect(traces).toHaveLength(2);
    expect(traces[0]).toBe(`${hosts.length} addresses resolved; handing grpc-js the lowest ${MAX_ADDRESSES_TO_GRPC} (MAX_ADDRESSES_TO_GRPC)`);
  });

  it('hands over a list of exactly MAX_ADDRESSES_TO_GRPC whole and in order (also to a 1.10-1.13 object listener)', () => {
    const hosts = manyV4(MAX_ADDRESSES_TO_GRPC);
    const { listener, updates } = callbackListener();
    new ListenerAdapter(grpc, listener).addresses(hostPorts(hosts));
    expect(updates[0]).toEqual(hosts.map((host) => `${host}:50051`));
    const received: unknown[][] = [];
    const object = { onSuccessfulResolution: (list: unknown[]) => received.push(list), onError: () => undefined };
    new ListenerAdapter(grpc, object).addresses(hostPorts([...hosts, '10.255.255.255', '1.1.1.1']));
    expect(received[0]).toHaveLength(MAX_ADDRESSES_TO_GRPC);
    expect(traces).toHaveLength(1);
  });

  it('never hands over an empty list', () => {
    const { listener } = callbackListener();
    expect(() => new ListenerAdapter(grpc, listener as never).addresses([])).toThrow(/never hands grpc-js an empty address list/);
  });
});

// ------------------------------------------------------------ target names

describe(`target names: ${MAX_NAME_LENGTH} characters, labels of 1-${MAX_LABEL_LENGTH} letters, digits, "-" and "_"`, () => {
  const label = (n: number, fill = 'a'): string => fill.repeat(n);
  /** A name of exactly `length` characters made of 63-character labels. */
  const nameOf = (length: number): string => {
    const labels: string[] = [];
    let left = length;
    while (left > 0) {
      const size = Math.min(MAX_LABEL_LENGTH, left === 1 ? 1 : left - (left > MAX_LABEL_LENGTH ? 1 : 0));
      labels.push(label(size));
      left -= size + (left - size > 0 ? 1 : 0);
    }
    return labels.join('.');
  };

  function rejects(path: string, message: string | RegExp): void {
    let error: unknown;
    try {
      parseTarget({ path });
    } catch (caught) {
      error = caught;
    }
    expect(error, path).toBeInstanceOf(TargetError);
    expect((error as TargetError).message).toMatch(typeof message === 'string' ? new RegExp(`: ${escapeRegExp(message)}; expected dns:`) : message);
  }

  it('accepts names at the limits, a trailing dot, underscores and digits', () => {
    expect(nameOf(MAX_NAME_LENGTH)).toHaveLength(MAX_NAME_LENGTH);
    for (const host of [
      nameOf(MAX_NAME_LENGTH),
      `${nameOf(MAX_NAME_LENGTH)}.`,
      `${label(MAX_LABEL_LENGTH)}.test`,
      '_grpc._tcp.my-svc.ns.svc.cluster.local',
      '0.example',
      'xn--bcher-kva.example',
    ]) {
      expect(parseTarget({ path: `${host}:50051` }), host).toMatchObject({ host, port: 50051, ipLiteral: 0 });
    }
  });

  it('refuses each broken rule with a message saying which', () => {
    rejects(nameOf(MAX_NAME_LENGTH + 1), `host name is ${MAX_NAME_LENGTH + 1} characters, more than ${MAX_NAME_LENGTH}`);
    rejects(`${label(MAX_LABEL_LENGTH + 1)}.test`, `label "${label(20)}…" is ${MAX_LABEL_LENGTH + 1} characters, more than ${MAX_LABEL_LENGTH}`);
    rejects('a..test', 'empty label in host name (two dots in a row, or a leading dot)');
    rejects('.test', 'empty label in host name (two dots in a row, or a leading dot)');
    rejects('.', 'the host is only the root "."');
    rejects('', 'no host');
    rejects(':50051', 'no host');
    rejects('bad name.test', '"bad name" is not a valid DNS label: character " " is not allowed (letters, digits, "-" and "_"; IDNs in punycode)');
    rejects('bücher.example', '"bücher" is not a valid DNS label: character "ü" is not allowed (letters, digits, "-" and "_"; IDNs in punycode)');
    rejects('a/b.test', /character "\/" is not allowed/);
    rejects('evil\nname.test', /"evil\\nname" is not a valid DNS label: character "\\n" is not allowed/);
    rejects('-svc.test', '"-svc" is not a valid DNS label: it starts or ends with "-"');
    rejects('svc-.test', '"svc-" is not a valid DNS label: it starts or ends with "-"');
  });

  it('the stub resolver refuses by the same rule, with BADNAME and the same reason, before sending anything', async () => {
    const server = await dnsServer();
    const resolver = resolverFor([server.nameserver]);
    const long = await expectDnsError(resolver.resolve(nameOf(MAX_NAME_LENGTH + 1), 4), 'BADNAME');
    expect(long.message).toMatch(/: host name is 254 characters, more than 253$/);
    const labelTooLong = await expectDnsError(resolver.resolve(`${label(MAX_LABEL_LENGTH + 1)}.test`, 4), 'BADNAME');
    expect(labelTooLong.message).toMatch(/: label "a{20}…" is 64 characters, more than 63$/);
    await expectDnsError(resolver.resolve('a..test', 4), 'BADNAME');
    const character = await expectDnsError(resolver.resolve('a/b.test', 4), 'BADNAME');
    expect(character.message).toBe('Invalid DNS name "a/b.test": "a/b" is not a valid DNS label: character "/" is not allowed (letters, digits, "-" and "_"; IDNs in punycode)');
    await expectDnsError(resolver.resolve('svc-.test', 4), 'BADNAME');
    expect(server.queries).toHaveLength(0);
  });
});
