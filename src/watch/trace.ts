/**
 * Where the watcher's trace lines go. The watcher knows nothing of grpc, so
 * the grpc adapter plugs grpc-js's own tracer in here (`src/grpc/trace.ts`);
 * with no sink, tracing costs one null check.
 */
type TraceSink = (text: string) => void;

let sink: TraceSink | null = null;

export function setTraceSink(next: TraceSink | null): void {
  sink = next;
}

export function trace(text: string | (() => string)): void {
  if (sink) sink(typeof text === 'function' ? text() : text);
}

/** Whether a sink is set: hot paths check it before building a message thunk. */
export function tracing(): boolean {
  return sink !== null;
}
