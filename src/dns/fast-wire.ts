import type * as dnsPacket from 'dns-packet';
import { MAX_LABEL_LENGTH } from './names.js';
import type { QueryType } from './types.js';

/**
 * The common shapes of the wire format, read and written without building
 * dns-packet's intermediate objects: a query for an ASCII name, and a reply
 * whose answers are A, AAAA and CNAME records of class IN. Each gives
 * exactly what dns-packet gives for the same bytes (test/fast-wire.test.ts
 * proves it over generated messages) or declines with `null`, and the
 * caller then goes through dns-packet, which stays the reference codec.
 * Polling spends most of its own CPU here: a poll is two queries and two
 * replies, nearly always of these shapes.
 */

export const TYPE_A = 1;
const TYPE_CNAME = 5;
export const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const TYPE_TXT = 16;
export const CLASS_IN = 1;
const FLAG_RD = 0x0100;
const FLAG_TC = 0x0200;
/** A DNS header is 12 bytes; anything shorter cannot be a reply. */
export const HEADER_SIZE = 12;
/** The EDNS(0) OPT record a query carries without options: root name, type, payload size, extended rcode and flags, no data. */
export const OPT_SIZE = 11;

/** The largest TTL RFC 2181 §8 allows: 2^31 − 1 seconds. */
const MAX_TTL = 0x7fffffff;

/**
 * A TTL as read from the wire, as the resolver uses it: RFC 2181 §8 makes
 * the TTL a value of 0 to 2^31 − 1 and says one with the top bit set is
 * read as 0. Used as is, 0xFFFFFFFF would be a copy held for 136 years: the
 * schedule waiting for it, and the staleness bound built on it, would be
 * nonsense. Both readings of a reply (this file's and dns-packet's in
 * wire.ts) go through it, so they still agree.
 */
export function ttlFromWire(raw: number): number {
  return raw > MAX_TTL ? 0 : raw;
}

/** What the resolver reads from a decoded reply: dns-packet's fields of the same names. */
export type ReplyPacket = Pick<dnsPacket.DecodedPacket, 'flags' | 'flag_tc' | 'answers'>;

/**
 * The bytes `dnsPacket.encode` makes for a recursive query of `name`/`type`
 * with an EDNS(0) OPT record advertising `udpPayloadSize` (none when 0), or
 * null when the name is not plain ASCII labels of 1-63 characters (dns-packet
 * then encodes it). Written straight into one buffer: no packet object, no
 * label list.
 */
export function encodeQueryFast(id: number, name: string, type: QueryType, udpPayloadSize: number): Buffer | null {
  // dns-packet drops one leading and one trailing dot.
  let start = 0;
  let end = name.length;
  if (name.charCodeAt(0) === 0x2e) start = 1;
  if (end > start && name.charCodeAt(end - 1) === 0x2e) end--;
  if (end <= start) return null;
  const nameBytes = end - start + 2;
  const size = HEADER_SIZE + nameBytes + 4 + (udpPayloadSize > 0 ? OPT_SIZE : 0);
  const buf = Buffer.allocUnsafe(size);
  buf.writeUInt16BE(id, 0);
  buf.writeUInt16BE(FLAG_RD, 2);
  buf.writeUInt16BE(1, 4);
  buf.writeUInt32BE(0, 6); // answers, authorities
  buf.writeUInt16BE(udpPayloadSize > 0 ? 1 : 0, 10);
  let lengthAt = HEADER_SIZE;
  let offset = HEADER_SIZE + 1;
  for (let i = start; i < end; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x80) return null;
    if (c === 0x2e) {
      const length = offset - lengthAt - 1;
      if (length === 0 || length > MAX_LABEL_LENGTH) return null;
      buf[lengthAt] = length;
      lengthAt = offset++;
      continue;
    }
    buf[offset++] = c;
  }
  const last = offset - lengthAt - 1;
  if (last === 0 || last > MAX_LABEL_LENGTH) return null;
  buf[lengthAt] = last;
  buf[offset++] = 0;
  buf.writeUInt16BE(type === 'A' ? TYPE_A : type === 'AAAA' ? TYPE_AAAA : TYPE_TXT, offset);
  buf.writeUInt16BE(CLASS_IN, offset + 2);
  offset += 4;
  if (udpPayloadSize > 0) {
    buf[offset] = 0; // root name
    buf.writeUInt16BE(TYPE_OPT, offset + 1);
    buf.writeUInt16BE(udpPayloadSize, offset + 3);
    buf.writeUInt32BE(0, offset + 5); // extended rcode, version, flags
    buf.writeUInt16BE(0, offset + 9); // no options
  }
  return buf;
}

/**
 * What decodeReply (src/dns/wire.ts) reads from `message` with dns-packet, as
 * far as the resolver uses it (flags, TC bit, answer records): the first
 * `count` answer records, stopping before the one that takes the labels of
 * their names past `maxLabels` (counted as wire.ts counts them: one per
 * record plus the dot-separated parts of its owner and of a CNAME target).
 * Only for a reply with one question ending at `questionEnd` whose answer
 * records are A (4 bytes), AAAA (16 bytes) or CNAME of class IN with ASCII
 * names; null for anything else. Authority and additional sections are not
 * read. The caller has zeroed the header's counts, as it does before
 * dns-packet reads the message: a name that points into the header must
 * read the same bytes here as there. Names are read as dns-packet reads them, compression pointers
 * included (backward only; the caller has refused pointer ladders). TTLs
 * go through {@link ttlFromWire}, as wire.ts's dns-packet reading does.
 */
