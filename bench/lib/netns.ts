/**
 * A private network namespace for the dns.lookup (getaddrinfo) side.
 *
 * getaddrinfo cannot be pointed at a server: it reads /etc/resolv.conf. So
 * that side runs in `unshare --net --mount`: a network namespace with only a
 * loopback interface (nothing can leave the machine), and a mount namespace
 * in which a temporary resolv.conf saying `nameserver 127.0.0.1` is
 * bind-mounted over /etc/resolv.conf (private to the namespace; the host's
 * file is untouched). The benchmark's DNS server listens on 127.0.0.1:53
 * inside. Without unshare (not root, no util-linux, no `ip`) the dns.lookup
 * side is skipped; it never falls back to the machine's own resolv.conf.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { notInPrivateNetns } from '../../harness/nft-loss.js';

export const NETNS_RESOLV_CONF = 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n';
/** A pod's resolv.conf with no options line: glibc's defaults, timeout 5 s and attempts 2 (lossy-network). */
export const GLIBC_DEFAULTS_RESOLV_CONF = 'nameserver 127.0.0.1\n';
/** A kubelet pod's search list and ndots (queries-per-poll): appended to a nameserver line. */
export const POD_SEARCH = 'search ns.svc.cluster.local svc.cluster.local cluster.local\noptions ndots:5 timeout:2 attempts:2\n';

const WRAPPER =
  'set -e; ip link set lo up; mount --bind "$BENCH_RESOLV_CONF" /etc/resolv.conf; exec "$@"';

export interface Netns {
  /** Command and arguments that run `command args` inside the namespace. */
  wrap(command: string, args: readonly string[]): { command: string; args: string[]; env: Record<string, string> };
  dispose(): void;
}

/** A namespace wrapper, or the reason there is none. */
export function prepareNetns(resolvConfText = NETNS_RESOLV_CONF): Netns | { unavailable: string } {
  if (process.platform !== 'linux') return { unavailable: 'needs unshare (Linux only)' };
  const probe = spawnSync('unshare', ['--net', '--mount', 'sh', '-c', 'command -v ip >/dev/null && ip link set lo up'], {
    stdio: 'ignore',
    timeout: 10_000,
  });
  if (probe.error || probe.status !== 0) {
    return { unavailable: `needs unshare --net --mount and ip (probe: ${probe.error?.message ?? `exit ${probe.status}`})` };
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'grpc-dns-watch-bench-'));
  const resolvConf = path.join(dir, 'resolv.conf');
  fs.writeFileSync(resolvConf, resolvConfText);
  return {
    wrap: (command, args) => ({
      command: 'unshare',
      args: ['--net', '--mount', '--', 'sh', '-c', WRAPPER, 'sh', command, ...args],
      env: { BENCH_RESOLV_CONF: resolvConf },
    }),
    dispose: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * Inside the worker: check that this really is the private namespace before
 * calling getaddrinfo. Returns null when safe, else why not.
 */
export function verifyInsideNetns(): string | null {
  const outside = notInPrivateNetns();
  if (outside) return outside;
  let text: string;
  try {
    text = fs.readFileSync('/etc/resolv.conf', 'utf8');
  } catch (error) {
    return `cannot read /etc/resolv.conf: ${(error as Error).message}`;
  }
  const servers = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('nameserver'))
    .map((line) => line.split(/\s+/)[1]);
  if (servers.length !== 1 || servers[0] !== '127.0.0.1') return `/etc/resolv.conf names ${servers.join(', ') || 'no server'}, not only 127.0.0.1`;
  return null;
}
