import type * as dnsPacket from 'dns-packet';

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

const TYPE_A = 1;
const TYPE_CNAME = 5;
const TYPE_AAAA = 28;
const TYPE_OPT = 41;
const CLASS_IN = 1;
const FLAG_RD = 0x0100;
const FLAG_TC = 0x0200;
const HEADER_SIZE = 12;
const OPT_SIZE = 11;

/** What the resolver reads from a decoded reply: dns-packet's fields of the same names. */
export type ReplyPacket = Pick<dnsPacket.DecodedPacket, 'flags' | 'flag_tc' | 'answers'>;

/**
 * The bytes `dnsPacket.encode` makes for a recursive query of `name`/`type`
 * with an EDNS(0) OPT record advertising `udpPayloadSize` (none when 0), or
 * null when the name is not plain ASCII labels of 1-63 characters (dns-packet
 * then encodes it). Written straight into one buffer: no packet object, no
 * label list.
 */
export function encodeQueryFast(id: number, name: string, type: 'A' | 'AAAA', udpPayloadSize: number): Buffer | null {
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
      if (length === 0 || length > 63) return null;
      buf[lengthAt] = length;
      lengthAt = offset++;
      continue;
    }
    buf[offset++] = c;
  }
  const last = offset - lengthAt - 1;
  if (last === 0 || last > 63) return null;
  buf[lengthAt] = last;
  buf[offset++] = 0;
  buf.writeUInt16BE(type === 'A' ? TYPE_A : TYPE_AAAA, offset);
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
 * dns-packet's reading of `message` as far as the resolver uses it (flags,
 * TC bit, answer records), for a reply with one question ending at
 * `questionEnd` whose answer records are all A (4 bytes), AAAA (16 bytes) or
 * CNAME of class IN with ASCII names; null for anything else. Authority and
 * additional sections are not read (the caller zeroed their counts, as it
 * does before dns-packet). Names are read as dns-packet reads them,
 * compression pointers included (backward only; the caller has refused
 * pointer ladders).
 */
export function decodeCommonReply(message: Buffer, questionEnd: number): ReplyPacket | null {
  if (message.length < HEADER_SIZE || questionEnd > message.length) return null;
  const flags = message.readUInt16BE(2);
  const count = message.readUInt16BE(6);
  const answers: dnsPacket.Answer[] = new Array(count);
  let offset = questionEnd;
  let cachedAt = -1;
  let cachedName = '';
  for (let i = 0; i < count; i++) {
    // The usual owner is a pointer to one earlier name (the question): read it once.
    let owner: string | null;
    if (offset + 1 < message.length && message[offset]! >= 0xc0) {
      const target = ((message[offset]! & 0x3f) << 8) | message[offset + 1]!;
      if (target !== cachedAt) {
        const name = readName(message, offset);
        if (name === null) return null;
        cachedAt = target;
        cachedName = name;
      }
      owner = cachedName;
      offset += 2;
    } else {
      owner = readName(message, offset);
      if (owner === null) return null;
      offset = nameEnd;
    }
    if (offset + 10 > message.length) return null;
    const type = message.readUInt16BE(offset);
    const klass = message.readUInt16BE(offset + 2);
    if ((klass & 0x7fff) !== CLASS_IN) return null;
    const ttl = message.readUInt32BE(offset + 4);
    const rdlength = message.readUInt16BE(offset + 8);
    const data = offset + 10;
    if (data + rdlength > message.length) return null;
    let value: string;
    if (type === TYPE_A) {
      if (rdlength !== 4) return null;
      value = `${message[data]}.${message[data + 1]}.${message[data + 2]}.${message[data + 3]}`;
    } else if (type === TYPE_AAAA) {
      if (rdlength !== 16) return null;
      value = ipv6Text(message, data);
    } else if (type === TYPE_CNAME) {
      const target = readName(message, data);
      // dns-packet steps over the name, not over rdlength: the two must agree.
      if (target === null || nameBytes !== rdlength) return null;
      value = target;
    } else {
      return null;
    }
    // The same properties, in the same order, as dns-packet's answer.decode.
    answers[i] = {
      name: owner,
      type: type === TYPE_A ? 'A' : type === TYPE_AAAA ? 'AAAA' : 'CNAME',
      ttl,
      class: 'IN',
      flush: (klass & 0x8000) !== 0,
      data: value,
    } as dnsPacket.Answer;
    offset = data + rdlength;
  }
  return { flags: flags & 0x7fff, flag_tc: (flags & FLAG_TC) !== 0, answers };
}

/** Set by {@link readName}: where the name ends in the message, and the bytes it took there (dns-packet's `decode.bytes`). */
let nameEnd = 0;
let nameBytes = 0;

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
      for (let i = offset; i < offset + length; i++) if (message[i]! >= 0x80) return null;
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
