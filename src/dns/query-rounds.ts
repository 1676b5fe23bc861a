/**
 * The order and number of one query's tries. glibc asks its servers in
 * `attempts` rounds, each server once a round; this client does too, the
 * healthiest server first (server-health.ts). Past those rounds, while the
 * poll that asked has time left before its deadline, it keeps asking with
 * the first round's (short, adaptive) timeout — as a poller on Node's c-ares
 * channel does with its 4 tries — so a lost datagram costs one short try
 * instead of a poll. Only servers that were answering when the query began
 * (healthy, with their reply time measured) get those extra tries: in an
 * outage, or from a server never heard from, nothing more is sent.
 */
import type { NameserverState } from './nameserver-state.js';
import { nextServer } from './server-health.js';

/**
 * Tries to one server per query at most, the extra rounds within a poll's
 * deadline included: Node's c-ares channel asks each server 4 times
 * (`tries`), which is what a poller on c-ares gets on a lossy network.
 */
export const MAX_TRIES_PER_SERVER = 4;

/** What asks: made once per client, handed each query's run. */
export interface RoundsAsker<Run> {
  /** resolv.conf's attempts: rounds over the servers, always asked. */
  readonly attempts: number;
  /** Milliseconds on the client's clock, for the servers' adaptive timeouts. */
  now(): number;
  /** One try of `run` to `state` with `round`'s timeout; true when the query is settled (answered, or given up). */
  tryOnce(run: Run, state: NameserverState, round: number): Promise<boolean>;
  /** Before the first try: a chance to probe a server that failed (server-health.ts). */
  beforeFirstTry(run: Run, states: readonly NameserverState[], state: NameserverState): void;
  /** Every try of `run` so far got no reply at all (timed out): the case extra tries are for. */
  unanswered(run: Run): boolean;
  trace(run: Run, line: () => string): void;
}

/** The time left of the poll that asks (client.ts `QueryOptions.remainingMs`). */
interface TimeLeft {
  remainingMs?(): number;
}

/**
 * Ask `states` for `run` until one try settles it (true) or the tries
 * allowed are spent (false). `offset`: where the order starts among equally
 * healthy servers (`options rotate`).
 */
export async function askInRounds<Run>(run: Run, states: readonly NameserverState[], offset: number, timeLeft: TimeLeft, asker: RoundsAsker<Run>): Promise<boolean> {
  // Taken before any try of this query can fail: who was answering when it began.
  const answering = timeLeft.remainingMs ? states.map((state) => state.answering(asker.now())) : undefined;
  const asked = states.map(() => false);
  for (let round = 0; round < asker.attempts; round++) {
    asked.fill(false);
    for (let step = 0; step < states.length; step++) {
      const index = nextServer(states, asked, offset);
      asked[index] = true;
      if (round === 0 && step === 0) asker.beforeFirstTry(run, states, states[index]!);
      if (await asker.tryOnce(run, states[index]!, round)) return true;
    }
  }
  return answering !== undefined && asker.unanswered(run) && (await askWhileTimeLeft(run, states, offset, answering, timeLeft, asker));
}

/** The rounds past `attempts`: the first round's timeout, while a try can end before the poll's deadline. */
async function askWhileTimeLeft<Run>(
  run: Run,
  states: readonly NameserverState[],
  offset: number,
  answering: readonly boolean[],
  timeLeft: TimeLeft,
  asker: RoundsAsker<Run>,
): Promise<boolean> {
  const asked = states.map(() => false);
  for (let round = asker.attempts; round < MAX_TRIES_PER_SERVER; round++) {
    asked.fill(false);
    for (let step = 0; step < states.length; step++) {
      const index = nextServer(states, asked, offset);
      asked[index] = true;
      const state = states[index]!;
      if (!answering[index]) continue;
      const timeoutMs = state.baseTimeoutMs(asker.now());
      if ((timeLeft.remainingMs?.() ?? 0) < timeoutMs) return false;
      asker.trace(run, () => `try ${round + 1} to ${state.label}, past ${asker.attempts} attempts: ${Math.round(timeoutMs)} ms, within the poll's deadline`);
      if (await asker.tryOnce(run, state, 0)) return true;
      if (!asker.unanswered(run)) return false;
    }
  }
  return false;
}
