/**
 * The commands the docs show, read as a shell reads them: every command in
 * `sh` blocks, and in code spans that start with a program the docs run, of
 * the README, the changelog, docs/*.md and the examples' READMEs. Shared by
 * test/doc-commands.unit.test.ts (each command is accepted, names what
 * exists, and is run by a test, CI or check:package, or listed as not
 * runnable here with the reason) and test/doc-commands.test.ts (which runs
 * the ones it names).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeSpans, fencedBlocks, projectDocuments } from './markdown.js';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };

/** Shell words and operators of one line: quotes kept together (and removed), a comment dropped. */
export function shellWords(line: string): string[] {
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
export function simpleCommands(line: string): string[][] {
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

export interface Shown {
  /** `README.md:27` (a line of an `sh` block), or the document and the code span. */
  where: string;
  /** The simple command: program and arguments, environment assignments left out. */
  command: string[];
  /** The whole line it is part of, as written. */
  line: string;
}

/** A command as the coverage lists name it: its words joined by spaces. */
export function commandText(command: string[]): string {
  return command.join(' ');
}

/** Every command in `sh` blocks, and in code spans that start with a program the docs run. */
export function shownCommands(): Shown[] {
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
        .flatMap(({ where, line }) => simpleCommands(line).filter((command) => programs.has(command[0] ?? '')).map((command) => ({ where, command, line })))
    );
  });
}

/** The arguments of the command-line tool, if `command` runs it (directly, through npx, node dist/cli.js or kubectl … --). */
export function toolArguments(command: string[]): string[] | undefined {
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
export function repositoryFiles(command: string[]): string[] {
  return command.filter((word, index) => /^(src|test|bench|examples|scripts|harness|docs)\//.test(word) && command[index - 1] !== '--out');
}
