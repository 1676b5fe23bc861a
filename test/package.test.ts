import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SIZE_CLAIM_TOLERANCE, changelogSizeClaim, sizeClaimProblems } from '../scripts/package-size.js';
import { quickStartAsCommonJs, quickStartSnippet, readReadme, readmeLinkProblems, readmeLinks, repositoryUrl, withQuickStartServers } from '../scripts/readme.js';
import * as source from '../src/index.js';
import { headingAnchors, projectDocuments } from '../harness/markdown.js';

/**
 * The package as Node resolves it by name, in a second: the built files the
 * `exports` map points at exist, and `require('grpc-dns-watch')` and
 * `import 'grpc-dns-watch'` (package self-reference, in child processes so
 * Node's own resolver answers, not Vite's) load the CommonJS and ES module
 * builds with the same exports as src/index.ts.
 *
 * The README as the registry page shows it: links that work there, and a
 * quick start that runs as pasted (here through the package's
 * self-reference; check:package runs it from a packed install).
 *
 * Needs dist/ (`npm test` builds first). The full check, on the packed
 * tarball installed into a consumer project with publint, attw and tsc, is
 * `npm run check:package` (scripts/check-package.ts), run by CI.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PackageJson {
  name: string;
  version: string;
  repository: { type: string; url: string };
  homepage: string;
  bugs: { url: string };
  scripts: Record<string, string>;
  type: string;
  main: string;
  module: string;
  types: string;
  bin: Record<string, string>;
  files: string[];
  sideEffects: boolean;
  exports: Record<string, unknown>;
  peerDependencies: Record<string, string>;
  dependencies: Record<string, string>;
}

const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as PackageJson;

function nodeEval(code: string, inputType: 'commonjs' | 'module'): unknown {
  const out = execFileSync(process.execPath, ['--input-type', inputType, '--eval', code], { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
  return JSON.parse(out);
}

/** Every string value in the exports map, with the condition path that leads to it. */
function exportTargets(value: unknown, at: string[] = []): Array<{ conditions: string[]; target: string }> {
  if (typeof value === 'string') return [{ conditions: at, target: value }];
  if (value && typeof value === 'object') {
    return Object.entries(value).flatMap(([key, inner]) => exportTargets(inner, [...at, key]));
  }
  return [];
}

