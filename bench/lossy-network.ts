/**
 * 11. Lossy network: how long after a DNS change each client has the new
 * address set when datagrams are lost, and how long a poll takes behind a
 * dead first nameserver.
 *
 * Runs inside `unshare --net --mount` (bench/run.ts; see lib/netns.ts): a
 * private loopback, and a resolv.conf with no options line (glibc's timeout
 * 5 s and attempts 2) bind-mounted over /etc/resolv.conf, as a pod sees it.
 * In there:
 *
 *   dnsmasq (Debian's) on 127.0.0.2:53, answering from one hosts file per pod
 *     (TTL 5 s, CoreDNS's default), two A and two AAAA records a name (a
 *     dual-stack Service); a change swaps a file in by one rename
 *   harness/dropping-proxy.ts on 127.0.0.1:53 (resolv.conf's nameserver),
 *     forwarding to it: the cluster DNS Service's address, NATed as kube-proxy
 *     does; it drops "the next A (or AAAA) query of this name" on command, or
 *     every query that races another from the same socket (conntrack race)
 *   nftables rules (harness/nft-loss.ts) dropping N % of the UDP datagrams to
 *     and from 127.0.0.1:53 at random, each direction, and everything sent to
 *     127.0.0.99 (a dead nameserver: no answer, no ICMP)
 *   PODS client processes (bench/lib/change-clients.ts), each running the four
 *     clients side by side on names of its own: watch() family 4 and family 0
 *     (refreshInterval 1 s, defaults otherwise), a c-ares poller and a
 *     dns.lookup poller, both on a setInterval of 1 s
 *
 * Conditions, interleaved (each round runs every condition, in rotated order)
 * and repeated: 0, 1, 5 and 20 % loss; the A query of each client's next poll
 * dropped; only its AAAA dropped; the conntrack race throughout. Each change:
 * a random wait (uniform over one poll interval), a new set for the pod's four
 * names, then the time until each client's set is the new one (capped). Then
 * the dead-nameserver phase: resolv.conf becomes `nameserver 127.0.0.99`,
 * `nameserver 127.0.0.1` (with `options timeout:1`, and without), fresh client
 * processes, and every poll's duration after a warm-up.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { canonicalAddress, Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { DroppingDnsProxy, type DropOrder } from '../harness/dropping-proxy.js';
import { waitUntil, pollUntil } from '../harness/wait.js';
import { applyPacketLoss, clearPacketLoss, nftablesUnavailable, packetLossCounters } from '../harness/nft-loss.js';
import { ASKS_AAAA, CLIENTS, MAX_POLLS_IN_FLIGHT, POLL_INTERVAL_MS, type ChangeClientsConfig, type ChangeClientsMessage, type ClientName } from './lib/change-clients.js';
import { PROJECT_ROOT } from './lib/dns-child.js';
import { sleep } from './lib/harness.js';
import { GLIBC_DEFAULTS_RESOLV_CONF } from './lib/netns.js';
import type { BenchContext, BenchReport, SummaryLine } from './lib/report.js';
import { percentile } from './lib/stats.js';
import { int, pct, sig, type Table } from './lib/table.js';

const CLIENTS_SCRIPT = path.join(PROJECT_ROOT, 'bench', 'lib', 'change-clients.ts');
const PROXY = { host: '127.0.0.1', port: 53 };
const SERVER = { host: '127.0.0.2', port: 53 };
const DEAD_NAMESERVER = '127.0.0.99';
const RECORD_TTL = 5;
const RACE_WINDOW_MS = 5;
/** The bound issue 25 asks for: a dropped query costs at most refreshInterval × (1 + jitter) + 1 s. */
const BLIND_BOUND_MS = POLL_INTERVAL_MS * 1.2 + 1_000;
/** "About the live server's round trip" on loopback, generously. */
const LIVE_ROUND_TRIP_BOUND_MS = 100;

type Condition = { kind: 'loss'; percent: number } | { kind: 'drop'; type: 'A' | 'AAAA' } | { kind: 'conntrack-race' };

function label(condition: Condition): string {
  if (condition.kind === 'loss') return `${condition.percent} % loss`;
  if (condition.kind === 'drop') return condition.type === 'A' ? 'A query of the next poll dropped' : 'only the AAAA of the next poll dropped';
  return 'conntrack race';
}

interface Plan {
  pods: number;
  rounds: number;
  changesPerRound: number;
  conditions: Condition[];
  /** A client not on the new set this long after the change counts as "not within". */
  capMs: number;
  /** The change lands after a wait uniform over [0, phaseMs). */
  phaseMs: number;
  /** After a condition, how long every client gets to finish a poll begun once the network is clean again (0: no wait). */
  settleMs: number;
  dead: Array<{ label: string; options: string; caresTimeoutMs?: number }>;
  deadRounds: number;
  deadWindowMs: number;
  deadWarmupMs: number;
}

