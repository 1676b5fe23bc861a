/**
 * The fault matrix: for a watched name with a known good set, every way DNS
 * or its configuration can break, with a live round_robin client under load
 * on real grpc-js pods.
 *
 * For each row: what the channel's resolver listener was told (recorded at
 * the listener by test/soak/recording.ts), how many RPCs failed, and how long
 * recovery took after the fault ended — to the first successful poll and to
 * traffic reaching a pod that was published while DNS was broken. Waits are
 * on polls seen (observe() events), never on sleeps.
 *
 * The figures are printed as a table at the end with
 * GRPC_DNS_WATCH_TEST_VERBOSE=1, and written as JSON to the file named by
 * GRPC_DNS_WATCH_FAULTS_JSON when set; docs/reliability.md cites them.
 */
import dgram from 'node:dgram';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observe, register, stats, unregister, type RegisterOptions, type WatchEvent } from '../src/index.js';
import { readResolvConf } from '../src/dns/resolv-conf.js';
import type { DnsTestServer, DnsTestServerOptions } from '../harness/dns-server.js';
import { PodFleet, type Pod } from '../harness/pods.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';
import { startDnsServer, type DnsServerSetup } from '../harness/server-fixture.js';
import { tempFolderForTests } from '../harness/temp-folder.js';
import { verboseLog } from '../harness/verbose.js';
import { waitUntil } from '../harness/wait.js';
import { escapeRegExp } from '../harness/within.js';
import { createRecordedClient, registerRecordingScheme, type ToldCall } from './soak/recording.js';

const INTERVAL = 200;
const TIMEOUT = 150;
const JITTER = 0.1;
/**
 * The per-try timeout and RPC deadline of the rows with DNS reachable: far above
 * need, so only a resolver at fault fails a poll or an RPC there, not a busy machine.
 */
const STEADY_TIMEOUT = 2_000;
const STEADY_RPC_DEADLINE = 10_000;
const BACKOFF = { initial: 100, max: 400, multiplier: 2 };
/** Longest backoff the watcher may schedule: the cap, stretched by jitter. */
const MAX_RETRY_MS = BACKOFF.max * (1 + JITTER);
/** Where to write the figures as JSON, only when asked (nothing is left behind otherwise). */
const RESULTS_FILE = process.env.GRPC_DNS_WATCH_FAULTS_JSON;

type Timed = WatchEvent & { at: number };

interface FaultResult {
  fault: string;
  /** What the channel was told while the fault lasted, one entry a call. */
  told: string[];
  /** Codes of the polls that failed during the fault. */
  failedPolls: string[];
  /** RPCs sent over the whole row (fault and recovery), and how many failed. */
  rpcs: number;
  rpcsFailed: number;
  /** How long the fault was held, and the RPCs sent meanwhile. */
  faultMs?: number;
  rpcsDuringFault?: number;
  /** Fault end → first NOERROR poll. */
  recoveryPollMs?: number;
  /** Fault end → the pod published during the fault answers an RPC. */
  recoveryTrafficMs?: number;
  /** Rows without a fault end: a record change → the new pod answers. */
  changeToTrafficMs?: number;
  /** Median duration of successful polls. */
  pollMs?: number;
  note: string;
}

const results: FaultResult[] = [];
const events: Timed[] = [];
let stopObserving: () => void;
let fleet: PodFleet;
const folder = tempFolderForTests('faults');
const localDnsAnswers = await somethingAnswersOnLocalDns();

beforeAll(async () => {
  fleet = await PodFleet.create();
  stopObserving = observe((event) => events.push({ ...event, at: performance.now() }));
});

afterAll(async () => {
  stopObserving();
  unregister();
  await fleet.close();
  if (RESULTS_FILE) {
    await writeFile(RESULTS_FILE, `${JSON.stringify({ at: new Date().toISOString(), interval: INTERVAL, timeout: TIMEOUT, backoff: BACKOFF, jitter: JITTER, results }, null, 2)}\n`);
  }
  verboseLog(`fault matrix${RESULTS_FILE ? ` (${RESULTS_FILE})` : ''}:\n${table(results)}`);
});

// ---------------------------------------------------------------- helpers

