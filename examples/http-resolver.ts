/**
 * A polling resolver over HTTP: the `http-json:` scheme asks a JSON endpoint
 * for the addresses every REFRESH_INTERVAL_MS. `http-json://host:port/path`
 * fetches `http://host:port/path`, which answers
 * `[{ "host": "10.0.0.7", "port": 50051 }, …]` — a service registry, a
 * sidecar, a small endpoint of your own. A failed or non-200 request
 * throws: the channel keeps the last good addresses, and the poll is retried
 * with backoff. The poll's signal aborts a request still running at its
 * deadline.
 *
 *   node --import tsx examples/http-resolver.ts http-json://127.0.0.1:8080/pods
 */
import { registerPollingResolver, type PollingEndpoint } from 'grpc-dns-watch';
import { envMs, followPods } from './follow-pods.js';

registerPollingResolver(
  'http-json',
  async ({ target, signal }) => {
    const url = `http://${target.authority}/${target.path}`;
    const response = await fetch(url, { signal });
    if (!response.ok) throw new Error(`${url} answered ${response.status} ${response.statusText}`);
    return (await response.json()) as PollingEndpoint[];
  },
  { refreshInterval: envMs('REFRESH_INTERVAL_MS', 5_000) },
);

const target = process.argv[2];
if (!target?.startsWith('http-json://')) throw new Error('usage: http-resolver.ts http-json://host:port/path');
void followPods(target);
