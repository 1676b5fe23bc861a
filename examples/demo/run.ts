/**
 * Wires the demo together: DNS, pods, the two clients and their load, the
 * scenario, the view, and the tear-down. Loaded by main.ts only after
 * GRPC_NODE_USE_ALTERNATIVE_RESOLVER is set (see main.ts).
 */
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import type * as GrpcModule from '@grpc/grpc-js';
import { DEFAULTS, register, unregister } from '../../src/index.js';
import { DnsTestServer } from '../../harness/dns-server.js';
import { PodFleet, createPodClient, type LoadHandle, type LoadReport, type Pod, type PodClient } from '../../harness/pods.js';
import type { DemoOptions } from './args.js';
import { Service, planPhases, runScenario, type PhaseState } from './scenario.js';
import { CLIENTS, between, summarizeClient, type ClientKey, type DemoSummary, type PhaseSummary } from './stats.js';
import { View, type Output, type TickInfo } from './view.js';

const SERVICE_NAME = 'svc.demo.local';
/** Each client: one RPC at a time, this far apart. */
const LOAD_INTERVAL_MS = 20;
const RPC_DEADLINE_MS = 1_000;
/** grpc-js's default grpc.dns_min_time_between_resolutions_ms (resolver-dns.ts). */
const BUILTIN_MIN_RESOLUTION_MS = 30_000;
/** Termination grace period for the pods the rolling update stops. */
const GRACE_MS = 3_000;
/** CoreDNS answers for a headless Service with a 5 s TTL by default. */
const COREDNS_TTL_S = 5;
const TICK_MS = 1_000;

type Snapshots = Record<ClientKey, LoadReport>;