describe('package.json points at files the build produces', () => {
  it('every exports target, main, module, types and bin exists', () => {
    const targets = [
      ...exportTargets(pkg.exports).map((entry) => entry.target),
      pkg.main,
      pkg.module,
      pkg.types,
      ...Object.values(pkg.bin),
    ];
    const missing = targets.filter((target) => !existsSync(path.join(ROOT, target)));
    expect(missing, 'run `npm run build` first').toEqual([]);
  });

  it('types come first in every condition block, and each build has its own declaration file', () => {
    const root = pkg.exports['.'] as Record<string, Record<string, string>>;
    for (const [condition, block] of Object.entries(root)) {
      expect(Object.keys(block)[0], `exports["."].${condition}`).toBe('types');
    }
    expect(root.import).toEqual({ types: './dist/index.d.ts', default: './dist/index.js' });
    expect(root.require).toEqual({ types: './dist/index.d.cts', default: './dist/index.cjs' });
  });

  it('publishes dist, README, LICENSE and CHANGELOG, no sources; grpc-js is a peer, never a dependency', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'README.md', 'LICENSE', 'CHANGELOG.md']));
    expect(pkg.files.filter((entry) => /^(src|test|bench|examples|scripts)\b/.test(entry))).toEqual([]);
    expect(pkg.peerDependencies).toHaveProperty('@grpc/grpc-js');
    expect(pkg.dependencies).not.toHaveProperty('@grpc/grpc-js');
    expect(pkg.sideEffects).toBe(false);
  });

  it('the bin is an ES module with a node shebang, written as npm publishes it (no "./")', () => {
    expect(pkg.bin).toEqual({ 'grpc-dns-watch': 'dist/cli.js' });
    const bin = readFileSync(path.join(ROOT, pkg.bin['grpc-dns-watch'] ?? ''), 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(pkg.type).toBe('module');
  });

  it('the build writes only what users run: no CommonJS bin, no source maps', () => {
    expect(readdirSync(path.join(ROOT, 'dist')).sort()).toEqual(['cli.js', 'index.cjs', 'index.d.cts', 'index.d.ts', 'index.js', 'library.cjs']);
  });

  it('one copy of the library code (dist/library.cjs) behind require(), import and the bin', () => {
    for (const entry of ['index.cjs', 'index.js', 'cli.js']) {
      const text = readFileSync(path.join(ROOT, 'dist', entry), 'utf8');
      expect(text, entry).toMatch(/['"]\.\/library\.cjs['"]/);
      expect(text.length, entry).toBeLessThan(1_000);
    }
    // The same objects either way: one registry, one registration with grpc-js (no dual-package hazard).
    // In a plain node process: vitest would load the module graph itself.
    const script = `
      import { createRequire } from 'node:module';
      const imported = await import(${JSON.stringify(pathToFileURL(path.join(ROOT, 'dist', 'index.js')).href)});
      const required = createRequire(import.meta.url)(${JSON.stringify(path.join(ROOT, 'dist', 'index.cjs'))});
      const names = Object.keys(required).sort();
      const same = names.filter((name) => imported[name] === required[name]);
      console.log(JSON.stringify({ imported: Object.keys(imported).sort(), names, same }));`;
    const { imported, names, same } = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as Record<string, string[]>;
    expect(imported).toEqual(names);
    expect(same).toEqual(names);
    expect(names).toContain('register');
  });

  it('every {@link} in the shipped declarations names something they declare', () => {
    for (const file of ['index.d.ts', 'index.d.cts']) {
      const declarations = readFileSync(path.join(ROOT, 'dist', file), 'utf8');
      const targets = [...declarations.matchAll(/\{@link\s+([\w$]+)(?:\.([\w$]+))?[^}]*\}/g)];
      const dangling = targets.filter(([, name, member]) => {
        const declared = new RegExp(`(?:class|interface|type|function|const|let|enum|namespace)\\s+${name}\\b`).test(declarations);
        return !declared || (member !== undefined && !new RegExp(`\\b${member}\\??[(:<]`).test(declarations));
      });
      expect(dangling.map(([link]) => link), file).toEqual([]);
    }
  });

  it('npm pack builds first, so a tarball packed from a clone has dist/', () => {
    expect(pkg.scripts.prepack).toBe('npm run build');
  });
});

describe('the tarball size the changelog states', () => {
  it('is stated once, in kB, below the bounds check:package holds the tarball to', () => {
    const claim = changelogSizeClaim(readFileSync(path.join(ROOT, 'CHANGELOG.md'), 'utf8'));
    expect(claim.packed).toBeGreaterThan(10_000);
    expect(claim.unpacked).toBeGreaterThan(claim.packed);
    expect(claim.unpacked).toBeLessThanOrEqual(400_000);
  });

  it('check:package refuses a figure more than the tolerance off, naming both', () => {
    const measured = { packed: 98_800, unpacked: 339_400 };
    expect(sizeClaimProblems({ packed: 77_000, unpacked: 263_000 }, measured)).toEqual([
      `CHANGELOG.md says the tarball is 77.0 kB packed, npm pack measured 98.8 kB (more than ${SIZE_CLAIM_TOLERANCE * 100} % apart): update the changelog's "The tarball is … kB packed and … kB unpacked"`,
      `CHANGELOG.md says the tarball is 263.0 kB unpacked, npm pack measured 339.4 kB (more than ${SIZE_CLAIM_TOLERANCE * 100} % apart): update the changelog's "The tarball is … kB packed and … kB unpacked"`,
    ]);
    expect(sizeClaimProblems({ packed: 95_000, unpacked: 330_000 }, measured)).toEqual([]);
  });

  it('reads the sentence across a line break, and refuses none or two', () => {
    expect(changelogSizeClaim('own. The tarball is 95 kB packed and\n  330.5 kB unpacked (was …)')).toEqual({ packed: 95_000, unpacked: 330_500 });
    expect(() => changelogSizeClaim('no size')).toThrow(/0 times/);
    const twice = 'The tarball is 1 kB packed and 2 kB unpacked. The tarball is 1 kB packed and 2 kB unpacked.';
    expect(() => changelogSizeClaim(twice)).toThrow(/2 times/);
  });
});

