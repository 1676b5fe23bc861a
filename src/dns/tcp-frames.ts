/**
 * Splits a DNS-over-TCP byte stream into messages (each behind a 2-byte
 * length, RFC 1035 §4.2.2), with a cap on the bytes read. Pure: no socket,
 * no timer, so every framing case is a unit test.
 */
export class TcpFrameReader {
  /** Chunks not yet framed, joined only once a whole message is there (a trickling server must not make us copy on every byte). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  private total = 0;

  constructor(readonly maxBytes: number) {}

  /**
   * The messages `chunk` completes, in order (views into buffers this reader
   * owns, so the caller may modify them), or null once more than `maxBytes`
   * have arrived in all.
   */
  push(chunk: Buffer): Buffer[] | null {
    this.total += chunk.length;
    if (this.total > this.maxBytes) return null;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const frames: Buffer[] = [];
    while (this.buffered >= 2) {
      const first = this.chunks[0]!;
      const length = (first.length >= 2 ? first : this.joined()).readUInt16BE(0);
      if (this.buffered < 2 + length) break;
      const all = this.joined();
      frames.push(all.subarray(2, 2 + length));
      const rest = all.subarray(2 + length);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.buffered = rest.length;
    }
    return frames;
  }

  /** Bytes of an unfinished message held. */
  get pendingBytes(): number {
    return this.buffered;
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.total;
  }

  private joined(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0]!;
  }
}

/** `message` behind its 2-byte length, as sent over TCP. */
export function frameMessage(message: Buffer): Buffer {
  const framed = Buffer.allocUnsafe(2 + message.length);
  framed.writeUInt16BE(message.length, 0);
  message.copy(framed, 2);
  return framed;
}
