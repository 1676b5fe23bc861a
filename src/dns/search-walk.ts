/*
 * THE SEARCH-LIST WALK, AS GLIBC'S res_search ENDS IT (the rules StubResolver,
 * src/dns/stub-resolver.ts, walks by; the outcome types and steps below)
 *
 * glibc's `__res_context_search` (resolv/res_query.c) asks the candidates of
 * a relative name in order — the name as written first when it has at least
 * `ndots` dots, else each search domain first and the name as written last —
 * and returns the first that answers with records. What it does after a
 * candidate that did not answer depends on how it failed (the h_errno
 * `__res_context_query` leaves, and the rcode of the last reply seen):
 *
 * | outcome of one candidate        | tried as is, first (dots >= ndots) | a search-list candidate (first, middle, last) | the name as written, last |
 * |---------------------------------|------------------------------------|-----------------------------------------------|---------------------------|
 * | NOERROR with records            | the answer                         | the answer                                    | the answer                |
 * | NODATA                          | the list is walked                 | next candidate (a wildcard of another type must not hide a later one) | end |
 * | NXDOMAIN                        | the list is walked                 | next candidate                                | end                       |
 * | SERVFAIL (every server)         | the list is walked                 | next candidate                                | end                       |
 * | REFUSED (every server)          | the list is walked                 | the list ends; the name as written is tried   | end                       |
 * | timeout                         | the list is walked                 | the list ends; the name as written is tried   | end                       |
 * | FORMERR, NOTIMP, unusable reply | the list is walked                 | the list ends; the name as written is tried   | end                       |
 * | no server reachable (ICMP port unreachable or a send error on every try: ECONNREFUSED) | the list is walked | the search ends at once, the name as written untried | end |
 *
 * We walk the same way (afterFailure: SERVFAIL → next; TIMEOUT, REFUSED,
 * BADRCODE, BADRESPONSE, OVERLOADED → the name as written; CONNREFUSED,
 * NETWORK, CLOSED, a poll given up at its deadline → end), so a search domain whose upstream
 * is dead or refuses costs one candidate, not the name:
 * test/search-walk.test.ts runs every row against a DNS server.
 *
 * When no candidate has records, glibc reports the first query's h_errno if
 * the name was tried as is first, else NO_DATA if any candidate said NODATA,
 * else TRY_AGAIN if any said SERVFAIL, else the last one's. We report NODATA
 * if any candidate said NODATA, else NXDOMAIN if any said NXDOMAIN — "could
 * not ask" only when no candidate answered at all, or the walk was cut short
 * (no server reachable, the poll's deadline). The difference is on purpose:
 * with glibc's rule one search domain that always fails (a dead or refusing
 * upstream) would make a deleted name "could not ask" for ever, and the
 * contract keeps the last good set through "could not ask" — the channel
 * would keep a deleted Service's addresses.
 *
 * Family 0: glibc asks A and AAAA together and a candidate answers when
 * either reply carries records. So here: a candidate with addresses in
 * either family answers (the other family's failure rides along in
 * `failedFamilies`); one without addresses is "could not ask" when either
 * family could not be asked, the step taken by the failure that goes the
 * shorter way (end, then the name as written, then next), and otherwise
 * NODATA or NXDOMAIN.
 *
 * The name polled (`StubResolver.resolve`): the candidate that answered is asked
 * directly at the next poll. When it cannot be asked, that poll is "could
 * not ask" and keeps the last good set; glibc, asking afresh, would go on to
 * the name as written for that one lookup — which answers NXDOMAIN for a
 * short name in a pod, and a one-lookup NXDOMAIN would drop every address.
 *
 * The recheck (`control.recheckEarlier`, after a later candidate took over
 * for one that stopped answering): the candidates before the polled one are
 * asked in the walk's order, beside it; the first with addresses answers, as
 * a fresh lookup would pick it. NXDOMAIN, NODATA and SERVFAIL go on, as in
 * the walk; any other failure ends the recheck without news — glibc would
 * skip to the name as written for that one lookup, but a fault is no reason
 * to leave the name that answers — and the polled name's answer stands.
 *
 * With family 0 each family's addresses are announced as they come in
 * (`control.familyAnswered`), so a watcher delivers a changed set without
 * waiting for the other family's retries.
 */
