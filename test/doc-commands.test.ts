/**
 * The commands the docs show, run as written (test/doc-commands.unit.test.ts
 * holds the list of what runs each command the docs show, this file among
 * the runners):
 *
 * - every `grpc-dns-watch` command line (`npx grpc-dns-watch …`,
 *   `grpc-dns-watch …`, `node dist/cli.js …`, and the command after
 *   `kubectl exec … --`), against the built dist/cli.js and a loopback DNS
 *   server that holds the names the docs use. Two changes keep it on
 *   loopback, and nothing else is changed: `--resolv-conf` names a
 *   resolv.conf that names that server (with a pod's search list), and a
 *   nameserver the line names (`--server 10.96.0.10:53`, `dns://10.96.0.10/…`)
 *   is that server instead. Watch mode must print the set and stop with 0 on
 *   Ctrl-C; `--once` must print it and exit 0; `--json` lines must parse.
 * - the examples' "Run it" blocks (the example server, then the client on
 *   `dns:///localhost:50051`, `localhost` from /etc/hosts): the server on a
 *   port of its own choosing instead of 50051, which another process on a
 *   shared machine may hold.
 * - `npm ls @grpc/grpc-js` and the benchmark tables from bench/results.json.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommandLine } from '../src/cli/args.js';
import { EXIT } from '../src/cli/main.js';
import { BIN, ensureBuilt } from '../harness/built-cli.js';
import { ROOT, commandText, shellWords, shownCommands, simpleCommands, toolArguments } from '../harness/doc-commands.js';
import { fencedBlocks } from '../harness/markdown.js';
import { startDnsServer, type DnsServerSetup } from '../harness/server-fixture.js';
import { waitUntil } from '../harness/wait.js';

/** Generous: a child compiles (tsx) or loads on a loaded 2-core machine first. */
const CHILD_WAIT_MS = 30_000;
const TEST_TIMEOUT_MS = 120_000;

/** The search list of a pod in namespace my-ns, as the docs' short names assume. */
const SEARCH = 'my-ns.svc.cluster.local svc.cluster.local cluster.local';
const A = '10.0.0.7';
const AAAA = 'fd00::7';

