/**
 * The "whoami" gRPC server the manifests in this directory run: one pod of
 * the headless Service. Answers
 *  - `demo.Pod/WhoAmI` with its pod name (env POD_NAME, else the host name),
 *    so a client can count which pod served each RPC;
 *  - the standard health service `grpc.health.v1.Health` (Check, Watch,
 *    List) from the `grpc-health-check` package, SERVING for the whole
 *    server (""), for the Kubernetes gRPC readiness probe
 *    (`readinessProbe.grpc`); any other service name is NOT_FOUND.
 * On SIGTERM (sent after the preStop hook) it stops accepting connections,
 * lets in-flight RPCs finish (server.tryShutdown, which sends GOAWAY) and
 * exits; after SHUTDOWN_GRACE_MS it force-closes what is left.
 *
 *   node --import tsx examples/kubernetes/server.ts
 *
 * env  HOST               address to bind (default 0.0.0.0; `[::]` for IPv6 / dual stack)
 *      PORT               default 50051 (0: any free port)
 *      POD_NAME           what WhoAmI answers (the Deployment sets it from metadata.name)
 *      SHUTDOWN_GRACE_MS  longest wait for in-flight RPCs after SIGTERM (default 10000)
 *
 * WhoAmI's messages are raw UTF-8 bytes, so the example needs no .proto file
 * of its own.
 */
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';

const host = process.env.HOST || '0.0.0.0';
const port = Number(process.env.PORT ?? 50051);
const podName = process.env.POD_NAME || hostname();
const shutdownGraceMs = Number(process.env.SHUTDOWN_GRACE_MS ?? 10_000);

const raw = (value: Buffer): Buffer => value;
const method = (path: string) =>
  ({
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: raw,
    requestDeserialize: raw,
    responseSerialize: raw,
    responseDeserialize: raw,
  }) as const;

const WHO_AM_I = { WhoAmI: method('/demo.Pod/WhoAmI') } satisfies grpc.ServiceDefinition;

/** "" is what the kubelet's probe asks by default: the server as a whole. */
const health = new HealthImplementation({ '': 'SERVING' });
const server = new grpc.Server();
server.addService(WHO_AM_I, {
  WhoAmI: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from(podName, 'utf8')),
});
health.addToServer(server);

server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
  if (error) {
    process.stderr.write(`whoami: cannot listen on ${host}:${port}: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`whoami ${podName} listening on ${host}:${boundPort}\n`);
});

function shutdown(signal: NodeJS.Signals): void {
  // A probe that still gets through while draining sees the pod as not ready.
  health.setStatus('', 'NOT_SERVING');
  process.stdout.write(`whoami ${podName}: ${signal}, draining (at most ${shutdownGraceMs} ms)\n`);
  const force = setTimeout(() => {
    process.stdout.write(`whoami ${podName}: grace over, closing remaining connections\n`);
    server.forceShutdown();
  }, shutdownGraceMs);
  force.unref();
  server.tryShutdown(() => {
    clearTimeout(force);
    process.stdout.write(`whoami ${podName}: stopped\n`);
  });
}
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
