/**
 * `npm run check:package`: is the package a user installs the package we
 * test? Checks the npm tarball itself, not the working tree:
 *
 *  1. build dist/ if it is missing (`--build` rebuilds it anyway);
 *  2. package.json's repository, homepage and bugs agree, and every README
 *     link works on the registry page (absolute, under that repository, to
 *     a file that exists: scripts/readme.ts);
 *  3. `npm pack` once into a temp dir; the tarball holds exactly
 *     EXPECTED_FILES (an unexpected file fails, so does a missing one),
 *     stays under MAX_PACKED_BYTES / MAX_UNPACKED_BYTES, and is the size
 *     CHANGELOG.md states, within SIZE_CLAIM_TOLERANCE;
 *  4. `npm publish --dry-run` prints no warning (npm "auto-correcting"
 *     package.json means the published package differs from this one);
 *  5. publint on that tarball (strict: warnings fail too);
 *  6. @arethetypeswrong/cli on that tarball, profile `strict` (node10,
 *     node16 from CJS, node16 from ESM, bundler);
 *  7. a consumer project in a temp dir: the tarball installed with npm
 *     beside @grpc/grpc-js, then
 *     - a CommonJS script (`require`) and an ES module script (`import`),
 *       each registering the resolver and making a real RPC through
 *       `dns:`, `dns-watch:` and bare host:port targets, using watch(), and
 *       ending by itself;
 *       both must see the same exports;
 *     - the README's quick start, extracted from README.md and run
 *       unchanged as an ES module against a loopback gRPC server, then as
 *       CommonJS with the require() lines the README gives for its imports;
 *       its `TARGET` names a loopback test DNS server in the target's
 *       authority (`dns://127.0.0.1:PORT/name:port`), so no other nameserver
 *       is asked;
 *     - the `grpc-dns-watch` bin (--version, --help);
 *     - `tsc --noEmit` on TypeScript using the public types, and on the
 *       quick start, with moduleResolution node16 (CJS and ESM files) and
 *       bundler.
 *
 * Offline by design: what the tarball needs beside itself (its dependency
 * dns-packet, its peer @grpc/grpc-js, and @types/node for tsc) is installed
 * as links to this repository's node_modules, so npm fetches nothing from a
 * registry and the consumer uses exactly the versions the tests ran with. Names resolve from /etc/hosts-style files
 * written here; no DNS server is asked.
 *
 * Flags: --build (rebuild dist first), --keep (keep the temp dir).
 * Exit code 0 when everything passes, 1 with the failing step named.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { changelogSizeClaim, kb, sizeClaimProblems } from './package-size.js';
import { quickStartAsCommonJs, quickStartSnippet, readReadme, readmeLinkProblems, repositoryUrl, withQuickStartServers } from './readme.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'node_modules', '.bin');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  repository?: string | { url?: string };
  homepage?: string;
  bugs?: string | { url?: string };
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
};

/**
 * Exactly what the tarball holds: the one copy of the library's code, the
 * three entry points around it (require, import, the bin) with the public
 * declarations, and the documents npm shows or users read offline. No
 * source maps (tsup.config.ts says why).
 */
const EXPECTED_FILES = [
  'CHANGELOG.md',
  'LICENSE',
  'README.md',
  'dist/cli.js',
  'dist/index.cjs',
  'dist/index.d.cts',
  'dist/index.d.ts',
  'dist/index.js',
  'dist/library.cjs',
  'package.json',
];
/**
 * Size bounds, in bytes (printed in kB of 1,000 bytes, as npm prints them).
 * One copy of the library's code (dist/library.cjs) behind the three entry
 * points (see src/package-entry.ts); with an ES module build, a CommonJS
 * build and a bin each carrying their own copy the tarball was 128 kB
 * packed and 447 kB unpacked. Today's size is what this script prints, and
 * the figure CHANGELOG.md states is held to it (scripts/package-size.ts).
 * The unpacked bound is the one the project holds itself to; an accidental
 * inclusion (source maps with sources were 730 kB) or a bundled dependency
 * fails it.
 */
