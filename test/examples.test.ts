import { execFile, spawn, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULTS } from '../src/index.js';
import { DnsTestServer } from '../harness/dns-server.js';
import { startDnsServer, type DnsServerSetup } from '../harness/server-fixture.js';
import { GRPC_VERSIONS, grpcVersion, loadGrpc } from '../harness/grpc-versions.js';
import { fencedBlocks, section } from '../harness/markdown.js';
import { PodFleet } from '../harness/pods.js';

/**
 * The examples as a user runs them: child processes (`node --import tsx`),
 * importing the package by name (the built dist/, via the package's own
 * `exports`), asking only the test DNS server named in their `dns://` target
 * — never the machine's nameserver — and calling real grpc-js servers on
 * 127.0.0.x. The Kubernetes manifests are parsed and checked against the
 * timing math in examples/kubernetes/README.md.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const EXAMPLES = path.join(ROOT, 'examples');
const GRPC_JS_CLIENT = path.join(EXAMPLES, 'grpc-js-client', 'client.ts');
const NICE_GRPC_CLIENT = path.join(EXAMPLES, 'nice-grpc-client', 'client.ts');
const K8S = path.join(EXAMPLES, 'kubernetes');
const K8S_SERVER = path.join(K8S, 'server.ts');
const FILE_RESOLVER = path.join(EXAMPLES, 'file-resolver.ts');
const HTTP_RESOLVER = path.join(EXAMPLES, 'http-resolver.ts');

/**
 * Bounded waits for an example's output. Generous: a tsx child compiles on
 * start, and on a loaded 2-core machine that alone can take many seconds.
 */
const CHILD_WAIT_MS = 30_000;
/** Time for a test that starts several such children one after another. */
const CHILD_TEST_TIMEOUT_MS = 120_000;

const NAME = 'whoami.examples.test';

// ---------------------------------------------------------------------------
// child processes
// ---------------------------------------------------------------------------

