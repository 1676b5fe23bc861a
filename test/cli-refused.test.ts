/**
 * The built command against a nameserver whose port is closed: it says
 * "connection refused" and exits 4 (could not ask) at once, as `dig` does,
 * instead of waiting out the timeout. Only a closed loopback port is asked.
 */
import { execFile } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../src/cli/main.js';
import { BIN, ROOT, ensureBuilt } from '../harness/built-cli.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';

function runBin(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

describe('grpc-dns-watch NAME --once --server <closed port>', () => {
  beforeAll(() => {
    ensureBuilt();
  }, 150_000);

  it('exits 4 with "connection refused" well before the timeout', async () => {
    const port = await unusedUdpPort();
    const result = await runBin(['refused.cli.test', '--once', '--server', `127.0.0.1:${port}`, '--timeout', '20s']);
    expect(result.code, result.stderr).toBe(EXIT.CANNOT_ASK);
    expect(result.stderr).toContain('connection refused');
    expect(result.stderr).toContain(`127.0.0.1:${port}`);
    expect(result.stderr).toContain('CONNREFUSED');
    // A 20 s timeout a try: a generous bound that a refused port must beat by far.
    expect(result.ms).toBeLessThan(15_000);
  }, 60_000);
});
