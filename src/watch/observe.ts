import diagnosticsChannel from 'node:diagnostics_channel';
import type { DnsError, DnsErrorCode } from '../dns/errors.js';
import type { AttemptEvent, Family } from '../dns/types.js';

/**
 * A typed hook surface for logs, metrics or OpenTelemetry, with no
 * dependency: every watcher in the process reports here, and on
 * `node:diagnostics_channel` (channels `grpc-dns-watch:<type>`). With no
 * observer and no channel subscriber, reporting costs a few checks and
 * builds nothing.
 */
export type WatchEvent =
  /**
   * One resolution of a name (all its families and search candidates), and
   * how it ended. `tryTimeoutMs`: the timeout its first try had — the
   * nameserver's adaptive timeout (`WatcherStats.nameservers`); undefined
   * when no query left (hosts file, IP literal, a polling resolver).
   */
  | { type: 'query'; name: string; family: Family; durationMs: number; result: 'NOERROR' | DnsErrorCode; addresses: number; tryTimeoutMs: number | undefined }
  /** The address set changed (not sent for an unchanged answer). */
  | { type: 'update'; name: string; addresses: string[]; added: string[]; removed: string[] }
  /**
   * A resolution failed. `kept` is true when the last good set stays in use
   * (could not ask, with a set); `retryInMs` is the backoff before the next try.
   */
  | { type: 'error'; name: string; error: DnsError; kept: boolean; retryInMs: number }
  /**
   * With family 0: a family demoted (NODATA poll after poll while the other
   * answers: asked again at the first poll `nextAskInMs` or more from now)
   * or restored (asked at every poll again). See docs/options.md, `askBothFamilies`.
   */
  | { type: 'family'; name: string; family: 4 | 6; change: 'demoted' | 'restored'; nextAskInMs: number | undefined; reason: string }
  /** One try of one query that failed, on its way to the next nameserver or attempt (see {@link AttemptEvent}). */
  | AttemptEvent;

export type WatchObserver = (event: WatchEvent) => void;

/** `node:diagnostics_channel` names, one per event type; the message is the same event object observers get. */
export const CHANNELS = Object.freeze({
  query: 'grpc-dns-watch:query',
  update: 'grpc-dns-watch:update',
  error: 'grpc-dns-watch:error',
  attempt: 'grpc-dns-watch:attempt',
  family: 'grpc-dns-watch:family',
} as const satisfies Record<WatchEvent['type'], string>);

// Held here so the channel objects (and their hasSubscribers) live as long as the module.
const channels: Record<WatchEvent['type'], diagnosticsChannel.Channel> = {
  query: diagnosticsChannel.channel(CHANNELS.query),
  update: diagnosticsChannel.channel(CHANNELS.update),
  error: diagnosticsChannel.channel(CHANNELS.error),
  attempt: diagnosticsChannel.channel(CHANNELS.attempt),
  family: diagnosticsChannel.channel(CHANNELS.family),
};

function anyChannelSubscribed(): boolean {
  return channels.query.hasSubscribers || channels.update.hasSubscribers || channels.error.hasSubscribers || channels.attempt.hasSubscribers || channels.family.hasSubscribers;
}

const observers = new Set<WatchObserver>();

/**
 * Receive every watcher's events; returns a function that stops them. An
 * observer that throws is ignored, never breaks polling.
 */
export function observe(observer: WatchObserver): () => void {
  if (typeof observer !== 'function') throw new TypeError('observe() takes a function (event) => void');
  observers.add(observer);
  return () => {
    observers.delete(observer);
  };
}

/** Whether anyone listens: hot paths check it before building an event thunk. */
export function observed(): boolean {
  return observers.size > 0 || anyChannelSubscribed();
}

/**
 * Hand an event to observers and to its diagnostics channel. Pass a thunk:
 * it is only called when someone listens.
 */
export function report(event: WatchEvent | (() => WatchEvent)): void {
  if (!observed()) return;
  const value = typeof event === 'function' ? event() : event;
  for (const observer of observers) {
    try {
      observer(value);
    } catch {
      // An observer's bug must not stop polling.
    }
  }
  const channel = channels[value.type];
  // A subscriber that throws is Node's business: publish() reports it as an uncaught exception, as for http or net.
  if (channel.hasSubscribers) channel.publish(value);
}