interface Example {
  readonly lines: string[];
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first line (already printed or to come) matching `test`. */
  waitFor(test: (line: string) => boolean, what: string, timeoutMs?: number): Promise<string>;
  kill(signal: NodeJS.Signals): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcessByStdio<null, Readable, Readable>>();

afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

function startExample(file: string, args: string[], env: Record<string, string>): Example {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv.GRPC_TRACE;
  delete childEnv.GRPC_VERBOSITY;
  const child = spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  const lines: string[] = [];
  let stdout = '';
  let stderr = '';
  let partial = '';
  const waiters = new Set<() => void>();
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    partial += chunk;
    const complete = partial.split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete);
    for (const waiter of [...waiters]) waiter();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (code, signal) => {
      running.delete(child);
      for (const waiter of [...waiters]) waiter();
      resolve({ code, signal });
    });
  });
  let closed = false;
  void exited.then(() => (closed = true));
  const describeOutput = () => `\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  return {
    lines,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill: (signal) => child.kill(signal),
    waitFor(test, what, timeoutMs = CHILD_WAIT_MS) {
      return new Promise((resolve, reject) => {
        let checked = 0;
        const check = () => {
          for (; checked < lines.length; checked++) {
            const line = lines[checked] ?? '';
            if (test(line)) {
              done();
              resolve(line);
              return;
            }
          }
          if (closed) {
            done();
            reject(new Error(`${path.relative(ROOT, file)} exited before ${what}${describeOutput()}`));
          }
        };
        const timer = setTimeout(() => {
          done();
          reject(new Error(`${path.relative(ROOT, file)}: no ${what} within ${timeoutMs} ms${describeOutput()}`));
        }, timeoutMs);
        const done = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

/** The per-pod counts of a client report line: `… by pod: a=3 b=4`. */
function podsIn(line: string): Map<string, number> {
  const match = /by pod: (.*)$/.exec(line);
  const pods = new Map<string, number>();
  for (const entry of match?.[1]?.split(' ') ?? []) {
    const [pod, count] = entry.split('=');
    if (pod && count) pods.set(pod, Number(count));
  }
  return pods;
}

const answeredByAll = (hosts: readonly string[]) => (line: string) => {
  const pods = podsIn(line);
  return hosts.every((host) => (pods.get(host) ?? 0) > 0);
};

/**
 * Fast polls and reports. The RPC deadline is generous: the tests count failed RPCs
 * to catch a resolver that hands the channel a bad or empty list (those fail at once
 * with UNAVAILABLE), not a child process starved of CPU on a busy machine.
 */
const FAST = { REFRESH_INTERVAL_MS: '250', RPC_INTERVAL_MS: '10', RPC_DEADLINE_MS: '20000', REPORT_INTERVAL_MS: '200' };

// ---------------------------------------------------------------------------
// the clients follow a scale-up
// ---------------------------------------------------------------------------

describe.each([
  { label: 'examples/grpc-js-client', file: GRPC_JS_CLIENT, firstHost: 180, host: `${NAME}.` },
  { label: 'examples/nice-grpc-client', file: NICE_GRPC_CLIENT, firstHost: 190, host: NAME },
])('$label', ({ file, firstHost, host }) => {
  let dns: DnsTestServer | undefined;
  let fleet: PodFleet | undefined;

  afterEach(async () => {
    await fleet?.close();
    await dns?.close();
  });

  it('round-robins over every pod, reaches a pod added by a scale-up, and exits cleanly on SIGTERM', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    dns = await DnsTestServer.start();
    fleet = await PodFleet.create({ pods: 2, firstHost });
    const initial = fleet.addresses;
    dns.setRecords(NAME, { A: initial, ttl: 1 });

    const client = startExample(file, [`dns://${dns.address}/${host}:${fleet.port}`], FAST);
    await client.waitFor(answeredByAll(initial), `a report with RPCs answered by ${initial.join(' and ')}`);

    const [added] = await fleet.add(1);
    dns.setRecords(NAME, { A: fleet.addresses, ttl: 1 });
    await client.waitFor((line) => line.includes(`added: ${added!.host}`), `the DNS update adding ${added!.host}`, CHILD_WAIT_MS / 2);
    await client.waitFor(answeredByAll([added!.host]), `RPCs answered by the new pod ${added!.host}`, CHILD_WAIT_MS / 2);

    client.kill('SIGTERM');
    const exit = await client.exited;
    expect(exit, client.stderr()).toEqual({ code: 0, signal: null });
    expect(client.stdout()).toMatch(new RegExp(`done: \\d+ RPCs, 0 failed, 3 pods answered: ${fleet.addresses.join(' ').replaceAll('.', '\\.')}`));
    expect(client.stderr()).toBe('');
    expect(dns.countQueries({ name: NAME })).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// the polling resolvers follow a scale-up
// ---------------------------------------------------------------------------

const POLLING = { REFRESH_INTERVAL_MS: '250', RPC_INTERVAL_MS: '10', REPORT_INTERVAL_MS: '200' };
const endpoints = (fleet: PodFleet) => fleet.addresses.map((host) => ({ host, port: fleet.port }));

/** Start a polling-resolver example on `target`, grow `fleet` by a pod once every pod answers, with `publish` making it known; the child must follow and exit 0 on SIGTERM. */
async function followsScaleUp(file: string, target: string, fleet: PodFleet, publish: () => Promise<void>): Promise<void> {
  const client = startExample(file, [target], POLLING);
  const initial = fleet.addresses;
  await client.waitFor(answeredByAll(initial), `a report with RPCs answered by ${initial.join(' and ')}`);
  const [added] = await fleet.add(1);
  await publish();
  await client.waitFor((line) => line.includes(`added: ${added!.host}:${fleet.port}`), `the resolver's update adding ${added!.host}`, CHILD_WAIT_MS / 2);
  await client.waitFor(answeredByAll([added!.host]), `RPCs answered by the new pod ${added!.host}`, CHILD_WAIT_MS / 2);
  client.kill('SIGTERM');
  const exit = await client.exited;
  expect(exit, client.stderr()).toEqual({ code: 0, signal: null });
  expect(client.stdout()).toContain(`done: 3 pods answered: ${[...fleet.addresses].sort().join(' ')}`);
  expect(client.stderr()).toBe('');
}

