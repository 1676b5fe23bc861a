/**
 * A poller's subscribers (channels, watch() handles) and what each was told.
 * Each remembers the signature of what it was last told and the addresses
 * it holds; {@link tell} calls it only when the contract says so, with the
 * change against what it held. One subscriber is the common case (one
 * channel or handle per name): the set is that subscriber alone, and a Set
 * only once there are more — a Set and its table cost more than all the
 * rest of a subscription, and 10,000 watched names hold 10,000 of them.
 */
import type { SourceAddress } from './records.js';
import { whatToTell, type Belief, type ServiceConfigAnswer, type Told } from './contract.js';
import { diff } from './records.js';
import type { HeldServiceConfig } from './service-config.js';
import type { WatcherStats } from './stats.js';
import { trace } from './trace.js';

/**
 * What a subscriber receives: the contract's verdict plus the change against
 * what it held before; an update to a subscriber that takes service configs
 * also carries the one held now (undefined: none answered yet).
 */
export type Delivery = Told & { added: string[]; removed: string[]; serviceConfig?: ServiceConfigAnswer | undefined };

export interface Subscription {
  /** Ask for fresh data (a channel's updateResolution()): answered by exactly one delivery. */
  request(): void;
  /** Stop deliveries; the last subscription to close stops the watcher. */
  close(): void;
  /** The watcher's counters and state (built on demand). */
  stats(): WatcherStats;
}

/** What a subscription's handle calls: the poller it belongs to. */
export interface SubscriptionOwner {
  request(subscriber: Subscriber): void;
  unsubscribe(subscriber: Subscriber): void;
  stats(): WatcherStats;
}

/** One subscriber, and its handle: a class rather than an object of closures (one per watched name and channel). */
export class Subscriber implements Subscription {
  lastTold: string | undefined = undefined;
  lastAddresses: readonly SourceAddress[] = [];
  /** The key of the service config it was last told (HeldServiceConfig.key). */
  lastServiceConfig: string | undefined = undefined;
  asked = true;
  open = true;

  constructor(
    private readonly owner: SubscriptionOwner,
    readonly deliver: (delivery: Delivery) => void,
    /** A channel takes service configs; a watch() handle takes addresses only. */
    readonly takesServiceConfig = false,
  ) {}

  request(): void {
    this.owner.request(this);
  }

  close(): void {
    this.owner.unsubscribe(this);
  }

  stats(): WatcherStats {
    return this.owner.stats();
  }
}

/** A poller's subscribers: none, one, or a Set of more (see the notes above). */
export type Subscribers = Subscriber | Set<Subscriber> | undefined;

export function withSubscriber(subscribers: Subscribers, subscriber: Subscriber): Subscribers {
  if (subscribers === undefined) return subscriber;
  if (subscribers instanceof Set) return subscribers.add(subscriber);
  return new Set([subscribers, subscriber]);
}

export function withoutSubscriber(subscribers: Subscribers, subscriber: Subscriber): Subscribers {
  if (subscribers === subscriber) return undefined;
  if (!(subscribers instanceof Set)) return subscribers;
  subscribers.delete(subscriber);
  return subscribers.size === 0 ? undefined : subscribers;
}

export function subscriberCount(subscribers: Subscribers): number {
  return subscribers === undefined ? 0 : subscribers instanceof Set ? subscribers.size : 1;
}

/** The subscribers now, as a list that later (un)subscribes do not change. */
export function subscriberList(subscribers: Subscribers): readonly Subscriber[] {
  return subscribers === undefined ? [] : subscribers instanceof Set ? [...subscribers] : [subscribers];
}

/** What a poller tells: its belief with the belief's signature, and the service config it holds. */
export interface Telling {
  readonly belief: Belief;
  readonly beliefSignature: string | undefined;
  readonly serviceConfig: HeldServiceConfig | undefined;
}

/** {@link tell} each subscriber, over a list taken first: a delivery may (un)subscribe. */
export function tellAll(subscribers: Subscribers, telling: Telling, name: string): void {
  if (subscribers instanceof Set) for (const subscriber of [...subscribers]) tell(subscriber, telling, name);
  else if (subscribers) tell(subscribers, telling, name);
}

/** Call `subscriber` if the contract says so (whatToTell), with the change against what it holds. */
export function tell(subscriber: Subscriber, { belief, beliefSignature, serviceConfig }: Telling, name: string): void {
  if (!subscriber.open) return;
  const configNews = subscriber.takesServiceConfig && serviceConfig?.key !== subscriber.lastServiceConfig;
  const told = whatToTell(belief, subscriber.lastTold, subscriber.asked, beliefSignature, configNews);
  subscriber.asked = false;
  if (!told) {
    // Told this set before: hold this poll's equal list, not the first one's, so only one is kept.
    if (belief.kind === 'addresses' && subscriber.lastTold === beliefSignature) subscriber.lastAddresses = belief.addresses;
    return;
  }
  subscriber.lastTold = beliefSignature;
  const addresses = told.kind === 'update' ? told.addresses : [];
  const change = diff(subscriber.lastAddresses, addresses);
  if (told.kind === 'update') subscriber.lastAddresses = addresses;
  const withConfig = told.kind === 'update' && subscriber.takesServiceConfig;
  if (withConfig) subscriber.lastServiceConfig = serviceConfig?.key;
  try {
    subscriber.deliver({
      ...told,
      ...(told.kind === 'update' ? change : { added: [], removed: [] }),
      ...(withConfig ? { serviceConfig: serviceConfig?.answer } : {}),
    });
  } catch (error) {
    // One subscriber's exception must not stop the others or the poll loop.
    trace(() => `${name}: subscriber threw: ${(error as Error)?.stack ?? String(error)}`);
  }
}