function plan(quick: boolean): Plan {
  const dead = [
    { label: 'timeout 1 s', options: 'options timeout:1\n', caresTimeoutMs: 1_000 },
    { label: 'default timeout (glibc 5 s, c-ares its own)', options: '' },
  ];
  if (quick) {
    return {
      pods: 1,
      rounds: 1,
      changesPerRound: 1,
      conditions: [{ kind: 'loss', percent: 0 }, { kind: 'loss', percent: 20 }, { kind: 'drop', type: 'A' }, { kind: 'drop', type: 'AAAA' }, { kind: 'conntrack-race' }],
      capMs: 1_500,
      phaseMs: 250,
      settleMs: 0,
      dead: dead.slice(0, 1),
      deadRounds: 1,
      deadWindowMs: 3_000,
      deadWarmupMs: 1_200,
    };
  }
  // 6 × 6 × 3 = 108 changes per condition: enough for a nearest-rank p99 that is not the largest value.
  return {
    pods: 6,
    rounds: 6,
    changesPerRound: 3,
    conditions: [
      { kind: 'loss', percent: 0 },
      { kind: 'loss', percent: 1 },
      { kind: 'loss', percent: 5 },
      { kind: 'loss', percent: 20 },
      { kind: 'drop', type: 'A' },
      { kind: 'drop', type: 'AAAA' },
      { kind: 'conntrack-race' },
    ],
    capMs: 40_000,
    phaseMs: POLL_INTERVAL_MS,
    settleMs: 15_000,
    dead,
    deadRounds: 2,
    deadWindowMs: 30_000,
    deadWarmupMs: 10_000,
  };
}

// ------------------------------------------------------------------ pods

interface PollRecord {
  client: ClientName;
  startedAt: number;
  durationMs: number;
  ok: boolean;
}

interface Stopped {
  skippedTicks: Record<ClientName, number>;
  activeResources: string[];
}

/** One client process and what it reported. */
class Pod {
  readonly names: Record<ClientName, string>;
  readonly file: string;
  /** Index of the pod's current set (see addressesOf). */
  seq = 0;
  /** Every poll that ended, when started with `keepPolls`. */
  readonly polls: PollRecord[] = [];
  /** Per client, the start (epoch ms) of the latest poll that ended. */
  private readonly lastPollStart = new Map<ClientName, number>();
  readonly exited: Promise<void>;
  /** The latest set of each client, as a comma-joined key. */
  private readonly current = new Map<ClientName, string>();
  private readonly listeners = new Set<(client: ClientName, key: string, at: number) => void>();
  private stoppedInfo: Promise<Stopped> | undefined;
  private exitedWith: string | undefined;

