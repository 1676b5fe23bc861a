import net from 'node:net';
import { DnsError, closedError } from './errors.js';
import { readReply, unansweredError, type TryQuestion } from './reply-reader.js';
import { TcpFrameReader, frameMessage } from './tcp-frames.js';
import type { Timers } from './timers.js';
import type { Nameserver } from './types.js';
import type { ReplyPacket } from './wire.js';

/** Largest DNS message over TCP: the 2-byte length prefix of RFC 1035 §4.2.2. */
export const MAX_TCP_MESSAGE_SIZE = 65_535;
/**
 * Bytes read on one TCP connection before giving up without our answer: two
 * maximum-size framed messages. A server sends one reply per query; the slack
 * allows stray messages while bounding what a hostile server can make us
 * buffer and decode (the try's timeout bounds the time).
 */
export const MAX_TCP_BYTES_PER_QUERY = 2 * (2 + MAX_TCP_MESSAGE_SIZE);

export interface TcpSettings {
  timeoutMs: number;
  timers: Timers;
  trace: ((line: () => string) => void) | undefined;
  /** Open connections, so the client can destroy them on close(). */
  sockets: Set<net.Socket>;
  /** Whether the client is closing: a connection closed then ends the try as CLOSED. */
  closing(): boolean;
  /** Called once when the try ends, however it ends (before `outcome` settles): release its id here. */
  ended(): void;
}

/** One question asked over TCP, on a connection of its own (after a truncated UDP reply). */
export interface TcpTry {
  /** The validated reply, the error that ended the try, or null when it was dropped. */
  readonly outcome: Promise<ReplyPacket | DnsError | null>;
  /** When the query was written, on the client's clock (NaN before): a reply's latency runs from here. */
  readonly sentAt: number;
  /** End the try now (its query was given up): the connection is destroyed, `outcome` is null. */
  drop(): void;
}

/** Ask `server` the `question` (encoded without EDNS) over TCP, within `settings.timeoutMs`. */
export function askOverTcp(server: Nameserver, question: TryQuestion, settings: TcpSettings): TcpTry {
  const { timers, sockets } = settings;
  const socket = net.connect({ host: server.host, port: server.port });
  sockets.add(socket);
  const reader = new TcpFrameReader(MAX_TCP_BYTES_PER_QUERY);
  let finish!: (outcome: ReplyPacket | DnsError | null) => void;
  const tcp = {
    sentAt: NaN,
    outcome: new Promise<ReplyPacket | DnsError | null>((resolve) => {
      let done = false;
      finish = (outcome) => {
        if (done) return;
        done = true;
        timers.clearTimeout(timer);
        sockets.delete(socket);
        socket.destroy();
        settings.ended();
        resolve(outcome);
      };
    }),
    drop: () => finish(null),
  };
  const timer = timers.setTimeout(() => finish(unansweredError(question, 'TCP', settings.timeoutMs)), settings.timeoutMs);
  socket.on('connect', () => {
    tcp.sentAt = timers.now();
    socket.write(frameMessage(question.query));
  });
  socket.on('data', (chunk: Buffer) => {
    const frames = reader.push(chunk);
    if (!frames) {
      finish(
        new DnsError(
          'BADRESPONSE',
          question.name,
          `${question.server} sent more than ${MAX_TCP_BYTES_PER_QUERY} bytes over TCP without answering ${question.name} ${question.type}`,
        ),
      );
      return;
    }
    // A server may send several messages on one connection; read until ours.
    for (const frame of frames) {
      const read = readReply(question, frame, 'TCP', settings.trace);
      if (read) {
        finish(read);
        return;
      }
    }
  });
  socket.on('error', (error) => {
    finish(new DnsError('NETWORK', question.name, `TCP to ${question.server} failed: ${error.message}`, { cause: error }));
  });
  socket.on('close', () => {
    const { name, type, defect } = question;
    finish(
      settings.closing()
        ? closedError(name)
        : new DnsError(
            'BADRESPONSE',
            name,
            `${question.server} closed the TCP connection before answering ${name} ${type}${defect ? ` (it sent an unusable reply: ${defect})` : ''}`,
          ),
    );
  });
  return tcp;
}
