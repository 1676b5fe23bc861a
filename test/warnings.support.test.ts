/**
 * harness/warnings.ts: a warning a test provokes on purpose is taken from the
 * process's real `warning` event and not printed, so `npm test` stays quiet
 * (issue 22: four late-register warnings in its output); any other warning
 * still reaches Node's printer. In a child process, whose stderr is Node's own.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const child = path.join(import.meta.dirname, 'fixtures', 'late-register-child.ts');

describe('captureWarnings', () => {
  it('takes the warnings of its code from the event, prints none of them, and lets others through', async () => {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', child], { timeout: 20_000 });
    const captured = JSON.parse(stdout) as string[];
    expect(captured).toHaveLength(1);
    expect(captured[0]).toMatch(/^grpc-dns-watch: register\(\) ran after a channel to a dns target \("late-child\.test:50051"\) had been created/);
    expect(stderr).not.toContain('GRPC_DNS_WATCH_LATE_REGISTER');
    expect(stderr).not.toContain('register() ran after');
    expect(stderr).toContain('[UNRELATED_TEST_WARNING] Warning: an unrelated warning');
  });
});