describe('examples/file-resolver.ts and examples/http-resolver.ts', () => {
  let fleet: PodFleet | undefined;
  const cleanups: Array<() => unknown> = [];

  afterEach(async () => {
    await fleet?.close();
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  it('file:///…/addresses.json: re-read when it changes, a pod added to it gets traffic', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    fleet = await PodFleet.create({ pods: 2, firstHost: 170 });
    const dir = mkdtempSync(path.join(tmpdir(), 'file-resolver-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'addresses.json');
    // Written whole: a new file renamed over the old one, as the example asks.
    const publish = async () => {
      writeFileSync(`${file}.new`, JSON.stringify(endpoints(fleet!)));
      renameSync(`${file}.new`, file);
    };
    await publish();
    await followsScaleUp(FILE_RESOLVER, `file://${file}`, fleet, publish);
  });

  it('http-json://host:port/path: a JSON endpoint on node:http, a pod added to it gets traffic', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    fleet = await PodFleet.create({ pods: 2, firstHost: 175 });
    let list = JSON.stringify(endpoints(fleet));
    const server = http.createServer((request, response) => {
      if (request.url !== '/pods') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'application/json' }).end(list);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)), () => server.closeAllConnections());
    const { port } = server.address() as AddressInfo;
    await followsScaleUp(HTTP_RESOLVER, `http-json://127.0.0.1:${port}/pods`, fleet, async () => {
      list = JSON.stringify(endpoints(fleet!));
    });
  });
});

describe("the README's file resolver", () => {
  it('runs as written: a client of file:///…/addresses.json reaches every pod listed', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const [block] = fencedBlocks(section(readme, '## Any address source')).filter((candidate) => candidate.language === 'ts');
    expect(block!.code.split('\n').length).toBeLessThan(15);
    const fleet = await PodFleet.create({ pods: 2, firstHost: 165 });
    const dir = mkdtempSync(path.join(tmpdir(), 'readme-resolver-'));
    try {
      const file = path.join(dir, 'addresses.json');
      writeFileSync(file, JSON.stringify(endpoints(fleet)));
      // The block as written (plain JavaScript too), then a client of the README's target form with round_robin.
      const driver = `
        const grpc = await import('@grpc/grpc-js');
        const client = new grpc.Client(process.env.TARGET, grpc.credentials.createInsecure(), { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) });
        const raw = (value) => value;
        const seen = new Set();
        for (let i = 0; i < 200 && seen.size < 2; i++) {
          const pod = await new Promise((resolve) => client.makeUnaryRequest('/demo.Pod/WhoAmI', raw, raw, Buffer.alloc(0), { deadline: Date.now() + 5000 }, (error, reply) => resolve(error ? '' : reply.toString())));
          if (pod) seen.add(pod);
        }
        console.log('pods: ' + [...seen].sort().join(' '));
        client.close();`;
      const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', block!.code + driver], {
        cwd: ROOT,
        env: { ...process.env, TARGET: `file://${file}` },
        timeout: CHILD_WAIT_MS,
      });
      expect(stdout.trim()).toBe(`pods: ${[...fleet.addresses].sort().join(' ')}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await fleet.close();
    }
  });
});

describe('examples/nice-grpc-client: one grpc-js copy', () => {
  it('nice-grpc loads the same @grpc/grpc-js as the app, so register() reaches its channels either way', () => {
    const require = createRequire(import.meta.url);
    const ofNiceGrpc = createRequire(require.resolve('nice-grpc'))('@grpc/grpc-js') as unknown;
    expect(ofNiceGrpc).toBe(require('@grpc/grpc-js'));
  });
});

// ---------------------------------------------------------------------------
// the Kubernetes server
// ---------------------------------------------------------------------------

function unary(client: grpc.Client, method: string, request: Buffer): Promise<Buffer> {
  const raw = (value: Buffer): Buffer => value;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(method, raw, raw, request, { deadline: new Date(Date.now() + 3_000) }, (error, reply) => {
      if (error) reject(error);
      else resolve(reply ?? Buffer.alloc(0));
    });
  });
}

async function startServer(host: string, port: number, podName: string): Promise<{ server: Example; port: number }> {
  const server = startExample(K8S_SERVER, [], { HOST: host, PORT: String(port), POD_NAME: podName, SHUTDOWN_GRACE_MS: '2000' });
  const line = await server.waitFor((text) => text.startsWith(`whoami ${podName} listening on`), `${podName} listening`);
  return { server, port: Number(line.split(':').at(-1)) };
}

describe('examples/kubernetes/server.ts', () => {
  let dns: DnsTestServer | undefined;

  afterEach(async () => {
    await dns?.close();
  });

  it('answers the gRPC health check and WhoAmI, serves the client example, and drains on SIGTERM', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    const a = await startServer('127.0.0.210', 0, 'whoami-a');
    const b = await startServer('127.0.0.211', a.port, 'whoami-b');

    // What the kubelet's gRPC readiness probe asks: grpc.health.v1.Health/Check with service "".
    const direct = new grpc.Client(`127.0.0.210:${a.port}`, grpc.credentials.createInsecure());
    try {
      expect([...(await unary(direct, '/grpc.health.v1.Health/Check', Buffer.alloc(0)))]).toEqual([0x08, 0x01]); // SERVING
      const unknown = Buffer.concat([Buffer.from([0x0a, 5]), Buffer.from('other')]);
      await expect(unary(direct, '/grpc.health.v1.Health/Check', unknown)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
      expect((await unary(direct, '/demo.Pod/WhoAmI', Buffer.alloc(0))).toString()).toBe('whoami-a');
    } finally {
      direct.close();
    }

    // The manifests' pairing: the client example against two server pods, found through DNS; it stops by itself.
    dns = await DnsTestServer.start();
    dns.setRecords(NAME, { A: ['127.0.0.210', '127.0.0.211'], ttl: 5 });
    const client = startExample(GRPC_JS_CLIENT, [`dns://${dns.address}/${NAME}.:${a.port}`], { ...FAST, DURATION_MS: '1500' });
    const exit = await client.exited;
    expect(exit, client.stdout() + client.stderr()).toEqual({ code: 0, signal: null });
    expect(client.stdout()).toMatch(/done: \d+ RPCs, 0 failed, 2 pods answered: whoami-a whoami-b/);

    // Both pods terminated at once, as a rollout's last step may: their drains overlap.
    for (const { server } of [a, b]) server.kill('SIGTERM');
    for (const { server } of [a, b]) {
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stdout()).toMatch(/SIGTERM, draining[\s\S]*stopped/);
    }
  });
});

