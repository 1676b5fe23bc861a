import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** The built command, as users run it. */
export const BIN = path.join(ROOT, 'dist', 'cli.js');

/** dist/cli.js, rebuilt with the project's build (tsup) when missing or older than a source file. */
export function ensureBuilt(): void {
  const newestSource = (dir: string): number =>
    readdirSync(dir, { withFileTypes: true }).reduce((newest, entry) => {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) return Math.max(newest, newestSource(full));
      return entry.name.endsWith('.ts') ? Math.max(newest, statSync(full).mtimeMs) : newest;
    }, statSync(path.join(ROOT, 'tsup.config.ts')).mtimeMs);
  if (existsSync(BIN) && statSync(BIN).mtimeMs >= newestSource(path.join(ROOT, 'src'))) return;
  execFileSync('npx', ['tsup'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 });
}
