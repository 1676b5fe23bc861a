/**
 * The commands the docs show (harness/doc-commands.ts reads them from the
 * README, the changelog, docs/*.md and the examples' READMEs) work as
 * written, and each of them is run somewhere:
 *
 * - read here: every `grpc-dns-watch` command line is accepted by the
 *   command's own argument reader, every `npm run` names a script of
 *   package.json (the demo's flags read by the demo's reader, `--only`
 *   naming benchmarks that exist), and every file a command runs or reads
 *   from this repository exists;
 * - run: every command is in COVERAGE below, which says what runs it — a
 *   test (test/doc-commands.test.ts runs every `grpc-dns-watch` line and the
 *   commands it names; other tests name what they run), CI's .ci/run, or
 *   scripts/check-package.ts — with a check that the runner does run it, or
 *   says why it is not run here (a cluster, Docker, the registry, minutes of
 *   benchmark). A command the docs show that is in neither list fails here
 *   until it is added to one.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../bench/lib/benchmarks.js';
import { parseArgs as parseDemoArgs } from '../examples/demo/args.js';
import { PKG, ROOT, commandText, repositoryFiles, shownCommands, simpleCommands, toolArguments, type Shown } from '../harness/doc-commands.js';
import { parseCommandLine } from '../src/cli/args.js';

const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** What runs a command the docs show, or why nothing does here. */
type Coverage =
  /** A test runs it: `file` holds `runs` (the command, or the arguments it runs it with). */
  | { by: 'test'; file: string; runs: string }
  /** CI runs `line` of .ci/run: the command itself, or one that runs it (`how` says how; `holds` checks it). */
  | { by: 'ci'; line: string; how?: string; holds?: () => boolean }
  /** `npm run check:package` runs it: scripts/check-package.ts holds `code`, the step that does. */
  | { by: 'check:package'; code: string; how: string }
  | { by: 'not run'; reason: string };

const THIS_TEST = 'test/doc-commands.test.ts';
const NPM_TEST: Coverage = { by: 'ci', line: 'npm test' };
const FULL_BENCHMARK: Coverage = {
  by: 'not run',
  reason: 'a full-size benchmark: minutes (the whole run ~33 min on 2 cores; lossy-network needs root for unshare and nftables); CI runs every benchmark at small sizes (`npm run bench -- --quick`)',
};
const CLUSTER: Coverage = { by: 'not run', reason: 'needs a Kubernetes cluster; test/examples.test.ts checks the manifests and their timing math' };
const PROSE: Coverage = { by: 'not run', reason: 'names a program or a flag in a sentence; not a command line' };

/**
 * Every command the docs show but the two kinds of a rule below
 * (`grpc-dns-watch` lines, `npx vitest run <test file>`), by its words.
 */