describe('examples import only what package.json declares', () => {
  it('every package an example imports is this package, a Node built-in, or a (dev) dependency, so `npm ci` (and the Dockerfile) installs it', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string; dependencies: Record<string, string>; devDependencies: Record<string, string> };
    const declared = new Set([pkg.name, ...Object.keys(pkg.dependencies), ...Object.keys(pkg.devDependencies)]);
    const files = readdirSync(EXAMPLES, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
    const undeclared = files.flatMap((file) =>
      [...readFileSync(path.join(EXAMPLES, file), 'utf8').matchAll(/^\s*(?:import|export)\b[^'"]*?from\s+'([^']+)'|^\s*import\s+'([^']+)'/gm)]
        .map((match) => match[1] ?? match[2] ?? '')
        .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('node:'))
        .map((specifier) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : (specifier.split('/')[0] ?? '')))
        .filter((name) => !declared.has(name))
        .map((name) => `${file}: ${name}`),
    );
    expect(files.length).toBeGreaterThan(5);
    expect(undeclared).toEqual([]);
  });
});

describe('grpc-health-check (the examples\' health service) on every grpc-js the library supports', () => {
  it.each(GRPC_VERSIONS.map((name) => [grpcVersion(name), name] as const))('grpc-js %s: Check answers SERVING for "" and NOT_FOUND for an unknown service', async (_version, name) => {
    const lib = loadGrpc(name);
    const server = new lib.Server();
    new HealthImplementation({ '': 'SERVING' }).addToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', lib.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    if (typeof (server as { unbind?: unknown }).unbind !== 'function') server.start(); // grpc-js < 1.10 needs start()
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    try {
      // Wire bytes, not the package's own client: HealthCheckResponse { status: SERVING (1) }.
      expect([...(await unary(client, '/grpc.health.v1.Health/Check', Buffer.alloc(0)))]).toEqual([0x08, 0x01]);
      const other = Buffer.concat([Buffer.from([0x0a, 5]), Buffer.from('other')]);
      await expect(unary(client, '/grpc.health.v1.Health/Check', other)).rejects.toMatchObject({ code: grpc.status.NOT_FOUND });
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});

// ---------------------------------------------------------------------------
// the Kubernetes manifests
// ---------------------------------------------------------------------------

type Yaml = string | number | boolean | null | Yaml[] | { [key: string]: Yaml };
interface Line {
  indent: number;
  text: string;
  number: number;
}

/**
 * A reader for the YAML subset the manifests use: block mappings and
 * sequences (also `- key: value` items), plain, single- and double-quoted
 * scalars, `[]`/`{}`, comments and `---`. Anything else (anchors, block
 * scalars, flow collections with content, tabs) is an error, not a guess.
 */
function parseYaml(text: string, file: string): Yaml[] {
  const documents: Line[][] = [[]];
  text.split('\n').forEach((raw, index) => {
    if (/^---\s*$/.test(raw)) {
      documents.push([]);
      return;
    }
    if (raw.includes('\t')) throw new Error(`${file}:${index + 1}: tab character`);
    const content = stripComment(raw).trimEnd();
    if (content.trim() === '') return;
    documents.at(-1)!.push({ indent: content.length - content.trimStart().length, text: content.trim(), number: index + 1 });
  });
  return documents
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const state = { lines, at: 0 };
      const value = parseBlock(state, lines[0]!.indent, file);
      if (state.at < lines.length) throw new Error(`${file}:${lines[state.at]!.number}: unexpected indentation`);
      return value;
    });
}

function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}

