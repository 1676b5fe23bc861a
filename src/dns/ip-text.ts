import net from 'node:net';

/** Cheap answers to "is this text an IP address" for the texts polling sees every time; net.isIP for the rest. */

/**
 * Whether `address` is an address of `family`. The wire check has refused A
 * and AAAA records of class IN whose data is not 4 or 16 bytes, so the text
 * the decoders made from them always is one: net.isIP's regular expressions
 * (the IPv6 one is long) only run for the rare text that does not look it.
 */
export function isAddressOf(address: string, family: 4 | 6): boolean {
  if (family === 4 ? DOTTED_QUAD.test(address) : HEX_GROUPS.test(address) && hexGroups(address) <= (address.includes('::') ? 7 : 8)) return true;
  return net.isIP(address) === family;
}

function hexGroups(address: string): number {
  let groups = 0;
  for (let i = 0; i < address.length; i++) if (address.charCodeAt(i) !== 0x3a && (i === 0 || address.charCodeAt(i - 1) === 0x3a)) groups++;
  return groups;
}

const DOTTED_QUAD = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** The IPv6 text the decoders write: up to eight groups of 1-4 hex digits, one `::` at most. */
const HEX_GROUPS = /^(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7}|(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?::(?:[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){0,6})?)$/;

/** Only a name of digits and dots, or one with a colon, can be an IP literal: others skip net.isIP's regular expressions. */
export function mayBeIpLiteral(name: string): boolean {
  let digitsAndDots = true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0x3a) return true;
    if (c !== 0x2e && (c < 0x30 || c > 0x39)) digitsAndDots = false;
  }
  return digitsAndDots;
}
