/**
 * hosts(5) text read byte by byte, as it arrives in slices (src/dns/hosts.ts
 * says why in slices): the scanner, the slices fed to it with bounded work
 * per turn of the event loop, and the whole-text reading built on it.
 */
import { isIP } from 'node:net';
import { canonicalName } from './names.js';
import type { Timers } from './timers.js';

/** Longer than any address text (an IPv6 address with a zone id): not an address. */
const MAX_ADDRESS_BYTES = 64;
/**
 * Longer than any name a lookup can ask for (253 characters of up to 4
 * bytes of UTF-8, and a trailing dot): ignored, so a hostile line of one
 * enormous name costs no more than a slice at a time.
 */
const MAX_NAME_BYTES = 1_024;

/**
 * Bytes scanned between two readings of the clock (see BoundedTurns):
 * about 0.06 ms warm, and at most about 5 ms in the cold first steps of a
 * scan (measured with `node --cpu-prof` on scripts/hosts-cost.ts).
 */
export const SCAN_STEP_BYTES = 4 * 1024;

/**
 * Scanning time after which a scan lets the event loop run (setImmediate)
 * before its next step, ms: a turn's work is at most this plus one step,
 * against the target of no stall over 100 ms — what is left is for garbage
 * collection and a machine busy with other work.
 */
export const SCAN_TURN_MS = 10;

export interface HostsEntry {
  readonly address: string;
  readonly family: 4 | 6;
}

/**
 * hosts(5) text, read byte by byte as it arrives in slices: `#` starts a
 * comment (glued to a name too), a line break is `\n`, `\r\n` or `\r`,
 * fields are separated by ASCII blanks (space, tab, vertical tab, form
 * feed: glibc's separators in the C locale), the first field is the
 * address, the others are names (canonical name and aliases alike), in
 * canonical form (lowercased, trailing dot removed). A token may span two
 * slices; a line may be of any length. The names of a line are handed over
 * when the line ends — so a line cut by the size cap gives nothing, as
 * before — and only those `keep` accepts, with their line's address, once
 * per name and address. Lines whose address is not an IPv4/IPv6 literal are
 * skipped (the address is only checked for lines with a name kept).
 */
export class HostsScanner {
  /** Bytes fed so far: where the current slice starts in the file. */
  private offset = 0;
  /** Where the current line started in the file. */
  private lineStart = 0;
  /** The rest of the line is a comment, or the line has no usable address. */
  private skipping = false;
  /** The line's first field was read: its text, or (until the line keeps a name or the slice ends) where it is in the slice. */
  private hasAddress = false;
  private address: string | undefined;
  private addressIn: Buffer | undefined;
  private addressStart = 0;
  private addressEnd = 0;
  /** Names of the current line that were kept, handed over when it ends. */
  private names: string[] = [];
  /** A token that started in an earlier slice: its bytes so far (never more than the longest name). */
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** The current token is too long to be anything: ignored to its end. */
  private overlong = false;
  /** One entry object per address: a blocklist maps its names to one address. */
  private readonly entries = new Map<string, HostsEntry | null>();
  /** `name address` pairs handed over, so repeated ones are handed over once. */
  private readonly pairs = new Set<string>();

  constructor(
    private readonly keep: (name: string, lineStart: number) => boolean,
    private readonly onEntry: (name: string, entry: HostsEntry) => void,
  ) {}

  feed(slice: Buffer): void {
    let tokenStart = -1;
    for (let i = 0; i < slice.length; i++) {
      const byte = slice[i]!;
      if (byte === 0x0a || byte === 0x0d) {
        if (tokenStart >= 0 || this.partialBytes > 0 || this.overlong) this.endToken(slice, tokenStart, i);
        tokenStart = -1;
        this.endLine(this.offset + i + 1);
        continue;
      }
      if (this.skipping) continue;
      if (byte === 0x20 || byte === 0x09 || byte === 0x0b || byte === 0x0c || byte === 0x23) {
        if (tokenStart >= 0 || this.partialBytes > 0 || this.overlong) this.endToken(slice, tokenStart, i);
        tokenStart = -1;
        if (byte === 0x23) this.skipping = true;
        continue;
      }
      if (tokenStart < 0) tokenStart = i;
    }
    if (tokenStart >= 0 && !this.skipping) this.keepPartial(slice.subarray(tokenStart));
    // The slice is reused after this call: an address not decoded yet is decoded now (once per slice at most).
    if (this.addressIn) this.decodeAddress();
    this.offset += slice.length;
  }

  /** Most lines keep no name: their address is decoded only when one does (or its slice ends). */
  private decodeAddress(): string {
    if (this.addressIn) {
      this.address = this.addressIn.toString('utf8', this.addressStart, this.addressEnd);
      this.addressIn = undefined;
    }
    return this.address!;
  }

  /** The end of the text: a last line without a line break counts, unless the text was cut (`truncated`). */
  finish(truncated: boolean): void {
    if (!truncated && (this.partialBytes > 0 || this.overlong)) this.endToken(Buffer.alloc(0), -1, 0);
    if (!truncated) this.endLine(this.offset);
  }