function registerWith(options: RegisterOptions): void {
  register({
    replaceBuiltin: false,
    refreshInterval: INTERVAL,
    jitter: JITTER,
    family: 4,
    hostsPath: false,
    timeout: TIMEOUT,
    attempts: 1,
    backoff: BACKOFF,
    ...options,
  });
  registerRecordingScheme();
}

function slug(label: string): string {
  return label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

function queries(name: string, since: number, ok: boolean): Array<Extract<Timed, { type: 'query' }>> {
  return events.filter(
    (event): event is Extract<Timed, { type: 'query' }> =>
      event.type === 'query' && event.name === name && event.at >= since && (event.result === 'NOERROR') === ok,
  );
}

/** Wait until `n` polls of `name` that ended as `ok` were seen since `since`; returns them. */
async function polls(name: string, since: number, n: number, ok: boolean, timeoutMs = 8_000) {
  await waitUntil(() => queries(name, since, ok).length >= n, `${n} ${ok ? 'successful' : 'failed'} polls of ${name}`, timeoutMs);
  return queries(name, since, ok);
}

const reached = (byPod: Map<string, number>, pods: readonly Pod[]) => pods.every((pod) => (byPod.get(pod.host) ?? 0) > 0);

function describeCall(call: ToldCall): string {
  return call.kind === 'addresses' ? `addresses [${call.hosts.join(', ')}]` : `error ${call.code}: ${call.details}`;
}

const setOf = (pods: readonly Pod[]) => pods.map((pod) => pod.host).sort().join(',');

/** The address sets told, sorted, with consecutive repeats collapsed; errors as "error". */
function distinctInOrder(calls: readonly ToldCall[]): string[] {
  const out: string[] = [];
  for (const call of calls) {
    const key = call.kind === 'addresses' ? [...call.hosts].sort().join(',') : 'error';
    if (out.at(-1) !== key) out.push(key);
  }
  return out;
}

function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const round = (value: number | undefined) => (value === undefined ? undefined : Math.round(value));

function table(rows: FaultResult[]): string {
  const header = ['fault', 'told during fault', 'failed polls', 'held', 'RPCs', 'failed', 'recovery: poll', 'recovery: traffic', 'change→traffic', 'poll'];
  const lines = rows.map((row) => [
    row.fault,
    row.told.length === 0 ? 'nothing' : `${row.told.length}: ${row.told[0]!.slice(0, 60)}`,
    `${row.failedPolls.length} (${[...new Set(row.failedPolls)].join('/') || '-'})`,
    row.faultMs === undefined ? '-' : `${row.faultMs} ms`,
    String(row.rpcs),
    String(row.rpcsFailed),
    row.recoveryPollMs === undefined ? '-' : `${row.recoveryPollMs} ms`,
    row.recoveryTrafficMs === undefined ? '-' : `${row.recoveryTrafficMs} ms`,
    row.changeToTrafficMs === undefined ? '-' : `${row.changeToTrafficMs} ms`,
    row.pollMs === undefined ? '-' : `${row.pollMs} ms`,
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...lines.map((line) => line[i]!.length)));
  const format = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ');
  return [format(header), widths.map((w) => '-'.repeat(w)).join('-|-'), ...lines.map(format)].join('\n');
}

/** Does anything answer DNS on 127.0.0.1:53? The defaults' rows need nothing there. */
async function somethingAnswersOnLocalDns(): Promise<boolean> {
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => undefined);
  // id 0x6772, RD, one question: probe.grpc-dns-watch.invalid A IN
  const query = Buffer.concat([
    Buffer.from('677201000001000000000000', 'hex'),
    ...['probe', 'grpc-dns-watch', 'invalid'].map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)])),
    Buffer.from('0000010001', 'hex'),
  ]);
  const answered = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 300);
    socket.once('message', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.send(query, 53, '127.0.0.1', (error) => {
      if (error) {
        clearTimeout(timer);
        resolve(false);
      }
    });
  });
  socket.close();
  return answered;
}

// ------------------------------------------------- faults with a good set

interface Context {
  /** The server and its resolv.conf; `setup.server` is the one running (after a restart, the new one). */
  setup: DnsServerSetup;
  name: string;
  hosts: string[];
  /** The server is closed: records are applied when it comes back. */
  down: boolean;
}