  private constructor(
    readonly index: number,
    private readonly child: ChildProcess,
    keepPolls: boolean,
  ) {
    this.names = podNames(index);
    this.file = `pod-${index}`;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitedWith = signal ?? `code ${String(code)}`;
        resolve();
      });
    });
    child.on('message', (message: ChangeClientsMessage) => {
      if (message.type === 'set') {
        const key = setKey(message.addresses);
        this.current.set(message.client, key);
        for (const listener of this.listeners) listener(message.client, key, message.at);
      } else if (message.type === 'poll') {
        this.lastPollStart.set(message.client, Math.max(message.startedAt, this.lastPollStart.get(message.client) ?? -Infinity));
        if (keepPolls) this.polls.push({ client: message.client, startedAt: message.startedAt, durationMs: message.durationMs, ok: message.ok });
      }
    });
  }

  static async start(index: number, config: Omit<ChangeClientsConfig, 'names'>, keepPolls: boolean): Promise<Pod> {
    const full: ChangeClientsConfig = { ...config, names: podNames(index) };
    const child = fork(CLIENTS_SCRIPT, [JSON.stringify(full)], { cwd: PROJECT_ROOT, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const pod = new Pod(index, child, keepPolls);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pod ${index} did not start within 30 s`)), 30_000);
      child.on('message', (message: ChangeClientsMessage) => {
        if (message.type !== 'ready') return;
        clearTimeout(timer);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`pod ${index} exited with ${String(code)} before it was ready`));
      });
    });
    return pod;
  }

  /**
   * Start watching for `key`; `until(deadline)` (epoch ms) then says when
   * each client's set first was `key`, undefined for a client not there by
   * the deadline.
   */
  reach(keys: SetKeys): { until(deadline: number): Promise<Map<ClientName, number | undefined>> } {
    const seen = new Map<ClientName, number>();
    const listener = (client: ClientName, key: string, at: number): void => {
      if (key === keys[client] && !seen.has(client)) seen.set(client, at);
    };
    this.listeners.add(listener);
    return {
      until: async (deadline) => {
        try {
          // Checked every 10 ms; the times themselves are the client's own (set messages carry them).
          await pollUntil(() => seen.size === CLIENTS.length || this.exitedWith !== undefined, Math.max(0, deadline - Date.now()), 10);
        } finally {
          this.listeners.delete(listener);
        }
        if (this.exitedWith) throw new Error(`pod ${this.index} exited (${this.exitedWith}) while waiting for a change`);
        return new Map(CLIENTS.map((client) => [client, seen.get(client)]));
      },
    };
  }

  /** Whether every client has finished a poll that started at or after `since` (epoch ms): none is still held by an earlier one. */
  polledSince(since: number): boolean {
    return CLIENTS.every((client) => (this.lastPollStart.get(client) ?? -Infinity) >= since);
  }

  /** Whether every client's set is its view of one set. */
  allAt(keys: SetKeys): boolean {
    return CLIENTS.every((client) => this.current.get(client) === keys[client]);
  }

  /** Ask the process to close its clients; resolves with its report (it exits once glibc's lookups in flight return). */
  stop(): Promise<Stopped> {
    this.stoppedInfo ??= new Promise<Stopped>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`pod ${this.index} did not confirm stopping within 10 s`)), 10_000);
      this.child.on('message', (message: ChangeClientsMessage) => {
        if (message.type !== 'stopped') return;
        clearTimeout(timer);
        resolve({ skippedTicks: message.skippedTicks, activeResources: message.activeResources });
      });
      if (this.child.connected) this.child.send({ cmd: 'stop' });
      else reject(new Error(`pod ${this.index} is gone (${this.exitedWith ?? 'disconnected'})`));
    });
    return this.stoppedInfo;
  }

  /** Wait for the process to leave by itself, at most `ms`; then kill it. Whether it left by itself. */
  async leave(ms: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const left = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
    clearTimeout(timer);
    if (!left) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    return left;
  }
}

function podNames(index: number): Record<ClientName, string> {
  const short: Record<ClientName, string> = { 'watch family 4': 'w4', 'watch family 0': 'w0', 'c-ares poller': 'ca', 'dns.lookup poller': 'gl' };
  return Object.fromEntries(CLIENTS.map((client) => [client, `${short[client]}-${index}.loss.bench.test`])) as Record<ClientName, string>;
}

/**
 * The pod's set number `seq`, a dual-stack Service's: two A and two AAAA
 * records, one of each that stays and one of each replaced at every change,
 * so a family-0 client needs both families' answers for the new set (and
 * asks both at every poll: a family that answers NODATA would be demoted).
 */
function addressesOf(pod: number, seq: number): string[] {
  const v4 = [`10.${pod}.255.254`, `10.${pod}.${(seq >> 8) & 255}.${seq & 255}`];
  const v6 = [`fd00::b:${pod.toString(16)}:fffe`, `fd00::a:${pod.toString(16)}:${(seq & 0xffff).toString(16)}`];
  return [...v4, ...v6];
}

/** Each client's view of a set, as a key: its addresses canonical and sorted, only A for family 4. */
type SetKeys = Record<ClientName, string>;

function setKey(addresses: readonly string[]): string {
  return [...new Set(addresses.map(canonicalAddress))].sort().join(',');
}

function keysOf(addresses: readonly string[]): SetKeys {
  const v4 = addresses.filter((address) => net.isIPv4(address));
  return Object.fromEntries(CLIENTS.map((client) => [client, setKey(ASKS_AAAA[client] ? addresses : v4)])) as SetKeys;
}

async function serve(dnsmasq: Dnsmasq, pod: Pod, seq: number): Promise<{ at: number; keys: SetKeys }> {
  const addresses = addressesOf(pod.index, seq);
  const at = await dnsmasq.setHosts(pod.file, new Map(CLIENTS.map((client) => [pod.names[client], addresses])));
  return { at, keys: keysOf(addresses) };
}

// ------------------------------------------------------------------ measuring

interface ChangeSample {
  condition: string;
  round: number;
  pod: number;
  /** Epoch ms of the change (the hosts file renamed in). */
  at: number;
  /** From the change until a direct query to dnsmasq saw it: how late the server itself was. */
  servedAfterMs: number;
  /** Per client: ms from the change to the new set; null: not within the cap. */
  lags: Partial<Record<ClientName, number | null>>;
  /** Per client, why the sample does not count (a drop order that did not drop the next poll's query). */
  excluded: Partial<Record<ClientName, string>>;
}

interface ConditionTotals {
  queries: { packets: number; dropped: number };
  replies: { packets: number; dropped: number };
  proxyOrders: number;
  proxyRaces: number;
}

interface DeadPoll extends PollRecord {
  config: string;
  round: number;
}

async function oneChange(pod: Pod, condition: Condition, round: number, dnsmasq: Dnsmasq, proxy: DroppingDnsProxy, settings: Plan): Promise<ChangeSample> {
  await sleep(Math.random() * settings.phaseMs);
  pod.seq++;
  const reached = pod.reach(keysOf(addressesOf(pod.index, pod.seq)));
  // Armed just before the change, so the query dropped is the first one that could see the new set.
  const orders = new Map<ClientName, DropOrder>();
  if (condition.kind === 'drop') {
    for (const client of CLIENTS) {
      if (condition.type === 'A' || ASKS_AAAA[client]) orders.set(client, proxy.dropNext({ name: pod.names[client], type: condition.type }));
    }
  }
  const { at } = await serve(dnsmasq, pod, pod.seq);
  const servedAfterMs = Date.now() - at;
  const seenAt = await reached.until(at + settings.capMs);
  const lags: ChangeSample['lags'] = {};
  const excluded: ChangeSample['excluded'] = {};
  for (const client of CLIENTS) {
    const seen = seenAt.get(client);
    if (condition.kind === 'drop' && !orders.has(client)) continue; // asks no AAAA: nothing to drop
    lags[client] = seen === undefined ? null : seen - at;
    const order = orders.get(client);
    if (!order) continue;
    const dropped = order.dropped[0];
    order.cancel();
    if (!dropped) excluded[client] = seen === undefined ? 'no query dropped, and no new set, within the cap' : 'no query dropped before the new set arrived';
    else if (dropped.at < at) excluded[client] = 'the query dropped left before the change';
    else if (seen !== undefined && dropped.at > seen) excluded[client] = 'the query dropped left after the new set arrived';
  }
  return { condition: label(condition), round, pod: pod.index, at, servedAfterMs, lags, excluded };
}

function rotate<T>(list: readonly T[], by: number): T[] {
  return list.map((_, index) => list[(index + by) % list.length]!);
}

/** A client's lags under one condition: Infinity for "not within the cap", excluded samples left out. */
function lagsOf(samples: readonly ChangeSample[], condition: string, client: ClientName): number[] {
  return samples
    .filter((sample) => sample.condition === condition && sample.lags[client] !== undefined && sample.excluded[client] === undefined)
    .map((sample) => sample.lags[client] ?? Infinity);
}

function seconds(valueMs: number, capMs: number): string {
  if (valueMs === Infinity) return `> ${sig(capMs / 1000)}`;
  return Number.isFinite(valueMs) ? sig(valueMs / 1000, 2) : '—';
}

/** "p50 / p99 / max s (n)", with censored values shown as "> cap". */
function triple(values: readonly number[], capMs: number): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  return `${seconds(percentile(sorted, 50), capMs)} / ${seconds(percentile(sorted, 99), capMs)} / ${seconds(sorted[sorted.length - 1]!, capMs)} s (${sorted.length})`;
}

function pollTriple(values: readonly number[]): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  const fmt = (valueMs: number): string => (valueMs >= 1_000 ? `${sig(valueMs / 1000, 2)} s` : `${sig(valueMs, 2)} ms`);
  return `${fmt(percentile(sorted, 50))} / ${fmt(percentile(sorted, 99))} / ${fmt(sorted[sorted.length - 1]!)} (${sorted.length})`;
}

// ------------------------------------------------------------------ the run

/** Write the pod's resolv.conf: the namespace's bind-mounted file, never the machine's. */
function writePodResolvConf(text: string): void {
  const file = process.env.BENCH_RESOLV_CONF;
  if (!file || path.resolve(file) === '/etc/resolv.conf' || !path.resolve(file).startsWith(os.tmpdir())) {
    throw new Error(`BENCH_RESOLV_CONF must name the temporary file bind-mounted over /etc/resolv.conf, got ${JSON.stringify(file)}`);
  }
  fs.writeFileSync(file, text);
  if (fs.readFileSync('/etc/resolv.conf', 'utf8') !== text) throw new Error('/etc/resolv.conf is not the bind-mounted file: refusing to go on');
}

function skipped(reason: string): BenchReport {
  return {
    name: 'lossy-network',
    title: '11. Lossy network: DNS change → new set under packet loss, one lost datagram, a dead first nameserver',
    method: `Skipped: ${reason}.`,
    tables: [],
    summary: [{ metric: 'lossy network', value: `skipped: ${reason}`, met: null }],
    notes: [],
    data: { skipped: reason },
  };
}

/** What the phases measure, and what the report is made of. */
interface Measured {
  samples: ChangeSample[];
  totals: Map<string, ConditionTotals>;
  deadPolls: DeadPoll[];
  skippedTicks: Array<Record<ClientName, number>>;
  notes: string[];
  /** The machine's 1-minute load average at the end of each condition and dead-nameserver run (the machine is shared). */
  loadAverages: number[];
  durationMs: number;
}

/** The server, the proxy and the client processes every phase shares, and what they measured so far. */
interface Lab extends Measured {
  settings: Plan;
  dnsmasq: Dnsmasq;
  proxy: DroppingDnsProxy;
  log: (line: string) => void;
  /** The client processes running now. */
  pods: Pod[];
  /** Every client process started, to wait for at the end. */
  allPods: Pod[];
  /** Conditions after which some client had not finished a fresh poll in time. */
  unsettled: string[];
}

/** The network clean again: no loss but the dead nameserver's, no race. */
function calmNetwork(proxy: DroppingDnsProxy): void {
  applyPacketLoss({ server: PROXY, percent: 0, blackholes: [DEAD_NAMESERVER] });
  proxy.setConntrackRace(false);
}

/** The client processes for the change conditions, each client on its pod's first set. */
async function startPods(lab: Lab): Promise<void> {
  calmNetwork(lab.proxy);
  const mainConfig = { caresServers: [PROXY.host] };
  lab.pods.push(...(await Promise.all(Array.from({ length: lab.settings.pods }, (_, index) => Pod.start(index, mainConfig, false)))));
  lab.allPods.push(...lab.pods);
  await Promise.all(
    lab.pods.map(async (pod) => {
      const { keys } = await serve(lab.dnsmasq, pod, pod.seq);
      await waitUntil(() => pod.allAt(keys), `every client of pod ${pod.index} has its first set`, 30_000, 50);
    }),
  );
  lab.log(`${lab.pods.length} pods ready`);
}

function addTotals(total: ConditionTotals, counters: ReturnType<typeof packetLossCounters>, proxy: DroppingDnsProxy, proxyBefore: DroppingDnsProxy['counters']): void {
  total.queries.packets += counters.queries.packets;
  total.queries.dropped += counters.queries.dropped;
  total.replies.packets += counters.replies.packets;
  total.replies.dropped += counters.replies.dropped;
  total.proxyOrders += proxy.counters.order - proxyBefore.order;
  total.proxyRaces += proxy.counters.conntrackRace - proxyBefore.conntrackRace;
}

/** One condition of one round: its changes in every client process, then a calm network until each has polled again. */
async function oneCondition(lab: Lab, condition: Condition, round: number): Promise<void> {
  const { settings, proxy } = lab;
  const name = label(condition);
  applyPacketLoss({ server: PROXY, percent: condition.kind === 'loss' ? condition.percent : 0, blackholes: [DEAD_NAMESERVER] });
  proxy.setConntrackRace(condition.kind === 'conntrack-race' ? { windowMs: RACE_WINDOW_MS } : false);
  const proxyBefore = { ...proxy.counters };
  await Promise.all(
    lab.pods.map(async (pod) => {
      for (let change = 0; change < settings.changesPerRound; change++) lab.samples.push(await oneChange(pod, condition, round, lab.dnsmasq, proxy, settings));
    }),
  );
  const counters = packetLossCounters();
  // The next condition starts on clients no longer held by a try of this one (a lost datagram's retry, up to 2 × 5 s).
  calmNetwork(proxy);
  const calmSince = Date.now();
  if (settings.settleMs > 0) {
    const settled = await Promise.all(lab.pods.map((pod) => pollUntil(() => pod.polledSince(calmSince), settings.settleMs, 20)));
    if (settled.includes(false)) lab.unsettled.push(`${name}, round ${round + 1}`);
  }
  const total = lab.totals.get(name) ?? { queries: { packets: 0, dropped: 0 }, replies: { packets: 0, dropped: 0 }, proxyOrders: 0, proxyRaces: 0 };
  addTotals(total, counters, proxy, proxyBefore);
  lab.totals.set(name, total);
  lab.loadAverages.push(os.loadavg()[0]!);
  lab.log(`round ${round + 1}/${settings.rounds}, ${name}: ${lab.samples.length} changes so far`);
}

/** Every round of the change conditions, in rotated order; the client processes stopped after. */
async function conditionRounds(lab: Lab): Promise<void> {
  for (let round = 0; round < lab.settings.rounds; round++) {
    for (const condition of rotate(lab.settings.conditions, round)) await oneCondition(lab, condition, round);
  }
  calmNetwork(lab.proxy);
  for (const stopped of await Promise.all(lab.pods.map((pod) => pod.stop()))) lab.skippedTicks.push(stopped.skippedTicks);
  lab.pods.length = 0;
}

/** Dead first nameserver: fresh processes read the new resolv.conf; every poll after the warm-up is kept. */
async function deadNameserverRuns(lab: Lab): Promise<void> {
  const { settings } = lab;
  for (let round = 0; round < settings.deadRounds; round++) {
    for (const config of rotate(settings.dead, round)) {
      writePodResolvConf(`nameserver ${DEAD_NAMESERVER}\nnameserver ${PROXY.host}\n${config.options}`);
      const deadConfig = { caresServers: [DEAD_NAMESERVER, PROXY.host], caresTimeoutMs: config.caresTimeoutMs };
      const started = await Promise.all(Array.from({ length: settings.pods }, (_, index) => Pod.start(index, deadConfig, true)));
      lab.allPods.push(...started);
      const since = Date.now();
      await sleep(settings.deadWindowMs);
      for (const stopped of await Promise.all(started.map((pod) => pod.stop()))) lab.skippedTicks.push(stopped.skippedTicks);
      for (const pod of started) {
        for (const poll of pod.polls) if (poll.startedAt >= since + settings.deadWarmupMs) lab.deadPolls.push({ ...poll, config: config.label, round });
      }
      lab.loadAverages.push(os.loadavg()[0]!);
      lab.log(`dead first nameserver, ${config.label}, round ${round + 1}/${settings.deadRounds}: ${lab.deadPolls.length} polls so far`);
    }
  }
}

/** Every client process gone, the rules, proxy and server removed, the pod's resolv.conf back to glibc's defaults. */
async function shutDown(lab: Lab): Promise<void> {
  await Promise.allSettled(lab.pods.map((pod) => pod.stop()));
  // glibc's lookups cannot be cancelled: a process waits for its last one (2 servers × 2 attempts × 5 s at most).
  const leftByThemselves = await Promise.all(lab.allPods.map((pod) => pod.leave(25_000)));
  const killed = leftByThemselves.filter((left) => !left).length;
  if (killed > 0) lab.notes.push(`${killed} client process(es) did not exit within 25 s of stopping and were killed.`);
  try {
    clearPacketLoss();
  } finally {
    await lab.proxy.close();
    await lab.dnsmasq.close();
    writePodResolvConf(GLIBC_DEFAULTS_RESOLV_CONF);
  }
}

function runNotes(lab: Lab): void {
  if (lab.unsettled.length > 0) lab.notes.push(`Some client had not finished a fresh poll ${lab.settings.settleMs / 1000} s after these conditions ended: ${lab.unsettled.join('; ')}.`);
  if (lab.loadAverages.length > 0) {
    const [low, high] = [sig(Math.min(...lab.loadAverages), 2), sig(Math.max(...lab.loadAverages), 2)];
    lab.notes.push(`Load average (1 min) of the machine during the run: ${low === high ? low : `${low}–${high}`} (${os.availableParallelism()} cores).`);
  }
}

/** The server and proxy around the phases: change conditions, then a dead first nameserver. */
async function measure(settings: Plan, log: (line: string) => void): Promise<Measured> {
  writePodResolvConf(GLIBC_DEFAULTS_RESOLV_CONF);
  const dnsmasq = await Dnsmasq.start({ host: SERVER.host, port: SERVER.port, ttl: RECORD_TTL });
  const proxy = await DroppingDnsProxy.start({ host: PROXY.host, port: PROXY.port, upstream: SERVER });
  const measured: Measured = { samples: [], totals: new Map(), deadPolls: [], skippedTicks: [], notes: [], loadAverages: [], durationMs: 0 };
  const lab: Lab = { ...measured, settings, dnsmasq, proxy, log, pods: [], allPods: [], unsettled: [] };
  const startedAt = Date.now();
  try {
    await startPods(lab);
    await conditionRounds(lab);
    await deadNameserverRuns(lab);
  } finally {
    await shutDown(lab);
  }
  runNotes(lab);
  const { samples, totals, deadPolls, skippedTicks, notes, loadAverages } = lab;
  return { samples, totals, deadPolls, skippedTicks, notes, loadAverages, durationMs: Date.now() - startedAt };
}

export async function run(context: BenchContext): Promise<BenchReport> {
  if (!context.netns) return skipped(context.netnsUnavailable ?? 'needs a private network namespace (unshare --net --mount)');
  const why = nftablesUnavailable() ?? (dnsmasqBinary() ? null : 'dnsmasq is not installed (apt-get install dnsmasq-base)');
  if (why) return skipped(why);
  const settings = plan(context.quick);
  return report(settings, context.quick, await measure(settings, context.log));
}

// ------------------------------------------------------------------ the report

/** The change conditions' names: the loss shares, and the conntrack race if run. */
function changeConditions(settings: Plan): { loss: string[]; race: string[]; drop: string[] } {
  return {
    loss: settings.conditions.filter((condition) => condition.kind === 'loss').map(label),
    race: settings.conditions.some((condition) => condition.kind === 'conntrack-race') ? [label({ kind: 'conntrack-race' })] : [],
    drop: settings.conditions.filter((condition) => condition.kind === 'drop').map(label),
  };
}

function changeTable(settings: Plan, samples: ChangeSample[]): Table {
  const cap = settings.capMs;
  const { loss, race } = changeConditions(settings);
  return {
    title: `DNS change → each client has the new set: p50 / p99 / max in seconds (changes), refreshInterval / poll interval 1 s; "> ${sig(cap / 1000)}" = not within ${sig(cap / 1000)} s`,
    headers: ['client', ...loss, ...race],
    rows: CLIENTS.map((client) => [client, ...[...loss, ...race].map((condition) => triple(lagsOf(samples, condition, client), cap))]),
    notes: [
      'N % loss: nftables drops N % of the UDP datagrams to 127.0.0.1:53 and N % of those from it, at random (the measured shares are in the last table).',
      `conntrack race: a query leaving a client socket within ${RACE_WINDOW_MS} ms of the previous one from it is dropped (the A and AAAA sent together by glibc and c-ares); the retry, sent alone, passes.`,
      'Percentiles are nearest-rank: below 100 changes, p99 is the largest value.',
    ],
  };
}

function blindTable(settings: Plan, samples: ChangeSample[]): Table {
  const { drop } = changeConditions(settings);
  return {
    title: 'Blind time after exactly one lost datagram: DNS change → new set, p50 / p99 / max in seconds (changes)',
    headers: ['client', ...drop],
    rows: CLIENTS.map((client) => [
      client,
      ...drop.map((condition) => (condition.startsWith('only the AAAA') && !ASKS_AAAA[client] ? '– (asks no AAAA)' : triple(lagsOf(samples, condition, client), settings.capMs))),
    ]),
    notes: [
      "The proxy drops the client's next query of that type for its name, armed just before the change; a sample whose dropped query left before the change or after the new set arrived is not counted (see the last table).",
    ],
  };
}

function deadTable(settings: Plan, deadPolls: DeadPoll[]): Table {
  return {
    title: `Poll duration with a dead first nameserver (resolv.conf: nameserver ${DEAD_NAMESERVER}, nameserver 127.0.0.1): p50 / p99 / max (polls started ≥ ${sig(settings.deadWarmupMs / 1000)} s after the clients)`,
    headers: ['client', ...settings.dead.map((config) => config.label)],
    rows: CLIENTS.map((client) => [
      client,
      ...settings.dead.map((config) => pollTriple(deadPolls.filter((poll) => poll.config === config.label && poll.client === client).map((poll) => poll.durationMs))),
    ]),
    notes: [
      `${DEAD_NAMESERVER} swallows every packet (nftables), so a try to it waits out its timeout. watch(): the library's own "query" event duration (all families); c-ares poller: resolve4 + resolve6; dns.lookup: one getaddrinfo.`,
      'watch() and glibc read the timeout from resolv.conf (options timeout:1, or glibc\'s 5 s); the c-ares poller gets { timeout: 1000 } in the first column and no options in the second.',
      `Window ${sig(settings.deadWindowMs / 1000)} s per run, ${settings.deadRounds} run(s) per column, ${settings.pods} client processes each.`,
    ],
  };
}

