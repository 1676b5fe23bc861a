import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tracerEnabled } from '../src/grpc/trace.js';

const run = promisify(execFile);
const child = path.join(import.meta.dirname, 'fixtures', 'trace-child.ts');

async function traced(env: Record<string, string>): Promise<string> {
  const { stderr } = await run(process.execPath, ['--import', 'tsx', child], {
    env: { ...process.env, ...env },
    timeout: 20_000,
  });
  return stderr;
}

// The two children (each with a DNS server of its own) side by side.
describe.concurrent('tracing through grpc-js under the tracer name dns_watch', () => {
  it('GRPC_TRACE=dns_watch GRPC_VERBOSITY=DEBUG shows queries, changes, failures and backoff', async () => {
    const stderr = await traced({ GRPC_TRACE: 'dns_watch', GRPC_VERBOSITY: 'DEBUG' });
    const lines = stderr.split('\n').filter((line) => line.includes('| dns_watch |'));
    const has = (pattern: RegExp) => expect(lines.some((line) => pattern.test(line)), `${pattern} in:\n${lines.join('\n')}`).toBe(true);
    has(/traced\.test: query \(family 4\)/);
    has(/traced\.test: 1 addresses in \d+ ms, min TTL 30 s; next poll in 50 ms/);
    has(/traced\.test: changed: \+\[10\.0\.0\.2\] -\[10\.0\.0\.1\]/);
    has(/traced\.test: failure 1 after \d+ ms \(SERVFAIL: .*\); keeping the last good set; retry in 20 ms/);
    has(/traced\.test: failure 2 .* retry in 40 ms/);
    has(/traced\.test: watcher stopped/);
    has(/resolv\.conf: .*ndots:abc/);
    has(/hosts file not used: .*no-such-hosts: ENOENT/);
    expect(lines.filter((line) => line.includes('hosts file not used'))).toHaveLength(1);
  });

  it('is silent when the tracer is not enabled', async () => {
    const stderr = await traced({ GRPC_TRACE: 'dns_resolver', GRPC_VERBOSITY: 'DEBUG' });
    expect(stderr).not.toContain('dns_watch');
  });

  it.each([
    ['dns_watch', true],
    ['all', true],
    ['channel,dns_watch', true],
    ['all,-dns_watch', false],
    ['', false],
    [undefined, false],
  ])('GRPC_TRACE=%s → %s', (value, enabled) => {
    expect(tracerEnabled(value)).toBe(enabled);
  });
});
