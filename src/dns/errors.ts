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
 * The message for text that shows the code beside it (`TIMEOUT: No reply
 * from …`, a grpc status, a log line): without a trailing "(CODE)", so the
 * code is said once.
 */
export function messageBesideCode(error: DnsError): string {
  const suffix = ` (${error.code})`;
  return error.message.endsWith(suffix) ? error.message.slice(0, -suffix.length) : error.message;
}

/** Every one of the 65,536 query ids is in use: the query is not sent. */
export function idsExhausted(name: string): DnsError {
  return new DnsError('OVERLOADED', name, `All 65536 query ids are in use; not asking for ${name}`);
}

/** A query in flight when its client was closed. */
export function closedError(name: string): DnsError {
  return new DnsError('CLOSED', name, `Resolver closed while asking for ${name}`);
}

/** A reply whose rcode says the server could not or would not answer: SERVFAIL, REFUSED, or BADRCODE for the rest. */
export function rcodeError(rcode: number, name: string, server: string): DnsError {
  const code: DnsErrorCode = rcode === RCODE.SERVFAIL ? 'SERVFAIL' : rcode === RCODE.REFUSED ? 'REFUSED' : 'BADRCODE';
  return new DnsError(code, name, `${server} answered ${rcodeName(rcode)} for ${name}`);
}

/** Failure ranks: an answer a server gave (SERVFAIL, REFUSED) over silence; a refused port over a timeout elsewhere (it names a cause the user can fix). */
const TELLING: Partial<Record<DnsErrorCode, number>> = { SERVFAIL: 7, REFUSED: 6, BADRCODE: 5, BADRESPONSE: 4, CONNREFUSED: 3, NETWORK: 2, OVERLOADED: 1, TIMEOUT: 0 };

/** A query's failure after every try failed: the most telling one, so the cause reads true, with what was asked (`asked`: the servers, formatted). */
export function mostTellingError(failures: readonly DnsError[], name: string, asked: string, attempts: number, extraTries = 0): DnsError {
  const best = failures.reduce<DnsError | undefined>(
    (chosen, failure) => (!chosen || (TELLING[failure.code] ?? 0) > (TELLING[chosen.code] ?? 0) ? failure : chosen),
    undefined,
  );
  const extra = extraTries > 0 ? ` and ${extraTries} more tr${extraTries === 1 ? 'y' : 'ies'} within the poll's deadline` : '';
  const summary = `${attempts} attempt${attempts === 1 ? '' : 's'}${extra} on ${asked}`;
  return new DnsError(best?.code ?? 'TIMEOUT', name, `${best?.message ?? `No reply for ${name}`} (${summary})`, { cause: best });
}

/** The error an aborted query rejects with: the signal's reason when it is a DnsError, else a TIMEOUT saying so. */
export function abortedError(signal: AbortSignalLike, name: string, type: QueryType): DnsError {
  const reason: unknown = signal.reason;
  if (reason instanceof DnsError) return reason;
  const why = reason instanceof Error ? reason.message : typeof reason === 'string' ? reason : 'aborted';
  return new DnsError('TIMEOUT', name, `Gave up asking for ${name} ${type} before an answer came (${why})`, { cause: reason });
}

/** A failure as a DnsError: itself, or a NETWORK error around anything else a resolver threw (a bug, not a DNS outcome). */
export function asDnsError(error: unknown, name: string): DnsError {
  if (error instanceof DnsError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new DnsError('NETWORK', name, `Unexpected resolver failure for ${name}: ${message}`, { cause: error });
}
