/**
 * Hostile DNS messages for the decode-cost tests. A "pointer ladder" is a
 * chain of compression pointers each pointing at the one before; a "label ladder" makes
 * every owner name in a message 127 labels long (the 255-octet maximum) for
 * two bytes a record, so dns-packet decodes 127 labels per record; the last
 * record is cut short, so after all that work the message fails to decode and
 * a resolver that reads on would decode the next one too.
 */
import * as dnsPacket from 'dns-packet';

/** Labels per name: 127 one-letter labels take 254 octets, the most a name may. */
const RUNGS = 127;

/**
 * Our id and question (copied from `query`), then `records` answer records
 * (at least 2): the ladder's holder, records named by its top, and a last
 * one cut short.
 */
export function labelLadderMessage(query: dnsPacket.DecodedPacket, records: number): Buffer {
  const head = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions });
  // A holder record of a private type whose rdata is the ladder: rung 0 is
  // "a" + root, rung i is "a" + a pointer to rung i - 1.
  const rdataStart = head.length + 11;
  const ladder = Buffer.alloc(3 + 4 * (RUNGS - 1));
  ladder.set([1, 0x61, 0], 0);
  for (let rung = 1; rung < RUNGS; rung++) {
    const at = 3 + 4 * (rung - 1);
    const previous = rung === 1 ? rdataStart : rdataStart + 3 + 4 * (rung - 2);
    ladder.set([1, 0x61], at);
    ladder.writeUInt16BE(0xc000 | previous, at + 2);
  }
  const user = recordNamedBy(rdataStart + 3 + 4 * (RUNGS - 2));
  const users = Array.from({ length: records - 2 }, () => user);
  // The last record: its name and half a header, then the message ends.
  const message = Buffer.concat([head, opaqueRecord(ladder.length), ladder, ...users, user.subarray(0, 6)]);
  message.writeUInt16BE(records, 6);
  return message;
}

/** Our id and question, then a ladder of `rungs` pointers each to the one before, named by `users` records. */
export function pointerLadder(query: dnsPacket.DecodedPacket, rungs: number, users: number): Buffer {
  const head = dnsPacket.encode({ type: 'response', id: query.id, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: query.questions });
  const rdataStart = head.length + 11;
  const ladder = Buffer.alloc(1 + 2 * rungs);
  for (let rung = 0; rung < rungs; rung++) {
    ladder.writeUInt16BE(0xc000 | (rung === 0 ? rdataStart : rdataStart + 1 + 2 * (rung - 1)), 1 + 2 * rung);
  }
  const user = recordNamedBy(rdataStart + 1 + 2 * (rungs - 1));
  const message = Buffer.concat([head, opaqueRecord(ladder.length), ladder, ...Array.from({ length: users }, () => user)]);
  message.writeUInt16BE(1 + users, 6);
  return message;
}

/** The header of a record owned by the root, of a private type (0xff00, never decoded as anything), with `rdlength` bytes of data to follow. */
export function opaqueRecord(rdlength: number): Buffer {
  const record = Buffer.alloc(11);
  record.writeUInt16BE(0xff00, 1);
  record.writeUInt16BE(1, 3);
  record.writeUInt16BE(rdlength, 9);
  return record;
}

/** A private-type record with no data, named by a compression pointer to `offset`. */
function recordNamedBy(offset: number): Buffer {
  const record = Buffer.alloc(12);
  record.writeUInt16BE(0xc000 | offset, 0);
  record.writeUInt16BE(0xff00, 2);
  record.writeUInt16BE(1, 4);
  return record;
}
