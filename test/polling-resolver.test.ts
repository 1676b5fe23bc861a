import diagnosticsChannel from 'node:diagnostics_channel';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { observe, registerPollingResolver, stats, type PollingAnswer, type PollingTarget, type WatchEvent } from '../src/index.js';
import { registry } from '../src/watch/registry.js';
import { DEADLINE_MARGIN_MS } from '../src/watch/schedule.js';
import { setTraceSink } from '../src/watch/trace.js';
import { GRPC_VERSIONS, createResolverFor, grpcVersion, loadGrpc } from '../harness/grpc-versions.js';
import { recordedResolver, recorder, type Recorder } from '../harness/listener-recorder.js';
import { PodFleet, createPodClient, type GrpcLike } from '../harness/pods.js';
import { waitUntil } from '../harness/wait.js';

/**
 * The contract table for a custom source (registerPollingResolver), at the
 * listener of each grpc-js shape (1.8, 1.10, 1.13, 1.14), through grpc-js's
 * own createResolver: what a channel is told for "none" and for "could not
 * ask", one resolve call per poll however many channels share a target,
 * updateResolution() held to minInterval (what was scheduled, read from the
 * poller), a hung resolve aborted at the poll's deadline without stalling
 * the poller or being called twice at once, and unregistering.
 */

const INTERVAL = 100;
const schedule = { refreshInterval: INTERVAL, jitter: 0, backoff: { initial: 50, max: INTERVAL, multiplier: 2 } };

/** A resolve function answering from a script the test changes, recording each call. */
function scripted(initial: PollingAnswer | Error) {
  const state = {
    answer: initial,
    calls: [] as Array<{ target: PollingTarget; signal: AbortSignal }>,
    running: 0,
    overlapped: false,
  };
  const resolve = async (request: { target: PollingTarget; signal: AbortSignal }): Promise<PollingAnswer> => {
    state.calls.push(request);
    if (++state.running > 1) state.overlapped = true;
    try {
      await new Promise((settle) => setImmediate(settle));
      if (state.answer instanceof Error) throw state.answer;
      return state.answer;
    } finally {
      state.running--;
    }
  };
  return { state, resolve };
}

const pods = (...hosts: string[]) => hosts.map((host, index) => ({ host, port: 50_051 + index }));

let scheme = 0;
/** A fresh scheme per test: grpc-js keeps every registration for the life of the process. */
const nextScheme = () => `poll-test-${++scheme}`;