interface Child {
  stdout: () => string;
  stderr: () => string;
  waitFor: (test: (stdout: string) => boolean, what: string) => Promise<void>;
  kill: (signal: NodeJS.Signals) => void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<Child>();

function start(program: string, args: string[], env: Record<string, string> = {}): Child {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  // The reader's environment, not this one's: no tracing, no resolv.conf overrides.
  for (const name of ['GRPC_TRACE', 'GRPC_VERBOSITY', 'RES_OPTIONS', 'LOCALDOMAIN']) delete childEnv[name];
  const process_ = spawn(program, args, { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let closed = false;
  process_.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  process_.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    process_.on('close', (code, signal) => {
      closed = true;
      children.delete(child);
      resolve({ code, signal });
    }),
  );
  const describeRun = () => `\`${program} ${args.join(' ')}\`\n--- stdout\n${stdout}\n--- stderr\n${stderr}`;
  const child: Child = {
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    kill: (signal) => process_.kill(signal),
    waitFor: async (test, what) => {
      await waitUntil(() => test(stdout) || closed, () => `${what} from ${describeRun()}`, CHILD_WAIT_MS, 20);
      if (!test(stdout)) throw new Error(`exited before ${what}: ${describeRun()}`);
    },
  };
  children.add(child);
  return child;
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
});

/** The shown command with these words; fails when the docs no longer show it. */
function shown(text: string): string[] {
  const found = shownCommands().find(({ command }) => commandText(command) === text);
  if (!found) throw new Error(`the docs no longer show \`${text}\`: drop it here and in test/doc-commands.unit.test.ts`);
  return found.command;
}

// ---------------------------------------------------------------------------
// grpc-dns-watch command lines
// ---------------------------------------------------------------------------

/** The line's arguments with every nameserver it names replaced by `server`, and `--resolv-conf` naming `resolvConf`. */
function onLoopback(args: readonly string[], server: string, resolvConf: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] ?? '';
    if (arg === '--server' || arg === '-s' || arg === '--resolv-conf') {
      out.push(arg, arg === '--resolv-conf' ? resolvConf : server);
      i++;
    } else if (arg.startsWith('--server=')) {
      out.push(`--server=${server}`);
    } else {
      out.push(arg.replace(/^dns:\/\/[^/]+\//, `dns://${server}/`));
    }
  }
  return out.includes('--resolv-conf') ? out : [...out, '--resolv-conf', resolvConf];
}

/** The `grpc-dns-watch` lines the docs show, each set of arguments once, with where it is shown. */
function cliLines(): Array<{ where: string; args: string[] }> {
  const lines = new Map<string, { where: string; args: string[] }>();
  for (const { where, command } of shownCommands()) {
    const args = toolArguments(command);
    if (args && args.length > 0 && !lines.has(args.join(' '))) lines.set(args.join(' '), { where, args });
  }
  return [...lines.values()];
}

describe('every grpc-dns-watch command line the docs show, against a loopback DNS server', () => {
  let setup: DnsServerSetup;
  const lines = cliLines();

  beforeAll(async () => {
    ensureBuilt();
    setup = await startDnsServer({ resolvConf: `search ${SEARCH}\noptions ndots:5 timeout:2 attempts:1`, label: 'doc-commands' });
    const hosts = new Set(lines.flatMap(({ args }) => {
      const command = parseCommandLine(args);
      return command.kind === 'run' ? [command.config.host.replace(/\.$/, '')] : [];
    }));
    for (const host of hosts) {
      if (isIP(host)) continue;
      // A short name answers through the first search domain, a longer one as written.
      setup.server.setRecords(host.includes('.') ? host : `${host}.${SEARCH.split(' ')[0]}`, { A: [A], AAAA: [AAAA], ttl: 30 });
    }
  }, 150_000);

  afterAll(async () => {
    await setup?.close();
  });

  it('finds them: the README, docs/cli.md and the troubleshooting line', () => {
    expect(lines.length).toBeGreaterThanOrEqual(10);
    expect(lines.some(({ where }) => where.startsWith('README.md'))).toBe(true);
    expect(lines.some(({ where }) => where.startsWith('docs/cli.md'))).toBe(true);
  });

  it.each(lines.map((line) => [line.args.join(' '), line] as const))('grpc-dns-watch %s', async (_, { where, args }) => {
    const argv = onLoopback(args, setup.server.address, setup.resolvConfPath);
    const command = parseCommandLine(argv);
    if (command.kind !== 'run') {
      const child = start(process.execPath, [BIN, ...argv]);
      expect(await child.exited, `${where}: ${child.stderr()}`).toEqual({ code: EXIT.OK, signal: null });
      return;
    }
    const { config } = command;
    // Only the loopback server is asked: the one named, or the one the injected resolv.conf names.
    for (const nameserver of config.nameservers ?? []) expect(nameserver.host, where).toBe('127.0.0.1');
    const before = setup.server.countQueries();
    const address = config.family === 6 ? AAAA : A;
    const child = start(process.execPath, [BIN, ...argv]);
    await child.waitFor((stdout) => stdout.includes(address), `the address ${address} (${where})`);
    if (!config.once) child.kill('SIGINT');
    const exit = await child.exited;
    expect(exit, `${where}\n${child.stdout()}\n${child.stderr()}`).toEqual({ code: EXIT.OK, signal: null });
    if (config.json) {
      for (const line of child.stdout().trim().split('\n')) expect(() => JSON.parse(line) as unknown, `${where}: ${line}`).not.toThrow();
    }
    expect(setup.server.countQueries(), `${where}: the loopback server was asked`).toBeGreaterThan(before);
  }, TEST_TIMEOUT_MS);
});

// ---------------------------------------------------------------------------
// the examples' "Run it" blocks
// ---------------------------------------------------------------------------

/** The server and client lines of an example README's `sh` block, with the environment each line sets. */
function runItBlock(readme: string): { server: { command: string[]; env: Record<string, string> }; client: string[] } {
  const [block] = fencedBlocks(readFileSync(path.join(ROOT, readme), 'utf8')).filter((candidate) => candidate.language === 'sh');
  const lines = (block?.code ?? '').split('\n');
  const serverLine = lines.find((line) => line.includes('examples/kubernetes/server.ts')) ?? '';
  const clientLine = lines.find((line) => line.includes('/client.ts')) ?? '';
  const env = Object.fromEntries(shellWords(serverLine).filter((word) => /^[A-Z_]+=/.test(word)).map((word) => word.split('=') as [string, string]));
  return { server: { command: simpleCommands(serverLine)[0] ?? [], env }, client: simpleCommands(clientLine)[0] ?? [] };
}

describe.each(['examples/grpc-js-client/README.md', 'examples/nice-grpc-client/README.md'])('%s: "Run it"', (readme) => {
  it('the example server, then the client on dns:///localhost:PORT: RPCs answered, both stop cleanly on SIGTERM', async () => {
    const { server, client } = runItBlock(readme);
    expect(commandText(server.command)).toBe(commandText(shown('node --import tsx examples/kubernetes/server.ts')));
    expect(server.env.PORT, 'the port the block starts the server on').toBe('50051');
    expect(client.at(-1)).toBe(`dns:///localhost:${server.env.PORT}`);
    expect(shown(commandText(client))).toEqual(client);
    // `localhost` must come from /etc/hosts, as the README says: otherwise the client would ask the machine's nameserver.
    expect(readFileSync('/etc/hosts', 'utf8'), '/etc/hosts maps localhost').toMatch(/^\s*127\.0\.0\.1\s+(?:\S+\s+)*localhost(?:\s|$)/m);

    const [serverProgram = '', ...serverArgs] = server.command;
    const pod = start(serverProgram === 'node' ? process.execPath : serverProgram, serverArgs, { ...server.env, PORT: '0', POD_NAME: 'doc-pod', SHUTDOWN_GRACE_MS: '2000' });
    await pod.waitFor((stdout) => /listening on \S+:\d+/.test(stdout), 'the server listening');
    const port = /listening on \S+:(\d+)/.exec(pod.stdout())?.[1] ?? '';
    const [clientProgram = '', ...clientArgs] = client;
    const target = clientArgs.at(-1)?.replace(`:${server.env.PORT}`, `:${port}`) ?? '';
    const app = start(clientProgram === 'node' ? process.execPath : clientProgram, [...clientArgs.slice(0, -1), target]);
    await app.waitFor((stdout) => /by pod: doc-pod=\d+/.test(stdout), 'a report of RPCs answered by the server');
    app.kill('SIGTERM');
    expect(await app.exited, app.stderr()).toEqual({ code: 0, signal: null });
    expect(app.stdout()).toMatch(/done: \d+ RPCs, 0 failed, 1 pods answered: doc-pod/);
    pod.kill('SIGTERM');
    expect(await pod.exited, pod.stderr()).toEqual({ code: 0, signal: null });
  }, TEST_TIMEOUT_MS);
});

// ---------------------------------------------------------------------------
// other commands the docs show
// ---------------------------------------------------------------------------

describe('other commands the docs show', () => {
  it.each([
    ['npm ls @grpc/grpc-js', /@grpc\/grpc-js@1\./],
    ['node --import tsx bench/lib/markdown.ts bench/results.json', /^Measured .*\n[\s\S]*### 1\. Resolution cost/],
  ])('%s', async (text, output) => {
    const [program = '', ...args] = shown(text);
    const child = start(program === 'node' ? process.execPath : program, args);
    const exit = await child.exited;
    expect(exit, child.stderr()).toEqual({ code: 0, signal: null });
    expect(child.stdout()).toMatch(output);
  }, TEST_TIMEOUT_MS);
});
