/**
 * The TXT side of one DNS name: the records grpc-js's built-in resolver
 * reads a service config from (`grpc_config=`), asked for the channels that
 * want one, and handed on only when they changed.
 *
 * - Which name: the one the addresses resolved as (the search-list
 *   candidate that answered, `Resolution.name`). grpc-js asks the host as
 *   written, without the search list, so in a pod `my-svc` would be asked as
 *   `my-svc.` and never find the Service's records; the name as resolved is
 *   the one a Kubernetes user publishes them on (`my-svc.ns.svc.cluster.local`).
 *   For a fully qualified target both are the same name. Nothing is asked
 *   for an answer from /etc/hosts or an IP literal (gRFC A10).
 * - When: right after the addresses of the first answer, then at most once
 *   per {@link TXT_INTERVAL_MS}, and again when the name answering changes.
 *   grpc-js asks TXT at every resolution; a poller resolves every
 *   `refreshInterval` (5 s), so that would add a query to every poll (half
 *   as many again with family 0, twice as many with one family) for records
 *   that change about never (a deploy of a new config).
 * - Never beside A/AAAA, always after them: the name is known then, and the
 *   query never races A or AAAA for a conntrack entry (src/dns/udp-lane.ts).
 *   The addresses are not held back by it: a changed set is delivered as
 *   soon as it is in (as each family answers), and the poll then waits for
 *   the TXT answer — one round trip to the server that just answered,
 *   bounded by the poll's deadline — so the config follows in its own
 *   update, as grpc-js's built-in resolver hands a late TXT answer on.
 * - A TXT query that fails (timeout, SERVFAIL, the deadline) changes
 *   nothing: the last records stand, as in grpc-js, and the poll's addresses
 *   go on. NXDOMAIN or NODATA is an answer: no records, so no config.
 */
import type { AbortSignalLike, Resolution } from '../dns/types.js';
import type { ServiceConfigAnswer } from './contract.js';
import { trace } from './trace.js';

/** Milliseconds between two TXT queries for one name at most once (see the notes above). */
export const TXT_INTERVAL_MS = 60_000;

/** A name's TXT records as a source answers them (contract.ts): every record, each its strings (none: no config). */
export type TxtServiceConfig = Extract<ServiceConfigAnswer, { kind: 'txt' }>;

/** Asks one fully qualified name's TXT records (`StubResolver.resolveTxt`). */
export type TxtFn = (name: string, signal?: AbortSignalLike) => Promise<string[][]>;

export class TxtRecords {
  /** Subscribers that want a service config: TXT is asked only while there is one. */
  private wanted = 0;
  /** When the last TXT query was asked (poller clock), and for which name. */
  private askedAt: number | undefined;
  private askedName: string | undefined;
  /** The records last handed on, as a key: none at first (no records and no answer both mean no config, so neither is news). */
  private heldKey = '[]';

  constructor(
    private readonly watched: string,
    private readonly ask: TxtFn | undefined,
  ) {}

  /** One more (+1) or one less (−1) subscriber wants a service config. */
  want(change: 1 | -1): void {
    this.wanted = Math.max(0, this.wanted + change);
  }

  /** Whether TXT was ever asked for this name. */
  get everAsked(): boolean {
    return this.askedAt !== undefined;
  }

  /** Whether the TXT records are to be asked after this poll's addresses (see the notes above). */
  due(resolution: Resolution, startedAt: number): boolean {
    if (!this.ask || this.wanted === 0 || resolution.source !== 'dns') return false;
    return this.askedAt === undefined || resolution.name !== this.askedName || startedAt - this.askedAt >= TXT_INTERVAL_MS;
  }

  /** Ask the TXT records of the name `resolution` answered as: the records when they changed since last handed on, else undefined (no news). */
  async records(resolution: Resolution, startedAt: number, signal: AbortSignalLike | undefined): Promise<TxtServiceConfig | undefined> {
    const name = resolution.name;
    this.askedAt = startedAt;
    this.askedName = name;
    let records: string[][];
    try {
      records = await this.ask!(name, signal);
    } catch (error) {
      trace(() => `${this.watched}: TXT query for ${name}. failed (${(error as Error).message}); the last service config stands`);
      return undefined;
    }
    const key = JSON.stringify(records);
    if (key === this.heldKey) return undefined;
    this.heldKey = key;
    trace(() => `${this.watched}: TXT records of ${name}. changed (${records.length} records); handing them to the channels`);
    return { kind: 'txt', records };
  }
}