describe.each(GRPC_VERSIONS)('polling resolver on %s', (name) => {
  const grpc = loadGrpc(name);
  const createResolver = createResolverFor(name);
  const cleanups: Array<() => void> = [];
  const open = (target: string, rec: Recorder, channelOptions: Record<string, unknown> = {}) => {
    const resolver = recordedResolver(createResolver, target, rec, channelOptions);
    cleanups.push(() => resolver.destroy());
    return resolver;
  };
  const registerScripted = (resolve: Parameters<typeof registerPollingResolver>[1], options: Parameters<typeof registerPollingResolver>[2] = {}) => {
    const scheme = nextScheme();
    cleanups.push(registerPollingResolver(scheme, resolve, { grpc, ...schedule, ...options }));
    return scheme;
  };

  afterEach(() => {
    for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  });

  it(`(grpc-js ${grpcVersion(name)}) hands over each address with its own port, never synchronously; resolve gets the parsed target`, async () => {
    const { state, resolve } = scripted(pods('127.0.0.2', '::1'));
    const scheme = registerScripted(resolve);
    const rec = recorder(name);
    open(`${scheme}://registry.local/my-svc:8080`, rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first call');
    expect(rec.synchronousCalls).toBe(0);
    expect(rec.calls[0]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.2', port: 50_051 }, { host: '::1', port: 50_052 }] });
    expect(state.calls[0]!.target).toEqual({ scheme, authority: 'registry.local', path: 'my-svc:8080', host: 'my-svc', port: 8080 });
    const file = recorder(name);
    open(`${scheme}:///etc/pods.json`, file).updateResolution();
    await waitUntil(() => state.calls.some((call) => call.target.path === 'etc/pods.json'), 'the file target asked');
    expect(state.calls.find((call) => call.target.path === 'etc/pods.json')!.target).toEqual({ scheme, authority: '', path: 'etc/pods.json' });
  });

  it('none: an empty list is UNAVAILABLE "No addresses", never an empty list; the set coming back is one update', async () => {
    const { state, resolve } = scripted([]);
    const scheme = registerScripted(resolve);
    const rec = recorder(name);
    open(`${scheme}:svc`, rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the error');
    expect(rec.calls[0]).toEqual({ kind: 'error', code: grpc.status.UNAVAILABLE, details: `No addresses for ${scheme}:svc: NODATA: resolve() for ${scheme}:svc returned no addresses` });
    const seen = state.calls.length;
    await waitUntil(() => state.calls.length >= seen + 2, 'two more polls');
    expect(rec.calls).toHaveLength(1);
    state.answer = pods('127.0.0.3');
    await waitUntil(() => rec.calls.length === 2, 'the set');
    expect(rec.calls[1]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.3', port: 50_051 }] });
  });

  it('could not ask: with a last good set nothing is called; with none, UNAVAILABLE with the cause once; bad returns are could-not-ask', async () => {
    const { state, resolve } = scripted(pods('127.0.0.2'));
    const scheme = registerScripted(resolve);
    const rec = recorder(name);
    open(`${scheme}:svc`, rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first set');
    for (const failure of [new Error('registry down'), [{ host: 'pod-1.local', port: 80 }], { addresses: 'nope' }, [{ host: '127.0.0.2', port: 0 }]]) {
      state.answer = failure as PollingAnswer | Error;
      const seen = state.calls.length;
      await waitUntil(() => state.calls.length >= seen + 2, 'two failed polls');
    }
    expect(rec.calls).toHaveLength(1);
    expect(stats().find((entry) => entry.name === `${scheme}:svc`)).toMatchObject({ state: 'addresses', lastError: { code: 'BADRESPONSE' } });

    const fresh = recorder(name);
    const failing = scripted([{ host: '127.0.0.2', port: 70_000 }]);
    const other = registerScripted(failing.resolve);
    open(`${other}:svc`, fresh).updateResolution();
    await waitUntil(() => fresh.calls.length === 1, 'the error');
    expect(fresh.calls[0]).toMatchObject({ kind: 'error', code: grpc.status.UNAVAILABLE });
    expect((fresh.calls[0] as { details: string }).details).toBe(
      `Name resolution failed for ${other}:svc: BADRESPONSE: resolve() for ${other}:svc returned {"host":"127.0.0.2","port":70000} at index 0; ` +
        'accepted: an array of { host, port } (host an IPv4 or IPv6 address, port an integer 1-65535), at most 8192, or { addresses: that array, serviceConfig?: an object or null }',
    );
    // Another bad return: the same failure (its code), no news to the channel.
    failing.state.answer = { addresses: 'nope' } as never;
    const seen = failing.state.calls.length;
    await waitUntil(() => failing.state.calls.length >= seen + 2, 'more failed polls');
    expect(fresh.calls).toHaveLength(1);
    failing.state.answer = pods('127.0.0.4');
    await waitUntil(() => fresh.calls.length === 2, 'recovery');
    expect(fresh.calls[1]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.4', port: 50_051 }] });
  });

  it('shared polls: N channels to one target cost one resolve call per poll, never two at once', async () => {
    const { state, resolve } = scripted(pods('127.0.0.2'));
    const scheme = registerScripted(resolve);
    const recs = Array.from({ length: 5 }, () => recorder(name));
    for (const rec of recs) open(`${scheme}:///svc`, rec).updateResolution();
    await waitUntil(() => recs.every((rec) => rec.calls.length === 1), 'every channel told');
    const shared = () => stats().filter((entry) => entry.name === `${scheme}:///svc`);
    await waitUntil(() => (shared()[0]?.queries ?? 0) >= 5, 'five polls');
    expect(shared()).toHaveLength(1);
    expect(shared()[0]!.subscribers).toBe(5);
    const { queries } = shared()[0]!;
    expect(state.calls.length - queries).toBeGreaterThanOrEqual(0);
    expect(state.calls.length - queries).toBeLessThanOrEqual(1); // a poll may be running as stats() is read
    expect(state.overlapped).toBe(false);
  });

  it('updateResolution() is held to minInterval: the re-poll is scheduled minInterval after the last, and answered with one call', async () => {
    const { state, resolve } = scripted(pods('127.0.0.2'));
    const scheme = registerScripted(resolve, { refreshInterval: 600_000, minInterval: 300_000 });
    const rec = recorder(name);
    const resolver = open(`${scheme}:svc`, rec);
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the first call');
    const before = stats().find((entry) => entry.name === `${scheme}:svc`)!;
    expect(before.nextPollAt!.getTime() - before.lastQueryAt!.getTime()).toBeGreaterThanOrEqual(600_000 - 50);
    for (let i = 0; i < 5; i++) resolver.updateResolution();
    const after = stats().find((entry) => entry.name === `${scheme}:svc`)!;
    expect(after.nextPollAt!.getTime() - after.lastQueryAt!.getTime()).toBeGreaterThanOrEqual(300_000 - 50);
    expect(after.nextPollAt!.getTime() - after.lastQueryAt!.getTime()).toBeLessThanOrEqual(300_000 + 50);
    expect(state.calls).toHaveLength(1);
    expect(rec.synchronousCalls).toBe(0);

    // With the channel's own minInterval of 0, a request is answered by a poll now, with exactly one call.
    const eager = recorder(name);
    const eagerResolver = open(`${scheme}:svc`, eager, { 'grpc-dns-watch.min_interval_ms': 0, 'grpc-dns-watch.refresh_interval_ms': 600_000 });
    eagerResolver.updateResolution();
    await waitUntil(() => eager.calls.length === 1, 'the eager channel told');
    const calls = state.calls.length;
    eagerResolver.updateResolution();
    await waitUntil(() => eager.calls.length === 2, 'the request answered');
    expect(state.calls).toHaveLength(calls + 1);
  });

  it('a hung resolve is aborted at the poll deadline; the poller goes on without calling it twice at once, and drops its late result', async () => {
    let release: ((answer: PollingAnswer) => void) | undefined;
    const calls: AbortSignal[] = [];
    const scheme = registerScripted(({ signal }) => {
      calls.push(signal);
      if (calls.length === 1) return new Promise<PollingAnswer>((resolve) => (release = resolve)); // ignores its signal
      return pods('127.0.0.3');
    });
    const rec = recorder(name);
    open(`${scheme}:svc`, rec).updateResolution();
    await waitUntil(() => rec.calls.length === 1, 'the deadline', 5_000);
    expect(calls[0]!.aborted).toBe(true);
    expect(rec.calls[0]).toMatchObject({ kind: 'error', code: grpc.status.UNAVAILABLE });
    expect((rec.calls[0] as { details: string }).details).toMatch(new RegExp(`^Name resolution failed for ${scheme}:svc: TIMEOUT: No answer for ${scheme}:svc within the poll's deadline`));
    const entry = () => stats().find((candidate) => candidate.name === `${scheme}:svc`)!;
    await waitUntil(() => entry().queries >= 3, 'polls going on meanwhile', 5_000);
    expect(calls).toHaveLength(1);
    expect(entry().lastError?.message).toMatch(/has not returned since a poll gave it up/);
    release!(pods('127.0.0.9'));
    await waitUntil(() => rec.calls.length === 2, 'the next call answers', 5_000);
    expect(calls).toHaveLength(2);
    expect(rec.calls[1]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.3', port: 50_051 }] });
    expect(rec.calls.some((call) => call.kind === 'addresses' && call.list.some((address) => address.host === '127.0.0.9'))).toBe(false);
    expect(DEADLINE_MARGIN_MS).toBeGreaterThan(INTERVAL);
  });

  it('the last channel closing stops the poller and aborts a resolve in flight; events and stats name the target', async () => {
    const events: WatchEvent[] = [];
    cleanups.push(observe((event) => events.push(event)));
    const signals: AbortSignal[] = [];
    const scheme = registerScripted(({ signal }) => {
      signals.push(signal);
      return signals.length === 1 ? pods('127.0.0.2') : new Promise<PollingAnswer>(() => {});
    });
    const rec = recorder(name);
    const resolver = open(`${scheme}:svc`, rec);
    resolver.updateResolution();
    await waitUntil(() => rec.calls.length === 1 && signals.length === 2, 'a second poll running');
    expect(events).toContainEqual({ type: 'update', name: `${scheme}:svc`, addresses: ['127.0.0.2:50051'], added: ['127.0.0.2:50051'], removed: [] });
    expect(events).toContainEqual(expect.objectContaining({ type: 'query', name: `${scheme}:svc`, result: 'NOERROR', addresses: 1 }));
    const watchers = registry.size.watchers;
    resolver.destroy();
    expect(signals[1]!.aborted).toBe(true);
    expect(registry.size.watchers).toBe(watchers - 1);
    expect(stats().some((entry) => entry.name === `${scheme}:svc`)).toBe(false);
  });

  it('per-channel overrides: another schedule is another poller; DNS-only channel options are refused by name', () => {
    const { resolve } = scripted(pods('127.0.0.2'));
    const scheme = registerScripted(resolve);
    const rec = recorder(name);
    open(`${scheme}:svc`, rec).updateResolution();
    open(`${scheme}:svc`, recorder(name), { 'grpc-dns-watch.refresh_interval_ms': 60_000 }).updateResolution();
    expect(stats().filter((entry) => entry.name === `${scheme}:svc`)).toHaveLength(2);
    expect(() => open(`${scheme}:svc`, recorder(name), { 'grpc-dns-watch.family': 4 })).toThrow(
      `Channel option "grpc-dns-watch.family" does not apply to the polling resolver of scheme "${scheme}"; accepted: grpc-dns-watch.refresh_interval_ms, grpc-dns-watch.min_interval_ms, grpc-dns-watch.jitter`,
    );
  });

  it('unregister: a scheme that had no resolver tells new channels so; one that had is given back; existing channels keep theirs', async () => {
    const first = scripted(pods('127.0.0.2'));
    const scheme = nextScheme();
    const undoFirst = registerPollingResolver(scheme, first.resolve, { grpc, ...schedule });
    const kept = recorder(name);
    open(`${scheme}:svc`, kept).updateResolution();
    await waitUntil(() => kept.calls.length === 1, 'a channel of the first registration');
    const second = scripted(pods('127.0.0.7'));
    const undoSecond = registerPollingResolver(scheme, second.resolve, { grpc, ...schedule });
    undoSecond();
    const back = recorder(name);
    open(`${scheme}:svc`, back).updateResolution();
    await waitUntil(() => back.calls.length === 1, 'the first registration again');
    expect(back.calls[0]).toEqual({ kind: 'addresses', list: [{ host: '127.0.0.2', port: 50_051 }] });
    expect(second.state.calls).toHaveLength(0);
    undoFirst();
    undoFirst();
    const gone = recorder(name);
    open(`${scheme}:svc`, gone).updateResolution();
    await waitUntil(() => gone.calls.length === 1, 'the error');
    expect(gone.calls[0]).toEqual({ kind: 'error', code: grpc.status.UNAVAILABLE, details: `No resolver for ${scheme}:svc: the polling resolver of scheme "${scheme}" was unregistered` });
    // The channels made before keep polling their function.
    const seen = first.state.calls.length;
    await waitUntil(() => first.state.calls.length > seen, 'the old channel still polled');
  });
});

describe.each(GRPC_VERSIONS)('a polling resolver\'s service config and a real channel on %s', (name) => {
  const grpc = loadGrpc(name);
  let fleet: PodFleet;
  beforeAll(async () => {
    fleet = await PodFleet.create({ pods: 2, firstHost: 40 });
  });
  afterAll(async () => {
    await fleet.close();
  });

  it(`(grpc-js ${grpcVersion(name)}) round_robin from resolve spreads RPCs over every pod, not with grpc.service_config_disable_resolution: 1; the config alone going back to none is delivered`, async () => {
    let serviceConfig: object | null = { loadBalancingConfig: [{ round_robin: {} }] };
    const scheme = nextScheme();
    const undo = registerPollingResolver(scheme, () => ({ addresses: fleet.addresses.map((host) => ({ host, port: fleet.port })), serviceConfig }), { grpc, ...schedule });
    const client = createPodClient(`${scheme}:pods`, { grpc: grpc as unknown as GrpcLike, roundRobin: false });
    try {
      await client.waitUntil((byPod) => fleet.addresses.every((host) => (byPod.get(host) ?? 0) > 0), { timeoutMs: 10_000 });
      // grpc.service_config_disable_resolution: 1 keeps the channel's own (none: pick_first, one pod).
      const own = createPodClient(`${scheme}:pods`, { grpc: grpc as unknown as GrpcLike, roundRobin: false, channelOptions: { 'grpc.service_config_disable_resolution': 1 } });
      try {
        const window = await own.burst(20);
        expect(window.failed).toBe(0);
        expect(window.byPod.size).toBe(1);
      } finally {
        own.close();
      }
      // Same addresses, no config: grpc-js goes back to the channel's default, pick_first, one pod.
      serviceConfig = null;
      await client.waitUntil((byPod, window) => byPod.size === 1 && window.failed === 0, { timeoutMs: 10_000 });
    } finally {
      client.close();
      undo();
    }
  });
});

describe('a polling resolver in traces and on diagnostics_channel', () => {
  it('trace lines and the update event name the target', async () => {
    const grpc = loadGrpc('@grpc/grpc-js');
    const createResolver = createResolverFor('@grpc/grpc-js');
    const scheme = nextScheme();
    const undo = registerPollingResolver(scheme, () => pods('127.0.0.2'), { grpc, ...schedule });
    const lines: string[] = [];
    const updates: unknown[] = [];
    const onUpdate = (message: unknown) => updates.push(message);
    // After registering: register…() points the sink at grpc-js's tracer, off here (no GRPC_TRACE).
    setTraceSink((line) => lines.push(line));
    diagnosticsChannel.subscribe('grpc-dns-watch:update', onUpdate);
    const rec = recorder('@grpc/grpc-js');
    const resolver = recordedResolver(createResolver, `${scheme}:svc`, rec);
    try {
      resolver.updateResolution();
      await waitUntil(() => rec.calls.length === 1, 'the first call');
      expect(lines).toContain(`resolver created for ${scheme}:svc`);
      expect(lines).toContain(`${scheme}:svc: query (family 0)`);
      expect(lines.some((line) => line.startsWith(`${scheme}:svc: 1 addresses in `))).toBe(true);
      expect(updates).toContainEqual({ type: 'update', name: `${scheme}:svc`, addresses: ['127.0.0.2:50051'], added: ['127.0.0.2:50051'], removed: [] });
    } finally {
      resolver.destroy();
      diagnosticsChannel.unsubscribe('grpc-dns-watch:update', onUpdate);
      setTraceSink(null);
      undo();
    }
  });
});

describe('registerPollingResolver() arguments', () => {
  it('refuses dns and dns-watch, a bad scheme, a resolve that is no function and options that do not apply, naming what is accepted', () => {
    const resolve = () => pods('127.0.0.2');
    expect(() => registerPollingResolver('dns', resolve)).toThrow(
      'registerPollingResolver() cannot take the scheme "dns": "dns" and "dns-watch" are register()\'s; accepted: any other URI scheme, e.g. "file" or "consul"',
    );
    expect(() => registerPollingResolver('DNS-Watch', resolve)).toThrow(/cannot take the scheme "DNS-Watch"/);
    expect(() => registerPollingResolver('9file', resolve)).toThrow(
      'registerPollingResolver() scheme must be a URI scheme (a letter, then letters, digits, "+", "-" or "."), got "9file"',
    );
    expect(() => registerPollingResolver('file', 'nope' as never)).toThrow(/needs a function resolve\(\{ target, signal \}\) returning \[\{ host, port \}\], got string/);
    expect(() => registerPollingResolver('file', resolve, { family: 4 } as never)).toThrow(
      'Option "family" does not apply to registerPollingResolver(); accepted: refreshInterval, minInterval, jitter, backoff, grpc',
    );
    expect(() => registerPollingResolver('file', resolve, { refreshInterval: -1 })).toThrow(/Option "refreshInterval" must be/);
  });
});
