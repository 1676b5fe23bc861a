/**
 * harness/warning-guard.ts runs before every test file of both projects, so
 * a process warning no test captured fails its file (issue 22: `npm test`
 * printed four GRPC_DNS_WATCH_LATE_REGISTER warnings and passed). That a
 * captured warning does not trip it, test/late-register.test.ts shows on
 * every run (it provokes them through captureWarnings()).
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

interface Project {
  extends?: boolean;
  test: { name: string; setupFiles?: unknown };
}

// Loaded by path: a static import would pull the config file into the type-checked project (eslint lints it on its own).
const CONFIG = pathToFileURL(join(import.meta.dirname, '..', 'vitest.config.ts')).href;
const { default: config } = (await import(CONFIG)) as { default: { test?: { setupFiles?: unknown; projects?: unknown } } };

describe('the warning guard', () => {
  it('is a setup file that both projects inherit', () => {
    expect(config.test?.setupFiles).toEqual(['harness/warning-guard.ts']);
    const projects = config.test?.projects as Project[];
    expect(projects.map((project) => project.test.name)).toEqual(['unit', 'integration']);
    for (const project of projects) {
      expect(project.extends, project.test.name).toBe(true);
      expect(project.test.setupFiles, project.test.name).toBeUndefined();
    }
  });

  it('listens to the process warning event while this file runs', () => {
    expect(process.listeners('warning').some((listener) => listener.name === 'record')).toBe(true);
  });
});