const COVERAGE: Record<string, Coverage> = {
  // CI (.ci/run) runs these as written.
  'npm ci': { by: 'ci', line: 'npm ci --no-audit --no-fund' },
  'npm test': NPM_TEST,
  'npm run check:package': { by: 'ci', line: 'npm run check:package' },
  'npm run bench -- --quick': { by: 'ci', line: 'npm run bench -- --quick' },
  'npm run demo': { by: 'ci', line: 'npm run demo' },
  // Parts of what CI runs.
  'npm run build': { by: 'ci', line: 'npm test', how: "npm test's script starts with it", holds: () => PKG.scripts.test?.startsWith('npm run build && ') === true },
  'npm run lint': {
    by: 'ci',
    line: 'npm test',
    how: 'npm test runs lint:cached: the same eslint over the same files, with a cache of unchanged files',
    holds: () => PKG.scripts.lint === 'npm run build && eslint .' && /^eslint --cache .* \.$/.test(PKG.scripts['lint:cached'] ?? '') && PKG.scripts.test?.includes('npm run lint:cached') === true,
  },
  'npm run test:unit': {
    by: 'ci',
    line: 'npm test',
    how: "npm test's `vitest run` runs every project, this one included",
    holds: () => PKG.scripts['test:unit'] === 'vitest run --project unit' && / vitest run$/.test(PKG.scripts.test ?? ''),
  },
  'npm run test:integration': {
    by: 'ci',
    line: 'npm test',
    how: "npm test builds, then its `vitest run` runs every project, this one included",
    holds: () => PKG.scripts['test:integration'] === 'npm run build && vitest run --project integration' && / vitest run$/.test(PKG.scripts.test ?? ''),
  },
  'npm run bench -- --quick --only queries-per-poll': {
    by: 'ci',
    line: 'npm run bench -- --quick',
    how: 'every benchmark at small sizes, this one included',
    holds: () => (BENCHMARKS as readonly string[]).includes('queries-per-poll'),
  },
  // Tests.
  'npm run demo -- --quick': { by: 'test', file: 'test/demo.test.ts', runs: "runDemo(['--quick', " },
  'npm ls @grpc/grpc-js': { by: 'test', file: THIS_TEST, runs: "'npm ls @grpc/grpc-js'" },
  'node --import tsx bench/lib/markdown.ts bench/results.json': { by: 'test', file: THIS_TEST, runs: "'node --import tsx bench/lib/markdown.ts bench/results.json'" },
  'node --import tsx examples/kubernetes/server.ts': { by: 'test', file: THIS_TEST, runs: "'examples/kubernetes/server.ts'" },
  'node --import tsx examples/grpc-js-client/client.ts dns:///localhost:50051': { by: 'test', file: THIS_TEST, runs: "'examples/grpc-js-client/README.md'" },
  'node --import tsx examples/nice-grpc-client/client.ts dns:///localhost:50051': { by: 'test', file: THIS_TEST, runs: "'examples/nice-grpc-client/README.md'" },
  // check:package, on the packed tarball in a consumer project.
  'npm pack': { by: 'check:package', code: "'pack', '--json'", how: 'packs the tarball it checks' },
  'npm install ../grpc-dns-watch/grpc-dns-watch-0.1.0.tgz': { by: 'check:package', code: "runOk('npm', ['install', '--offline'", how: 'installs the tarball it packed into a consumer project' },
  'npm install @grpc/grpc-js': { by: 'check:package', code: "['@grpc/grpc-js', 'dns-packet', '@types/node']", how: 'installs the peer beside the tarball, offline, from this repository' },
  'npm publish --dry-run': { by: 'check:package', code: "'publish', '--dry-run'", how: 'offline, and fails on any warning' },
  'node quick-start.mjs': { by: 'check:package', code: "runAsync(process.execPath, [file]", how: "runs the README's quick start as quick-start.mjs (and .cjs) with TARGET set to a loopback server" },
  // Not run here.
  'npm install grpc-dns-watch': { by: 'not run', reason: 'the package is not on the registry before its first release (the README says so); check:package installs the tarball instead' },
  'npm dedupe': { by: 'not run', reason: "rewrites the reader's node_modules and asks the registry" },
  'node app.js': { by: 'not run', reason: "app.js stands for the reader's app; test/trace.test.ts checks what GRPC_TRACE=dns_watch GRPC_VERBOSITY=DEBUG prints" },
  'npm run demo -- --pods 5 --interval 500 --duration 30': { by: 'not run', reason: "30 s of the demo CI runs, with other sizes; the demo's own reader reads its flags above" },
  'npm run soak': { by: 'not run', reason: '61 s; test/soak.test.ts runs the same soak for 8 s in npm test' },
  'npx tsx test/soak/library-only.ts --seconds 300': { by: 'not run', reason: '300 s as shown; a measurement of the heap over minutes, reported, not asserted' },
  'npm run test:stress': { by: 'not run', reason: 'npm test 5 times beside CPU burners, then the heavy scenarios: most of an hour' },
  'node --import tsx bench/profile-poller.ts watch 2000 /tmp/prof': { by: 'not run', reason: 'a profiling session: 2,000 names polled every second for 16 s under --cpu-prof, written to /tmp/prof; CI runs the poller benchmark it profiles' },
  'npm run bench': FULL_BENCHMARK,
  'npm run bench -- --only load': FULL_BENCHMARK,
  'npm run bench -- --only fleet': FULL_BENCHMARK,
  'npm run bench -- --only poller': FULL_BENCHMARK,
  'npm run bench -- --only resolution-cost': FULL_BENCHMARK,
  'npm run bench -- --out file.json': FULL_BENCHMARK,
  'npm run bench -- --only lossy-network --out bench/results.lossy-network.before.json': FULL_BENCHMARK,
  'npm run bench -- --only lossy-network --out bench/results.lossy-network.after.json': FULL_BENCHMARK,
  'docker build -f examples/kubernetes/Dockerfile -t grpc-dns-watch-example:dev .': { by: 'not run', reason: 'needs a Docker daemon; test/examples.test.ts checks the image tag the manifests use' },
  'kubectl apply -f examples/kubernetes/': CLUSTER,
  'kubectl -n whoami-demo logs -f deployment/whoami-client': CLUSTER,
  'kubectl -n whoami-demo scale deployment/whoami --replicas=5': CLUSTER,
  'kubectl -n whoami-demo rollout restart deployment/whoami': CLUSTER,
  'kubectl -n whoami-demo delete namespace whoami-demo': CLUSTER,
  'kubectl -n kube-system get configmap coredns -o yaml': CLUSTER,
  node: PROSE,
  npx: PROSE,
  'npx -y': PROSE,
  'npx grpc-dns-watch': PROSE,
  'grpc-dns-watch': PROSE,
  'node -e': PROSE,
  'node --import tsx --expose-gc': PROSE,
  'node --disable-warning=GRPC_DNS_WATCH_LATE_REGISTER': PROSE,
  'npm run': PROSE,
};