export async function runDemo(options: DemoOptions, out: Output, signal: AbortSignal): Promise<DemoSummary> {
  // One copy of grpc-js for pods, clients and register(): the one the peer dependency resolves to.
  const grpc = createRequire(import.meta.url)('@grpc/grpc-js') as typeof GrpcModule;
  const view = new View({ color: options.color, live: options.live, out });
  const phases = planPhases(options.durationMs);
  // With respectTtl (the default) grpc-dns-watch polls no later than the TTL says:
  // keep the TTL at least as long as the interval, so --interval sets the pace.
  const ttl = Math.max(COREDNS_TTL_S, Math.ceil(options.intervalMs / 1000));

  const dns: Partial<Record<ClientKey, DnsTestServer>> = {};
  let fleet: PodFleet | undefined;
  const clients: Partial<Record<ClientKey, PodClient>> = {};
  const loads: Partial<Record<ClientKey, LoadHandle>> = {};
  let ticker: NodeJS.Timeout | undefined;
  let registered = false;

  try {
    // One DNS server per client, serving the same records: each one's query log
    // then tells exactly when that client asked DNS.
    for (const key of CLIENTS) dns[key] = await DnsTestServer.start();
    const servers = { builtin: dns.builtin!, dnsWatch: dns.dnsWatch! };
    fleet = await PodFleet.create({ grpc, pods: options.pods });
    const port = fleet.port;
    const service = new Service([servers.builtin, servers.dnsWatch], SERVICE_NAME, ttl, fleet.addresses);

    register({
      grpc,
      replaceBuiltin: false, // only `dns-watch:` is ours; `dns:` stays grpc-js's built-in resolver
      refreshInterval: options.intervalMs,
      nameservers: [servers.dnsWatch.address],
      resolvConfPath: os.devNull, // no search list or options from this machine
      hostsPath: false,
    });
    registered = true;

    const targets: Record<ClientKey, string> = {
      builtin: `dns://${servers.builtin.address}/${SERVICE_NAME}:${port}`,
      dnsWatch: `dns-watch:///${SERVICE_NAME}:${port}`,
    };
    view.header({
      service: SERVICE_NAME,
      dnsAddresses: { builtin: servers.builtin.address, dnsWatch: servers.dnsWatch.address },
      ttl,
      port,
      pods: options.pods,
      intervalMs: options.intervalMs,
      jitter: DEFAULTS.jitter,
      durationMs: options.durationMs,
      loadIntervalMs: LOAD_INTERVAL_MS,
      builtinMinResolutionMs: BUILTIN_MIN_RESOLUTION_MS,
      targets,
      phases,
    });

    for (const key of CLIENTS) clients[key] = createPodClient(targets[key], { grpc });

    // The scenario clock and both loads start together.
    const origin = performance.now();
    const originDate = Date.now();
    for (const key of CLIENTS) {
      loads[key] = clients[key]!.startLoad({
        intervalMs: LOAD_INTERVAL_MS,
        deadlineMs: RPC_DEADLINE_MS,
        maxMs: options.durationMs + 20_000,
      });
    }
    const now = () => performance.now() - origin;
    const snapshot = (): Snapshots => ({ builtin: loads.builtin!.snapshot(), dnsWatch: loads.dnsWatch!.snapshot() });

    // Every lookup asks A (and AAAA); the built-in also asks TXT, once.
    const lookupTimes = (key: ClientKey) =>
      servers[key].queries.filter((q) => q.type === 'A' && q.name.toLowerCase() === SERVICE_NAME).map((q) => Math.max(0, q.at - originDate));
    let lookupsShown = 0;
    const reportBuiltinLookups = () => {
      const times = lookupTimes('builtin');
      for (; lookupsShown < times.length; lookupsShown++) {
        view.event(
          times[lookupsShown]!,
          `built-in resolver asked DNS for ${SERVICE_NAME} (lookup ${lookupsShown + 1}${lookupsShown === 0 ? '' : ': it gets the pods in DNS now'})`,
        );
      }
    };

    // Phases: load snapshots at each edge.
    const summaries: PhaseSummary[] = [];
    let current: { phase: PhaseState; start: Snapshots; startMs: number } | undefined;
    const closePhase = (end: Snapshots) => {
      if (!current) return;
      const { phase, start, startMs } = current;
      current = undefined;
      const summary: PhaseSummary = {
        index: phase.index,
        key: phase.key,
        title: phase.title,
        startMs: Math.round(startMs),
        endMs: Math.round(now()),
        added: [...phase.added],
        retired: [...phase.retired],
        killed: [...phase.killed],
        clients: {
          builtin: summarizeClient(phase, start.builtin, end.builtin, service.publishedAt),
          dnsWatch: summarizeClient(phase, start.dnsWatch, end.dnsWatch, service.publishedAt),
        },
      };
      summaries.push(summary);
      view.phaseEnd(summary, phases.length);
    };

    // Once a second, counted from each phase's start (a second never spans two phases).
    let lastTick: Snapshots | undefined;
    const tick = () => {
      reportBuiltinLookups();
      if (!current) return;
      const snap = snapshot();
      const info: TickInfo = {
        nowMs: now(),
        phase: current.phase,
        phaseCount: phases.length,
        dnsRecords: service.records,
        pods: fleet!.history.map((pod) => ({ host: pod.host, state: pod.state, inDns: service.records.includes(pod.host) })),
        lastSecond: { builtin: between(lastTick?.builtin, snap.builtin), dnsWatch: between(lastTick?.dnsWatch, snap.dnsWatch) },
        phaseSoFar: { builtin: between(current.start.builtin, snap.builtin), dnsWatch: between(current.start.dnsWatch, snap.dnsWatch) },
        builtinLookups: lookupsShown,
        dnsWatchPolls: lookupTimes('dnsWatch').length,
      };
      lastTick = snap;
      view.tick(info);
    };

    await runScenario({
      fleet,
      service,
      phases,
      origin,
      signal,
      graceMs: GRACE_MS,
      hooks: {
        phase: (phase) => {
          clearInterval(ticker);
          const snap = snapshot();
          closePhase(snap);
          current = { phase, start: snap, startMs: now() };
          lastTick = snap;
          view.phaseStart(phase, phases.length);
          ticker = setInterval(tick, TICK_MS);
        },
        event: (text) => {
          reportBuiltinLookups();
          view.event(now(), text);
        },
        pickCrashVictim: (candidates) => {
          const snap = snapshot();
          const start = current?.start;
          return pickVictim(candidates, between(start?.builtin, snap.builtin).byPod, between(start?.dnsWatch, snap.dnsWatch).byPod);
        },
      },
    });
    clearInterval(ticker);
    ticker = undefined;
    reportBuiltinLookups();

    const finals: Snapshots = { builtin: await loads.builtin!.stop(), dnsWatch: await loads.dnsWatch!.stop() };
    closePhase(finals);
    if (signal.aborted) view.event(now(), 'interrupted: stopped early');
    const durationMs = Math.round(now());

    const summary: DemoSummary = {
      options: { pods: options.pods, intervalMs: options.intervalMs, durationMs: options.durationMs },
      service: `${SERVICE_NAME}:${port}`,
      targets,
      phases: summaries,
      totals: {
        builtin: { rpcs: finals.builtin.total, failed: finals.builtin.failed },
        dnsWatch: { rpcs: finals.dnsWatch.total, failed: finals.dnsWatch.failed },
      },
      builtinLookupsMs: lookupTimes('builtin').map(Math.round),
      dnsWatchPolls: lookupTimes('dnsWatch').length,
      scenarioMs: durationMs,
      wallMs: 0,
      interrupted: signal.aborted,
    };
    await teardown(); // pods still in their grace period are cut short here
    summary.wallMs = Math.round(performance.now());
    view.summary(summary);
    if (options.jsonSummary) await writeFile(options.jsonSummary, JSON.stringify(summary, null, 2) + '\n');
    return summary;
  } finally {
    await teardown();
    view.close();
  }

  async function teardown(): Promise<void> {
    clearInterval(ticker);
    ticker = undefined;
    for (const key of CLIENTS) {
      await loads[key]?.stop();
      delete loads[key];
      clients[key]?.close();
      delete clients[key];
    }
    if (registered) unregister();
    registered = false;
    await fleet?.close();
    fleet = undefined;
    for (const key of CLIENTS) {
      await dns[key]?.close();
      delete dns[key];
    }
  }
}

/**
 * The crash takes the pod that matters most to both clients: the most answers
 * to the client that used it less (ties: more answers to the built-in).
 */
function pickVictim(candidates: readonly Pod[], builtin: Map<string, number>, dnsWatch: Map<string, number>): Pod {
  const score = (pod: Pod): [number, number] => {
    const b = builtin.get(pod.host) ?? 0;
    return [Math.min(b, dnsWatch.get(pod.host) ?? 0), b];
  };
  return [...candidates].sort((a, b) => {
    const [a1, a2] = score(a);
    const [b1, b2] = score(b);
    return b1 - a1 || b2 - a2;
  })[0]!;
}