/** One condition's row of the network table: what nftables and the proxy dropped, samples not counted, the server's own delay. */
function networkRow(condition: string, total: ConditionTotals | undefined, samples: ChangeSample[]): string[] {
  const list = samples.filter((sample) => sample.condition === condition);
  const excluded = list.reduce((sum, sample) => sum + Object.keys(sample.excluded).length, 0);
  const served = list.map((sample) => sample.servedAfterMs).sort((a, b) => a - b);
  const share = (part: { packets: number; dropped: number } | undefined): string => (part && part.packets > 0 ? `${pct(part.dropped / part.packets)} of ${int(part.packets)}` : '—');
  return [
    condition,
    int(list.length),
    share(total?.queries),
    share(total?.replies),
    total ? `${int(total.proxyOrders)} on command, ${int(total.proxyRaces)} races` : '—',
    int(excluded),
    served.length > 0 ? `${sig(percentile(served, 50), 2)} / ${sig(served[served.length - 1]!, 2)} ms` : '—',
  ];
}

function networkTable(settings: Plan, quick: boolean, { samples, totals, skippedTicks }: Measured): Table {
  const skippedBy = (client: ClientName): string => int(skippedTicks.reduce((sum, entry) => sum + entry[client], 0));
  return {
    title: 'What the network did, per condition',
    headers: ['condition', 'changes', 'queries lost (nftables)', 'replies lost (nftables)', 'dropped by the proxy', 'samples not counted', 'server had the change after (p50 / max)'],
    rows: settings.conditions.map(label).map((condition) => networkRow(condition, totals.get(condition), samples)),
    notes: [
      '"server had the change after": from the hosts file renamed in until a direct query to dnsmasq (not through the proxy, no loss) returned the new set — included in every lag above.',
      `c-ares poller: a tick is skipped while ${MAX_POLLS_IN_FLIGHT} of its polls are in flight; dns.lookup poller: while its lookup runs. Skipped ticks over the run: c-ares ${skippedBy('c-ares poller')}, dns.lookup ${skippedBy('dns.lookup poller')}.`,
      ...(quick ? [`Quick run: one change per condition and client process, a ${sig(settings.capMs / 1000)} s cap — these figures show that the benchmark runs, not what it measures.`] : []),
    ],
  };
}