/** What runs a shown command: a rule for the two kinds run by their kind, else its COVERAGE entry. */
function coverageOf({ command }: Shown): Coverage | undefined {
  const args = toolArguments(command);
  if (args && args.length > 0) {
    // Every grpc-dns-watch line, against a loopback DNS server (after `kubectl … --`: the command the pod runs).
    return { by: 'test', file: THIS_TEST, runs: 'toolArguments(' };
  }
  const [program, tool, verb, file = '', ...rest] = command;
  if (program === 'npx' && tool === 'vitest' && verb === 'run' && rest.length === 0 && /^test\/.+\.test\.ts$/.test(file)) {
    return { by: 'ci', line: 'npm test', how: 'npm test runs every test file, this one included' };
  }
  return COVERAGE[commandText(command)];
}

describe('commands shown in the docs', () => {
  const shown = shownCommands();

  it('the shell reader splits commands as a shell does, quotes and comments included', () => {
    expect(simpleCommands(`until npx grpc-dns-watch --once --timeout 2s my-svc; do`)).toEqual([['npx', 'grpc-dns-watch', '--once', '--timeout', '2s', 'my-svc']]);
    expect(simpleCommands(`grpc-dns-watch --json my-svc | jq -c 'select(.type=="change") | {at}' > out # note`)).toEqual([
      ['grpc-dns-watch', '--json', 'my-svc'],
      ['jq', '-c', 'select(.type=="change") | {at}'],
    ]);
    expect(simpleCommands('PORT=50051 node --import tsx examples/kubernetes/server.ts &')).toEqual([['node', '--import', 'tsx', 'examples/kubernetes/server.ts']]);
  });

  it('every grpc-dns-watch command line is accepted by the command', () => {
    const lines = shown.map((entry) => ({ ...entry, args: toolArguments(entry.command) })).filter((entry) => entry.args && entry.args.length > 0);
    expect(lines.length).toBeGreaterThanOrEqual(10);
    const refused = lines.flatMap(({ where, args }) => {
      try {
        parseCommandLine(args ?? []);
        return [];
      } catch (error) {
        return [`${where}: ${(error as Error).message}`];
      }
    });
    expect(refused).toEqual([]);
  });

  it('every npm run names a script; the demo and bench arguments are ones they accept', () => {
    // A bare `npm run` in prose names the command, not a script.
    const runs = shown.filter(({ command }) => command[0] === 'npm' && ((command[1] === 'run' && command.length > 2) || command[1] === 'test'));
    expect(runs.length).toBeGreaterThanOrEqual(10);
    const problems: string[] = [];
    for (const { where, command } of runs) {
      const script = command[1] === 'test' ? 'test' : (command[2] ?? '');
      if (!(script in PKG.scripts)) problems.push(`${where}: no script "${script}"`);
      const dashes = command.indexOf('--');
      const args = dashes < 0 ? [] : command.slice(dashes + 1);
      if (script === 'demo') {
        try {
          parseDemoArgs(args, { isTTY: false, env: {} });
        } catch (error) {
          problems.push(`${where}: ${(error as Error).message}`);
        }
      }
      if (script === 'bench' && args.includes('--only')) {
        const names = (args[args.indexOf('--only') + 1] ?? '').split(',');
        for (const name of names) if (!(BENCHMARKS as readonly string[]).includes(name)) problems.push(`${where}: no benchmark "${name}"`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('every command is run by a test, CI or check:package, or listed as not run here with the reason', () => {
    const unlisted = shown.filter((entry) => coverageOf(entry) === undefined).map(({ where, command }) => `${where}: ${commandText(command)}`);
    expect(unlisted, 'add each to COVERAGE: what runs it, or why nothing can here').toEqual([]);
  });

  it('each runner COVERAGE names does run the command, and each reason is given', () => {
    const ci = read('.ci/run').split('\n').map((line) => line.trim());
    const checkPackage = read('scripts/check-package.ts');
    const problems = new Set<string>();
    for (const entry of shown) {
      const coverage = coverageOf(entry);
      const text = commandText(entry.command);
      if (coverage?.by === 'test' && !(existsSync(path.join(ROOT, coverage.file)) && read(coverage.file).includes(coverage.runs))) {
        problems.add(`${text}: ${coverage.file} does not hold ${coverage.runs}`);
      }
      if (coverage?.by === 'ci' && !ci.includes(coverage.line)) problems.add(`${text}: .ci/run has no line "${coverage.line}"`);
      if (coverage?.by === 'ci' && coverage.holds && !coverage.holds()) problems.add(`${text}: no longer true that ${coverage.how ?? 'it runs'}`);
      if (coverage?.by === 'check:package' && !checkPackage.includes(coverage.code)) problems.add(`${text}: scripts/check-package.ts does not hold ${coverage.code}`);
      if (coverage?.by === 'not run' && coverage.reason.length < 20) problems.add(`${text}: no reason given`);
    }
    expect([...problems]).toEqual([]);
  });

  it('lists only commands the docs still show', () => {
    const texts = new Set(shown.map(({ command }) => commandText(command)));
    expect(Object.keys(COVERAGE).filter((text) => !texts.has(text))).toEqual([]);
  });

  it('runs every grpc-dns-watch line by its kind, and a test file through npm test; anything else must be listed', () => {
    const by = (line: string) => coverageOf({ where: 'here', command: simpleCommands(line)[0] ?? [], line })?.by;
    expect(by('kubectl exec -it deploy/x -- npx grpc-dns-watch my-svc')).toBe('test');
    expect(by('node dist/cli.js my-svc --once')).toBe('test');
    expect(by('npx vitest run test/faults.test.ts')).toBe('ci');
    expect(by('npx vitest run test/faults.test.ts --watch')).toBeUndefined();
    expect(by('npm run something-new')).toBeUndefined();
    expect(by('kubectl get pods')).toBeUndefined();
  });

  it('every file of this repository a command runs or reads exists', () => {
    const files = shown.flatMap(({ where, command }) => repositoryFiles(command).map((file) => ({ where, file })));
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(files.filter(({ file }) => !existsSync(path.join(ROOT, file))).map(({ where, file }) => `${where}: ${file}`)).toEqual([]);
  });
});
