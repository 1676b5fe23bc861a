/** What the numbers were measured on. */
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './dns-child.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryBytes: number;
  os: string;
  kernel: string;
  node: string;
  v8: string;
  cAres: string;
  libuv: string;
  uvThreadpoolSize: string;
  grpcJs: string;
  date: string;
}

function packageVersion(name: string): string {
  try {
    const file = path.join(PROJECT_ROOT, 'node_modules', ...name.split('/'), 'package.json');
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: typeof os.availableParallelism === 'function' ? os.availableParallelism() : cpus.length,
    memoryBytes: os.totalmem(),
    os: `${os.type()} ${os.arch()}`,
    kernel: os.release(),
    node: process.version,
    v8: process.versions.v8,
    cAres: process.versions.ares ?? 'unknown',
    libuv: process.versions.uv ?? 'unknown',
    uvThreadpoolSize: process.env.UV_THREADPOOL_SIZE ?? '4 (default)',
    grpcJs: packageVersion('@grpc/grpc-js'),
    date: new Date().toISOString(),
  };
}

export function describeMachine(machine: MachineInfo): string {
  return (
    `${machine.cpuModel}, ${machine.cores} cores, ${(machine.memoryBytes / 2 ** 30).toFixed(1)} GiB RAM, ` +
    `${machine.os} ${machine.kernel}; Node ${machine.node} (c-ares ${machine.cAres}, libuv ${machine.libuv}, ` +
    `threadpool ${machine.uvThreadpoolSize}); @grpc/grpc-js ${machine.grpcJs}`
  );
}
