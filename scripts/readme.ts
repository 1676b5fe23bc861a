/**
 * The README as the registry shows it: where its links point, the quick
 * start's code, and the loopback servers it runs against. Shared by scripts/check-package.ts (which runs the snippet
 * from a packed install) and test/package.test.ts (the fast checks).
 *
 * The repository URL lives in one place, package.json's `repository`; every
 * README link into the repository must be absolute under it (the registry
 * page has no docs/ or examples/ to resolve a relative link against), so
 * moving the repository is one edit in package.json, and this check then
 * lists every README link to update.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { DnsTestServer } from '../harness/dns-server.js';

/** The branch README links point at (`…/blob/main/docs/faq.md`). */
export const DEFAULT_BRANCH = 'main';

/** Marks the fenced block right after it as the quick start that is run from a packed install. */
export const QUICK_START_MARKER = '<!-- quick-start:';

/** `https://github.com/owner/name` from package.json's `repository` (string or `{ url }`, `git+…`, `.git`). */
export function repositoryUrl(pkg: { repository?: string | { url?: string } }): string {
  const raw = typeof pkg.repository === 'string' ? pkg.repository : pkg.repository?.url;
  if (!raw) throw new Error('package.json has no "repository"');
  const url = raw.replace(/^git\+/, '').replace(/\.git$/, '');
  if (!/^https:\/\/[^/]+\/[^/]+\/[^/]+$/.test(url)) throw new Error(`package.json "repository" is not an https URL of a repository: ${raw}`);
  return url;
}

export interface ReadmeLink {
  line: number;
  url: string;
}

/** Every Markdown link target and HTML `href`/`src` in the text, outside fenced code blocks. */
export function readmeLinks(markdown: string): ReadmeLink[] {
  const links: ReadmeLink[] = [];
  let fenced = false;
  markdown.split('\n').forEach((text, index) => {
    if (/^\s*```/.test(text)) fenced = !fenced;
    if (fenced) return;
    for (const match of text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)|(?:href|src)="([^"]+)"/g)) {
      links.push({ line: index + 1, url: match[1] ?? match[2] ?? '' });
    }
  });
  return links;
}

/**
 * What is wrong with the README's links, one line each (empty: nothing):
 * relative links (broken on the registry page), links into the repository
 * that are not under package.json's `repository` URL and default branch,
 * and links to repository files that do not exist in this checkout.
 */
export function readmeLinkProblems(markdown: string, repository: string, root: string): string[] {
  const problems: string[] = [];
  const own = `${repository}/`;
  const host = new URL(repository).host;
  for (const { line, url } of readmeLinks(markdown)) {
    if (url.startsWith('#')) continue;
    if (!/^[a-z][a-z0-9+.-]*:/i.test(url)) {
      problems.push(`README.md:${line}: relative link ${url} (broken on the registry page): use ${own}blob/${DEFAULT_BRANCH}/${url.replace(/^\.\//, '')}`);
      continue;
    }
    if (!url.startsWith('https://') || new URL(url).host !== host) continue;
    const parts = new URL(url).pathname.split('/').filter(Boolean);
    const looksLikeThisProject = parts[1] === repository.split('/').at(-1);
    if (!url.startsWith(own) && url !== repository) {
      if (looksLikeThisProject) problems.push(`README.md:${line}: ${url} is not under package.json's repository ${repository}`);
      continue;
    }
    const rest = url.slice(own.length).split('#')[0] ?? '';
    const file = /^(?:blob|tree)\/([^/]+)\/(.+)$/.exec(rest);
    if (!file) continue; // the repository itself, its issues, releases …
    if (file[1] !== DEFAULT_BRANCH) problems.push(`README.md:${line}: ${url} points at branch "${file[1]}", not ${DEFAULT_BRANCH}`);
    if (!existsSync(path.join(root, file[2] ?? ''))) problems.push(`README.md:${line}: ${url}: no ${file[2]} in the repository`);
  }
  // Also in code blocks (`git clone …`): any URL of a repository by this name must be this one.
  const name = repository.split('/').at(-1) ?? '';
  markdown.split('\n').forEach((text, index) => {
    for (const match of text.matchAll(/https?:\/\/([^/\s]+)\/[\w.-]+\/([\w.-]+)/g)) {
      const other = match[0].replace(/\.git$/, '');
      if (match[1] === host && match[2]?.replace(/\.git$/, '') === name && other !== repository && !readmeLinks(text).some((link) => link.url.startsWith(match[0]))) {
        problems.push(`README.md:${index + 1}: ${match[0]} is not package.json's repository ${repository}`);
      }
    }
  });
  return problems;
}

/** The code of the fenced block right after the quick-start marker. */
export function quickStartSnippet(markdown: string): string {
  const at = markdown.indexOf(QUICK_START_MARKER);
  if (at < 0) throw new Error(`README.md has no ${QUICK_START_MARKER} … --> marker before its quick start`);
  const block = /```[a-z]*\n([\s\S]*?)\n```/.exec(markdown.slice(at));
  if (!block?.[1]) throw new Error('README.md: no fenced code block after the quick-start marker');
  return `${block[1]}\n`;
}

/**
 * The quick start as CommonJS, the way the README says to write it: each
 * `import … from 'module'` line of the snippet replaced by the README's own
 * `const … = require('module');` for that module (code spans of the Quick
 * start section). Throws when the README does not give one for every import.
 */
export function quickStartAsCommonJs(markdown: string): string {
  const start = markdown.indexOf('## Quick start');
  const end = markdown.indexOf('\n## ', start + 1);
  const text = markdown.slice(start, end < 0 ? undefined : end);
  const requires = new Map(
    [...text.matchAll(/`(const [^`]+ = require\('([^']+)'\);)`/g)].map((match) => [match[2] ?? '', match[1] ?? '']),
  );
  return quickStartSnippet(markdown).replace(/^import .* from '([^']+)';$/gm, (line, module: string) => {
    const replacement = requires.get(module);
    if (!replacement) throw new Error(`README.md's Quick start shows no \`const … = require('${module}');\` for \`${line}\``);
    return replacement;
  });
}

export function readReadme(root: string): string {
  return readFileSync(path.join(root, 'README.md'), 'utf8');
}

/**
 * What the quick start needs to run for real without asking any nameserver
 * but a test one: a loopback gRPC server, and a loopback DNS server that
 * knows `host`. `run` gets the value for the snippet's `TARGET`, with the DNS
 * server in the target's authority (`dns://127.0.0.1:PORT/host:port`), so
 * grpc-dns-watch asks that server and no other.
 */
export async function withQuickStartServers<T>(host: string, run: (target: string) => Promise<T>): Promise<{ result: T; target: string; queries: number }> {
  const dns = await DnsTestServer.start();
  const server = new grpc.Server();
  try {
    dns.setRecords(host, { A: ['127.0.0.1'], ttl: 5 });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))),
    );
    const target = `dns://${dns.address}/${host}:${port}`;
    const result = await run(target);
    return { result, target, queries: dns.countQueries({ name: host }) };
  } finally {
    server.forceShutdown();
    await dns.close();
  }
}
