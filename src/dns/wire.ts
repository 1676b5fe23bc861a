import * as dnsPacket from 'dns-packet';
import type { QueryType } from './types.js';
import { CLASS_IN, HEADER_SIZE, OPT_SIZE, TYPE_A, TYPE_AAAA, decodeCommonReply, encodeQueryFast, ttlFromWire, type ReplyPacket } from './fast-wire.js';


/** rcodes (RFC 1035 §4.1.1) the resolver distinguishes. */
export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;

const RCODE_NAMES: Readonly<Record<number, string>> = { 1: 'FORMERR', 2: 'SERVFAIL', 3: 'NXDOMAIN', 4: 'NOTIMP', 5: 'REFUSED' };

/** An rcode as messages name it: `SERVFAIL`, or `rcode 9` for one without a name here. */
export function rcodeName(rcode: number): string {
  return RCODE_NAMES[rcode] ?? `rcode ${rcode}`;
}

/** A reply that answers the question: NOERROR, or NXDOMAIN (the name does not exist). */
export function usableRcode(rcode: number): boolean {
  return rcode === RCODE.NOERROR || rcode === RCODE.NXDOMAIN;
}

/** The rcode of a decoded reply (the low 4 bits of its flags). */
export function rcodeOf(packet: ReplyPacket): number {
  return (packet.flags ?? 0) & 0xf;
}

/**
 * Longest chain of compression pointers pointing at pointers that a message
 * may hold. dns-packet follows pointers without a hop limit (it only forbids
 * forward ones), so a "ladder" of pointers each pointing at the one before
 * makes every name in a 64 KiB message cost thousands of hops: about 0.2 s of
 * blocked event loop per message. Real encoders point at labels, never at
 * pointers, so a chain of 8 is already absurd.
 */
export const MAX_POINTER_CHAIN = 8;

/**
 * Answer records decoded from one response; the rest are ignored. A maximum
 * TCP message (65,535 bytes) holds at most 4,094 A records (16 bytes each with
 * a compressed owner name) and fewer of anything else that carries an
 * address, so 4,096 never cuts a genuine answer short: every pod of a large
 * headless Service arrives. It bounds the decoding work a response can
 * demand together with {@link MAX_ANSWER_LABELS}: dns-packet decodes every
 * record it is told of, and a hostile record's owner name may be 127 labels
 * (see docs/hostile-input.md).
 */
export const MAX_ANSWER_RECORDS = 4_096;

/**
 * Label budget for the answer section of one response: every label of an
 * owner name or of a name in rdata is one step dns-packet takes, and with
 * compression a 2-byte pointer can stand for a 127-label name. 12 per
 * record lets a maximum genuine answer through whole (4,094 A records owned
 * by a name of up to 11 labels; `svc.ns.svc.cluster.local` has 5), where a
 * hostile one of {@link MAX_ANSWER_RECORDS} records owned by 127-label
 * chains would cost 520,000 (~80 ms of blocked event loop). Decoding stops
 * before the record that goes past the budget.
 */
export const MAX_ANSWER_LABELS = 12 * MAX_ANSWER_RECORDS;


/** A query for `name`/`type`, with an EDNS(0) OPT record advertising `udpPayloadSize` unless it is 0 (TCP). */
export function encodeQuery(id: number, name: string, type: QueryType, udpPayloadSize: number): Buffer {
  // The same bytes either way; dns-packet for names the direct writer declines.
  return encodeQueryFast(id, name, type, udpPayloadSize) ?? dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ type, class: 'IN', name }],
    additionals:
      udpPayloadSize > 0
        ? [{ type: 'OPT', name: '.', udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
        : [],
  });
}

/** Where the question of a query made by {@link encodeQuery} ends (the OPT record follows it). */
export function questionEnd(query: Buffer, withOpt: boolean): number {
  return withOpt ? query.length - OPT_SIZE : query.length;
}

