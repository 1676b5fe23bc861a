/**
 * Grpc.Net's custom-resolver example for grpc-js: a `file:` scheme whose
 * addresses are a JSON file, `[{ "host": "10.0.0.7", "port": 50051 }, …]`.
 * The file is checked every REFRESH_INTERVAL_MS and re-read only when it
 * changed (its size or modification time); write it whole (write a new file
 * and rename it over the old one), so a poll never reads half of it.
 *
 *   node --import tsx examples/file-resolver.ts file:///etc/pods.json
 */
import { readFile, stat } from 'node:fs/promises';
import { registerPollingResolver, type PollingEndpoint } from 'grpc-dns-watch';
import { envMs, followPods } from './follow-pods.js';

/** The last list read from each file, with what tells that the file changed. */
const lastRead = new Map<string, { version: string; addresses: PollingEndpoint[] }>();

registerPollingResolver(
  'file',
  async ({ target, signal }) => {
    // grpc-js parses file:///etc/pods.json as the path etc/pods.json.
    const file = `/${target.path}`;
    const { size, mtimeMs } = await stat(file);
    const version = `${size} ${mtimeMs}`;
    const known = lastRead.get(file);
    if (known?.version === version) return known.addresses;
    // A file that is not JSON throws: grpc-dns-watch keeps the last good list and tries again.
    const addresses = JSON.parse(await readFile(file, { encoding: 'utf8', signal })) as PollingEndpoint[];
    lastRead.set(file, { version, addresses });
    return addresses;
  },
  { refreshInterval: envMs('REFRESH_INTERVAL_MS', 5_000) },
);

const target = process.argv[2];
if (!target?.startsWith('file:')) throw new Error('usage: file-resolver.ts file:///path/addresses.json');
void followPods(target);