function publish(ctx: Context, hosts: string[]): void {
  ctx.hosts = hosts;
  if (!ctx.down) ctx.setup.server.setRecords(ctx.name, { A: hosts, ttl: 30 });
}

interface TransientFault {
  label: string;
  server?: DnsTestServerOptions;
  inject(ctx: Context): void | Promise<void>;
  end(ctx: Context): void | Promise<void>;
  /** Default 'nothing': a "could not ask" fault with a good set is never told. */
  told?: 'nothing' | 'error';
  note: string;
}

const TRANSIENT: TransientFault[] = [
  {
    label: 'server down',
    async inject(ctx) {
      ctx.down = true;
      await ctx.setup.server.close();
    },
    async end(ctx) {
      await ctx.setup.restart();
      ctx.down = false;
      publish(ctx, ctx.hosts);
    },
    note: 'UDP and TCP closed, restarted on the same port; the sockets are connected, so the ICMP port unreachable fails each try at once (CONNREFUSED)',
  },
  {
    label: 'slow (answers after the timeout)',
    inject: (ctx) => ctx.setup.server.setFault({ delayMs: TIMEOUT * 3 }),
    end: (ctx) => ctx.setup.server.setFault(null),
    note: `every reply ${TIMEOUT * 3} ms late against a ${TIMEOUT} ms timeout; late replies are discarded`,
  },
  {
    label: 'SERVFAIL',
    inject: (ctx) => ctx.setup.server.setFault('servfail'),
    end: (ctx) => ctx.setup.server.setFault(null),
    note: 'rcode 2 on every query',
  },
  {
    label: 'REFUSED',
    inject: (ctx) => ctx.setup.server.setFault('refused'),
    end: (ctx) => ctx.setup.server.setFault(null),
    note: 'rcode 5 on every query',
  },
  {
    label: 'garbage',
    inject: (ctx) => ctx.setup.server.setFault('garbage'),
    end: (ctx) => ctx.setup.server.setFault(null),
    note: '12-60 random bytes carrying the query id; dropped as undecodable, the query times out',
  },
  {
    label: 'truncation with TCP refused',
    server: { tcp: false },
    inject: (ctx) => ctx.setup.server.setFault('truncate'),
    end: (ctx) => ctx.setup.server.setFault(null),
    note: 'TC bit on every UDP reply, nothing listens on TCP: the TCP retry is refused at once',
  },
  {
    label: 'NXDOMAIN (contrast: not a fault)',
    inject: (ctx) => ctx.setup.server.setFault('nxdomain', { name: ctx.name }),
    end: (ctx) => ctx.setup.server.setFault(null),
    told: 'error',
    note: 'an authoritative "does not exist" is news, not a failure to ask: the channel is told UNAVAILABLE',
  },
];