/** Loss and the conntrack race: watch()'s p99 against the c-ares poller's. */
function lossSummary(settings: Plan, samples: ChangeSample[], judged: (met: boolean | null) => boolean | null): SummaryLine[] {
  const cap = settings.capMs;
  const { loss, race } = changeConditions(settings);
  const p99 = (condition: string, client: ClientName): number => {
    const values = lagsOf(samples, condition, client).sort((a, b) => a - b);
    return values.length > 0 ? percentile(values, 99) : NaN;
  };
  return [...loss.filter((name) => name === '5 % loss' || name === '20 % loss'), ...race].map((condition) => {
    const cares = p99(condition, 'c-ares poller');
    const ours = [p99(condition, 'watch family 4'), p99(condition, 'watch family 0')];
    return {
      metric: `${condition}: change → new set p99, watch family 4 / family 0 / c-ares poller`,
      value: `${seconds(ours[0]!, cap)} / ${seconds(ours[1]!, cap)} / ${seconds(cares, cap)} s`,
      target: '≤ the c-ares poller’s, both families (issue 25)',
      met: judged([...ours, cares].some(Number.isNaN) ? null : ours.every((value) => value <= cares)),
    };
  });
}

/** One lost datagram: watch()'s longest blind time against the bound. */
function blindSummary(settings: Plan, samples: ChangeSample[], judged: (met: boolean | null) => boolean | null): SummaryLine[] {
  return changeConditions(settings).drop.map((condition) => {
    const clients: ClientName[] = condition.startsWith('only the AAAA') ? ['watch family 0'] : ['watch family 4', 'watch family 0'];
    const longest = (client: ClientName): number => Math.max(...lagsOf(samples, condition, client), -Infinity);
    const worst = Math.max(...clients.map(longest));
    return {
      metric: `${condition}: blind time max, ${clients.join(' / ')}`,
      value: clients.map((client) => `${seconds(longest(client), settings.capMs)} s`).join(' / '),
      target: `≤ refreshInterval × 1.2 + 1 s = ${sig(BLIND_BOUND_MS / 1000)} s (issue 25)`,
      met: judged(worst === -Infinity ? null : worst <= BLIND_BOUND_MS),
    };
  });
}