function parseBlock(state: { lines: Line[]; at: number }, indent: number, file: string): Yaml {
  const line = state.lines[state.at];
  if (!line || line.indent !== indent) throw new Error(`${file}:${line?.number ?? 'end'}: expected a block at indentation ${indent}`);
  return line.text === '-' || line.text.startsWith('- ') ? parseSequence(state, indent, file) : parseMapping(state, indent, file);
}

function parseSequence(state: { lines: Line[]; at: number }, indent: number, file: string): Yaml[] {
  const items: Yaml[] = [];
  for (let line = state.lines[state.at]; line && line.indent === indent && (line.text === '-' || line.text.startsWith('- ')); line = state.lines[state.at]) {
    const rest = line.text.slice(1).trimStart();
    if (rest === '') {
      state.at++;
      items.push(parseBlock(state, state.lines[state.at]?.indent ?? -1, file));
    } else if (/^[\w./-]+:( |$)/.test(rest)) {
      // `- key: value`: a mapping whose first key sits after the dash.
      state.lines[state.at] = { indent: indent + 2, text: rest, number: line.number };
      items.push(parseMapping(state, indent + 2, file));
    } else {
      state.at++;
      items.push(scalar(rest, file, line.number));
    }
  }
  return items;
}

function parseMapping(state: { lines: Line[]; at: number }, indent: number, file: string): { [key: string]: Yaml } {
  const map: { [key: string]: Yaml } = {};
  for (let line = state.lines[state.at]; line && line.indent === indent && !line.text.startsWith('- '); line = state.lines[state.at]) {
    const match = /^([\w./-]+):(?: (.*))?$/.exec(line.text);
    if (!match) throw new Error(`${file}:${line.number}: expected "key: value", got "${line.text}"`);
    const key = match[1]!;
    if (key in map) throw new Error(`${file}:${line.number}: duplicate key "${key}"`);
    state.at++;
    if (match[2] !== undefined && match[2] !== '') {
      map[key] = scalar(match[2], file, line.number);
      continue;
    }
    const next = state.lines[state.at];
    if (next && next.indent > indent) map[key] = parseBlock(state, next.indent, file);
    else if (next && next.indent === indent && next.text.startsWith('- ')) map[key] = parseSequence(state, indent, file);
    else map[key] = null;
  }
  return map;
}

