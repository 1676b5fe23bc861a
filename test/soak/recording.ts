/**
 * What a real channel's resolver listener was told, recorded at the listener.
 *
 * The scheme `dns-watch-recorded` is a thin resolver class registered with
 * grpc-js: a channel created on `dns-watch-recorded:///name:port` gets, through
 * grpc-js's own `createResolver`, the ordinary `dns-watch` resolver, but with
 * the channel's listener wrapped so that every call — each address list, each
 * error — is noted before it is passed on unchanged. The channel behaves
 * exactly as on `dns-watch:///name:port`; the record is what its load balancer
 * received, not a second subscriber's view.
 *
 * Which record a channel writes to is set by the channel option
 * {@link RECORD_KEY} (not a `grpc-dns-watch.` key, so the resolver ignores it).
 *
 * For @grpc/grpc-js 1.14+ (listener = one callback with StatusOr), the copy the
 * fault matrix and the soak run on. No vitest imports: the soak's main.ts uses it.
 */
import * as grpc from '@grpc/grpc-js';
import { createPodClient, type PodClient, type PodClientOptions } from '../../harness/pods.js';

export const RECORDING_SCHEME = 'dns-watch-recorded';
export const RECORD_KEY = 'dns-watch-test.record_id';

export type ToldCall =
  | { kind: 'addresses'; at: number; hosts: string[]; ports: number[] }
  | { kind: 'error'; at: number; code: number; details: string };

/** Everything one channel's resolver listener was told, plus what the checks found. */
export class ChannelRecord {
  readonly calls: ToldCall[] = [];
  /** updateResolution() calls from the channel. */
  requests = 0;
  destroys = 0;
  /** Sorted, comma-joined hosts of the last address list told; undefined before the first. */
  lastSet: string | undefined;
  /** An address list of length 0 was handed over (the contract says never). */
  emptyLists = 0;
  /** An error was told after this channel had a set. */
  errorsAfterSet = 0;
  /** The same set told again without a request from the channel. */
  redundantUpdates = 0;
  updateCalls = 0;
  errorCalls = 0;
  private pendingRequest = false;

  constructor(
    readonly id: number,
    readonly target: string,
    /** Keep only the last this many calls in {@link calls} (the counters count all). */
    private readonly maxCalls = Infinity,
  ) {}

  get hadSet(): boolean {
    return this.lastSet !== undefined;
  }

  /** Calls told at or after `since` (performance.now() time). */
  callsSince(since: number): ToldCall[] {
    return this.calls.filter((call) => call.at >= since);
  }

  noteRequest(): void {
    this.requests++;
    this.pendingRequest = true;
  }

  noteDestroy(): void {
    this.destroys++;
  }

  note(result: { ok: boolean; value?: unknown; error?: { code: number; details: string } }): void {
    const at = performance.now();
    const requested = this.pendingRequest;
    this.pendingRequest = false;
    if (!result.ok) {
      const error = result.error ?? { code: -1, details: '(no status)' };
      this.push({ kind: 'error', at, code: error.code, details: error.details });
      this.errorCalls++;
      if (this.hadSet) this.errorsAfterSet++;
      return;
    }
    const endpoints = (Array.isArray(result.value) ? result.value : []) as Array<{ addresses?: Array<{ host: string; port: number }> }>;
    const addresses = endpoints.flatMap((endpoint) => endpoint.addresses ?? []);
    const hosts = addresses.map((address) => address.host);
    this.push({ kind: 'addresses', at, hosts, ports: addresses.map((address) => address.port) });
    this.updateCalls++;
    if (hosts.length === 0) {
      this.emptyLists++;
      return;
    }
    const set = setKey(hosts);
    if (set === this.lastSet && !requested) this.redundantUpdates++;
    this.lastSet = set;
  }

  private push(call: ToldCall): void {
    this.calls.push(call);
    if (this.calls.length > this.maxCalls) this.calls.shift();
  }
}

/** The identity of a set of hosts: sorted, de-duplicated, comma-joined. */
export function setKey(hosts: Iterable<string>): string {
  return [...new Set(hosts)].sort().join(',');
}

const records = new Map<number, ChannelRecord>();
let nextId = 1;

type Listener = (result: { ok: boolean; value?: unknown; error?: { code: number; details: string } }, ...rest: unknown[]) => boolean;
type GrpcUri = { scheme?: string; authority?: string; path: string };

class RecordingResolver {
  private readonly inner: { updateResolution(): void; destroy(): void };
  private readonly record: ChannelRecord;

  constructor(target: GrpcUri, listener: Listener, options: Record<string, unknown>) {
    const id = options[RECORD_KEY];
    const record = typeof id === 'number' ? records.get(id) : undefined;
    if (!record) throw new Error(`${RECORDING_SCHEME}: channel option ${RECORD_KEY} must name a record (got ${String(id)})`);
    this.record = record;
    const wrapped: Listener = (result, ...rest) => {
      record.note(result);
      return listener(result, ...rest);
    };
    const createResolver = grpc.experimental.createResolver as unknown as (
      target: GrpcUri,
      listener: Listener,
      options: Record<string, unknown>,
    ) => { updateResolution(): void; destroy(): void };
    this.inner = createResolver({ scheme: 'dns-watch', authority: target.authority, path: target.path }, wrapped, options);
  }

  updateResolution(): void {
    this.record.noteRequest();
    this.inner.updateResolution();
  }

  destroy(): void {
    this.record.noteDestroy();
    this.inner.destroy();
  }

  static getDefaultAuthority(target: GrpcUri): string {
    return target.path;
  }
}

/** Register the `dns-watch-recorded` scheme with @grpc/grpc-js (idempotent). Call after register(). */
export function registerRecordingScheme(): void {
  grpc.experimental.registerResolver(RECORDING_SCHEME, RecordingResolver as unknown as Parameters<typeof grpc.experimental.registerResolver>[1]);
}

export interface RecordedClient {
  client: PodClient;
  record: ChannelRecord;
}

/**
 * A pod client (round_robin) whose channel resolves `name:port` with
 * grpc-dns-watch, recorded. `nameserver` gives the `//authority/` form.
 */
export function createRecordedClient(
  name: string,
  port: number,
  options: PodClientOptions & { nameserver?: string; maxCalls?: number } = {},
): RecordedClient {
  const id = nextId++;
  const target = options.nameserver ? `${RECORDING_SCHEME}://${options.nameserver}/${name}:${port}` : `${RECORDING_SCHEME}:///${name}:${port}`;
  const record = new ChannelRecord(id, target, options.maxCalls);
  records.set(id, record);
  const client = createPodClient(target, { ...options, channelOptions: { ...options.channelOptions, [RECORD_KEY]: id } });
  const close = client.close.bind(client);
  client.close = () => {
    close();
    records.delete(id);
  };
  return { client, record };
}
