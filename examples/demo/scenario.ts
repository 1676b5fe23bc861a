/**
 * The script of the demo: four phases on a clock, acting on the DNS server and
 * the pod fleet the way Kubernetes acts on a headless Service's endpoints and
 * pods. It knows nothing about clients or the terminal; it reports what it
 * does through hooks.
 */
import { performance } from 'node:perf_hooks';
import type { DnsTestServer } from '../../harness/dns-server.js';
import type { Pod, PodFleet } from '../../harness/pods.js';

export type PhaseKey = 'steady' | 'scale-up' | 'rolling-update' | 'crash';

export interface PhaseState {
  /** 0-based. */
  index: number;
  key: PhaseKey;
  title: string;
  /** One line: what happens and what to look for. */
  blurb: string;
  /** Planned start / end, ms since the scenario started. */
  startMs: number;
  endMs: number;
  /** Pods started and put into DNS in this phase ("new pods"). */
  added: string[];
  /** Pods taken out of DNS and stopped gracefully in this phase. */
  retired: string[];
  /** Pods killed hard in this phase. */
  killed: string[];
}

/** Share of the duration each phase gets. */
const PHASE_SHARES: ReadonlyArray<[PhaseKey, string, number, string]> = [
  ['steady', 'steady', 0.15, 'both clients spread their RPCs over the pods in DNS'],
  ['scale-up', 'scale-up', 0.25, 'as many pods again join DNS: who sends them traffic?'],
  [
    'rolling-update',
    'rolling update',
    0.35,
    'each old pod is replaced one by one by a new pod on a new address (out of DNS, then SIGTERM + grace)',
  ],
  ['crash', 'pod crash', 0.25, 'one pod dies hard while DNS still lists it, and leaves DNS a moment later'],
];

export function planPhases(durationMs: number): PhaseState[] {
  let start = 0;
  return PHASE_SHARES.map(([key, title, share, blurb], index) => {
    const end = index === PHASE_SHARES.length - 1 ? durationMs : Math.round(start + share * durationMs);
    const phase: PhaseState = { index, key, title, blurb, startMs: start, endMs: end, added: [], retired: [], killed: [] };
    start = end;
    return phase;
  });
}

/**
 * The Service as DNS publishes it: one name, A records = the ready pods,
 * written to every given DNS server (the demo runs one per client, with the
 * same records, so it can count each client's queries).
 */
export class Service {
  private hosts: string[];
  /** ms on the scenario clock at which each host was last put into DNS. */
  readonly publishedAt = new Map<string, number>();

  constructor(
    readonly servers: readonly DnsTestServer[],
    readonly name: string,
    readonly ttl: number,
    initial: readonly string[],
  ) {
    this.hosts = [...initial];
    for (const host of initial) this.publishedAt.set(host, 0);
    this.write();
  }

  get records(): readonly string[] {
    return this.hosts;
  }

  add(host: string, atMs: number): void {
    if (this.hosts.includes(host)) return;
    this.hosts.push(host);
    this.publishedAt.set(host, atMs);
    this.write();
  }

  remove(host: string): void {
    this.hosts = this.hosts.filter((h) => h !== host);
    this.write();
  }

  private write(): void {
    for (const server of this.servers) server.setRecords(this.name, { A: this.hosts, ttl: this.ttl });
  }
}

export interface ScenarioHooks {
  /** A phase begins (its `added` / `retired` / `killed` fill in as it goes). */
  phase(phase: PhaseState): void;
  /** Something happened to DNS or a pod. */
  event(text: string): void;
  /** Which running pod the crash takes (the caller knows the traffic). */
  pickCrashVictim(candidates: readonly Pod[]): Pod;
}

export interface ScenarioContext {
  fleet: PodFleet;
  service: Service;
  phases: PhaseState[];
  hooks: ScenarioHooks;
  /** performance.now() at which the scenario's clock reads 0. */
  origin: number;
  signal: AbortSignal;
  /** Termination grace period for pods stopped gracefully, ms. */
  graceMs: number;
}

/** `.7` for 127.0.0.7: how the demo names pods. */
export function podLabel(host: string): string {
  return host.startsWith('127.0.0.') ? host.slice('127.0.0'.length) : host;
}

