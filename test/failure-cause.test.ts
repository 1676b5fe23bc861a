/**
 * When a resolution fails, the DNS cause — code, server, name — is in the
 * status grpc-js reports for RPCs on that channel, on every grpc-js version
 * the adapter serves (issue 22, item 6). Real clients, real RPCs, the test
 * DNS server on loopback, and the library's defaults: a resolv.conf with only
 * a `nameserver` line, so glibc's 5 s timeout and 2 attempts.
 *
 * register() holds one grpc-js copy at a time; a channel keeps the resolver it
 * was created with. So each version's clients are created, and their RPCs
 * started, under its own registration, one version after another, and all of
 * them wait out the one shared failure together: the first try's 5 s (the
 * server's latency is not known yet), then one retry whose timeout follows
 * the latency the server showed answering the other names meanwhile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register, unregister } from '../src/index.js';
import type { DnsTestServer } from '../harness/dns-server.js';
import { GRPC_VERSIONS, grpcVersion, loadGrpc } from '../harness/grpc-versions.js';
import { createPodClient, type PodClient } from '../harness/pods.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';
import { dnsServerForFile } from '../harness/server-fixture.js';
import { escapeRegExp } from '../harness/within.js';

const PORT = 50_051;
/** The server drops every query for this name: a DNS server that does not answer. */
const SILENT = 'gone.cause.test';
const MISSING = 'missing.cause.test';
const REFUSED = 'refused.cause.test';

const fixture = dnsServerForFile({ label: 'failure-cause' });
let dns: DnsTestServer;
let resolvConfPath: string;
let closedPort: number;

beforeAll(async () => {
  // Only a nameserver: timeout and attempts are glibc's defaults (5 s, 2).
  ({ server: dns, resolvConfPath } = fixture);
  dns.setFault('drop', { name: SILENT });
  closedPort = await unusedUdpPort();
});

afterAll(() => {
  unregister();
});

interface Failure {
  code: number;
  details: string;
}

function failure(client: PodClient): Promise<Failure | string> {
  return client.whoAmI(30_000).then(
    (pod) => `answered by ${pod}`,
    (error: Failure) => ({ code: error.code, details: error.details }),
  );
}

describe('a failed resolution reaches the RPC status with its DNS cause', () => {
  it(`on grpc-js ${GRPC_VERSIONS.map(grpcVersion).join(', ')}: the code, the server and the name asked`, async () => {
    const clients: PodClient[] = [];
    const outcomes: Array<{ version: string; silent: Promise<Failure | string>; missing: Promise<Failure | string>; refused: Promise<Failure | string> }> = [];
    const started = performance.now();
    try {
      for (const name of GRPC_VERSIONS) {
        const grpc = loadGrpc(name);
        register({ grpc, resolvConfPath, hostsPath: false });
        const client = (target: string, roundRobin: boolean): PodClient => {
          const created = createPodClient(target, { grpc, roundRobin });
          clients.push(created);
          return created;
        };
        outcomes.push({
          version: grpcVersion(name),
          silent: failure(client(`dns:///${SILENT}:${PORT}`, true)),
          missing: failure(client(`dns:///${MISSING}:${PORT}`, false)),
          // A target naming its DNS server, where nothing listens.
          refused: failure(client(`dns://127.0.0.1:${closedPort}/${REFUSED}:${PORT}`, true)),
        });
      }
      const server = escapeRegExp(dns.address);
      const closed = escapeRegExp(`127.0.0.1:${closedPort}`);
      for (const outcome of outcomes) {
        const { version } = outcome;
        expect(await outcome.missing, version).toEqual({
          code: 14,
          details: `No addresses for dns:///${MISSING}:${PORT}: NXDOMAIN: ${MISSING} does not exist`,
        });
        const refused = await outcome.refused;
        expect(refused, version).toMatchObject({ code: 14 });
        expect((refused as Failure).details, version).toMatch(
          new RegExp(
            `^Name resolution failed for dns://${closed}/${escapeRegExp(REFUSED)}:${PORT}: CONNREFUSED: Could not ask DNS for ${escapeRegExp(REFUSED)} (A|AAAA): ` +
              `nothing listens on ${closed} \\(connection refused, 2 attempts\\)$`,
          ),
        );
        const silent = await outcome.silent;
        expect(silent, version).toMatchObject({ code: 14 });
        expect((silent as Failure).details, version).toMatch(
          new RegExp(
            `^Name resolution failed for dns:///${escapeRegExp(SILENT)}:${PORT}: TIMEOUT: Could not ask DNS for ${escapeRegExp(SILENT)} (A|AAAA): ` +
              `no reply from ${server} within 5000 ms \\(2 attempts\\)$`,
          ),
        );
      }
      // The first try waited the configured 5 s: the defaults were in force (a generous lower bound).
      expect(performance.now() - started).toBeGreaterThan(4_950);
    } finally {
      for (const client of clients) client.close();
    }
  }, 60_000);
});