describe('fault matrix: a watched name with a good set, a live round_robin client under load', () => {
  it.each(TRANSIENT.map((fault) => [fault.label, fault] as const))('%s', async (_label, fault) => {
    const name = `${slug(fault.label)}.faults.test`;
    const ctx: Context = { setup: await startDnsServer({ server: fault.server, label: 'faults' }), name, hosts: [], down: false };
    const pods = await fleet.add(3);
    const [a, b, extra] = pods as [Pod, Pod, Pod];
    registerWith({ resolvConfPath: ctx.setup.resolvConfPath });
    publish(ctx, [a.host, b.host]);
    const recorded = createRecordedClient(name, fleet.port);
    try {
      await recorded.client.waitUntil((byPod) => reached(byPod, [a, b]), { timeoutMs: 5_000 });
      const load = recorded.client.startLoad({ intervalMs: 5, deadlineMs: 1_000, maxMs: 30_000 });

      const faultStart = performance.now();
      await fault.inject(ctx);
      await polls(name, faultStart, 2, false);
      // The Service changes while DNS is broken: nobody can see it yet.
      publish(ctx, [a.host, b.host, extra.host]);
      const failed = await polls(name, faultStart, 3, false);
      const during = load.snapshot();
      const told = recorded.record.callsSince(faultStart);
      const extraServedDuringFault = extra.served;

      const faultEnd = performance.now();
      await fault.end(ctx);
      const [firstOk] = await polls(name, faultEnd, 1, true);
      await waitUntil(() => extra.served > 0, 'the pod published during the fault to answer an RPC');
      const recoveryTrafficMs = performance.now() - faultEnd;
      const report = await load.stop();
      const after = recorded.record.callsSince(faultEnd);

      results.push({
        fault: fault.label,
        told: told.map(describeCall),
        failedPolls: failed.map((event) => event.result),
        rpcs: report.total,
        rpcsFailed: report.failed,
        faultMs: round(faultEnd - faultStart),
        rpcsDuringFault: during.total,
        recoveryPollMs: round(firstOk!.at - faultEnd),
        recoveryTrafficMs: round(recoveryTrafficMs),
        note: fault.note,
      });

      expect(extraServedDuringFault).toBe(0);
      // Recovery as the watcher scheduled it, not as long as a busy machine took:
      // only the poll in flight when the fault ended may still fail, and no retry
      // during or after the fault was put off longer than the capped backoff.
      expect(queries(name, faultEnd, false).filter((event) => event.at < firstOk!.at).length).toBeLessThanOrEqual(1);
      const retries = events.flatMap((event) => (event.type === 'error' && event.name === name && event.at >= faultStart ? [event.retryInMs] : []));
      expect(Math.max(...retries)).toBeLessThanOrEqual(MAX_RETRY_MS);
      expect(after.at(-1)).toMatchObject({ kind: 'addresses', hosts: expect.arrayContaining([a.host, b.host, extra.host]) as unknown });
      expect(recorded.record.emptyLists).toBe(0);
      if ((fault.told ?? 'nothing') === 'nothing') {
        expect(told.map(describeCall)).toEqual([]);
        expect(during.failed, during.errors.join('\n')).toBe(0);
        expect(report.failed, report.errors.join('\n')).toBe(0);
        // After the fault: the whole new set (again only to answer a request from the channel).
        expect(distinctInOrder(after)).toEqual([setOf([a, b, extra])]);
        expect(recorded.record.redundantUpdates).toBe(0);
      } else {
        expect(told[0]).toMatchObject({ kind: 'error', code: 14 });
        expect((told[0] as { details: string }).details).toBe(
          `No addresses for dns-watch:///${name}:${fleet.port}: NXDOMAIN: ${name} does not exist`,
        );
      }
    } finally {
      recorded.client.close();
      for (const pod of pods) pod.kill();
      await ctx.setup.close();
    }
  });
});

// ------------------------------------------- configuration that is broken

interface SteadyCase {
  label: string;
  /** Register options for the row; `dns` is the healthy test server. */
  options(dns: DnsTestServer, name: string): Promise<RegisterOptions>;
  note: string;
  /** Extra checks and figures after the run. */
  after?(name: string, result: FaultResult): Promise<void>;
}

const MALFORMED_RESOLV_CONF = (good: string) =>
  [
    'nameserver dns.google',
    'nameserver 10.0.0.1:99999',
    'nameserver',
    'options timeout:abc ndots:-1 attempts:',
    'search',
    'frobnicate yes',
    '\u0000\u00ff\ufffd binary junk',
    `# a comment, then a ${'very '.repeat(2_000)}long line`,
    `nameserver ${good}`,
    '',
  ].join('\n');

