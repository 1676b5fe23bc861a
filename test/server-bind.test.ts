import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { observe, register, stats, unregister, type WatchEvent } from '../src/index.js';
import { registry } from '../src/watch/registry.js';
import { GRPC_VERSIONS, loadGrpc, type GrpcModule } from '../harness/grpc-versions.js';
import { POD_SERVICE, createPodClient, type GrpcLike, type PodClient } from '../harness/pods.js';
import { unusedUdpPort } from '../harness/resolver-helpers.js';
import { waitUntil } from '../harness/wait.js';

/**
 * Issue 16: with register() in effect, Server.bindAsync() resolves its address
 * through grpc-dns-watch. Real servers bind port 0 on every address form,
 * clients in the same process reach them through `dns:` targets, and a bind
 * leaves nothing behind: no watcher, no stub resolver (so no socket), and
 * stats() lists only the clients' watchers.
 */

const HOSTS = ['127.0.0.1 localhost', '::1 localhost', '127.0.0.1 bind-v4.test', '::1 bind-v6.test', '127.0.0.7 bind-name.test', ''].join('\n');

let dir: string;
let hostsPath: string;
/** A loopback port nothing answers on: no query may ever reach the machine's nameserver. */
let deadNameserver: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dns-watch-bind-'));
  hostsPath = path.join(dir, 'hosts');
  await writeFile(hostsPath, HOSTS);
  deadNameserver = `127.0.0.1:${await unusedUdpPort()}`;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Server = InstanceType<GrpcModule['Server']>;

function bind(grpc: GrpcModule, address: string, label: string): Promise<{ server: Server; port: number }> {
  const server = new grpc.Server();
  server.addService(POD_SERVICE, { WhoAmI: (_call: unknown, callback: (error: null, reply: Buffer) => void) => callback(null, Buffer.from(label)) });
  return new Promise((resolve, reject) => {
    server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (error, port) => {
      if (error) {
        server.forceShutdown();
        reject(error);
        return;
      }
      // grpc-js < 1.10 serves only after start(); later versions deprecate it.
      const legacy = server as unknown as { unbind?: unknown; start?: () => void };
      if (typeof legacy.unbind !== 'function') legacy.start?.();
      resolve({ server, port });
    });
  });
}

describe.each(GRPC_VERSIONS)('servers bind through grpc-dns-watch with %s', (name) => {
  const grpc = loadGrpc(name);
  const servers: Server[] = [];
  const clients: PodClient[] = [];

  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
    for (const server of servers.splice(0)) server.forceShutdown();
    unregister();
  });

  it('binds localhost:0, 0.0.0.0:0, [::]:0, [::1]:0 and a hosts-file name; clients reach each; only client watchers remain', async () => {
    register({ grpc, hostsPath, nameservers: [deadNameserver], timeout: 200, attempts: 1 });
    const binds: Array<[address: string, label: string, clientTarget: (port: number) => string]> = [
      ['localhost:0', 'localhost', (port) => `dns:localhost:${port}`],
      ['0.0.0.0:0', 'any-v4', (port) => `dns:bind-v4.test:${port}`],
      ['[::]:0', 'any-v6', (port) => `dns:///bind-v6.test:${port}`],
      ['[::1]:0', 'loopback-v6', (port) => `dns:[::1]:${port}`],
      ['dns:bind-name.test:0', 'hosts-name', (port) => `dns:///bind-name.test:${port}`],
    ];
    const bound: Array<{ label: string; target: string }> = [];
    const queries: string[] = [];
    const stopObserving = observe((event: WatchEvent) => {
      if (event.type === 'query') queries.push(event.name);
    });
    try {
      for (const [address, label, clientTarget] of binds) {
        const { server, port } = await bind(grpc, address, label);
        servers.push(server);
        expect(port, address).toBeGreaterThan(0);
        bound.push({ label, target: clientTarget(port) });
      }
      // A bind's resolution leaves no watcher and no stub resolver (its sockets) behind.
      await waitUntil(() => registry.size.watchers === 0 && registry.size.resolvers === 0, 'the binds released their watchers');
    } finally {
      stopObserving();
    }
    expect(stats()).toEqual([]);
    // Names are looked up once per bind; IP literals never.
    expect(queries.sort()).toEqual(['bind-name.test', 'localhost']);

    for (const { label, target } of bound) {
      const client = createPodClient(target, { grpc: grpc as unknown as GrpcLike });
      clients.push(client);
      expect(await client.whoAmI(5_000), target).toBe(label);
    }
    // The clients' names, and only them: the literal [::1] is never watched.
    expect(stats().map((watcher) => watcher.name).sort()).toEqual(['bind-name.test', 'bind-v4.test', 'bind-v6.test', 'localhost']);
    expect(stats().every((watcher) => watcher.subscribers === 1)).toBe(true);
  });

  it('a bind beside a channel watching the same name leaves the channel its watcher', async () => {
    register({ grpc, hostsPath, nameservers: [deadNameserver], timeout: 200, attempts: 1 });
    const first = await bind(grpc, 'bind-name.test:0', 'first');
    servers.push(first.server);
    const client = createPodClient(`dns:bind-name.test:${first.port}`, { grpc: grpc as unknown as GrpcLike });
    clients.push(client);
    expect(await client.whoAmI(5_000)).toBe('first');
    const second = await bind(grpc, 'bind-name.test:0', 'second');
    servers.push(second.server);
    await waitUntil(() => stats().length === 1 && stats()[0]!.subscribers === 1, 'the second bind left the shared watcher');
    expect(stats()[0]!.name).toBe('bind-name.test');
  });

  it('a bind to a name DNS cannot resolve fails with the resolution error and leaves nothing', async () => {
    register({ grpc, hostsPath, nameservers: [deadNameserver], timeout: 100, attempts: 1, backoff: { initial: 50, max: 50 } });
    await expect(bind(grpc, 'nowhere.test:0', 'never')).rejects.toThrow(/nowhere\.test/);
    await waitUntil(() => registry.size.watchers === 0 && registry.size.resolvers === 0, 'the failed bind released its watcher');
  });

  it('with replaceBuiltin: false, a dns-watch: bind resolves once through grpc-dns-watch', async () => {
    register({ grpc, replaceBuiltin: false, hostsPath, nameservers: [deadNameserver], timeout: 200, attempts: 1 });
    const { server, port } = await bind(grpc, 'dns-watch:bind-name.test:0', 'watch-scheme');
    servers.push(server);
    expect(port).toBeGreaterThan(0);
    await waitUntil(() => registry.size.watchers === 0, 'the bind released its watcher');
    const client = createPodClient(`dns-watch:bind-name.test:${port}`, { grpc: grpc as unknown as GrpcLike });
    clients.push(client);
    expect(await client.whoAmI(5_000)).toBe('watch-scheme');
  });

  it('unregister() puts Server.prototype.bindAsync back', () => {
    // Compared by identity, never called: read as a plain property.
    const bindAsync = (): unknown => Reflect.get(grpc.Server.prototype, 'bindAsync');
    const original = bindAsync();
    register({ grpc });
    expect(bindAsync()).not.toBe(original);
    unregister();
    expect(bindAsync()).toBe(original);
  });
});
