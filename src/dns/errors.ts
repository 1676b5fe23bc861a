import type { AbortSignalLike, QueryType } from './types.js';
import { RCODE, rcodeName } from './wire.js';

/**
 * A failure to resolve a name, with a stable `code`. `NXDOMAIN` and `NODATA`
 * mean DNS answered that there is nothing ({@link DnsError.authoritative});
 * every other code means it could not be asked.
 */
export class DnsError extends Error {
  override name = 'DnsError';
  constructor(
    /** Stable machine-readable code, e.g. `NXDOMAIN`, `TIMEOUT`. */
    readonly code: DnsErrorCode,
    /** The name that was asked for. */
    readonly hostname: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    // No stack trace: a DnsError is an outcome (a timeout, a refusal), made
    // in timer and socket callbacks whose frames tell nothing, and made in
    // numbers when DNS is down or the process is overloaded — capturing a
    // trace cost a quarter of the CPU of a starved process (docs/benchmarks.md).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message, options);
    Error.stackTraceLimit = limit;
  }

  /** True when a server answered that the name or record type does not exist. */
  get authoritative(): boolean {
    return this.code === 'NXDOMAIN' || this.code === 'NODATA';
  }
}

export type DnsErrorCode =
  /** The name does not exist (rcode 3). */
  | 'NXDOMAIN'
  /** The name exists but has no record of the asked type. */
  | 'NODATA'
  /** The server failed (rcode 2). */
  | 'SERVFAIL'
  /** The server refused (rcode 5). */
  | 'REFUSED'
  /** Any other non-zero rcode (FORMERR, NOTIMP, …). */
  | 'BADRCODE'
  /** No acceptable reply before the timeout on any server and attempt. */
  | 'TIMEOUT'
  /** A socket error: unreachable network, connection refused on TCP, … */
  | 'NETWORK'
  /** Nothing listens on the nameserver's UDP port (ICMP port unreachable): "connection refused", reported at once. */
  | 'CONNREFUSED'
  /** Too many queries to one nameserver in flight and waiting in line: refused at once, never queued without end. */
  | 'OVERLOADED'
  /** The reply could not be used: CNAME loop or depth, oversized TCP message, an A record that is not 4 bytes, … */
  | 'BADRESPONSE'
  /** The name itself is not a valid DNS name. */
  | 'BADNAME'
  /** The resolver was closed while the query was in flight. */
  | 'CLOSED';

/**
 * What a message says, in parts, so it can be said again with the record
 * types the caller asked (the command asks A and AAAA and says so) or
 * without its code: every message is one sentence with the name first and
 * at most one parenthesis, its notes. A failure to ask: "Could not ask DNS
 * for NAME TYPE: CAUSE (NOTE, NOTE)"; DNS saying there is nothing: "NAME
 * does not exist (NXDOMAIN)".
 */
interface Sentence {
  kind: 'ask' | 'none';
  /** The record type asked, for a failure to ask ('A', 'AAAA', …); undefined when the failure is not one query's. */
  type: string | undefined;
  /** A failure to ask: why, without the name ("no reply from 10.0.0.53:53 within 5000 ms"); DNS saying there is nothing: the statement. */
  text: string;
  notes: readonly string[];
}

/** The sentence of each error made here (a DnsError made elsewhere has its message only). */
const SENTENCES = new WeakMap<DnsError, Sentence>();

function render(name: string, sentence: Sentence, type = sentence.type, notes = sentence.notes): string {
  const lead = sentence.kind === 'ask' ? `Could not ask DNS for ${name}${type === undefined ? '' : ` ${type}`}: ${sentence.text}` : sentence.text;
  return notes.length > 0 ? `${lead} (${notes.join(', ')})` : lead;
}

function said(code: DnsErrorCode, name: string, sentence: Sentence, options?: { cause?: unknown }): DnsError {
  const error = new DnsError(code, name, render(name, sentence), options);
  SENTENCES.set(error, sentence);
  return error;
}

/**
 * A failure to ask DNS for `name` (`type`: the record type, when it is one
 * query's), as one sentence: "Could not ask DNS for NAME TYPE: CAUSE
 * (NOTES)". `cause` does not repeat the name; the notes are short and hold
 * no comma.
 */
export function cannotAsk(code: DnsErrorCode, name: string, type: string | undefined, cause: string, notes: readonly string[] = [], options?: { cause?: unknown }): DnsError {
  return said(code, name, { kind: 'ask', type, text: cause, notes }, options);
}

/** DNS answered that there is nothing (NXDOMAIN, NODATA): `statement` names the name first; the notes follow in one parenthesis. */
export function nothingThere(code: 'NXDOMAIN' | 'NODATA', name: string, statement: string, notes: readonly string[] = []): DnsError {
  return said(code, name, { kind: 'none', type: undefined, text: statement, notes });
}

