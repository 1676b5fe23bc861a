/**
 * A search domain whose upstream is dead, or refuses, costs one candidate,
 * not the name (issue 25, case 2). A pod's resolv.conf with one more search
 * domain than Kubernetes writes — `search ns.svc.cluster.local
 * svc.cluster.local cluster.local corp.example`, `ndots:5`, glibc's timeout
 * and attempts (5 s, 2) — and `web.ns.svc.cluster.local` written without
 * the trailing dot, as the README's quick start writes it: glibc asks the
 * four search candidates first, gets no answer for the corp.example one,
 * and still asks the name as written, which answers. So must watch(), the
 * command and a grpc-js channel, against the in-process DNS server and
 * against dnsmasq forwarding corp.example to an upstream that is not there
 * (or that answers REFUSED).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.js';
import { register, unregister, watch } from '../src/index.js';
import { Dnsmasq, dnsmasqBinary } from '../harness/dnsmasq.js';
import { PodFleet, createPodClient } from '../harness/pods.js';
import { startDnsServer } from '../harness/server-fixture.js';
import { tempFolderForTests } from '../harness/temp-folder.js';
import { waitUntil } from '../harness/wait.js';

const NAME = 'web.ns.svc.cluster.local';
const DEAD_CANDIDATE = `${NAME}.corp.example`;
const SEARCH = 'search ns.svc.cluster.local svc.cluster.local cluster.local corp.example\noptions ndots:5';
/**
 * The walk waits out the dead candidate: at most 2 attempts × 5 s (the
 * configured timeout, while the server's latency is unknown; measured from
 * the first candidates' replies it is about 250 + 500 ms), then one more
 * round trip; generous, for a loaded machine.
 */
const FIRST_ANSWER_MS = 2 * 5_000 + 5_000;

const binary = dnsmasqBinary();
if (!binary) console.warn('search-dead-domain.test: dnsmasq not found — its half skipped (apt-get install dnsmasq-base)');

const folder = tempFolderForTests('dead-domain');
let fleet: PodFleet;
const opened: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  fleet = await PodFleet.create();
  await fleet.add(1);
});

afterAll(async () => {
  for (const item of opened.splice(0).reverse()) await item.close();
  await fleet.close();
});

interface Scenario {
  label: string;
  /** Starts the DNS server the pod asks, with NAME → `address` and the corp.example candidate broken, and the pod's resolv.conf naming it. */
  start(address: string): Promise<{ resolvConfPath: string; asked(name: string): number | undefined }>;
}

const inProcess = (fault: 'drop' | 'refused'): Scenario => ({
  label: `in-process server, ${fault === 'drop' ? 'no answer' : 'REFUSED'} for ${DEAD_CANDIDATE}`,
  async start(address) {
    const { server, resolvConfPath, close } = await startDnsServer({ resolvConf: SEARCH, label: 'dead-domain' });
    opened.push({ close });
    server.setRecords(NAME, { A: [address] });
    server.setFault(fault, { name: DEAD_CANDIDATE });
    return { resolvConfPath, asked: (name) => server.countQueries({ name }) };
  },
});

const dnsmasq = (upstream: 'dead' | 'refused'): Scenario => ({
  label: `dnsmasq, corp.example forwarded to ${upstream === 'dead' ? 'an upstream that is not there' : 'an upstream that answers REFUSED'}`,
  async start(address) {
    let server: { host: string; port: number } | undefined;
    if (upstream === 'refused') {
      const refusing = await startDnsServer({ label: 'dead-domain-upstream' });
      opened.push(refusing);
      refusing.server.setFault('refused');
      server = refusing.server.nameserver;
    }
    const instance = await Dnsmasq.start({ deadUpstreams: [{ domain: 'corp.example', server }] });
    opened.push(instance);
    await instance.setHost(NAME, [address]);
    // dnsmasq keeps no per-name count; the in-process rows count queries.
    const resolvConfPath = await folder.write(`dnsmasq-${upstream}.resolv.conf`, instance.nameserver, SEARCH);
    return { resolvConfPath, asked: () => undefined };
  },
});

describe.each([
  inProcess('drop'),
  inProcess('refused'),
  ...(binary ? [dnsmasq('dead'), dnsmasq('refused')] : []),
])('$label', (scenario) => {
  let resolvConfPath: string;
  let server: Awaited<ReturnType<Scenario['start']>>;

  beforeAll(async () => {
    const host = fleet.pods[0]!.host;
    server = await scenario.start(host);
    ({ resolvConfPath } = server);
    register({ replaceBuiltin: false, refreshInterval: 1_000, family: 4, resolvConfPath, hostsPath: false });
  });

  afterAll(() => {
    unregister();
  });

  it(`${NAME} resolves through watch(), the command and a grpc-js channel, and is then polled directly`, async () => {
    const host = fleet.pods[0]!.host;
    const handle = watch(NAME, { refreshInterval: 1_000, family: 0, resolvConfPath, hostsPath: false });
    const client = createPodClient(`dns-watch:///${NAME}:${fleet.port}`);
    const stdout: string[] = [];
    const stderr: string[] = [];
    try {
      const [update, code, answeredBy] = await Promise.all([
        new Promise<string[]>((resolve, reject) => {
          handle.once('update', (event) => resolve(event.addresses));
          handle.once('error', (error) => reject(error));
        }),
        main(['--once', '--family', '4', '--resolv-conf', resolvConfPath, NAME], {
          stdout: { write: (chunk: string) => stdout.push(chunk) },
          stderr: { write: (chunk: string) => stderr.push(chunk) },
          env: {},
        }),
        client.whoAmI(FIRST_ANSWER_MS),
      ]);
      expect(update).toEqual([host]);
      expect(code, stderr.join('')).toBe(0);
      expect(stdout.join('')).toContain(host);
      expect(answeredBy).toBe(host);
      // Polled directly from then on: the broken candidate is not asked again. (Family 0: the update can come as
      // A answers, before the AAAA's walk ends and the poll settles with the name it remembers.)
      await waitUntil(() => handle.stats()?.querying === false, 'the first poll to settle', FIRST_ANSWER_MS);
      expect(handle.stats()?.polledName).toBe(`${NAME}.`);
      const before = server.asked(DEAD_CANDIDATE);
      const polls = handle.stats()!.queries;
      await waitUntil(() => handle.stats()!.queries >= polls + 2, 'two more polls', 10_000);
      expect(handle.current?.addresses).toEqual([host]);
      expect(server.asked(DEAD_CANDIDATE)).toBe(before);
    } finally {
      handle.close();
      client.close();
    }
  }, 3 * FIRST_ANSWER_MS);
});
