/**
 * What a poll tells the people watching: trace lines (GRPC_TRACE=dns_watch)
 * and observe() events (src/watch/observe.ts). Both build nothing when
 * nobody listens.
 */
import type { DnsError } from '../dns/errors.js';
import type { Family } from '../dns/types.js';
import type { Belief, Outcome } from './contract.js';
import { observed, report } from './observe.js';
import { diff, minTtl, sortedAddresses } from './records.js';
import { trace, tracing } from './trace.js';

/** A poll as it settled: the belief before and after, and whether the address set changed. */
export interface SettledPoll {
  readonly previous: Belief;
  readonly belief: Belief;
  readonly setChanged: boolean;
}

/** The `query` event of one poll that ran `durationMs`, whose first try had `tryTimeoutMs`. */
export function reportQuery(name: string, family: Family, outcome: Outcome, durationMs: number, tryTimeoutMs: number | undefined): void {
  if (!observed()) return;
  report({
    type: 'query',
    name,
    family,
    durationMs,
    result: outcome.kind === 'answer' ? 'NOERROR' : outcome.error.code,
    addresses: outcome.kind === 'answer' ? outcome.resolution.addresses.length : 0,
    tryTimeoutMs,
  });
}

/** Trace lines and events for a settled poll: the failure and what is kept, or the answer and a changed set. `failures`: in a row, this one included. */
export function reportOutcome(name: string, outcome: Outcome, poll: SettledPoll, failures: number, durationMs: number, delay: number): void {
  if (outcome.kind === 'error') {
    reportFailure(name, outcome.error, poll.belief.kind === 'addresses', failures, durationMs, delay);
    return;
  }
  const addresses = poll.belief.kind === 'addresses' ? poll.belief.addresses : [];
  if (tracing()) trace(() => `${name}: ${addresses.length} addresses in ${durationMs} ms, min TTL ${minTtl(addresses)} s; next poll in ${delay} ms`);
  if (poll.setChanged) reportChange(name, poll.previous, poll.belief);
}

function reportFailure(name: string, error: DnsError, haveSet: boolean, failures: number, durationMs: number, delay: number): void {
  const kept = !error.authoritative && haveSet;
  report(() => ({ type: 'error', name, error, kept, retryInMs: delay }));
  if (error.authoritative) {
    trace(() => `${name}: ${error.code} after ${durationMs} ms (${error.message}); next poll in ${delay} ms`);
    return;
  }
  trace(
    () =>
      `${name}: failure ${failures} after ${durationMs} ms (${error.code}: ${error.message}); ` +
      `${kept ? 'keeping the last good set' : 'no set yet'}; retry in ${delay} ms`,
  );
}

/** A trace line and the update event for a changed set. */
export function reportChange(name: string, previous: Belief, belief: Belief): void {
  const addresses = belief.kind === 'addresses' ? belief.addresses : [];
  const change = diff(previous.kind === 'addresses' ? previous.addresses : [], addresses);
  if (previous.kind === 'addresses') {
    trace(() => `${name}: changed: +[${change.added.join(', ')}] -[${change.removed.join(', ')}]`);
  }
  report(() => ({ type: 'update', name, addresses: sortedAddresses(addresses), ...change }));
}