/** A dead first nameserver: watch()'s median poll time against a live round trip. */
function deadSummary(settings: Plan, deadPolls: DeadPoll[], judged: (met: boolean | null) => boolean | null): SummaryLine[] {
  return settings.dead.map((config) => {
    const durations = (client: ClientName): number[] =>
      deadPolls.filter((poll) => poll.config === config.label && poll.client === client).map((poll) => poll.durationMs).sort((a, b) => a - b);
    const p50 = (client: ClientName): number => (durations(client).length > 0 ? percentile(durations(client), 50) : NaN);
    return {
      metric: `dead first nameserver, ${config.label}: poll time p50, watch family 4 / family 0 / c-ares poller`,
      value: `${sig(p50('watch family 4'), 2)} / ${sig(p50('watch family 0'), 2)} / ${sig(p50('c-ares poller'), 2)} ms`,
      target: `about the live server's round trip (≤ ${LIVE_ROUND_TRIP_BOUND_MS} ms) after the first few polls (issue 25)`,
      met: judged(Number.isNaN(p50('watch family 4') + p50('watch family 0')) ? null : p50('watch family 4') <= LIVE_ROUND_TRIP_BOUND_MS && p50('watch family 0') <= LIVE_ROUND_TRIP_BOUND_MS),
    };
  });
}