/**
 * Whether `message` claims to answer `query` (RFC 5452): the same id, the
 * response bit, exactly one question, and that question byte for byte the
 * one asked except for ASCII letter case in the name. Read off the wire before
 * any decoding, so a flood of foreign or forged messages costs no decoding.
 * `end` is {@link questionEnd} of `query`.
 */
export function answersQuery(message: Buffer, query: Buffer, end: number): boolean {
  if (message.length < end) return false;
  if (message[0] !== query[0] || message[1] !== query[1]) return false;
  if ((message[2]! & 0x80) === 0 || message[4] !== 0 || message[5] !== 1) return false;
  const nameEnd = end - 4;
  for (let i = HEADER_SIZE; i < nameEnd; i++) {
    const got = message[i]!;
    const asked = query[i]!;
    if (got === asked) continue;
    // Length bytes are below 64, so only letters can match this way.
    const folded = asked | 0x20;
    if ((got | 0x20) !== folded || folded < 0x61 || folded > 0x7a) return false;
  }
  for (let i = nameEnd; i < end; i++) if (message[i] !== query[i]) return false;
  return true;
}

/** Answer records a message announces (before {@link decodeReply} caps them). */
export function announcedAnswers(message: Buffer): number {
  return message.length >= HEADER_SIZE ? message.readUInt16BE(6) : 0;
}

/**
 * The decoded reply, or a string saying what is wrong with it (never a
 * throw). At most {@link MAX_ANSWER_RECORDS} answers and
 * {@link MAX_ANSWER_LABELS} labels of names in them are decoded, and neither
 * the authority nor the additional section: a stub resolver reads neither,
 * and every record decoded is work a hostile server chooses. dns-packet
 * decodes as many records as the header announces, so the header is
 * rewritten *in place*: `message` must be a buffer we own (a received datagram
 * or TCP frame) and is read afterwards only through the returned packet.
 * `end` is where the question ends (checked by {@link answersQuery}).
 */
export function decodeReply(message: Buffer, end: number): ReplyPacket | string {
  if (message.length < HEADER_SIZE) return 'shorter than a DNS header';
  if (hasPointerLadder(message)) return `a compression-pointer chain longer than ${MAX_POINTER_CHAIN}`;
  const announced = Math.min(message.readUInt16BE(6), MAX_ANSWER_RECORDS);
  const badAddress = badAddressRecord(message, end, announced);
  if (badAddress) return badAddress;
  // The counts zeroed first, as dns-packet reads them below (a hostile name may point into the header).
  zeroCounts(message);
  // The common shape (A/AAAA/CNAME answers) read directly, exactly as below, label budget included; anything else below.
  const common = decodeCommonReply(message, end, announced, MAX_ANSWER_LABELS);
  if (common) return common;
  return decodeByDnsPacket(message, announced, MAX_ANSWER_LABELS);
}

/**
 * The reference reading: header and question by dns-packet, then the first
 * `announced` answer records one by one, stopping before the one that takes
 * the labels of their names past `maxLabels`. Rewrites the header's counts in
 * place (see {@link decodeReply}). A TTL with the top bit set reads as 0
 * (RFC 2181 §8, {@link ttlFromWire}): dns-packet hands it over as is.
 */
export function decodeByDnsPacket(message: Buffer, announced: number, maxLabels: number): dnsPacket.DecodedPacket | string {
  // Header and question by dns-packet; the answers one by one below, so the label budget can stop them.
  zeroCounts(message);
  try {
    const packet = dnsPacket.decode(message);
    let offset = dnsPacket.decode.bytes;
    let labels = 0;
    const answers: dnsPacket.Answer[] = [];
    while (answers.length < announced) {
      const answer = answerCodec.decode(message, offset);
      labels += labelsIn(answer);
      if (labels > maxLabels) break;
      offset += answerCodec.decode.bytes;
      const record = answer as { ttl?: number };
      if (typeof record.ttl === 'number') record.ttl = ttlFromWire(record.ttl);
      answers.push(answer);
    }
    packet.answers = answers;
    return packet;
  } catch (error) {
    return `malformed: ${(error as Error).message}`;
  }
}

