import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { register, unregister } from '../src/index.js';
import { LATE_REGISTER_CODE, liveDnsChannels } from '../src/grpc/late-register.js';
import { GRPC_VERSIONS, loadGrpc } from '../harness/grpc-versions.js';
import { captureWarnings, type CapturedWarnings } from '../harness/warnings.js';

/**
 * Issue 12, item 7: register() after a client exists leaves that client on
 * grpc-js's built-in resolver; grpc-dns-watch says so once, and never about a
 * channel that does use it. Real grpc-js channels (never connected: a channel
 * builds its resolver in its constructor, before any RPC).
 */

interface Channel {
  close(): void;
}

describe.each(GRPC_VERSIONS)('register() after channels exist, with %s', (name) => {
  // Warned about once per module: the silent cases run first.
  let grpc: ReturnType<typeof loadGrpc>;
  const channels: Channel[] = [];
  // Taken from the process's warning event instead of printed: npm test stays quiet.
  let captured: CapturedWarnings;

  const channel = (target: string, options: Record<string, unknown> = {}): Channel => {
    const created = new grpc.Channel(target, grpc.credentials.createInsecure(), options) as Channel;
    channels.push(created);
    return created;
  };
  /** process.emitWarning delivers on the next tick. */
  const settle = () => new Promise((resolve) => setImmediate(resolve));

  beforeEach(() => {
    grpc = loadGrpc(name);
    captured = captureWarnings(LATE_REGISTER_CODE);
  });
  afterEach(() => {
    captured.restore();
    unregister();
    for (const created of channels.splice(0)) created.close();
  });

  // Order matters: the warning is once per module, so the silent cases run first.
  it('says nothing for closed channels, non-dns targets, replaceBuiltin: false, and channels that use grpc-dns-watch', async () => {
    channel('localhost:50051').close();
    channel('ipv4:127.0.0.1:50051');
    channel('unix:/tmp/none.sock');
    // The app asked for the built-in resolver to keep `dns`.
    register({ grpc, replaceBuiltin: false, hostsPath: false });
    channel('dns-watch:svc.test:1');
    unregister();
    register({ grpc, hostsPath: false });
    channel('dns:///svc.test:50051');
    channel('svc.test:50051');
    unregister();
    register({ grpc, hostsPath: false });
    await settle();
    expect(captured.warnings).toEqual([]);
  });

  it('finds the live channels with dns targets, read the way grpc-js reads them', () => {
    const before = liveDnsChannels(grpc);
    expect(before).not.toBeNull();
    channel('localhost:50051');
    channel('dns:///svc.test:50051');
    channel('ipv4:127.0.0.1:1');
    channel('svc.test:1', { 'grpc.enable_channelz': 0 });
    const after = liveDnsChannels(grpc)!;
    expect(after.filter((entry) => !before!.some((old) => old.id === entry.id)).map((entry) => entry.target)).toEqual([
      'localhost:50051',
      'dns:///svc.test:50051',
    ]);
  });

  it('warns once, naming the targets, when channels on the built-in resolver already exist', async () => {
    // One channel with 1.8 (the singular message), two with the others.
    const single = name === 'grpc-js-1.8';
    channel('localhost:50051');
    if (!single) channel('dns:///other.test:443');
    register({ grpc, hostsPath: false });
    await settle();
    expect(captured.warnings.map((warning) => warning.message)).toEqual([
      single
        ? 'grpc-dns-watch: register() ran after a channel to a dns target ("localhost:50051") had been created; ' +
          "it keeps grpc-js's built-in resolver until closed. Call register() before creating clients."
        : 'grpc-dns-watch: register() ran after 2 channels to dns targets ("localhost:50051", "dns:///other.test:443") had been created; ' +
          "they keep grpc-js's built-in resolver until closed. Call register() before creating clients.",
    ]);
    unregister();
    channel('late.test:1');
    register({ grpc, hostsPath: false });
    await settle();
    expect(captured.warnings).toHaveLength(1);
  });
});
