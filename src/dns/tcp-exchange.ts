import net from 'node:net';
import { DnsError, cannotAsk, closedError, idsExhausted, socketError } from './errors.js';
import type { IdPool } from './id-pool.js';
import { TryQuestion, readReply, unansweredError } from './reply-reader.js';
import { TcpFrameReader, frameMessage } from './tcp-frames.js';
import type { TimerHandle, Timers } from './timers.js';
import type { Nameserver, QueryType } from './types.js';
import type { ReplyPacket } from './fast-wire.js';

/** Largest DNS message over TCP: the 2-byte length prefix of RFC 1035 §4.2.2. */
export const MAX_TCP_MESSAGE_SIZE = 65_535;
/**
 * Bytes read on one TCP connection before giving up without our answer: two
 * maximum-size framed messages. A server sends one reply per query; the slack
 * allows stray messages while bounding what a hostile server can make us
 * buffer and decode (the try's timeout bounds the time).
 */
export const MAX_TCP_BYTES_PER_QUERY = 2 * (2 + MAX_TCP_MESSAGE_SIZE);

interface TcpSettings {
  /** The client's query ids: the try takes one and gives it back when it ends. */
  ids: IdPool;
  timeoutMs: number;
  timers: Timers;
  trace: ((line: () => string) => void) | undefined;
  /** Open connections, so the client can destroy them on close(). */
  sockets: Set<net.Socket>;
  /** Whether the client is closing: a connection closed then ends the try as CLOSED. */
  closing(): boolean;
}

/** One question asked over TCP, on a connection of its own (after a truncated UDP reply). */
interface TcpTry {
  /** The validated reply, the error that ended the try, or null when it was dropped. */
  readonly outcome: Promise<ReplyPacket | DnsError | null>;
  /** When the query was written, on the client's clock (NaN before): a reply's latency runs from here. */
  readonly sentAt: number;
  /** End the try now (its query was given up): the connection is destroyed, `outcome` is null. */
  drop(): void;
}

/**
 * Ask `server` (`label` in messages) for `name`/`type` over TCP, without
 * EDNS, within `settings.timeoutMs`; an error at once when every query id
 * is in use.
 */
export function askOverTcp(server: Nameserver, label: string, name: string, type: QueryType, settings: TcpSettings): TcpTry | DnsError {
  const id = settings.ids.take();
  if (id === undefined) return idsExhausted(name, type);
  const question = new TryQuestion(id, name, type, label, 0);
  const socket = net.connect({ host: server.host, port: server.port });
  settings.sockets.add(socket);
  const tcp = new TcpExchange(question, socket, settings);
  socket.on('connect', () => tcp.send());
  socket.on('data', (chunk: Buffer) => tcp.read(chunk));
  socket.on('error', (error) => {
    tcp.finish(socketError(name, type, label, 'TCP', error));
  });
  socket.on('close', () => tcp.finish(settings.closing() ? closedError(name) : closedBeforeAnswer(question)));
  return tcp;
}

/** One TCP try while it runs: settled once, releasing its id, timer and connection. */
class TcpExchange implements TcpTry {
  readonly outcome: Promise<ReplyPacket | DnsError | null>;
  sentAt = NaN;
  private resolve!: (outcome: ReplyPacket | DnsError | null) => void;
  private done = false;
  private readonly reader = new TcpFrameReader(MAX_TCP_BYTES_PER_QUERY);
  private readonly timer: TimerHandle;

  constructor(
    private readonly question: TryQuestion,
    private readonly socket: net.Socket,
    private readonly settings: TcpSettings,
  ) {
    this.outcome = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.timer = settings.timers.setTimeout(() => this.finish(unansweredError(question, 'TCP', settings.timeoutMs)), settings.timeoutMs);
  }

  drop(): void {
    this.finish(null);
  }

  send(): void {
    this.sentAt = this.settings.timers.now();
    this.socket.write(frameMessage(this.question.query));
  }

  /** Bytes from the server: a server may send several messages on one connection; read until ours. */
  read(chunk: Buffer): void {
    const frames = this.reader.push(chunk);
    if (!frames) {
      const { name, type, server } = this.question;
      this.finish(cannotAsk('BADRESPONSE', name, type, `${server} sent more than ${MAX_TCP_BYTES_PER_QUERY} bytes over TCP without an answer`));
      return;
    }
    for (const frame of frames) {
      const read = readReply(this.question, frame, 'TCP', this.settings.trace);
      if (read) {
        this.finish(read);
        return;
      }
    }
  }

  finish(outcome: ReplyPacket | DnsError | null): void {
    if (this.done) return;
    this.done = true;
    const { settings, socket } = this;
    settings.timers.clearTimeout(this.timer);
    settings.sockets.delete(socket);
    socket.destroy();
    settings.ids.release(this.question.id);
    this.resolve(outcome);
  }
}

/** The server closed the connection without our answer (after an unusable reply, if any). */
function closedBeforeAnswer({ name, type, server, defect }: TryQuestion): DnsError {
  const cause = defect ? `${server} closed the TCP connection after an unusable reply: ${defect}` : `${server} closed the TCP connection before answering`;
  return cannotAsk('BADRESPONSE', name, type, cause);
}