/**
 * The message for text that shows the code beside it (`TIMEOUT: Could not
 * ask DNS for …`, a grpc status, the command's error lines): the code is
 * said once, so a note that is only the code goes. `types` names the
 * record types asked where the message names the one that failed.
 */
export function messageBesideCode(error: DnsError, types?: string): string {
  const sentence = SENTENCES.get(error);
  if (sentence) {
    const type = sentence.kind === 'ask' && sentence.type !== undefined && types !== undefined ? types : sentence.type;
    return render(error.hostname, sentence, type, sentence.notes.filter((note) => note !== error.code));
  }
  const suffix = ` (${error.code})`;
  return error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
}

/** Every one of the 65,536 query ids is in use: the query is not sent. */
export function idsExhausted(name: string, type: string): DnsError {
  return cannotAsk('OVERLOADED', name, type, 'all 65536 query ids are in use');
}

/** A query in flight when its client was closed. */
export function closedError(name: string): DnsError {
  return cannotAsk('CLOSED', name, undefined, 'the resolver was closed');
}

/** A reply whose rcode says the server could not or would not answer: SERVFAIL, REFUSED, or BADRCODE for the rest. */
export function rcodeError(rcode: number, name: string, type: string, server: string): DnsError {
  const code: DnsErrorCode = rcode === RCODE.SERVFAIL ? 'SERVFAIL' : rcode === RCODE.REFUSED ? 'REFUSED' : 'BADRCODE';
  return cannotAsk(code, name, type, `${server} answered ${rcodeName(rcode)}`);
}

/**
 * A socket error on a try: CONNREFUSED when nothing listens on the
 * server's UDP port (ICMP port unreachable, `ECONNREFUSED` on the UDP
 * socket), else NETWORK, saying what failed: the send, the UDP socket, or
 * the TCP connection.
 */
export function socketError(name: string, type: string, server: string, on: 'send' | 'UDP' | 'TCP', error: NodeJS.ErrnoException): DnsError {
  if (on === 'UDP' && error.code === 'ECONNREFUSED') {
    return cannotAsk('CONNREFUSED', name, type, `nothing listens on ${server}`, ['connection refused'], { cause: error });
  }
  const failed = on === 'send' ? `cannot send to ${server}` : on === 'UDP' ? `the UDP socket to ${server} failed` : `the TCP connection to ${server} failed`;
  return cannotAsk('NETWORK', name, type, failed, [error.code ?? error.message], { cause: error });
}

/** "a", "a and b", "a, b and c". */
function listText(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)!}`;
}

/** Failure ranks: an answer a server gave (SERVFAIL, REFUSED) over silence; a refused port over a timeout elsewhere (it names a cause the user can fix). */
const TELLING: Partial<Record<DnsErrorCode, number>> = { SERVFAIL: 7, REFUSED: 6, BADRCODE: 5, BADRESPONSE: 4, CONNREFUSED: 3, NETWORK: 2, OVERLOADED: 1, TIMEOUT: 0 };

/**
 * A query's failure after every try failed: the most telling one, so the
 * cause reads true, with the tries made as its last note (`servers`: the
 * servers asked, formatted; named there when more than one was, as the
 * cause names the one it is about).
 */
export function mostTellingError(failures: readonly DnsError[], name: string, type: string, servers: readonly string[], attempts: number, extraTries = 0): DnsError {
  const best = failures.reduce<DnsError | undefined>(
    (chosen, failure) => (!chosen || (TELLING[failure.code] ?? 0) > (TELLING[chosen.code] ?? 0) ? failure : chosen),
    undefined,
  );
  const extra = extraTries > 0 ? ` and ${extraTries} more tr${extraTries === 1 ? 'y' : 'ies'} within the poll's deadline` : '';
  const on = servers.length > 1 ? ` on ${listText(servers)}` : '';
  const tries = `${attempts} attempt${attempts === 1 ? '' : 's'}${extra}${on}`;
  const sentence = best && SENTENCES.get(best);
  if (!best) return cannotAsk('TIMEOUT', name, type, `no reply from ${listText(servers)}`, [tries]);
  if (!sentence || sentence.kind !== 'ask') return cannotAsk(best.code, name, type, best.message, [tries], { cause: best });
  return cannotAsk(best.code, name, sentence.type ?? type, sentence.text, [...sentence.notes, tries], { cause: best });
}

/** The error an aborted query rejects with: the signal's reason when it is a DnsError, else a TIMEOUT saying so. */
export function abortedError(signal: AbortSignalLike, name: string, type: QueryType): DnsError {
  const reason: unknown = signal.reason;
  if (reason instanceof DnsError) return reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return cannotAsk('TIMEOUT', name, type, `gave up before an answer came`, [why], { cause: reason });
}

/** A failure as a DnsError: itself, or a NETWORK error around anything else a resolver threw (a bug, not a DNS outcome). */
export function asDnsError(error: unknown, name: string): DnsError {
  if (error instanceof DnsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DnsError('NETWORK', name, `Unexpected resolver failure for ${name}: ${message}`, { cause: error });
}
