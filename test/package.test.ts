import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as source from '../src/index.js';

/**
 * The package as Node resolves it by name, in a second: the built files the
 * `exports` map points at exist, and `require('grpc-dns-watch')` and
 * `import 'grpc-dns-watch'` (package self-reference, in child processes so
 * Node's own resolver answers, not Vite's) load the CommonJS and ES module
 * builds with the same exports as src/index.ts.
 *
 * Needs dist/ (`npm test` builds first). The full check, on the packed
 * tarball installed into a consumer project with publint, attw and tsc, is
 * `npm run check:package` (scripts/check-package.ts), run by CI.
 */

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface PackageJson {
  name: string;
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

  it('publishes dist, README and LICENSE, no sources; grpc-js is a peer, never a dependency', () => {
    expect(pkg.files).toEqual(expect.arrayContaining(['dist', 'README.md', 'LICENSE']));
    expect(pkg.files.filter((entry) => /^(src|test|bench|examples|scripts)\b/.test(entry))).toEqual([]);
    expect(pkg.peerDependencies).toHaveProperty('@grpc/grpc-js');
    expect(pkg.dependencies).not.toHaveProperty('@grpc/grpc-js');
    expect(pkg.sideEffects).toBe(false);
  });

  it('the bin is an ES module with a node shebang', () => {
    const bin = readFileSync(path.join(ROOT, pkg.bin['grpc-dns-watch'] ?? ''), 'utf8');
    expect(bin.startsWith('#!/usr/bin/env node\n')).toBe(true);
    expect(pkg.type).toBe('module');
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
