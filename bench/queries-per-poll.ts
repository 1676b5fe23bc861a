/**
 * 6. Queries per poll by target form in a pod resolv.conf.
 *
 * What a platform team measures first: how many queries each poll of each
 * name costs their cluster DNS. A kubelet resolv.conf (`search
 * ns.svc.cluster.local svc.cluster.local cluster.local`, `options ndots:5`),
 * IPv4-only records (so AAAA is NODATA, as in most clusters), and the five
 * ways people write a Service name. Counted at the DNS server (DnsTestServer
 * in a child process):
 *
 * - dns-watch first poll: the search list walked as glibc walks it;
 * - dns-watch, the next polls until the AAAA is demoted (the candidate that
 *   answered polled directly, A and AAAA);
 * - dns-watch steady state: every later poll, the AAAA demoted (NODATA on 3
 *   polls in a row: src/watch/family-demotion.ts) — mean over the polls left;
 * - dns.lookup: one getaddrinfo lookup (family 0) — what grpc-js's built-in
 *   resolver calls for each resolution — for scale. Only inside a private
 *   network namespace whose bind-mounted resolv.conf is the pod one (see
 *   lib/netns.ts); skipped otherwise, never asking the machine's own server.
 */
import dns from 'node:dns';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { observe, watch } from '../src/index.js';
import { DEMOTE_AFTER_POLLS } from '../src/watch/family-demotion.js';
import { startDnsChild } from './lib/dns-child.js';
import { POD_SEARCH } from './lib/netns.js';
import type { BenchContext, BenchReport } from './lib/report.js';
import type { Table } from './lib/table.js';

const FORMS = ['web', 'web.ns', 'web.ns.svc', 'web.ns.svc.cluster.local', 'web.ns.svc.cluster.local.'];
const FQDN = 'web.ns.svc.cluster.local';

export async function run(context: BenchContext): Promise<BenchReport> {
  const { quick, log } = context;
  const polls = quick ? 5 : 20;
  const lookupAvailable = context.netns;
  const server = await startDnsChild({ mode: 'full', port: lookupAvailable ? 53 : 0, records: [{ name: FQDN, A: ['10.0.0.1'], ttl: 30 }] });
  const dir = mkdtempSync(path.join(tmpdir(), 'grpc-dns-watch-bench-qpp-'));
  const resolvConfPath = path.join(dir, 'resolv.conf');
  writeFileSync(resolvConfPath, `nameserver ${server.address}\n${POD_SEARCH}`);
  const rows: Array<{ form: string; first: number; beforeDemotion: number; steady: number; lookup: number | null }> = [];
  try {
    for (const form of FORMS) {
      log(`${form}: ${polls} polls`);
      await server.reset();
      const [firstPoll, demotedAt] = await pollsOf(form, polls, resolvConfPath, () => server.count());
      const total = await server.count();
      const beforeDemotion = (demotedAt - firstPoll) / (DEMOTE_AFTER_POLLS - 1);
      const steady = (total - demotedAt) / (polls - DEMOTE_AFTER_POLLS);
      let lookup: number | null = null;
      if (lookupAvailable) {
        await server.reset();
        await dns.promises.lookup(form, { all: true, family: 0 });
        lookup = await server.count();
      }
      rows.push({ form, first: firstPoll, beforeDemotion, steady, lookup });
    }
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const table: Table = {
    title: 'Queries reaching the server per poll, family 0, IPv4-only records (AAAA NODATA)',
    headers: ['target as written', 'dns-watch first poll', `dns-watch polls 2–${DEMOTE_AFTER_POLLS}`, 'dns-watch every later poll (AAAA demoted)', 'dns.lookup, one lookup (grpc-js built-in)'],
    rows: rows.map((row) => [
      `\`${row.form}\``,
      String(row.first),
      row.beforeDemotion.toFixed(row.beforeDemotion % 1 === 0 ? 0 : 2),
      row.steady.toFixed(row.steady % 1 === 0 ? 0 : 2),
      row.lookup === null ? `skipped: ${context.netnsUnavailable ?? 'needs unshare'}` : String(row.lookup),
    ]),
  };
  const worst = Math.max(...rows.map((row) => row.steady));
  return {
    name: 'queries-per-poll',
    title: '6. Queries per poll by target form in a pod resolv.conf',
    method:
      `kubelet resolv.conf (${POD_SEARCH.trim().replace(/\n/g, '; ')}), one record ${FQDN} A 10.0.0.1. ` +
      `watch(form, { family: 0 }) polled ${polls} times; queries counted at the server (DnsTestServer, child process). ` +
      (lookupAvailable
        ? 'dns.lookup runs in a private network namespace with that resolv.conf bind-mounted over /etc/resolv.conf and the server on 127.0.0.1:53.'
        : 'dns.lookup skipped (no private network namespace).'),
    tables: [table],
    summary: [{ metric: 'queries per steady-state poll, worst form', value: String(worst), target: '= families with records (1: the AAAA demoted)', met: worst === 1 }],
    notes: [
      `The demoted AAAA is asked again 60 s − 1 s − 100 ms × 1.0 = 58.9 s after it was last asked at this interval, after the last poll here: with the defaults (5 s, jitter 0.2) every 53–59 s, 1.09 queries per poll in the long run (benchmark 7; test/dnsmasq.demotion.test.ts counts ≤ 1.1 at dnsmasq over a minute). askBothFamilies: true keeps 2.`,
    ],
    data: { polls, rows },
  };
}

/** Watch `form` until `polls` polls have run; returns `count()` read at the end of the first and of the demoting one. */
async function pollsOf(form: string, polls: number, resolvConfPath: string, count: () => Promise<number>): Promise<[number, number]> {
  let seen = 0;
  let firstCount: Promise<number> | undefined;
  let demotedCount: Promise<number> | undefined;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const svc = watch(form, { refreshInterval: 100, minInterval: 50, jitter: 0, family: 0, resolvConfPath, hostsPath: false });
  const stop = observe((event) => {
    if (event.type !== 'query' || event.name !== form) return;
    seen++;
    if (seen === 1) firstCount = count();
    if (seen === DEMOTE_AFTER_POLLS) demotedCount = count();
    // Closed in the turn of the last poll, so no further poll is in flight.
    if (seen === polls) {
      svc.close();
      done();
    }
  });
  try {
    await finished;
  } finally {
    stop();
    svc.close();
  }
  return [await firstCount!, await demotedCount!];
}