describe('the README works on the registry page', () => {
  const readme = readReadme(ROOT);
  const repository = repositoryUrl(pkg);

  it('repository, homepage and bugs name one repository URL', () => {
    expect(pkg.repository.url).toBe(`git+${repository}.git`);
    expect(pkg.homepage).toBe(`${repository}#readme`);
    expect(pkg.bugs.url).toBe(`${repository}/issues`);
  });

  it('every link is absolute, and every link into the repository is under package.json\'s URL and names a file that exists', () => {
    expect(readmeLinks(readme).length).toBeGreaterThan(5);
    expect(readmeLinkProblems(readme, repository, ROOT)).toEqual([]);
  });

  it('the link check refuses what would break: relative, another repository URL, a missing file', () => {
    const bad = `[a](docs/faq.md) [b](https://github.com/someone/grpc-dns-watch/blob/main/README.md) [c](${repository}/blob/main/docs/nope.md) [ok](#options)
\`\`\`sh
git clone https://github.com/someone/grpc-dns-watch.git
git clone ${repository}.git
\`\`\``;
    expect(readmeLinkProblems(bad, repository, ROOT)).toEqual([
      `README.md:1: relative link docs/faq.md (broken on the registry page): use ${repository}/blob/main/docs/faq.md`,
      `README.md:1: https://github.com/someone/grpc-dns-watch/blob/main/README.md is not under package.json's repository ${repository}`,
      `README.md:1: ${repository}/blob/main/docs/nope.md: no docs/nope.md in the repository`,
      `README.md:3: https://github.com/someone/grpc-dns-watch.git is not package.json's repository ${repository}`,
    ]);
  });

  it('the install section names the tarball npm pack writes for this version', () => {
    expect(readme).toContain(`npm install ../grpc-dns-watch/${pkg.name}-${pkg.version}.tgz`);
  });

  /** Runs code as Node reads `--input-type`, against the quick start's loopback servers. */
  async function runQuickStart(code: string, inputType: 'module' | 'commonjs'): Promise<void> {
    const { result: stdout, target, queries } = await withQuickStartServers('readme.package.test', (target) => {
      const env: NodeJS.ProcessEnv = { ...process.env, TARGET: target, GRPC_TRACE: '', GRPC_VERBOSITY: 'ERROR' };
      return new Promise<string>((resolve, reject) =>
        execFile(process.execPath, ['--input-type', inputType, '--eval', code], { cwd: ROOT, env, timeout: 20_000 }, (error, out, err) =>
          error ? reject(new Error(`${error.message}\n${out}\n${err}`)) : resolve(out),
        ),
      );
    });
    expect(stdout.trim()).toBe(`ready: ${target}`);
    expect(queries).toBeGreaterThan(0);
  }

  it('the quick start, exactly as written, connects to a loopback server found through a loopback DNS server, and ends by itself', async () => {
    const snippet = quickStartSnippet(readme);
    expect(snippet).toMatch(/^import \* as grpc from '@grpc\/grpc-js';$/m);
    expect(snippet).toMatch(/^import \{ register \} from 'grpc-dns-watch';$/m);
    await runQuickStart(snippet, 'module');
  });

  it('the quick start as CommonJS, with the require() lines the README gives for its imports, runs the same', async () => {
    const commonJs = quickStartAsCommonJs(readme);
    expect(commonJs).not.toMatch(/^import /m);
    expect(commonJs).toMatch(/^const .* = require\('grpc-dns-watch'\);$/m);
    await runQuickStart(commonJs, 'commonjs');
  });
});

describe('Node resolves the package by name to the right build', () => {
  const sourceExports = Object.keys(source).sort();

  it('require() loads dist/index.cjs, with the same exports as src/index.ts', () => {
    const result = nodeEval(
      `const m = require('${pkg.name}');
       console.log(JSON.stringify({ file: require.resolve('${pkg.name}'), keys: Object.keys(m).sort(), register: typeof m.register }));`,
      'commonjs',
    ) as { file: string; keys: string[]; register: string };
    expect(path.relative(ROOT, result.file)).toBe(path.join('dist', 'index.cjs'));
    expect(result.keys, 'dist/ out of date? npm run build').toEqual(sourceExports);
    expect(result.register).toBe('function');
  });

  it('import loads dist/index.js, with the same exports as src/index.ts', () => {
    const result = nodeEval(
      `const m = await import('${pkg.name}');
       console.log(JSON.stringify({ file: import.meta.resolve('${pkg.name}'), keys: Object.keys(m).sort(), register: typeof m.register }));`,
      'module',
    ) as { file: string; keys: string[]; register: string };
    expect(path.relative(ROOT, fileURLToPath(result.file))).toBe(path.join('dist', 'index.js'));
    expect(result.keys, 'dist/ out of date? npm run build').toEqual(sourceExports);
    expect(result.register).toBe('function');
  });

  it('both builds find the peer @grpc/grpc-js this project has installed', () => {
    const code = (load: string) =>
      `${load}
       m.register({ replaceBuiltin: false, hostsPath: false });
       m.unregister();
       console.log(JSON.stringify('ok'));`;
    expect(nodeEval(code(`const m = require('${pkg.name}');`), 'commonjs')).toBe('ok');
    expect(nodeEval(code(`const m = await import('${pkg.name}');`), 'module')).toBe('ok');
  });
});

