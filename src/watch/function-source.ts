/**
 * A polling resolver's function as an address source for the poller
 * (src/watch/source.ts): `registerPollingResolver(scheme, resolve)` polls one
 * of these per target, with everything the DNS path has — schedule, deadline,
 * backoff, sharing, the contract — from the same poller.
 *
 * What this file owns is what is particular to a function:
 * - its call is never made twice at once for one target: a call still
 *   running when the next poll starts (it ignored its signal) fails that
 *   poll at once ("could not ask"), and the function is called again only
 *   after it returns — so a hung function costs failed polls, never a pile
 *   of calls;
 * - the poll's deadline aborts the call's `AbortSignal` and ends the poll
 *   then, whether or not the function listens: a late result is dropped;
 * - what it returns is read strictly: a list of `{ host, port }` (or
 *   `{ addresses, serviceConfig }`), an IP address and a port each; an
 *   empty list is "the source says none", anything else unusable is "could
 *   not ask" with an error naming what came back and what is accepted.
 */
import net from 'node:net';
import { DnsError } from '../dns/errors.js';
import type { SourceAnswer } from './contract.js';
import type { SourceAddress } from './records.js';
import type { AddressSource, PollContext } from './source.js';

/** A target as a polling resolver gets it: grpc-js's parse, and host and port when the path is `host[:port]`. */
export interface PollingTarget {
  readonly scheme: string;
  /** What stands between `//` and the next `/`; undefined without `//`. */
  readonly authority: string | undefined;
  /** The rest, as grpc-js parses it: `file:///etc/pods.json` has the path `etc/pods.json`. */
  readonly path: string;
  /** When the path is `host`, `host:port` or `[v6]:port`. */
  readonly host?: string;
  readonly port?: number;
}

/** One address a polling resolver returns: an IPv4 or IPv6 address (no brackets) and a port. */
export interface PollingEndpoint {
  readonly host: string;
  readonly port: number;
}

/** What `resolve` returns: the addresses, or the addresses with a service config (`null`: none; left out: no news). */
export type PollingAnswer = readonly PollingEndpoint[] | { readonly addresses: readonly PollingEndpoint[]; readonly serviceConfig?: object | null };

export type PollingResolve = (request: { readonly target: PollingTarget; readonly signal: AbortSignal }) => PollingAnswer | Promise<PollingAnswer>;

/** Most addresses one answer may hold; more is a bad answer (the DNS path's bound: twice what one DNS message carries). */
const MAX_POLLING_ADDRESSES = 8_192;

const ACCEPTED =
  'accepted: an array of { host, port } (host an IPv4 or IPv6 address, port an integer 1-65535), ' +
  `at most ${MAX_POLLING_ADDRESSES}, or { addresses: that array, serviceConfig?: an object or null }`;

export class FunctionSource implements AddressSource {
  readonly family = 0 as const;
  /** The call in progress, until it settles, even after its poll gave it up. */
  private running: { readonly since: number } | undefined;

  constructor(
    /** The target as channels name it: traces, events and stats show it. */
    readonly name: string,
    private readonly target: PollingTarget,
    private readonly resolve: PollingResolve,
  ) {}

  ask(poll: PollContext): Promise<SourceAnswer> {
    if (this.running) {
      const { since } = this.running;
      return Promise.reject(
        new DnsError('TIMEOUT', this.name, `resolve() for ${this.name} has not returned since a poll gave it up (it was called ${Math.round(poll.startedAt - since)} ms ago); not calling it again until it does`),
      );
    }
    const running = { since: poll.startedAt };
    this.running = running;
    const call = this.call(poll);
    void call.then(
      () => this.done(running),
      () => this.done(running),
    );
    return new Promise<SourceAnswer>((resolve, reject) => {
      const signal = poll.signal;
      // The poll ends at its deadline whether or not the function listens to its signal.
      const onAbort = () => reject(signal?.reason instanceof DnsError ? signal.reason : new DnsError('TIMEOUT', this.name, `resolve() for ${this.name} was given up`));
      signal?.addEventListener('abort', onAbort);
      call.then(
        (value) => {
          signal?.removeEventListener('abort', onAbort);
          const answer = this.answerOf(value);
          if (answer instanceof DnsError) reject(answer);
          else resolve(answer);
        },
        (error: unknown) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error instanceof DnsError ? error : couldNotAsk(this.name, error));
        },
      );
    });
  }

  private done(running: { readonly since: number }): void {
    if (this.running === running) this.running = undefined;
  }

  /** The function's call, with an AbortSignal aborted when the poll's signal is; a synchronous throw as a rejection. */
  private call(poll: PollContext): Promise<unknown> {
    const controller = new AbortController();
    const signal = poll.signal;
    if (signal?.aborted) controller.abort(signal.reason);
    else signal?.addEventListener('abort', () => controller.abort(signal.reason));
    try {
      return Promise.resolve(this.resolve({ target: this.target, signal: controller.signal }));
    } catch (error) {
      return Promise.reject(couldNotAsk(this.name, error));
    }
  }

  /** What the function returned, read strictly (see the notes above), or why it cannot be used. */
  private answerOf(value: unknown): SourceAnswer | DnsError {
    const answer = Array.isArray(value) ? { list: value as unknown[], serviceConfig: undefined } : answerObject(value);
    if (!answer) return badAnswer(this.name, `returned ${describe(value)}`);
    const { list, serviceConfig } = answer;
    if (list.length === 0) return new DnsError('NODATA', this.name, `resolve() for ${this.name} returned no addresses`);
    if (list.length > MAX_POLLING_ADDRESSES) return badAnswer(this.name, `returned ${list.length} addresses`);
    const addresses: SourceAddress[] = [];
    for (const [index, entry] of list.entries()) {
      const address = endpointOf(entry);
      if (!address) return badAnswer(this.name, `returned ${describe(entry)} at index ${index}`);
      addresses.push(address);
    }
    return { addresses, failedFamilies: [], ...(serviceConfig === undefined ? {} : { serviceConfig: { kind: 'json', config: serviceConfig } }) };
  }
}

/** `{ addresses, serviceConfig? }`, or null for anything else. */
function answerObject(value: unknown): { list: unknown[]; serviceConfig: object | null | undefined } | null {
  if (value === null || typeof value !== 'object') return null;
  const { addresses, serviceConfig } = value as { addresses?: unknown; serviceConfig?: unknown };
  if (!Array.isArray(addresses)) return null;
  if (serviceConfig !== undefined && (typeof serviceConfig !== 'object' || Array.isArray(serviceConfig))) return null;
  return { list: addresses as unknown[], serviceConfig };
}

function endpointOf(entry: unknown): SourceAddress | null {
  if (entry === null || typeof entry !== 'object') return null;
  const { host, port } = entry as { host?: unknown; port?: unknown };
  if (typeof host !== 'string' || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65_535) return null;
  const family = net.isIP(host);
  if (family === 0) return null;
  return { address: host, family: family as 4 | 6, ttl: Infinity, port };
}

function badAnswer(name: string, what: string): DnsError {
  return new DnsError('BADRESPONSE', name, `resolve() for ${name} ${what}; ${ACCEPTED}`);
}

/** The function threw or its promise rejected: could not ask, with what it said. */
function couldNotAsk(name: string, error: unknown): DnsError {
  return new DnsError('NETWORK', name, `resolve() for ${name} failed: ${error instanceof Error ? error.message : describe(error)}`, { cause: error });
}

/** A returned value, short, for an error message. */
function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'function') return 'a function';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    text = Object.prototype.toString.call(value);
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}
