/**
 * Profile one side of the poller benchmark: `node --import tsx bench/profile-poller.ts [watch|c-ares] [names] [dir]`
 * runs it against the fast DNS responder (in its own process) under `--cpu-prof`, writing the profile to `dir`.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PROJECT_ROOT, startDnsChild } from './lib/dns-child.js';
import { pollerNames } from './lib/poller-side.js';

const side = process.argv[2] ?? 'watch';
const names = Number(process.argv[3] ?? 2_000);
const dir = path.resolve(process.argv[4] ?? fs.mkdtempSync(path.join(os.tmpdir(), 'poller-prof-')));
const records = pollerNames(names).map((name, i) => ({ name, A: [`10.0.${(i >> 8) & 255}.${i & 255}`], AAAA: [`fd00::${i.toString(16)}`], ttl: 300 }));
const server = await startDnsChild({ mode: 'fast', records });
const resolvConf = path.join(dir, 'resolv.conf');
fs.mkdirSync(dir, { recursive: true });
fs.writeFileSync(resolvConf, 'nameserver 127.0.0.1\noptions ndots:1\n');
const result = spawnSync(
  process.execPath,
  ['--cpu-prof', '--cpu-prof-dir', dir, '--import', 'tsx', path.join(PROJECT_ROOT, 'bench', 'lib', 'poller-side.ts'), side,
    '--names', String(names), '--server', server.address, '--interval', '1000', '--jitter', '0.2', '--window-at', String(Date.now() + 8_000), '--window', '8000', '--resolv-conf', resolvConf],
  { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
);
await server.close();
console.log(result.stdout.trim());
console.log(`profile in ${dir}`);