function scalar(text: string, file: string, number: number): Yaml {
  if (/^"(?:[^"\\]|\\.)*"$/.test(text)) return JSON.parse(text) as string;
  if (/^'(?:[^']|'')*'$/.test(text)) return text.slice(1, -1).replaceAll("''", "'");
  if (text === '[]') return [];
  if (text === '{}') return {};
  if (/^[[{|>&*!]/.test(text)) throw new Error(`${file}:${number}: unsupported YAML "${text}"`);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  if (/^-?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

/** Walk a parsed document: `at(doc, 'spec', 'template', 'spec')`. */
function at(value: Yaml | undefined, ...keys: Array<string | number>): Yaml | undefined {
  let current = value;
  for (const key of keys) {
    if (current === null || typeof current !== 'object') return undefined;
    current = Array.isArray(current) ? current[key as number] : current[key as string];
  }
  return current;
}

/** The scalar at `keys` as text; an object or a missing key fails the test instead of printing "[object Object]". */
function textAt(value: Yaml | undefined, ...keys: Array<string | number>): string {
  const found = at(value, ...keys);
  if (typeof found === 'string' || typeof found === 'number' || typeof found === 'boolean') return String(found);
  throw new Error(`expected a scalar at ${keys.join('.')}, got ${JSON.stringify(found)}`);
}

function envOf(container: Yaml | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of (at(container, 'env') as Yaml[] | undefined) ?? []) {
    const value = at(entry, 'value');
    if (typeof value === 'string') env[textAt(entry, 'name')] = value;
  }
  return env;
}

/** Allowances in the README's math: endpoint propagation P and CoreDNS cache C (ttl 5), seconds; margin after the drain. */
const PROPAGATION_S = 2;
const COREDNS_CACHE_S = 5;
const GRACE_MARGIN_S = 5;
/** Behind a cache a client asks 1 s after a copy expires (caches count whole seconds): part of stalenessBoundMs. */
const AFTER_EXPIRY_S = 1;

describe('examples/kubernetes manifests', () => {
  const files = ['00-namespace.yaml', '10-server.yaml', '20-client.yaml'];
  const docs = files.flatMap((file) => parseYaml(readFileSync(path.join(K8S, file), 'utf8'), file));
  const find = (kind: string, name: string) => {
    const doc = docs.find((entry) => at(entry, 'kind') === kind && at(entry, 'metadata', 'name') === name);
    if (!doc) throw new Error(`no ${kind} ${name} in ${files.join(', ')}`);
    return doc;
  };
  const namespace = find('Namespace', 'whoami-demo');
  const service = find('Service', 'whoami');
  const server = find('Deployment', 'whoami');
  const client = find('Deployment', 'whoami-client');
  const serverPod = at(server, 'spec', 'template', 'spec');
  const serverContainer = at(serverPod, 'containers', 0);
  const clientContainer = at(client, 'spec', 'template', 'spec', 'containers', 0);
  const clientEnv = envOf(clientContainer);
  const serverEnv = envOf(serverContainer);

  it('every document has apiVersion, kind, a name, and the example namespace', () => {
    expect(docs).toHaveLength(4);
    for (const doc of docs) {
      expect(at(doc, 'apiVersion'), JSON.stringify(doc)).toMatch(/^(v1|apps\/v1)$/);
      expect(at(doc, 'metadata', 'name')).toBeTypeOf('string');
      if (doc !== namespace) expect(at(doc, 'metadata', 'namespace')).toBe(at(namespace, 'metadata', 'name'));
    }
  });

  it('the Service is headless, publishes only Ready pods and selects the server pods on the probed port', () => {
    expect(at(service, 'spec', 'clusterIP')).toBe('None');
    expect(at(service, 'spec', 'publishNotReadyAddresses')).toBe(false);
    const selector = at(service, 'spec', 'selector');
    expect(at(server, 'spec', 'template', 'metadata', 'labels')).toEqual(selector);
    expect(at(server, 'spec', 'selector', 'matchLabels')).toEqual(selector);
    const servicePort = at(service, 'spec', 'ports', 0);
    const containerPort = at(serverContainer, 'ports', 0);
    expect(at(servicePort, 'targetPort')).toBe(at(containerPort, 'name'));
    expect(at(serverContainer, 'readinessProbe', 'grpc', 'port')).toBe(at(containerPort, 'containerPort'));
    expect(serverEnv.PORT).toBe(textAt(containerPort, 'containerPort'));
    expect(at(server, 'spec', 'strategy', 'rollingUpdate')).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it('the client targets the Service by its fully qualified name and port', () => {
    const serviceHost = `${textAt(service, 'metadata', 'name')}.${textAt(service, 'metadata', 'namespace')}.svc.cluster.local.`;
    expect(clientEnv.TARGET).toBe(`dns:///${serviceHost}:${textAt(service, 'spec', 'ports', 0, 'port')}`);
  });

  it('both run files of this repository, from the image the Dockerfile builds', () => {
    for (const container of [serverContainer, clientContainer]) {
      expect(at(container, 'image')).toBe('grpc-dns-watch-example:dev');
      const command = at(container, 'command') as string[];
      expect(command.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
      expect(existsSync(path.join(ROOT, command[3] ?? '')), command[3]).toBe(true);
    }
    expect(readFileSync(path.join(K8S, 'Dockerfile'), 'utf8')).toMatch(/-t grpc-dns-watch-example:dev/);
  });

  it('preStop covers endpoint propagation + CoreDNS cache + the wait after its expiry + one refresh interval with jitter', () => {
    const refreshS = Number(clientEnv.REFRESH_INTERVAL_MS) / 1000;
    const preStopS = at(serverContainer, 'lifecycle', 'preStop', 'sleep', 'seconds') as number;
    expect(refreshS).toBeGreaterThan(0);
    expect(preStopS).toBeGreaterThanOrEqual(PROPAGATION_S + COREDNS_CACHE_S + AFTER_EXPIRY_S + refreshS * (1 + DEFAULTS.jitter));
  });

  it('terminationGracePeriodSeconds holds the preStop sleep, the drain and a margin', () => {
    const preStopS = at(serverContainer, 'lifecycle', 'preStop', 'sleep', 'seconds') as number;
    const drainS = Number(serverEnv.SHUTDOWN_GRACE_MS) / 1000;
    expect(drainS).toBeGreaterThan(0);
    expect(at(serverPod, 'terminationGracePeriodSeconds')).toBeGreaterThanOrEqual(preStopS + drainS + GRACE_MARGIN_S);
  });
});

describe('examples/observe/log-diffs.ts', () => {
  let setup: DnsServerSetup | undefined;

  afterEach(async () => {
    await setup?.close();
  });

  it('logs each change as JSON, failures with what happens next, and stats; exits by itself', { timeout: CHILD_TEST_TIMEOUT_MS }, async () => {
    setup = await startDnsServer({ resolvConf: 'options timeout:1 attempts:1', label: 'observe-example' });
    const { server: dns, resolvConfPath } = setup;
    dns.setRecords('observed.test', { A: ['10.0.0.1'] });
    const example = startExample(path.join(ROOT, 'examples/observe/log-diffs.ts'), ['observed.test', '6', resolvConfPath], {});
    await example.waitFor((line) => line.includes('"msg":"dns change"') && line.includes('"added":["10.0.0.1"]'), 'the first set');
    dns.setRecords('observed.test', { A: ['10.0.0.2'] });
    await example.waitFor((line) => line.includes('"added":["10.0.0.2"],"removed":["10.0.0.1"]'), 'the change');
    dns.setFault('servfail');
    await example.waitFor((line) => line.includes('"code":"SERVFAIL","keptLastGoodSet":true'), 'the failure');
    await example.waitFor((line) => line.includes('"msg":"dns stats"'), 'a stats line');
    const exit = await example.exited;
    expect(exit, example.stderr()).toEqual({ code: 0, signal: null });
  });
});
