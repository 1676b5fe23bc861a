#!/usr/bin/env node
/**
 * The `grpc-dns-watch` bin: process streams and signals around main().
 * The process ends by itself: exit code via process.exitCode, no exit() call,
 * so buffered output to a pipe is never cut off.
 */
import { main } from './cli/main.js';

const controller = new AbortController();
const onSignal = (signal: NodeJS.Signals): void => controller.abort(signal);
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);
// `grpc-dns-watch my-svc | head -3`: a closed pipe ends the command quietly.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') controller.abort('EPIPE');
  else throw error;
});

void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: controller.signal })
  .then((code) => {
    process.exitCode = code;
  })
  .finally(() => {
    // A second Ctrl-C after this point gets Node's default: immediate exit.
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  });