import type { DnsError, DnsErrorCode } from './errors.js';
import type { ResolvedAddress, Resolution } from './types.js';

/** Where the walk goes after a candidate that could not be asked (see the essay above). */
type Step = 'next' | 'as-written' | 'end';

export function afterFailure(code: DnsErrorCode): Step {
  switch (code) {
    case 'SERVFAIL':
      return 'next';
    case 'CONNREFUSED':
    case 'NETWORK':
    case 'CLOSED':
      return 'end';
    default:
      return 'as-written';
  }
}

const STEP_ORDER: Record<Step, number> = { end: 0, 'as-written': 1, next: 2 };

export type FamilyOutcome =
  | { kind: 'addresses'; addresses: ResolvedAddress[] }
  | { kind: 'none'; code: 'NXDOMAIN' | 'NODATA' }
  | { kind: 'failed'; error: DnsError };

/** What one search-list candidate gave, over every family asked. */
export type CandidateOutcome =
  | { kind: 'addresses'; addresses: ResolvedAddress[]; failed: Resolution['failedFamilies']; noData?: 4 | 6 }
  | { kind: 'failed'; error: DnsError }
  | { kind: 'none'; noData: boolean };


/** One candidate's outcome from its families' (the second, AAAA, with family 0). */
export function candidateOutcome(first: FamilyOutcome, firstFamily: 4 | 6, second?: FamilyOutcome): CandidateOutcome {
  const failed: Resolution['failedFamilies'] = [];
  let addresses: ResolvedAddress[] = [];
  if (first.kind === 'addresses') addresses = first.addresses;
  else if (first.kind === 'failed') failed.push({ family: firstFamily, error: first.error });
  if (second?.kind === 'addresses') addresses = addresses.length === 0 ? second.addresses : addresses.concat(second.addresses);
  else if (second?.kind === 'failed') failed.push({ family: 6, error: second.error });
  if (addresses.length > 0) {
    // A family that said NODATA while the other answered with addresses: a watcher counts it toward demotion.
    const noData = first.kind === 'none' && first.code === 'NODATA' ? firstFamily : second?.kind === 'none' && second.code === 'NODATA' ? 6 : undefined;
    return noData === undefined ? { kind: 'addresses', addresses, failed } : { kind: 'addresses', addresses, failed, noData };
  }
  if (failed.length > 0) {
    // The failure that goes the shorter way decides the walk's next step.
    let error = failed[0]!.error;
    for (const other of failed) if (STEP_ORDER[afterFailure(other.error.code)] < STEP_ORDER[afterFailure(error.code)]) error = other.error;
    return { kind: 'failed', error };
  }
  const noData = (first.kind === 'none' && first.code === 'NODATA') || (second?.kind === 'none' && second.code === 'NODATA');
  return { kind: 'none', noData };
}

/** A candidate and what it gave. */
export interface AskedCandidate {
  candidate: string;
  outcome: CandidateOutcome;
}

/** What asking the candidates before the polled one found: one with addresses, or the ones that said none. */
export interface EarlierCandidates {
  found?: Resolution;
  asked: AskedCandidate[];
}

/** A candidate that answered becomes the resolution (`unasked`: the family left out of its queries, demoted by the watcher). */
export function answered(asked: Extract<CandidateOutcome, { kind: 'addresses' }>, candidate: string, searchIndex: number, unasked?: 4 | 6): Resolution {
  const resolution: Resolution = { name: candidate, addresses: asked.addresses, source: 'dns', failedFamilies: asked.failed, searchIndex };
  if (asked.noData !== undefined) resolution.noDataFamily = asked.noData;
  if (unasked !== undefined) resolution.unaskedFamily = unasked;
  return resolution;
}