const STEADY: SteadyCase[] = [
  {
    label: 'first nameserver dead',
    async options(dns, name) {
      const dead = await unusedUdpPort();
      return { resolvConfPath: await folder.write(`${name}.resolv.conf`, [`127.0.0.1:${dead}`, dns]) };
    },
    note: 'resolv.conf lists an unused port first: its tries fail at once (CONNREFUSED) and, once failed, it is asked after the second server',
  },
  {
    label: 'resolv.conf malformed (one good line)',
    async options(dns, name) {
      return { resolvConfPath: await folder.writeFile(`${name}.resolv.conf`, MALFORMED_RESOLV_CONF(dns.address)) };
    },
    async after(name, result) {
      const file = path.join(folder.dir, `${name}.resolv.conf`);
      const conf = await readResolvConf({ path: file, env: {} });
      expect(conf.nameservers).toHaveLength(1);
      const accepted = 'expected an IPv4 or IPv6 address, optionally with a port (1.2.3.4, 1.2.3.4:53, [::1]:53)';
      const line4 = `${file} line 4 "options timeout:abc ndots:-1 attempts:": option`;
      expect(conf.warnings).toEqual([
        `${file} line 1 "nameserver dns.google" ignored: Invalid nameserver "dns.google": ${accepted}`,
        `${file} line 2 "nameserver 10.0.0.1:99999" ignored: Invalid nameserver "10.0.0.1:99999": port 99999 is outside 1..65535; ${accepted}`,
        `${file} line 3 "nameserver" ignored: nameserver needs an address`,
        `${line4} "timeout:abc" ignored: expected timeout:N with N a non-negative integer`,
        `${line4} "ndots:-1" ignored: expected ndots:N with N a non-negative integer`,
        `${line4} "attempts:" ignored: expected attempts:N with N a non-negative integer`,
        `${file} line 5 "search" ignored: search needs at least one domain`,
        `${file} line 6 "frobnicate yes" ignored: unknown keyword "frobnicate"`,
        `${file} line 7 "\\u0000\u00ff\ufffd binary junk" ignored: unknown keyword "\\u0000\u00ff\ufffd"`,
      ]);
      result.note += `; ${conf.warnings.length} parse warnings (not traced by the library: only the CLI prints them)`;
    },
    note: 'bad lines ignored with warnings, the good nameserver line used',
  },
  {
    label: 'resolv.conf missing, nameservers option set',
    async options(dns) {
      return { resolvConfPath: path.join(folder.dir, 'no-such-resolv.conf'), nameservers: [dns.address] };
    },
    note: 'the option supplies the servers; glibc defaults for the rest',
  },
  {
    label: '/etc/hosts is a directory',
    async options(dns, name) {
      const hostsDir = path.join(folder.dir, `${name}.hosts.d`);
      await mkdir(hostsDir);
      return { resolvConfPath: await folder.write(`${name}.resolv.conf`, dns), hostsPath: hostsDir };
    },
    note: 'reading it fails with EISDIR: behaves as an empty hosts file, DNS used',
  },
  {
    label: '/etc/hosts missing',
    async options(dns, name) {
      return { resolvConfPath: await folder.write(`${name}.resolv.conf`, dns), hostsPath: path.join(folder.dir, 'no-such-hosts') };
    },
    note: 'ENOENT: behaves as an empty hosts file, DNS used',
  },
];

describe('configuration faults with DNS reachable: the set is still found and followed', () => {
  it.each(STEADY.map((row) => [row.label, row] as const))('%s', async (_label, row) => {
    const name = `${slug(row.label)}.faults.test`;
    const setup = await startDnsServer({ label: 'faults' });
    const dns = setup.server;
    const pods = await fleet.add(3);
    const [a, b, extra] = pods as [Pod, Pod, Pod];
    // These rows test configuration, not timeouts: a per-try timeout far above a loopback
    // round trip, so a busy machine cannot turn a slow reply into a TIMEOUT poll.
    registerWith({ timeout: STEADY_TIMEOUT, ...(await row.options(dns, name)) });
    dns.setRecords(name, { A: [a.host, b.host], ttl: 30 });
    const started = performance.now();
    const recorded = createRecordedClient(name, fleet.port);
    try {
      await recorded.client.waitUntil((byPod) => reached(byPod, [a, b]), { timeoutMs: 5_000 });
      const load = recorded.client.startLoad({ intervalMs: 5, deadlineMs: STEADY_RPC_DEADLINE, maxMs: 30_000 });
      const changedAt = performance.now();
      dns.setRecords(name, { A: [a.host, b.host, extra.host], ttl: 30 });
      await waitUntil(() => extra.served > 0, 'the added pod to answer an RPC');
      const changeToTrafficMs = performance.now() - changedAt;
      await polls(name, performance.now(), 2, true, 20_000);
      const report = await load.stop();
      const told = recorded.record.callsSince(started);
      const result: FaultResult = {
        fault: row.label,
        told: told.filter((call) => call.kind === 'error').map(describeCall),
        failedPolls: queries(name, started, false).map((event) => event.result),
        rpcs: report.total,
        rpcsFailed: report.failed,
        changeToTrafficMs: round(changeToTrafficMs),
        pollMs: round(median(queries(name, started, true).map((event) => (event.type === 'query' ? event.durationMs : 0)))),
        note: row.note,
      };
      results.push(result);
      await row.after?.(name, result);

      expect(told.every((call) => call.kind === 'addresses' && call.hosts.length > 0), told.map(describeCall).join('\n')).toBe(true);
      // Each set once, in order; a set told again only answers a request from the channel
      // (grpc-js's round_robin asks for re-resolution whenever a new child starts connecting).
      expect(distinctInOrder(told)).toEqual([setOf([a, b]), setOf([a, b, extra])]);
      expect(recorded.record.redundantUpdates).toBe(0);
      expect(result.failedPolls).toEqual([]);
      expect(report.failed, report.errors.join('\n')).toBe(0);
      // The change was found by the first poll that asked after it (the one in flight
      // may still have seen the old set): what was scheduled, not how long it took.
      const firstWithExtra = queries(name, changedAt, true).findIndex((event) => event.addresses === 3);
      expect([0, 1]).toContain(firstWithExtra);
    } finally {
      recorded.client.close();
      for (const pod of pods) pod.kill();
      await setup.close();
    }
  });
});