export function decodeCommonReply(message: Buffer, questionEnd: number, count: number, maxLabels: number): ReplyPacket | null {
  if (message.length < HEADER_SIZE || questionEnd > message.length) return null;
  const flags = message.readUInt16BE(2);
  const answers: dnsPacket.Answer[] = [];
  let labels = 0;
  let cachedParts = 0;
  let offset = questionEnd;
  let cachedAt = -1;
  let cachedName = '';
  for (let i = 0; i < count; i++) {
    // The usual owner is a pointer to one earlier name (the question): read it once.
    let owner: string | null;
    let ownerParts: number;
    if (offset + 1 < message.length && message[offset]! >= 0xc0) {
      const target = ((message[offset]! & 0x3f) << 8) | message[offset + 1]!;
      if (target !== cachedAt) {
        const name = readName(message, offset);
        if (name === null) return null;
        cachedAt = target;
        cachedName = name;
        cachedParts = nameParts;
      }
      owner = cachedName;
      ownerParts = cachedParts;
      offset += 2;
    } else {
      owner = readName(message, offset);
      if (owner === null) return null;
      ownerParts = nameParts;
      offset = nameEnd;
    }
    if (offset + 10 > message.length) return null;
    const type = message.readUInt16BE(offset);
    const klass = message.readUInt16BE(offset + 2);
    if ((klass & 0x7fff) !== CLASS_IN) return null;
    const ttl = ttlFromWire(message.readUInt32BE(offset + 4));
    const rdlength = message.readUInt16BE(offset + 8);
    const data = offset + 10;
    if (data + rdlength > message.length) return null;
    const value = recordData(message, type, data, rdlength);
    if (value === null) return null;
    labels += 1 + ownerParts + (type === TYPE_CNAME ? nameParts : 0);
    if (labels > maxLabels) break;
    // The same properties, in the same order, as dns-packet's answer.decode.
    answers.push({
      name: owner,
      type: type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : 'CNAME',
      ttl,
      class: 'IN',
      flush: (klass & 0x8000) !== 0,
      data: value,
    });
    offset = data + rdlength;
  }
  return { flags: flags & 0x7fff, flag_tc: (flags & FLAG_TC) !== 0, answers };
}

/**
 * The data of an A, AAAA or CNAME record at `data` as dns-packet gives it
 * (for a CNAME, {@link nameParts} then holds its target's parts); null for
 * any other type, or data of the wrong length.
 */
function recordData(message: Buffer, type: number, data: number, rdlength: number): string | null {
  if (type === TYPE_A) return rdlength === 4 ? `${message[data]}.${message[data + 1]}.${message[data + 2]}.${message[data + 3]}` : null;
  if (type === TYPE_AAAA) return rdlength === 16 ? ipv6Text(message, data) : null;
  if (type !== TYPE_CNAME) return null;
  const target = readName(message, data);
  // dns-packet steps over the name, not over rdlength: the two must agree.
  return target !== null && nameBytes === rdlength ? target : null;
}

/**
 * Set by {@link readName}: where the name ends in the message, the bytes it
 * took there (dns-packet's `decode.bytes`), and the dot-separated parts of
 * its text (0 for the root).
 */
let nameEnd = 0;
let nameBytes = 0;
let nameParts = 0;

/**
 * The name at `offset` as dns-packet's name.decode gives it, or null where
 * dns-packet would throw or where a label is not ASCII (dns-packet decodes
 * labels as UTF-8; for ASCII that is the same text).
 */
function readName(message: Buffer, offset: number): string | null {
  let text = '';
  let first = true;
  let oldOffset = offset;
  let total = 0;
  let parts = 0;
  let consumed = 0;
  let jumped = false;
  for (;;) {
    if (offset >= message.length) return null;
    const length = message[offset++]!;
    if (!jumped) consumed++;
    if (length === 0) break;
    if ((length & 0xc0) === 0) {
      if (offset + length > message.length) return null;
      total += length + 1;
      if (total > 254) return null;
      parts++;
      for (let i = offset; i < offset + length; i++) {
        const byte = message[i]!;
        if (byte >= 0x80) return null;
        if (byte === 0x2e) parts++;
      }
      const label = message.toString('latin1', offset, offset + length);
      text = first ? label : `${text}.${label}`;
      first = false;
      offset += length;
      if (!jumped) consumed += length;
    } else if ((length & 0xc0) === 0xc0) {
      if (offset + 1 > message.length) return null;
      const jump = (((length & 0x3f) << 8) | message[offset]!);
      if (jump >= oldOffset) return null;
      if (!jumped) {
        consumed++;
        nameEnd = offset + 1;
      }
      offset = jump;
      oldOffset = jump;
      jumped = true;
    } else {
      return null;
    }
  }
  if (!jumped) nameEnd = offset;
  nameBytes = consumed;
  nameParts = parts;
  return total === 0 ? '.' : text;
}

/**
 * The 16 bytes at `offset` as ip-codec (dns-packet's) writes IPv6: groups in
 * lower-case hex without leading zeros, the leftmost run of two or more zero
 * groups (not the longest) as `::`.
 */
function ipv6Text(message: Buffer, offset: number): string {
  const groups = new Array<number>(8);
  for (let i = 0; i < 8; i++) groups[i] = (message[offset + 2 * i]! << 8) | message[offset + 2 * i + 1]!;
  let runStart = -1;
  let runEnd = -1;
  for (let i = 0; i < 8; i++) {
    if (groups[i] !== 0) continue;
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i >= 2) {
      runStart = i;
      runEnd = j;
      break;
    }
    i = j;
  }
  const hex = (from: number, to: number): string => {
    let out = '';
    for (let i = from; i < to; i++) out += (i === from ? '' : ':') + groups[i]!.toString(16);
    return out;
  };
  if (runStart < 0) return hex(0, 8);
  return `${hex(0, runStart)}::${hex(runEnd, 8)}`;
}
