/**
 * Counting: what each client's load did between two snapshots, and the
 * per-phase summary (also written as JSON by --json-summary).
 */
import type { LoadReport } from '../../harness/pods.js';
import type { PhaseKey, PhaseState } from './scenario.js';

export type ClientKey = 'builtin' | 'dnsWatch';
export const CLIENTS: readonly ClientKey[] = ['builtin', 'dnsWatch'];
export const CLIENT_NAMES: Record<ClientKey, string> = { builtin: 'built-in', dnsWatch: 'grpc-dns-watch' };

/** RPCs finished between two snapshots of one client's load. */
export interface Counts {
  rpcs: number;
  failed: number;
  byPod: Map<string, number>;
  /** Distinct error messages first seen in the window. */
  errors: string[];
}

export function between(before: LoadReport | undefined, after: LoadReport): Counts {
  const byPod = new Map<string, number>();
  for (const [host, n] of after.byPod) {
    const delta = n - (before?.byPod.get(host) ?? 0);
    if (delta > 0) byPod.set(host, delta);
  }
  return {
    rpcs: after.total - (before?.total ?? 0),
    failed: after.failed - (before?.failed ?? 0),
    byPod,
    errors: after.errors.slice(before?.errors.length ?? 0),
  };
}

export interface ClientPhaseSummary {
  rpcs: number;
  ok: number;
  failed: number;
  /** Answers per pod address. */
  byPod: Record<string, number>;
  podsReached: string[];
  /** Of the pods this phase started (scale-up, rolling update), those that answered this client. */
  newPodsReached: string[];
  /** Answers from this phase's new pods / all answers; null when the phase starts no pods. */
  shareOnNewPods: number | null;
  /** ms after the first new pod entered DNS until this client got its first answer from a new pod. */
  firstNewPodAnswerMs: number | null;
  /** Distinct errors first seen in this phase (at most a few). */
  errors: string[];
}

export interface PhaseSummary {
  index: number;
  key: PhaseKey;
  title: string;
  /** Actual start / end, ms since the scenario started. */
  startMs: number;
  endMs: number;
  added: string[];
  retired: string[];
  killed: string[];
  clients: Record<ClientKey, ClientPhaseSummary>;
}

export interface DemoSummary {
  options: { pods: number; intervalMs: number; durationMs: number };
  service: string;
  targets: Record<ClientKey, string>;
  phases: PhaseSummary[];
  totals: Record<ClientKey, { rpcs: number; failed: number }>;
  /** When (ms since the scenario started) the built-in resolver asked DNS (its A queries). */
  builtinLookupsMs: number[];
  /** How often grpc-dns-watch asked DNS (its A queries). */
  dnsWatchPolls: number;
  /** The scenario as it ran, ms. */
  scenarioMs: number;
  /** Whole process until the summary, start-up and tear-down included, ms. */
  wallMs: number;
  /** Ctrl-C / SIGTERM ended it early. */
  interrupted: boolean;
}

const sortHosts = (hosts: Iterable<string>) =>
  [...hosts].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));

/**
 * `startReport` / `endReport` are the client's load snapshots at the phase's
 * edges; `publishedAt` is when each host entered DNS. The loads start with the
 * scenario, so the load's clock (ms since it started) is the scenario clock.
 */
export function summarizeClient(
  phase: PhaseState,
  startReport: LoadReport | undefined,
  endReport: LoadReport,
  publishedAt: ReadonlyMap<string, number>,
): ClientPhaseSummary {
  const counts = between(startReport, endReport);
  const ok = counts.rpcs - counts.failed;
  const onNew = phase.added.reduce((sum, host) => sum + (counts.byPod.get(host) ?? 0), 0);
  let firstNewPodAnswerMs: number | null = null;
  const firstPublished = Math.min(...phase.added.map((host) => publishedAt.get(host) ?? Infinity));
  for (const host of phase.added) {
    const seen = endReport.firstSeenMs.get(host);
    if (seen === undefined) continue;
    const after = seen - firstPublished;
    if (firstNewPodAnswerMs === null || after < firstNewPodAnswerMs) firstNewPodAnswerMs = Math.max(0, after);
  }
  return {
    rpcs: counts.rpcs,
    ok,
    failed: counts.failed,
    byPod: Object.fromEntries(sortHosts(counts.byPod.keys()).map((host) => [host, counts.byPod.get(host)!])),
    podsReached: sortHosts(counts.byPod.keys()),
    newPodsReached: sortHosts(phase.added.filter((host) => counts.byPod.has(host))),
    shareOnNewPods: phase.added.length === 0 ? null : ok === 0 ? 0 : onNew / ok,
    firstNewPodAnswerMs: firstNewPodAnswerMs === null ? null : Math.round(firstNewPodAnswerMs),
    errors: counts.errors.slice(0, 3),
  };
}