  private keepPartial(bytes: Buffer): void {
    if (this.overlong) return;
    if (this.partialBytes + bytes.length > MAX_NAME_BYTES) {
      this.overlong = true;
      this.partial = [];
      this.partialBytes = 0;
      return;
    }
    this.partial.push(Buffer.from(bytes));
    this.partialBytes += bytes.length;
  }

  /** The token's text: from the slice alone, or its parts so far and the slice. */
  private tokenText(slice: Buffer, start: number, end: number): string {
    if (this.partialBytes === 0) return slice.toString('utf8', start, end);
    return Buffer.concat(start >= 0 ? [...this.partial, slice.subarray(start, end)] : this.partial).toString('utf8');
  }

  /** The token that ends at `end` in `slice` (started at `start` there, or in earlier slices). */
  private endToken(slice: Buffer, start: number, end: number): void {
    const length = this.partialBytes + (start >= 0 ? end - start : 0);
    const tooLong = this.overlong || length > (this.hasAddress ? MAX_NAME_BYTES : MAX_ADDRESS_BYTES);
    const whole = this.partialBytes === 0 && start >= 0;
    const text = tooLong || (whole && !this.hasAddress) ? '' : this.tokenText(slice, start, end);
    // No garbage per token: a new list only when the last one was used.
    if (this.partialBytes > 0) this.partial = [];
    this.partialBytes = 0;
    this.overlong = false;
    if (!this.hasAddress) {
      // The address field: a line whose address cannot be one is skipped.
      if (tooLong) this.skipping = true;
      else {
        this.hasAddress = true;
        if (whole) {
          this.addressIn = slice;
          this.addressStart = start;
          this.addressEnd = end;
        } else this.address = text;
      }
      return;
    }
    if (tooLong) return;
    const name = canonicalName(text);
    if (name !== '' && this.keep(name, this.lineStart)) this.names.push(name);
  }

  private endLine(nextLineStart: number): void {
    if (this.hasAddress && this.names.length > 0) {
      const address = this.decodeAddress();
      const entry = this.entryOf(address);
      if (entry) {
        for (const name of this.names) {
          const pair = `${name} ${address}`;
          if (this.pairs.has(pair)) continue;
          this.pairs.add(pair);
          this.onEntry(name, entry);
        }
      }
      this.names = [];
    }
    this.hasAddress = false;
    this.address = undefined;
    this.addressIn = undefined;
    this.skipping = false;
    this.lineStart = nextLineStart;
  }

  private entryOf(address: string): HostsEntry | null {
    let entry = this.entries.get(address);
    if (entry === undefined) {
      const family = isIP(address);
      entry = family === 4 || family === 6 ? Object.freeze({ address, family }) : null;
      this.entries.set(address, entry);
    }
    return entry;
  }
}

/**
 * One scan's slices fed to its scanner in steps of SCAN_STEP_BYTES, with
 * the time they take read on the monotonic clock: after SCAN_TURN_MS of
 * scanning in one turn the event loop is let run (setImmediate) before the
 * next step. A warm slice of 64 KiB scans in about 1 ms, so it is one
 * turn; the first slices of a scan run cold (the scanner not compiled yet,
 * the first part's table being built) and took 20-85 ms each: what the
 * bound is for (`node --cpu-prof` on scripts/hosts-cost.ts).
 */
export class BoundedTurns {
  largestSliceBytes = 0;
  steps = 0;
  largestStepBytes = 0;
  yields = 0;

  constructor(private readonly clock: Pick<Timers, 'now'>) {}

  /** A slice just read: a new turn (the read was asynchronous). */
  async scan(slice: Buffer, scanner: HostsScanner): Promise<void> {
    this.largestSliceBytes = Math.max(this.largestSliceBytes, slice.length);
    let turnStart = this.clock.now();
    for (let at = 0; at < slice.length; at += SCAN_STEP_BYTES) {
      if (at > 0 && this.clock.now() - turnStart >= SCAN_TURN_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.yields++;
        turnStart = this.clock.now();
      }
      const step = slice.subarray(at, at + SCAN_STEP_BYTES);
      scanner.feed(step);
      this.steps++;
      this.largestStepBytes = Math.max(this.largestStepBytes, step.length);
    }
  }
}

/**
 * Parse hosts(5) text into name (lowercased, trailing dot removed) → addresses,
 * in file order. `#` comments, blank lines and lines whose address is not an
 * IPv4/IPv6 literal are skipped; a line may carry several names (canonical
 * name and aliases are treated alike); repeated name/address pairs are kept once.
 *
 * Linear in the size of the text: de-duplication goes through one Set of
 * name/address pairs (dropped after parsing), and entries for one address
 * are one shared object (a blocklist maps 100k names to 0.0.0.0). The same
 * reading as the file's, all at once (for text already in memory).
 */
export function parseHosts(text: string): Map<string, HostsEntry[]> {
  const hosts = new Map<string, HostsEntry[]>();
  const scanner = new HostsScanner(
    () => true,
    (name, entry) => addEntry(hosts, name, entry),
  );
  scanner.feed(Buffer.from(String(text), 'utf8'));
  scanner.finish(false);
  return hosts;
}

export function addEntry(hosts: Map<string, HostsEntry[]>, name: string, entry: HostsEntry): void {
  const list = hosts.get(name);
  if (list) list.push(entry);
  else hosts.set(name, [entry]);
}