function methodText(settings: Plan, changes: number, durationMs: number): string {
  return (
    `Inside unshare --net --mount, with a resolv.conf of one line (nameserver 127.0.0.1: glibc's timeout 5 s, attempts 2) bind-mounted over /etc/resolv.conf. ` +
    `dnsmasq on ${SERVER.host}:53 answers from a hosts file per client process (TTL ${RECORD_TTL} s; two A and two AAAA records a name, a dual-stack Service, so family 0 asks both at every poll); a dropping UDP proxy (harness/dropping-proxy.ts) on 127.0.0.1:53 forwards to it; ` +
    `nftables rules (harness/nft-loss.ts) drop a share of the datagrams to and from 127.0.0.1:53 and everything to ${DEAD_NAMESERVER}. ` +
    `${settings.pods} client processes (bench/lib/change-clients.ts) each run, side by side on names of their own: watch() family 4 and family 0 ` +
    '(refreshInterval 1000, defaults otherwise), a c-ares poller (new dns.promises.Resolver(), setServers, resolve4 + resolve6 on setInterval 1 s) and a dns.lookup poller ' +
    '({ all: true, family: 0 }, setInterval 1 s). ' +
    `${settings.rounds} round(s); each runs every condition in rotated order, ${settings.changesPerRound} change(s) per condition and process: ` +
    `a wait uniform over [0, ${settings.phaseMs} ms), one A and one AAAA of the process's four names replaced (a family-4 client follows the A records), then the time until each client's set is the new one (at most ${sig(settings.capMs / 1000)} s). ` +
    `Then a dead first nameserver: fresh processes with resolv.conf naming ${DEAD_NAMESERVER} first, ${settings.deadRounds} run(s) of ${sig(settings.deadWindowMs / 1000)} s per timeout, every poll's duration. ` +
    `${changes} changes in ${sig(durationMs / 1000)} s.`
  );
}

function report(settings: Plan, quick: boolean, measured: Measured): BenchReport {
  const { samples, totals, deadPolls, skippedTicks, notes, loadAverages } = measured;
  // A quick run's figures, or a figure with no samples, judge nothing.
  const judged = (met: boolean | null): boolean | null => (quick ? null : met);
  return {
    name: 'lossy-network',
    title: '11. Lossy network: DNS change → new set under packet loss, one lost datagram, a dead first nameserver',
    method: methodText(settings, samples.length, measured.durationMs),
    tables: [changeTable(settings, samples), blindTable(settings, samples), deadTable(settings, deadPolls), networkTable(settings, quick, measured)],
    summary: [...lossSummary(settings, samples, judged), ...blindSummary(settings, samples, judged), ...deadSummary(settings, deadPolls, judged)],
    notes,
    data: {
      settings,
      dnsmasq: spawnSync(dnsmasqBinary() ?? 'dnsmasq', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'unknown',
      glibc: process.report?.getReport ? ((process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime ?? 'unknown') : 'unknown',
      samples,
      totals: Object.fromEntries(totals),
      deadPolls,
      skippedTicks,
      loadAverages,
    },
  };
}
