import { requireGrpcFile } from './internals.js';

/**
 * `register()` after clients exist (issue 12, item 7): a channel builds its
 * resolver once, in its constructor (InternalChannel → ResolvingLoadBalancer →
 * createResolver, in every version from 1.8 to 1.14), so a channel created
 * before `register()` keeps grpc-js's built-in `dns` resolver until it is
 * closed. This finds such channels and warns once per grpc-js module.
 *
 * How, without guessing:
 * - the live channels come from grpc-js's own channelz registry
 *   (`getChannelzHandlers().GetTopChannels`, exported from 1.8 on, answering
 *   synchronously): every channel registers there in its constructor with the
 *   target string it was given, and unregisters in `close()`;
 * - whether a target uses the `dns` scheme is decided by that grpc-js copy's
 *   own `parseUri` and `mapUriDefaultScheme` (from its files; they are not
 *   exported), so `localhost:50051` counts and `unix:` or `ipv4:` do not;
 * - channels created while grpc-dns-watch owned `dns` are remembered by
 *   channelz id (ids only grow), so an unregister()/register() cycle never
 *   blames our own channels.
 * Whatever cannot be read this way (a bundled grpc-js, a channel with
 * `grpc.enable_channelz: 0`) means no warning: a false alarm would be worse.
 */

export const LATE_REGISTER_CODE = 'GRPC_DNS_WATCH_LATE_REGISTER';

/** Channelz pages read at most: 100 channels each, so up to 10,000 live channels are looked at. */
const MAX_PAGES = 100;
const PAGE_SIZE = 100;

interface Uri {
  scheme?: string;
  authority?: string;
  path: string;
}

interface ChannelMessage {
  ref?: { channel_id?: number | string };
  data?: { target?: string };
}

type TopChannelsHandler = (
  call: { request: { start_channel_id: string; max_results: string } },
  callback: (error: unknown, response?: { channel?: ChannelMessage[] }) => void,
) => void;

interface ModuleState {
  /** Channelz ids of channels that were created while we owned `dns`. */
  ours: Set<number>;
  warned: boolean;
}

const states = new WeakMap<object, ModuleState>();

function stateOf(grpc: object): ModuleState {
  let state = states.get(grpc);
  if (!state) {
    state = { ours: new Set(), warned: false };
    states.set(grpc, state);
  }
  return state;
}

/** A live channel whose target resolves through the `dns` scheme. */
interface DnsChannel {
  id: number;
  target: string;
}

/** Live channels of `grpc` with `dns` targets, or null when grpc-js does not let us know. */
export function liveDnsChannels(grpc: object): DnsChannel[] | null {
  const handler = (grpc as { getChannelzHandlers?: () => { GetTopChannels?: TopChannelsHandler } }).getChannelzHandlers?.().GetTopChannels;
  const parseUri = requireGrpcFile<{ parseUri?: (text: string) => Uri | null }>(grpc, 'uri-parser.js')?.parseUri;
  const mapUriDefaultScheme = requireGrpcFile<{ mapUriDefaultScheme?: (uri: Uri) => Uri | null }>(grpc, 'resolver.js')?.mapUriDefaultScheme;
  if (typeof handler !== 'function' || typeof parseUri !== 'function' || typeof mapUriDefaultScheme !== 'function') return null;
  const found: DnsChannel[] = [];
  let start = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    let channels: ChannelMessage[] | undefined;
    try {
      handler({ request: { start_channel_id: String(start), max_results: String(PAGE_SIZE) } }, (error, response) => {
        if (!error) channels = response?.channel ?? [];
      });
    } catch {
      return null;
    }
    // Not answered synchronously: a grpc-js we have not read; say nothing.
    if (channels === undefined) return null;
    for (const channel of channels) {
      const id = Number(channel.ref?.channel_id);
      const target = channel.data?.target;
      if (!Number.isSafeInteger(id) || typeof target !== 'string') return null;
      start = Math.max(start, id + 1);
      const parsed = parseUri(target);
      if (parsed && mapUriDefaultScheme(parsed)?.scheme === 'dns') found.push({ id, target });
    }
    if (channels.length < PAGE_SIZE) break;
  }
  return found;
}

/** The highest channelz id of a live channel now: channels created later have higher ids. */
export function channelMark(grpc: object): number {
  return highestId(liveDnsChannels(grpc) ?? []);
}

/** At unregister(): the dns channels created since `mark` used our resolver, not the built-in. */
export function rememberOurChannels(grpc: object, mark: number): void {
  const state = stateOf(grpc);
  // Rebuilt from the live channels each time, so closed ones are forgotten: bounded by the live count.
  state.ours = new Set((liveDnsChannels(grpc) ?? []).filter((channel) => channel.id > mark || state.ours.has(channel.id)).map((channel) => channel.id));
}

/**
 * Before grpc-dns-watch takes `dns` over: warn once per grpc-js module if
 * live channels already hold the built-in resolver.
 */
export function warnIfLate(grpc: object): void {
  const state = stateOf(grpc);
  if (state.warned) return;
  const late = (liveDnsChannels(grpc) ?? []).filter((channel) => !state.ours.has(channel.id));
  if (late.length === 0) return;
  state.warned = true;
  const shown = late.slice(0, 3).map((channel) => JSON.stringify(channel.target)).join(', ');
  const more = late.length > 3 ? ` and ${late.length - 3} more` : '';
  const one = late.length === 1;
  process.emitWarning(
    `grpc-dns-watch: register() ran after ${one ? 'a channel to a dns target' : `${late.length} channels to dns targets`} ` +
      `(${shown}${more}) had been created; ${one ? 'it keeps' : 'they keep'} grpc-js's built-in resolver until closed. ` +
      'Call register() before creating clients.',
    { code: LATE_REGISTER_CODE },
  );
}

function highestId(channels: readonly DnsChannel[]): number {
  return channels.reduce((max, channel) => Math.max(max, channel.id), 0);
}
