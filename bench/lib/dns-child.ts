/**
 * Parent side of bench/dns-server-process.ts: start a loopback DNS server in
 * a child process and talk to it over IPC. The child's CPU is not the
 * measured process's CPU, and its event loop is its own.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import os from 'node:os';
import path from 'node:path';
import type { DnsChildMessage, DnsChildRequest, GapsResult, RecordSpec } from '../dns-server-process.js';
import type { QueryFilter } from '../../harness/dns-server.js';

export type { GapsResult, RecordSpec };

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = path.resolve(HERE, '..', '..');
const SCRIPT = path.join(PROJECT_ROOT, 'bench', 'dns-server-process.ts');

/** Distributes Omit over a union (the built-in Omit collapses it). */
type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;
type Request = DistributiveOmit<DnsChildRequest, 'id'>;

export interface DnsChild {
  readonly host: string;
  readonly port: number;
  readonly mode: 'full' | 'fast';
  /** `host:port`, as `register({ nameservers })` takes it. */
  readonly address: string;
  set(records: RecordSpec[]): Promise<void>;
  count(filter?: QueryFilter): Promise<number>;
  /** Queries per `windowMs` window between `from` and `to` (Date.now() clock, shared by both processes). */
  windows(from: number, to: number, windowMs: number, filter?: QueryFilter): Promise<number[]>;
  /** Per name and type, the gaps between consecutive queries in [from, to) (see dns-server-process.ts). */
  gaps(from: number, to: number, filter?: QueryFilter): Promise<GapsResult>;
  reset(): Promise<void>;
  /** Full mode: answer every query `ms` later (a server a network hop away); 0 answers at once. */
  delay(ms: number): Promise<void>;
  /** Close the server and wait for the child to exit. */
  close(): Promise<void>;
}

export interface DnsChildOptions {
  mode?: 'full' | 'fast';
  host?: string;
  port?: number;
  records?: RecordSpec[];
  /**
   * Scheduling priority of the server process (os.setPriority: −20 highest,
   * 19 lowest), where permitted. The server stands in for a DNS server on
   * another machine: on a loaded shared machine a raised priority keeps it
   * from being the bottleneck of whichever side is measured.
   */
  priority?: number;
  /** Give up starting after this long. Default 20 s. */
  startTimeoutMs?: number;
}

/** Records sent per IPC message, so 10,000 names never make one huge message. */
const SET_BATCH = 2_000;
const REQUEST_TIMEOUT_MS = 30_000;

export async function startDnsChild(options: DnsChildOptions = {}): Promise<DnsChild> {
  const mode = options.mode ?? 'full';
  const host = options.host ?? '127.0.0.1';
  const child: ChildProcess = fork(SCRIPT, ['--mode', mode, '--host', host, '--port', String(options.port ?? 0)], {
    cwd: PROJECT_ROOT,
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (options.priority !== undefined && child.pid !== undefined) {
    try {
      os.setPriority(child.pid, options.priority);
    } catch {
      // Not permitted (not root, no CAP_SYS_NICE): the default priority.
    }
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let nextId = 1;
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  const failAll = (why: string): void => {
    for (const [id, entry] of waiting) {
      clearTimeout(entry.timer);
      entry.reject(new Error(`DNS child: ${why}`));
      waiting.delete(id);
    }
  };
  child.once('exit', (code, signal) => failAll(`exited (code ${code}, signal ${signal})`));

  const ready = await new Promise<{ port: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`DNS child did not start within ${options.startTimeoutMs ?? 20_000} ms`));
    }, options.startTimeoutMs ?? 20_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`DNS child exited before it was ready (code ${code})`));
    });
    child.on('message', (message: DnsChildMessage) => {
      if (message.type === 'ready') {
        clearTimeout(timer);
        resolve({ port: message.port });
        return;
      }
      const entry = waiting.get(message.id);
      if (!entry) return;
      waiting.delete(message.id);
      clearTimeout(entry.timer);
      if (message.ok) entry.resolve(message.result);
      else entry.reject(new Error(`DNS child: ${message.error}`));
    });
  });

  const request = <T>(body: Request): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      if (!child.connected) {
        reject(new Error('DNS child is not connected'));
        return;
      }
      const id = nextId++;
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`DNS child did not answer ${body.cmd} within ${REQUEST_TIMEOUT_MS} ms`));
      }, REQUEST_TIMEOUT_MS);
      waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      child.send({ ...body, id });
    });

  const handle: DnsChild = {
    host,
    port: ready.port,
    mode,
    address: host.includes(':') ? `[${host}]:${ready.port}` : `${host}:${ready.port}`,
    async set(records) {
      for (let i = 0; i < records.length; i += SET_BATCH) {
        await request({ cmd: 'set', records: records.slice(i, i + SET_BATCH) });
      }
    },
    count: (filter) => request<number>({ cmd: 'count', filter }),
    windows: (from, to, windowMs, filter) => request<number[]>({ cmd: 'windows', from, to, windowMs, filter }),
    gaps: (from, to, filter) => request<GapsResult>({ cmd: 'gaps', from, to, filter }),
    reset: () => request<void>({ cmd: 'reset' }),
    delay: (ms) => request<void>({ cmd: 'delay', ms }),
    async close() {
      if (child.exitCode === null && child.signalCode === null && child.connected) {
        await request({ cmd: 'close' }).catch(() => undefined);
      }
      // Bounded: a child that does not leave by itself within 5 s is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
  if (options.records?.length) await handle.set(options.records);
  return handle;
}
