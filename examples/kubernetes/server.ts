/**
 * The "whoami" gRPC server the manifests in this directory run: one pod of
 * the headless Service. Answers
 *  - `demo.Pod/WhoAmI` with its pod name (env POD_NAME, else the host name),
 *    so a client can count which pod served each RPC;
 *  - `grpc.health.v1.Health/Check` with SERVING, for the Kubernetes gRPC
 *    readiness probe (`readinessProbe.grpc`).
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
 * Messages are hand-encoded so the example needs no .proto files: WhoAmI is
 * raw UTF-8 bytes; the health messages are two tiny protobufs (see below).
 */
import { hostname } from 'node:os';
import * as grpc from '@grpc/grpc-js';

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
const HEALTH = { Check: method('/grpc.health.v1.Health/Check') } satisfies grpc.ServiceDefinition;

/**
 * grpc.health.v1: HealthCheckRequest { string service = 1; } and
 * HealthCheckResponse { ServingStatus status = 1; } with SERVING = 1, whose
 * encoding is the two bytes 0x08 0x01. "" (what the probe asks by default)
 * means the whole server; any other service name is NOT_FOUND, as the
 * protocol says for services the server does not know.
 */
const SERVING = Buffer.from([0x08, 0x01]);
function requestedService(request: Buffer): string {
  // Field 1, wire type 2 (0x0a), then a one-byte length: enough for short names.
  if (request.length >= 2 && request[0] === 0x0a) return request.subarray(2, 2 + (request[1] ?? 0)).toString('utf8');
  return '';
}

const server = new grpc.Server();
server.addService(WHO_AM_I, {
  WhoAmI: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => callback(null, Buffer.from(podName, 'utf8')),
});
server.addService(HEALTH, {
  Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) => {
    const service = requestedService(call.request);
    if (service === '') callback(null, SERVING);
    else callback({ code: grpc.status.NOT_FOUND, details: `unknown service "${service}"` });
  },
});

server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
  if (error) {
    process.stderr.write(`whoami: cannot listen on ${host}:${port}: ${error.message}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`whoami ${podName} listening on ${host}:${boundPort}\n`);
});

function shutdown(signal: NodeJS.Signals): void {
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
