/**
 * Every TypeScript block the docs show compiles as shown, against the built
 * package as a user installs it: README.md, CHANGELOG.md, docs/*.md and the
 * examples' READMEs. Each block is a file of a consumer project whose
 * node_modules holds this package (by its `exports`: the `.d.cts`
 * declarations for `require`, the `.d.ts` for `import`) beside this
 * repository's own dependencies, compiled with `strict` and
 * `moduleResolution: node16` twice: as CommonJS (`.cts`) and as an ES module
 * (`.mts`). A block marked `<!-- snippet: esm -->` on the line before its
 * fence is compiled as an ES module only, and must say so in a comment a
 * reader sees; a block with a top-level `await` must carry that mark.
 *
 * Needs dist/ (`npm test` builds first).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fencedBlocks, projectDocuments } from '../harness/markdown.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PACKAGE = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { name: string }).name;

interface Snippet {
  /** `docs/faq.md:86`. */
  where: string;
  code: string;
  esmOnly: boolean;
}

function snippets(): Snippet[] {
  return projectDocuments(ROOT).flatMap((document) =>
    fencedBlocks(readFileSync(path.join(ROOT, document), 'utf8'))
      .filter((block) => block.language === 'ts' || block.language === 'typescript')
      .map((block) => ({ where: `${document}:${block.line}`, code: block.code, esmOnly: block.marker === 'esm' })),
  );
}

/** A line of code outside any function that awaits: an ES module's top-level await. */
const TOP_LEVEL_AWAIT = /^(?:for\s+)?await\b|^(?:const|let|var)\s+[^=]+=\s*await\b/m;

describe('code blocks in the docs', () => {
  const found = snippets();

  it('finds the blocks (README quick start, watch(), observe(), the FAQ, the examples)', () => {
    expect(found.length).toBeGreaterThanOrEqual(8);
    expect(found.filter((snippet) => snippet.where.startsWith('README.md')).length).toBeGreaterThanOrEqual(4);
  });

  it('marks every block with a top-level await as an ES module, and says so where a reader sees it', () => {
    expect(found.filter((snippet) => TOP_LEVEL_AWAIT.test(snippet.code) && !snippet.esmOnly).map((snippet) => snippet.where)).toEqual([]);
    expect(found.filter((snippet) => snippet.esmOnly && !/\/\/.*ES module/.test(snippet.code)).map((snippet) => snippet.where)).toEqual([]);
  });

  describe('compile against the built package', () => {
    let project: string;
    let diagnostics: string[];

    beforeAll(() => {
      project = mkdtempSync(path.join(tmpdir(), 'grpc-dns-watch-snippets-'));
      // The package by name, as installed; everything else the snippets import from this repository's node_modules.
      const modules = path.join(project, 'node_modules');
      mkdirSync(modules);
      for (const entry of readdirSync(path.join(ROOT, 'node_modules'))) {
        if (!entry.startsWith('.')) symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(modules, entry), 'dir');
      }
      symlinkSync(ROOT, path.join(modules, PACKAGE), 'dir');
      const files: Array<{ file: string; where: string }> = [];
      found.forEach((snippet, index) => {
        // `export {}` keeps each file a module of its own, whatever it declares.
        const code = `${snippet.code}\nexport {};\n`;
        for (const extension of snippet.esmOnly ? ['.mts'] : ['.cts', '.mts']) {
          const file = path.join(project, `snippet-${index}${extension}`);
          writeFileSync(file, code);
          files.push({ file, where: `${snippet.where} (${extension === '.cts' ? 'CommonJS' : 'ES module'})` });
        }
      });
      const program = ts.createProgram(
        files.map((entry) => entry.file),
        {
          strict: true,
          noEmit: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.Node16,
          moduleResolution: ts.ModuleResolutionKind.Node16,
          types: ['node'],
          skipLibCheck: true,
        },
      );
      const whereOf = new Map(files.map((entry) => [path.resolve(entry.file), entry.where]));
      diagnostics = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
        const where = diagnostic.file ? (whereOf.get(path.resolve(diagnostic.file.fileName)) ?? diagnostic.file.fileName) : 'tsc';
        const line = diagnostic.file && diagnostic.start !== undefined ? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line + 1 : 0;
        return `${where}, line ${line} of the block: TS${diagnostic.code} ${ts.flattenDiagnosticMessageText(diagnostic.messageText, ' ')}`;
      });
    }, 120_000);

    afterAll(() => {
      if (project) rmSync(project, { recursive: true, force: true });
    });

    it('without an error, as CommonJS and as an ES module (ES module only where marked)', () => {
      expect(existsSync(path.join(ROOT, 'dist', 'index.d.cts')), 'run `npm run build` first').toBe(true);
      expect(diagnostics).toEqual([]);
    });
  });
});
