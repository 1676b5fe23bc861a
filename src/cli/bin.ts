/**
 * The `grpc-dns-watch` bin: process streams and signals around main().
 * dist/cli.js (written by the build, see tsup.config.ts) calls
 * {@link runBin} from the one copy of the library the package ships.
 * The process ends by itself: exit code via process.exitCode, no exit() call,
 * so buffered output to a pipe is never cut off — unless a signal's clean
 * stop does not finish within STOP_GRACE_MS, or a second signal comes: then
 * it exits at once with 128 + the signal's number (130 SIGINT, 143 SIGTERM).
 */
import { constants } from 'node:os';
import { main } from './main.js';

/** How long a clean stop may take after SIGINT / SIGTERM before the process exits anyway. */
const STOP_GRACE_MS = 2_000;

/** Run the command in this process, with its arguments, streams and signals. */
export function runBin(): void {
  const controller = new AbortController();
  const signalExitCode = (signal: NodeJS.Signals): number => 128 + (constants.signals[signal] ?? 15);
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(signalExitCode(signal));
    controller.abort(signal);
    // Whatever might still block (a stuck read, a peer that never answers) cannot hold the process past this.
    setTimeout(() => process.exit(signalExitCode(signal)), STOP_GRACE_MS).unref();
  };
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
}