/** The header's answer, authority and additional counts set to 0, in place. */
export function zeroCounts(message: Buffer): void {
  message.writeUInt16BE(0, 6);
  message.writeUInt32BE(0, 8);
}

/** dns-packet's record codec (exported, but missing from its type definitions). */
const answerCodec = (dnsPacket as unknown as { answer: { decode: ((buf: Buffer, offset: number) => dnsPacket.Answer) & { bytes: number } } }).answer;

/** Labels of the names dns-packet decoded for one record: its owner and any name in its rdata. */
function labelsIn(answer: dnsPacket.Answer): number {
  const count = (name: unknown): number => (typeof name === 'string' && name !== '.' && name !== '' ? name.split('.').length : 0);
  const labels = 1 + count(answer.name);
  if (answer.type === 'A' || answer.type === 'AAAA') return labels;
  const data = (answer as { data?: unknown }).data;
  if (typeof data === 'string') return labels + count(data);
  let inData = 0;
  if (data && typeof data === 'object' && !Buffer.isBuffer(data) && !Array.isArray(data)) {
    for (const value of Object.values(data)) inData += count(value);
  }
  return labels + inData;
}

/**
 * An A record of class IN whose data is not 4 bytes, or an AAAA not 16:
 * dns-packet would read the first 4 (16) bytes as an address and go on out
 * of step, so such a reply is refused rather than half-read. Walks the answer
 * section's record headers without following pointers (linear, no
 * allocation); a structure it cannot walk is left to dns-packet to refuse.
 */
export function badAddressRecord(message: Buffer, end: number, answers: number): string | null {
  let offset = end;
  for (let record = 0; record < answers; record++) {
    offset = skipName(message, offset);
    if (offset < 0 || offset + 10 > message.length) return null;
    const type = message.readUInt16BE(offset);
    const rdlength = message.readUInt16BE(offset + 8);
    if ((message.readUInt16BE(offset + 2) & 0x7fff) === CLASS_IN) {
      if (type === TYPE_A && rdlength !== 4) return `an A record with ${rdlength} bytes of data where an IPv4 address has 4`;
      if (type === TYPE_AAAA && rdlength !== 16) return `an AAAA record with ${rdlength} bytes of data where an IPv6 address has 16`;
    }
    offset += 10 + rdlength;
  }
  return null;
}

/** The offset just past the name at `offset` (labels up to a root label or a pointer), or -1. */
function skipName(message: Buffer, offset: number): number {
  while (offset < message.length) {
    const length = message[offset]!;
    if (length === 0) return offset + 1;
    if ((length & 0xc0) === 0xc0) return offset + 2;
    if ((length & 0xc0) !== 0) return -1;
    offset += 1 + length;
  }
  return -1;
}

const ladderDepth = new Uint8Array(65_536);

/**
 * Whether some compression pointer starts a chain of more than
 * {@link MAX_POINTER_CHAIN} pointers pointing at pointers. Linear: every byte
 * pair that looks like a backward pointer gets the depth of its target plus
 * one. It over-approximates (rdata bytes may look like pointers), which only
 * matters for chains longer than the limit, which random data does not form.
 */
export function hasPointerLadder(message: Buffer): boolean {
  // One scratch array for every call (a message is at most 64 KiB): cleared, not allocated, per message.
  const depth = message.length <= ladderDepth.length ? ladderDepth.fill(0, 0, message.length) : new Uint8Array(message.length);
  for (let i = HEADER_SIZE; i + 1 < message.length; i++) {
    if ((message[i]! & 0xc0) !== 0xc0) continue;
    const target = ((message[i]! & 0x3f) << 8) | message[i + 1]!;
    if (target >= i) continue;
    const chain = depth[target]! + 1;
    if (chain > MAX_POINTER_CHAIN) return true;
    depth[i] = chain;
  }
  return false;
}