describe('the docs point at things that exist', () => {
  const documents = projectDocuments(ROOT);
  /** Named in the docs without being files of this checkout: written by a run, or grpc-js's own source. */
  const NOT_HERE = new Set(['bench/results.quick.json', 'src/resolver-dns.ts']);

  it.each(documents)('%s: every `path` of this repository and every relative link exists', (document) => {
    const text = readFileSync(path.join(ROOT, document), 'utf8');
    const paths = [...text.matchAll(/`((?:src|test|bench|examples|scripts|docs|\.ci)\/[\w./-]+)`/g)].map((match) => (match[1] ?? '').replace(/\.$/, ''));
    const relative = readmeLinks(text)
      .map((link) => link.url.split('#')[0] ?? '')
      .filter((url) => url !== '' && !/^[a-z][a-z0-9+.-]*:/i.test(url))
      .map((url) => path.relative(ROOT, path.resolve(ROOT, path.dirname(document), url)));
    const missing = [...paths, ...relative].filter((file) => !NOT_HERE.has(file) && !existsSync(path.join(ROOT, file)));
    expect(missing).toEqual([]);
  });

  it('every #anchor of a link into this repository\'s Markdown names a heading there', () => {
    const repository = `${repositoryUrl(pkg)}/blob/main/`;
    const anchorsOf = new Map<string, Set<string>>();
    const anchors = (file: string) => {
      if (!anchorsOf.has(file)) anchorsOf.set(file, headingAnchors(readFileSync(path.join(ROOT, file), 'utf8')));
      return anchorsOf.get(file) ?? new Set<string>();
    };
    const checked: string[] = [];
    const broken = documents.flatMap((document) =>
      readmeLinks(readFileSync(path.join(ROOT, document), 'utf8')).flatMap(({ line, url }) => {
        const [target = '', anchor] = url.startsWith(repository) ? [url.slice(repository.length).split('#')[0], url.split('#')[1]] : url.split('#');
        if (anchor === undefined || /^[a-z][a-z0-9+.-]*:/i.test(target)) return [];
        const file = target === '' ? document : path.relative(ROOT, url.startsWith(repository) ? path.join(ROOT, target) : path.resolve(ROOT, path.dirname(document), target));
        if (!file.endsWith('.md') || !existsSync(path.join(ROOT, file))) return [];
        checked.push(url);
        return anchors(file).has(anchor) ? [] : [`${document}:${line}: ${url}: no heading "#${anchor}" in ${file}`];
      }),
    );
    expect(checked.length).toBeGreaterThan(10);
    expect(broken).toEqual([]);
  });

  it('the anchor reader gives GitHub\'s anchors', () => {
    expect([...headingAnchors('# A `b()` and C\n## 6. Queries, per poll — resolv.conf\n## A `b()` and C\n```\n# not a heading\n```')]).toEqual([
      'a-b-and-c',
      '6-queries-per-poll--resolvconf',
      'a-b-and-c-1',
    ]);
  });

  it('every it.fails test a doc cites for an open bug is still in test/ (fixed bugs are described as fixed)', () => {
    const tests = readdirSync(path.join(ROOT, 'test'), { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.ts'))
      .map((file) => readFileSync(path.join(ROOT, 'test', file), 'utf8'))
      .join('\n');
    const cited = documents.flatMap((document) =>
      [...readFileSync(path.join(ROOT, document), 'utf8').matchAll(/it\.fails\('([^'…]+)/g)].map((match) => ({ document, title: (match[1] ?? '').replace(/\s+/g, ' ').trim() })),
    );
    const gone = cited.filter(({ title }) => !tests.includes(`it.fails('${title}`));
    expect(gone).toEqual([]);
  });
});
