import { cannotAsk, type DnsError } from './errors.js';
import type { QueryType } from './types.js';
import { MAX_ANSWER_RECORDS, announcedAnswers, answersQuery, decodeReply, encodeQuery, questionEnd } from './wire.js';
import type { ReplyPacket } from './fast-wire.js';

/**
 * Answer records decoded per try, over every message that carried our id
 * and question (two full replies' worth). A hostile server can put our id and
 * question on messages built to be slow to decode and fail at the end
 * (label ladders, see docs/hostile-input.md); this bounds the decoding work
 * of one try however many such messages fit in MAX_TCP_BYTES_PER_QUERY
 * (tcp-exchange.ts) or arrive over UDP before the timeout. Past it the try
 * fails with BADRESPONSE.
 */
export const MAX_ANSWERS_DECODED_PER_TRY = 2 * MAX_ANSWER_RECORDS;

/**
 * What one try asked, and what its replies cost so far: all a message is
 * read against. Made for each try, over UDP (extended by the UDP try) and
 * over TCP alike: the query is encoded under the try's id, with an EDNS(0)
 * OPT record advertising `udpPayloadSize` unless it is 0 (TCP). `decoded`
 * counts answer records against {@link MAX_ANSWERS_DECODED_PER_TRY};
 * `defect` says what was wrong with the last message that matched id and
 * question but could not be used.
 */
export class TryQuestion {
  readonly query: Buffer;
  readonly questionEnd: number;
  decoded = 0;
  defect: string | undefined = undefined;

  constructor(
    readonly id: number,
    readonly name: string,
    readonly type: QueryType,
    /** `host:port` of the server asked, for messages. */
    readonly server: string,
    udpPayloadSize: number,
  ) {
    this.query = encodeQuery(id, name, type, udpPayloadSize);
    this.questionEnd = questionEnd(this.query, udpPayloadSize > 0);
  }
}

/**
 * The one reply path of both transports (c-ares' `process_answer()`): a
 * message that reached the try it names (UDP: by id, port and source; TCP:
 * on its connection) is checked for our question, counted against the
 * decode budget and decoded. Returns the reply; null for a message that is
 * not it (another question, or one that would not decode — dropped, not
 * fatal: anyone who guessed id and port could send it, and the genuine reply
 * may still come, so the try's error will say what it was); or the error
 * that ends the try.
 */
export function readReply(
  question: TryQuestion,
  message: Buffer,
  transport: 'UDP' | 'TCP',
  trace: ((line: () => string) => void) | undefined,
): ReplyPacket | DnsError | null {
  if (!answersQuery(message, question.query, question.questionEnd)) return null;
  const announced = announcedAnswers(message);
  question.decoded += Math.min(announced, MAX_ANSWER_RECORDS);
  if (question.decoded > MAX_ANSWERS_DECODED_PER_TRY) {
    return cannotAsk('BADRESPONSE', question.name, question.type, `${question.server} sent more than ${MAX_ANSWERS_DECODED_PER_TRY} answer records over ${transport} without a usable answer`, [
      'MAX_ANSWERS_DECODED_PER_TRY',
    ]);
  }
  const packet = decodeReply(message, question.questionEnd);
  if (typeof packet === 'string') {
    question.defect = packet;
    return null;
  }
  const decoded = packet.answers?.length ?? 0;
  if (announced > decoded && trace) {
    // MAX_ANSWER_RECORDS or MAX_ANSWER_LABELS (wire.ts) cut the answer short.
    const limit = announced > MAX_ANSWER_RECORDS && decoded === MAX_ANSWER_RECORDS ? 'MAX_ANSWER_RECORDS' : 'MAX_ANSWER_LABELS';
    trace(() => `${question.name} ${question.type}: reply holds ${announced} answer records; using the first ${decoded} (${limit})`);
  }
  return packet;
}

/** Why a try that got no usable reply in `timeoutMs` failed: the defect of the last message that had our id, or silence. */
export function unansweredError(question: TryQuestion, transport: 'UDP' | 'TCP', timeoutMs: number): DnsError {
  const over = transport === 'TCP' ? 'TCP ' : '';
  const { name, type, server, defect } = question;
  return defect
    ? cannotAsk('BADRESPONSE', name, type, `${server} sent an unusable ${over}reply: ${defect}`)
    : cannotAsk('TIMEOUT', name, type, `no ${over}reply from ${server} within ${timeoutMs} ms`);
}