// ------------------------------------ no nameserver at all: an error, not a crash

// Skipped where something answers DNS on 127.0.0.1:53: these rows would ask it.
describe.skipIf(localDnsAnswers)('no usable nameserver: the defaults (127.0.0.1:53; skipped if something answers there)', () => {
  it.each([
    ['resolv.conf missing', null],
    ['resolv.conf without one usable nameserver line', 'nameserver dns.google\nnameserver 10.0.0.1:0\noptions ndots:2\n'],
  ] as const)('%s: the channel is told UNAVAILABLE with the cause, RPCs fail fast, the process lives on', async (label, text) => {
    const name = `${slug(label)}.faults.test`;
    const file = text === null ? `${name}.missing.conf` : `${name}.resolv.conf`;
    const resolvConfPath = text === null ? path.join(folder.dir, file) : await folder.writeFile(file, text);
    registerWith({ resolvConfPath });
    const started = performance.now();
    const recorded = createRecordedClient(name, fleet.port);
    const setup = await startDnsServer({ label: 'faults' });
    const dns = setup.server;
    const pods = await fleet.add(1);
    try {
      const error = await recorded.client.whoAmI(3_000).then(
        () => null,
        (failure: { code: number; details: string }) => failure,
      );
      expect(error?.code).toBe(14);
      const expected = new RegExp(
        `^Name resolution failed for dns-watch:///${escapeRegExp(name)}:${fleet.port}: CONNREFUSED: Could not ask DNS for ${escapeRegExp(name)} A: ` +
          // Nothing listens on 127.0.0.1:53: the port is refused at once (ICMP), not timed out.
          `nothing listens on 127\\.0\\.0\\.1:53 \\(connection refused, 1 attempt\\)$`,
      );
      expect(error?.details).toMatch(expected);
      const failed = await polls(name, started, 3, false);
      const told = recorded.record.callsSince(started);
      expect(told.length).toBeGreaterThanOrEqual(1);
      expect(told.every((call) => call.kind === 'error' && expected.test(call.details))).toBe(true);

      // resolv.conf is read once per resolver: fixing the file does not reach a live watcher…
      await folder.write(file, dns);
      dns.setRecords(name, { A: pods.map((pod) => pod.host) });
      const fixedAt = performance.now();
      await polls(name, fixedAt, 2, false);
      expect(dns.countQueries({ name })).toBe(0);
      // …a new resolver for these settings (after the last channel using them closed) reads it again.
      recorded.client.close();
      await waitUntil(() => !stats().some((watcher) => watcher.name === name), 'the watcher to stop');
      const again = createRecordedClient(name, fleet.port);
      const reopened = performance.now();
      try {
        await again.client.waitUntil((byPod) => reached(byPod, pods), { timeoutMs: 5_000 });
      } finally {
        again.client.close();
      }
      results.push({
        fault: label,
        told: told.map(describeCall),
        failedPolls: failed.map((event) => event.result),
        rpcs: 1,
        rpcsFailed: 1,
        changeToTrafficMs: round(performance.now() - reopened),
        note: 'defaults: nameserver 127.0.0.1:53; a fixed resolv.conf is read by the next resolver for these settings, not by a live one (change→traffic: new channel → first RPC answered)',
      });
    } finally {
      recorded.client.close();
      for (const pod of pods) pod.kill();
      await setup.close();
    }
  });
});