export function labels(hosts: Iterable<string>): string {
  const list = [...hosts];
  return list.length === 0 ? '(none)' : list.map(podLabel).join(' ');
}

/** `.2-.4 .7` for 127.0.0.2, .3, .4 and .7 (runs of three or more as ranges). */
export function ranges(hosts: readonly string[]): string {
  if (hosts.length === 0) return '(none)';
  const octets = hosts.map((host) => (host.startsWith('127.0.0.') ? Number(host.slice('127.0.0.'.length)) : NaN));
  if (octets.some(Number.isNaN)) return labels(hosts);
  const sorted = [...new Set(octets)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    if (j - i >= 2) parts.push(`.${sorted[i]}-.${sorted[j]}`);
    else for (let k = i; k <= j; k++) parts.push(`.${sorted[k]}`);
    i = j + 1;
  }
  return parts.join(' ');
}

/**
 * Run every phase to its planned end. Resolves early (without throwing) when
 * the signal aborts. Pods still in their grace period at the end are the
 * caller's to cut short (PodFleet.close()).
 */
export async function runScenario(ctx: ScenarioContext): Promise<void> {
  const { fleet, service, phases, hooks, signal } = ctx;
  const now = () => performance.now() - ctx.origin;
  /** Sleep until `ms` on the scenario clock; false when aborted. */
  const until = (ms: number): Promise<boolean> =>
    new Promise((resolve) => {
      if (signal.aborted) return resolve(false);
      const onAbort = () => {
        clearTimeout(timer);
        resolve(false);
      };
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      }, Math.max(0, ms - now()));
      signal.addEventListener('abort', onAbort, { once: true });
    });
  const dnsLine = () => `DNS ${service.name} -> ${ranges(service.records)}`;

  for (const phase of phases) {
    if (!(await until(phase.startMs))) return;
    hooks.phase(phase);
    const length = phase.endMs - phase.startMs;

    if (phase.key === 'scale-up') {
      const count = fleet.pods.length;
      const started = await fleet.add(count);
      for (const pod of started) {
        service.add(pod.host, now());
        phase.added.push(pod.host);
      }
      hooks.event(`started ${started.length} pods (${ranges(phase.added)}) and added them to DNS; ${dnsLine()}`);
    }

    if (phase.key === 'rolling-update') {
      // Oldest first, as a Deployment's rollout replaces them.
      const old = [...fleet.pods];
      const step = (0.8 * length) / Math.max(1, old.length);
      for (const [i, oldPod] of old.entries()) {
        const stepStart = phase.startMs + i * step;
        if (!(await until(stepStart))) return;
        const [fresh] = await fleet.add(1);
        service.add(fresh!.host, now());
        phase.added.push(fresh!.host);
        hooks.event(`rollout ${i + 1}/${old.length}: new pod ${podLabel(fresh!.host)} ready, added to DNS`);

        if (!(await until(stepStart + 0.35 * step))) return;
        service.remove(oldPod.host);
        phase.retired.push(oldPod.host);
        hooks.event(`rollout ${i + 1}/${old.length}: ${podLabel(oldPod.host)} terminating, removed from DNS; ${dnsLine()}`);

        if (!(await until(stepStart + 0.7 * step))) return;
        void oldPod.stopGracefully(ctx.graceMs);
        hooks.event(`rollout ${i + 1}/${old.length}: ${podLabel(oldPod.host)} gets SIGTERM (GOAWAY, in-flight RPCs finish)`);
      }
    }

    if (phase.key === 'crash') {
      if (!(await until(phase.startMs + 0.2 * length))) return;
      const candidates = fleet.pods.filter((pod) => service.records.includes(pod.host));
      if (candidates.length > 1) {
        const victim = hooks.pickCrashVictim(candidates);
        victim.kill();
        phase.killed.push(victim.host);
        hooks.event(`${podLabel(victim.host)} crashed (connections reset); DNS still lists it`);
        // The endpoints controller notices a moment later.
        if (!(await until(phase.startMs + 0.2 * length + Math.min(2_000, 0.3 * length)))) return;
        service.remove(victim.host);
        hooks.event(`${podLabel(victim.host)} removed from DNS; ${dnsLine()}`);
      } else {
        hooks.event('only one pod left: no crash (it would take the whole Service down)');
      }
    }

    if (!(await until(phase.endMs))) return;
  }
}
