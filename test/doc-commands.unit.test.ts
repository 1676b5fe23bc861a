/**
 * The commands the docs show work as written, as far as reading them tells:
 * every `grpc-dns-watch` command line (in `sh` blocks and in code spans of
 * the README, the changelog, docs/ and the examples' READMEs) is accepted by
 * the command's own argument reader, every `npm run` names a script of
 * package.json (the demo's flags read by the demo's reader, `--only` naming
 * benchmarks that exist), and every file a command runs or reads from this
 * repository exists. What they do when run is tested where they are:
 * test/cli.test.ts (the command), test/demo.test.ts (the demo), the quick
 * start by test/package.test.ts and check:package.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BENCHMARKS } from '../bench/lib/benchmarks.js';
import { parseArgs as parseDemoArgs } from '../examples/demo/args.js';
import { codeSpans, fencedBlocks, projectDocuments } from '../harness/markdown.js';
import { parseCommandLine } from '../src/cli/args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

/** Shell words and operators of one line: quotes kept together (and removed), a comment dropped. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const char = line[i] ?? '';
    if (quote) {
      if (char === quote) quote = undefined;
      else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      word ??= '';
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else if (char === '#' && word === undefined) {
      break;
    } else if ('|&;<>'.includes(char)) {
      if (word !== undefined) words.push(word);
      word = undefined;
      const doubled = line[i + 1] === char && char !== '<' && char !== '>';
      words.push(doubled ? char + char : char);
      if (doubled) i++;
    } else {
      word = (word ?? '') + char;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** The simple commands of a line: split at `|`, `||`, `&&`, `;`, `&`, redirections and env assignments dropped. */
function simpleCommands(line: string): string[][] {
  const commands: string[][] = [[]];
  const words = shellWords(line);
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? '';
    if (['|', '||', '&&', ';', ';;', '&'].includes(word)) commands.push([]);
    else if (word === '>' || word === '<') i++;
    else commands.at(-1)?.push(word);
  }
  return commands
    .map((command) => {
      let start = 0;
      while (start < command.length && (/^[A-Z_]+=/.test(command[start] ?? '') || ['until', 'while', 'if', 'do', 'then', '!'].includes(command[start] ?? ''))) start++;
      return command.slice(start);
    })
    .filter((command) => command.length > 0);
}

interface Shown {
  where: string;
  command: string[];
}

/** Every command in `sh` blocks, and in code spans that start with a program the docs run. */
function shownCommands(): Shown[] {
  const programs = new Set(['npm', 'npx', 'node', 'grpc-dns-watch', 'kubectl', 'docker']);
  return projectDocuments(ROOT).flatMap((document) => {
    const text = readFileSync(path.join(ROOT, document), 'utf8');
    const lines = [
      ...fencedBlocks(text)
        .filter((block) => block.language === 'sh' || block.language === 'bash')
        .flatMap((block) => block.code.split('\n').map((line, index) => ({ where: `${document}:${block.line + 1 + index}`, line }))),
      ...codeSpans(text).map((span) => ({ where: `${document}: \`${span}\``, line: span })),
    ];
    return (
      lines
        // A placeholder (`<closed>`, `<version>`) says the line is a pattern, not a command.
        .filter(({ line }) => !/<[\w ]+>/.test(line))
        .flatMap(({ where, line }) => simpleCommands(line).filter((command) => programs.has(command[0] ?? '')).map((command) => ({ where, command })))
    );
  });
}

/** The arguments of the command-line tool, if `command` runs it (directly, through npx, node dist/cli.js or kubectl … --). */
function toolArguments(command: string[]): string[] | undefined {
  const [program, ...rest] = command;
  if (program === 'kubectl') {
    const dashes = rest.indexOf('--');
    return dashes < 0 ? undefined : toolArguments(rest.slice(dashes + 1));
  }
  if (program === 'npx') return toolArguments(rest[0] === '-y' ? rest.slice(1) : rest);
  if (program === 'grpc-dns-watch') return rest;
  if (program === 'node' && rest[0] === PKG.bin['grpc-dns-watch']) return rest.slice(1);
  return undefined;
}

/** Files of this repository a command runs or reads. */
function repositoryFiles(command: string[]): string[] {
  return command.filter((word, index) => /^(src|test|bench|examples|scripts|harness|docs)\//.test(word) && command[index - 1] !== '--out');
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

  it('every file of this repository a command runs or reads exists', () => {
    const files = shown.flatMap(({ where, command }) => repositoryFiles(command).map((file) => ({ where, file })));
    expect(files.length).toBeGreaterThanOrEqual(8);
    expect(files.filter(({ file }) => !existsSync(path.join(ROOT, file))).map(({ where, file }) => `${where}: ${file}`)).toEqual([]);
  });
});