const MAX_PACKED_BYTES = 130_000;
const MAX_UNPACKED_BYTES = 400_000;

/** Exports every build must have (the check also demands CJS and ESM agree on the full list). */
const CORE_EXPORTS = ['register', 'unregister', 'watch', 'observe', 'stats', 'DnsWatch', 'DnsError', 'TargetError', 'DEFAULTS', 'SCHEME'];

/** Host name the consumer scripts resolve through their own hosts file. */
const SMOKE_HOST = 'smoke.grpc-dns-watch.test';
/** Host name the README's quick start resolves, through the loopback test DNS server only. */
const QUICK_START_HOST = 'quick-start.grpc-dns-watch.test';

const args = new Set(process.argv.slice(2));
for (const arg of args) {
  if (arg !== '--build' && arg !== '--keep') {
    process.stderr.write(`check-package: unknown argument ${arg}\nUsage: tsx scripts/check-package.ts [--build] [--keep]\n`);
    process.exit(2);
  }
}

class StepError extends Error {}

function run(command: string, argv: string[], options: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): SpawnSyncReturns<string> {
  const result = spawnSync(command, argv, {
    cwd: options.cwd ?? ROOT,
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 60_000,
    env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0', ...options.env },
    maxBuffer: 32 * 1024 * 1024,
  });
  if (result.error) {
    const output = `\n--- stdout\n${(result.stdout ?? '').trim()}\n--- stderr\n${(result.stderr ?? '').trim()}`;
    throw new StepError(`${command} ${argv.join(' ')}: ${result.error.message}${output}`);
  }
  return result;
}

/** Run and demand exit code 0; the error shows the command and its output. */
function runOk(command: string, argv: string[], options: Parameters<typeof run>[2] = {}): string {
  const result = run(command, argv, options);
  if (result.status !== 0) {
    const how = result.signal ? `was killed by ${result.signal} (timeout ${options.timeoutMs ?? 60_000} ms?)` : `exited ${result.status}`;
    throw new StepError(`\`${path.basename(command)} ${argv.join(' ')}\` ${how}\n--- stdout\n${result.stdout.trim()}\n--- stderr\n${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** Like run(), without blocking the event loop: the test DNS server in this process must answer meanwhile. */
function runAsync(command: string, argv: string[], options: { cwd: string; timeoutMs: number; env: NodeJS.ProcessEnv }): Promise<{ status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: options.timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

/** npm's own chatter about this machine's npmrc is not our problem. */
function quiet(text: string): string {
  return text
    .split('\n')
    .filter((line) => !/^npm warn Unknown (user|env|project) config/.test(line))
    .join('\n')
    .trim();
}

const results: Array<{ step: string; ms: number; note: string }> = [];

async function step(name: string, body: () => string | void | Promise<string | void>): Promise<void> {
  const started = performance.now();
  process.stdout.write(`- ${name} …\n`);
  try {
    const note = (await body()) ?? '';
    const ms = performance.now() - started;
    results.push({ step: name, ms, note });
    process.stdout.write(`  ok (${(ms / 1000).toFixed(1)} s)${note ? `: ${note}` : ''}\n`);
  } catch (error) {
    const detail = error instanceof StepError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    throw new StepError(`step "${name}" failed:\n${detail}`);
  }
}

// ---------------------------------------------------------------------------
// consumer project files
// ---------------------------------------------------------------------------

/**
 * The body both consumer scripts run, after their own require()/import of
 * `assert`, `fs`, `os`, `path`, `grpc` and `dnsWatch`. Plain JavaScript that
 * is valid in a CommonJS function and in an ES module.
 */
const SMOKE_BODY = String.raw`
const exportNames = Object.keys(dnsWatch).filter((key) => key !== '__esModule' && key !== 'default').sort();
const { register, unregister, watch, stats, DnsError, TargetError, DEFAULTS, SCHEME } = dnsWatch;

assert.equal(typeof register, 'function');
assert.equal(SCHEME, 'dns-watch');
assert.equal(DEFAULTS.refreshInterval, 5000);
assert.equal(new DnsError('NXDOMAIN', 'x.test', 'none').authoritative, true);
assert.ok(new TargetError('dns:', 'no host') instanceof Error);
assert.throws(() => register({ refreshInterval: -1 }), TypeError);
assert.throws(() => register({ refreshIntervall: 1000 }), /Unknown grpc-dns-watch option "refreshIntervall"/);

// A hosts file of our own and an empty resolv.conf: the name resolves without asking any DNS server.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grpc-dns-watch-smoke-'));
const hostsPath = path.join(dir, 'hosts');
fs.writeFileSync(hostsPath, '127.0.0.1 ${SMOKE_HOST}\n');
const resolvConfPath = path.join(dir, 'resolv.conf');
fs.writeFileSync(resolvConfPath, '');
const dnsOptions = { hostsPath, resolvConfPath };

const identity = (value) => value;
const service = {
  echo: {
    path: '/smoke.Echo/Echo', requestStream: false, responseStream: false,
    requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity,
  },
};
const server = new grpc.Server();
server.addService(service, { echo: (call, callback) => callback(null, Buffer.from('pong:' + call.request.toString())) });
const port = await new Promise((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
);
if (typeof server.start === 'function' && typeof server.unbind !== 'function') server.start();

const answers = [];
try {
  register({ ...dnsOptions, refreshInterval: 1000 });
  const Client = grpc.makeGenericClientConstructor(service, 'Echo');
  const roundRobin = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
  for (const target of ['dns:///${SMOKE_HOST}:' + port, 'dns-watch:///${SMOKE_HOST}:' + port, '${SMOKE_HOST}:' + port]) {
    const client = new Client(target, grpc.credentials.createInsecure(), roundRobin);
    try {
      answers.push(await new Promise((resolve, reject) =>
        client.echo(Buffer.from('ping'), { deadline: Date.now() + 5000 }, (error, value) => (error ? reject(new Error(target + ': ' + error.message)) : resolve(value.toString()))),
      ));
      assert.ok(stats().some((watcher) => watcher.name === '${SMOKE_HOST}' && watcher.subscribers > 0), 'stats() lists the watched name');
    } finally {
      client.close();
    }
  }
  assert.deepEqual(answers, ['pong:ping', 'pong:ping', 'pong:ping']);

  const handle = watch('${SMOKE_HOST}', dnsOptions);
  try {
    const first = await handle[Symbol.asyncIterator]().next();
    assert.deepEqual(first.value.addresses, ['127.0.0.1']);
  } finally {
    handle.close();
  }
} finally {
  unregister();
  server.forceShutdown();
  fs.rmSync(dir, { recursive: true, force: true });
}
// No process.exit(): the process must end by itself (every timer unref'ed, every socket closed).
process.stdout.write(JSON.stringify({ exportNames, answers }) + '\n');
`;

const SMOKE_CJS = `'use strict';
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const grpc = require('@grpc/grpc-js');
const dnsWatch = require('grpc-dns-watch');

assert.match(require.resolve('grpc-dns-watch'), /[\\\\/]dist[\\\\/]index\\.cjs$/, 'require() loads the CommonJS build');

(async () => {
${SMOKE_BODY}
})().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
`;

const SMOKE_ESM = `import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as dnsWatch from 'grpc-dns-watch';

assert.match(import.meta.resolve('grpc-dns-watch'), /\\/dist\\/index\\.js$/, 'import loads the ES module build');

${SMOKE_BODY}
`;

/**
 * TypeScript a user writes against the package. Compiled, never run. The
 * `@ts-expect-error` lines must stay errors: they prove the types reject
 * what the runtime rejects.
 */
const CONSUMER_TS = `import * as grpc from '@grpc/grpc-js';
import {
  CHANNEL_OPTION_KEYS,
  DEFAULTS,
  DnsError,
  DnsWatch,
  SCHEME,
  observe,
  register,
  stats,
  unregister,
  watch,
  type DnsErrorCode,
  type RegisterOptions,
  type WatchEvent,
  type WatchOptions,
  type WatchUpdate,
  type WatcherStats,
} from 'grpc-dns-watch';

const options: RegisterOptions = { refreshInterval: 5_000, jitter: 0.2, family: 0, backoff: { initial: 1_000 }, grpc };
register(options);
register({ replaceBuiltin: false, nameservers: ['10.96.0.10', { host: 'fd00::10', port: 53 }] });
unregister();

const client = new grpc.Client(\`dns:///my-svc.my-ns.svc.cluster.local:50051\`, grpc.credentials.createInsecure(), {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc-dns-watch.refresh_interval_ms': DEFAULTS.refreshInterval,
});
client.close();

const watchOptions: WatchOptions = { refreshInterval: 2_000, family: 4 };
const svc: DnsWatch = watch('my-svc.my-ns.svc.cluster.local', watchOptions);
svc.on('update', (update: WatchUpdate) => {
  const addresses: string[] = update.addresses;
  const ttl: number = update.ttl;
  void [addresses, ttl, update.added, update.removed];
});
svc.on('error', (error) => {
  const code: DnsErrorCode = error.code;
  const authoritative: boolean = error.authoritative;
  void [code, authoritative, error instanceof DnsError];
});
export async function firstChange(): Promise<string[]> {
  for await (const update of svc) return update.added;
  return [];
}
const stop: () => void = observe((event: WatchEvent) => {
  if (event.type === 'query') void event.durationMs;
  else if (event.type === 'error') void event.kept;
  else if (event.type === 'attempt') void event.server;
  else if (event.type === 'family') void [event.family, event.change, event.nextAskInMs];
  else void event.added;
});
stop();
const snapshot: WatcherStats[] = stats();
const lastCode: DnsErrorCode | undefined = snapshot[0]?.lastError?.code;
void lastCode;
const scheme: string = SCHEME;
const keys: string[] = Object.keys(CHANNEL_OPTION_KEYS);
void [snapshot, scheme, keys];
svc.close();

// @ts-expect-error: 5 is not an address family
watch('x', { family: 5 });
// @ts-expect-error: misspelled option
register({ refreshIntervall: 5_000 });
// @ts-expect-error: a DnsWatch emits 'update', not 'updates'
svc.on('updates', () => {});
// @ts-expect-error: not a DnsErrorCode
const badCode: DnsErrorCode = 'EAI_AGAIN';
void badCode;
// @ts-expect-error: the grpc option takes a grpc-js module
register({ grpc: {} });
`;

function writeConsumerProject(dir: string): void {
  writeFileSync(path.join(dir, 'package.json'), `${JSON.stringify({ name: 'grpc-dns-watch-consumer', version: '0.0.0', private: true }, null, 2)}\n`);
  writeFileSync(path.join(dir, 'smoke.cjs'), SMOKE_CJS);
  writeFileSync(path.join(dir, 'smoke.mjs'), SMOKE_ESM);
  // The same source twice: as CommonJS (.cts) and as an ES module (.mts).
  writeFileSync(path.join(dir, 'consumer.cts'), CONSUMER_TS);
  writeFileSync(path.join(dir, 'consumer.mts'), CONSUMER_TS);
  // The README's quick start as it is written: run as JavaScript, type-checked as TypeScript.
  const quickStart = quickStartSnippet(readReadme(ROOT));
  writeFileSync(path.join(dir, 'quick-start.mjs'), quickStart);
  writeFileSync(path.join(dir, 'quick-start.mts'), quickStart);
  // TypeScript compiled to CommonJS keeps the imports (they become require() calls)…
  writeFileSync(path.join(dir, 'quick-start.cts'), quickStart);
  // …and a CommonJS script is written as the README says: its require() lines for the imports.
  writeFileSync(path.join(dir, 'quick-start.cjs'), quickStartAsCommonJs(readReadme(ROOT)));
  const compilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: false,
    target: 'ES2022',
    types: ['node'],
    noUnusedLocals: false,
  };
  writeFileSync(
    path.join(dir, 'tsconfig.node16.json'),
    JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'node16', moduleResolution: 'node16' }, files: ['consumer.cts', 'consumer.mts', 'quick-start.mts', 'quick-start.cts'] }, null, 2),
  );
  writeFileSync(
    path.join(dir, 'tsconfig.bundler.json'),
    JSON.stringify({ compilerOptions: { ...compilerOptions, module: 'esnext', moduleResolution: 'bundler' }, files: ['consumer.mts', 'quick-start.mts'] }, null, 2),
  );
}

// ---------------------------------------------------------------------------
// steps
// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = performance.now();
  const work = mkdtempSync(path.join(tmpdir(), 'grpc-dns-watch-check-package-'));
  let keep = args.has('--keep');
  let tarball = '';
  let packedFiles: string[] = [];
  const consumer = path.join(work, 'consumer');

  try {
    await step('build dist/', () => {
      const missing = EXPECTED_FILES.filter((file) => file.startsWith('dist/') && !existsSync(path.join(ROOT, file)));
      if (!args.has('--build') && missing.length === 0) {
        const stale = newestMtime(path.join(ROOT, 'src')) > statSync(path.join(ROOT, 'dist', 'index.js')).mtimeMs;
        return stale ? 'dist/ is older than src/: checking the old build (run with --build or `npm run build`)' : 'present, not rebuilt';
      }
      runOk(path.join(BIN, 'tsup'), [], { timeoutMs: 120_000 });
      return missing.length > 0 ? `built (missing: ${missing.join(', ')})` : 'rebuilt (--build)';
    });

    await step('package.json links and README links (they must work on the registry page)', () => {
      const repository = repositoryUrl(PKG);
      const bugs = typeof PKG.bugs === 'string' ? PKG.bugs : PKG.bugs?.url;
      const problems = [
        PKG.homepage?.startsWith(repository) ? '' : `"homepage" (${PKG.homepage}) is not under "repository" (${repository})`,
        bugs?.startsWith(repository) ? '' : `"bugs" (${bugs}) is not under "repository" (${repository})`,
        ...readmeLinkProblems(readReadme(ROOT), repository, ROOT),
      ].filter(Boolean);
      if (problems.length > 0) throw new StepError(problems.join('\n'));
      return `under ${repository}`;
    });

    await step('npm pack', () => {
      const out = runOk('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work]);
      const json = out.slice(out.indexOf('['));
      const [info] = JSON.parse(json) as Array<{ filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }>;
      if (!info) throw new StepError(`npm pack printed no package:\n${out}`);
      tarball = path.join(work, info.filename);
      packedFiles = info.files.map((file) => file.path).sort();
      const missing = EXPECTED_FILES.filter((file) => !packedFiles.includes(file));
      const unexpected = packedFiles.filter((file) => !EXPECTED_FILES.includes(file));
      const problems = [
        missing.length > 0 ? `missing from the tarball: ${missing.join(', ')}` : '',
        unexpected.length > 0 ? `not expected in the tarball: ${unexpected.join(', ')} (a stale dist/? run with --build; a new file? add it to EXPECTED_FILES)` : '',
        info.size > MAX_PACKED_BYTES ? `packed size ${kb(info.size)} is above the bound of ${kb(MAX_PACKED_BYTES)}` : '',
        info.unpackedSize > MAX_UNPACKED_BYTES ? `unpacked size ${kb(info.unpackedSize)} is above the bound of ${kb(MAX_UNPACKED_BYTES)}` : '',
        ...sizeClaimProblems(changelogSizeClaim(readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8')), { packed: info.size, unpacked: info.unpackedSize }),
      ].filter(Boolean);
      if (problems.length > 0) throw new StepError(`${problems.join('\n')}\ntarball contents:\n  ${packedFiles.join('\n  ')}`);
      return `${info.filename}, ${packedFiles.length} files, ${kb(info.size)} packed (bound ${kb(MAX_PACKED_BYTES)}), ${kb(info.unpackedSize)} unpacked (bound ${kb(MAX_UNPACKED_BYTES)}), as CHANGELOG.md states`;
    });

    await step('npm publish --dry-run (offline): no warnings', () => {
      const result = run('npm', ['publish', '--dry-run', '--offline', '--ignore-scripts']);
      // Not being logged in is expected here; anything else npm warns about is not.
      const warnings = quiet(result.stderr)
        .split('\n')
        .filter((line) => /^npm (warn|error)/i.test(line) && !/requires you to be logged in/.test(line));
      if (result.status !== 0 || warnings.length > 0) throw new StepError(`exit ${result.status}\n${warnings.join('\n') || quiet(result.stderr)}`);
      return 'clean';
    });

    await step('publint (strict)', async () => {
      const bytes = readFileSync(tarball);
      const tarballBuffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
      const { messages, pkg } = await publint({ pack: { tarball: tarballBuffer }, level: 'suggestion', strict: true });
      if (messages.length === 0) return 'no messages';
      const lines = messages.map((message) => `${message.type}: ${formatMessage(message, pkg, { color: false }) ?? message.code} (${message.path.join('.')})`);
      const failing = messages.filter((message) => message.type !== 'suggestion');
      if (failing.length > 0) throw new StepError(lines.join('\n'));
      return `suggestions only:\n    ${lines.join('\n    ')}`;
    });

    await step('are the types wrong (attw, profile strict: node10, node16 CJS/ESM, bundler)', () => {
      const result = run(path.join(BIN, 'attw'), [tarball, '--profile', 'strict', '--format', 'ascii', '--no-emoji', '--no-color']);
      if (result.status !== 0) throw new StepError(`attw exited ${result.status}\n${result.stdout}\n${result.stderr}`);
      // The resolutions of the main entry point (the block after `"grpc-dns-watch"`).
      const block = result.stdout.split(`"${PKG.name}"`)[1]?.split('***')[0] ?? '';
      const resolutions = block.split('\n').map((line) => line.trim()).filter((line) => /^(node10|node16|bundler)/.test(line));
      return resolutions.length > 0 ? resolutions.join('; ') : 'no problems found';
    });

    await step('install the tarball into a consumer project (offline)', () => {
      mkdirSync(consumer);
      writeConsumerProject(consumer);
      const links = ['@grpc/grpc-js', 'dns-packet', '@types/node'].map((name) => {
        const dir = path.join(ROOT, 'node_modules', name);
        if (!existsSync(path.join(dir, 'package.json'))) throw new StepError(`${dir} is missing: run npm ci first`);
        return dir;
      });
      runOk('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--no-package-lock', tarball, ...links], {
        cwd: consumer,
        timeoutMs: 120_000,
      });
      const installed = JSON.parse(readFileSync(path.join(consumer, 'node_modules', PKG.name, 'package.json'), 'utf8')) as { version: string };
      if (installed.version !== PKG.version) throw new StepError(`installed ${PKG.name}@${installed.version}, expected ${PKG.version}`);
      const grpcVersion = (JSON.parse(readFileSync(path.join(consumer, 'node_modules', '@grpc', 'grpc-js', 'package.json'), 'utf8')) as { version: string }).version;
      return `${PKG.name}@${installed.version} beside @grpc/grpc-js@${grpcVersion}`;
    });

    const exportLists: Record<string, string[]> = {};
    for (const [label, file] of [
      ['require() (CommonJS)', 'smoke.cjs'],
      ['import (ES module)', 'smoke.mjs'],
    ] as const) {
      await step(`${label}: register(), RPCs over dns:, dns-watch: and host:port targets, watch(), exits by itself`, () => {
        const out = runOk(process.execPath, [file], { cwd: consumer, timeoutMs: 30_000, env: { GRPC_TRACE: '', GRPC_VERBOSITY: 'ERROR' } });
        const last = out.trim().split('\n').at(-1) ?? '';
        const report = JSON.parse(last) as { exportNames: string[] };
        exportLists[file] = report.exportNames;
        const missing = CORE_EXPORTS.filter((name) => !report.exportNames.includes(name));
        if (missing.length > 0) throw new StepError(`${file}: missing exports ${missing.join(', ')}`);
        return `${report.exportNames.length} exports`;
      });
    }
    await step('CommonJS and ES module builds export the same names', () => {
      const cjs = exportLists['smoke.cjs'] ?? [];
      const esm = exportLists['smoke.mjs'] ?? [];
      const onlyCjs = cjs.filter((name) => !esm.includes(name));
      const onlyEsm = esm.filter((name) => !cjs.includes(name));
      if (onlyCjs.length > 0 || onlyEsm.length > 0) {
        throw new StepError(`only in CJS: ${onlyCjs.join(', ') || '-'}; only in ESM: ${onlyEsm.join(', ') || '-'}`);
      }
      return cjs.join(', ');
    });

    for (const [file, form] of [
      ['quick-start.mjs', 'unchanged, as an ES module'],
      ['quick-start.cjs', "as CommonJS, with the README's require() lines"],
    ] as const) {
      await step(`the README's quick start ${form}, against a loopback gRPC server found through a loopback DNS server`, async () => {
        const { result, target, queries } = await withQuickStartServers(QUICK_START_HOST, (target) =>
          runAsync(process.execPath, [file], { cwd: consumer, timeoutMs: 30_000, env: { TARGET: target, GRPC_TRACE: '', GRPC_VERBOSITY: 'ERROR' } }),
        );
        const output = `\n--- stdout\n${result.stdout.trim()}\n--- stderr\n${result.stderr.trim()}`;
        if (result.status !== 0) throw new StepError(`${file} ${result.signal ? `was killed by ${result.signal} (did not end by itself?)` : `exited ${result.status}`}${output}`);
        if (result.stdout.trim() !== `ready: ${target}`) throw new StepError(`${file} did not print "ready: ${target}"${output}`);
        if (queries === 0) throw new StepError(`the test DNS server was never asked for ${QUICK_START_HOST}: what resolved it?${output}`);
        return `${result.stdout.trim()} (${queries} DNS ${queries === 1 ? 'query' : 'queries'}), ended by itself`;
      });
    }

    await step('bin: grpc-dns-watch --version / --help', () => {
      const bin = path.join(consumer, 'node_modules', '.bin', 'grpc-dns-watch');
      const version = runOk(bin, ['--version'], { cwd: consumer }).trim();
      if (!version.includes(PKG.version)) throw new StepError(`--version printed "${version}", expected ${PKG.version}`);
      const help = runOk(bin, ['--help'], { cwd: consumer });
      if (!help.includes('Usage:')) throw new StepError(`--help printed no usage:\n${help}`);
      return version;
    });

    for (const resolution of ['node16', 'bundler'] as const) {
      await step(`tsc --noEmit, moduleResolution ${resolution}${resolution === 'node16' ? ' (a .cts and a .mts file)' : ''}`, () => {
        const result = run(process.execPath, [TSC, '-p', `tsconfig.${resolution}.json`, '--traceResolution'], { cwd: consumer, timeoutMs: 120_000 });
        if (result.status !== 0) {
          const errors = result.stdout.split('\n').filter((line) => /error TS\d+/.test(line));
          throw new StepError(`tsc exited ${result.status}:\n${errors.join('\n') || quiet(result.stdout).slice(-4000)}`);
        }
        // Which declaration files the package name resolved to, per importing file.
        const resolved = [...result.stdout.matchAll(/Module name 'grpc-dns-watch' was successfully resolved to '([^']+)'/g)].map((match) =>
          path.relative(path.join(consumer, 'node_modules', PKG.name), match[1] ?? ''),
        );
        return `types from ${[...new Set(resolved)].join(', ') || '(not traced)'}`;
      });
    }
  } catch (error) {
    keep = true;
    process.stderr.write(`\ncheck-package FAILED: ${error instanceof Error ? error.message : String(error)}\n`);
    process.stderr.write(`work directory kept for inspection: ${work}\n`);
    process.exitCode = 1;
    return;
  } finally {
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
  process.stdout.write(`\ncheck-package: all ${results.length} steps passed in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  if (args.has('--keep')) process.stdout.write(`work directory: ${work}\n`);
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

await main();
