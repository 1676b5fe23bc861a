/**
 * Reading the small system files a stub resolver depends on (resolv.conf,
 * hosts) without ever blocking or growing without bound.
 *
 * `fs.readFile` on a FIFO waits for a writer inside a libuv thread-pool
 * thread forever: nothing can cancel it, and the pending request keeps the
 * process alive. So: stat() first and refuse anything but a regular file
 * (before opening it — opening some devices has effects), open with
 * O_NONBLOCK, then fstat() the open descriptor (the path may have been
 * swapped in between), and read at most `maxBytes`.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';

/** What identifies one version of a file: a change to any of these means "read it again". */
export interface FileIdentity {
  mtimeMs: number;
  ctimeMs: number;
  size: number;
  ino: number;
  dev: number;
}

export interface TextFile {
  text: string;
  identity: FileIdentity;
  /** The file was larger than `maxBytes`: `text` holds its first complete lines only. */
  truncated: boolean;
}

/**
 * A path that is not a regular file, or could not be read; `code` is the
 * errno name or `ENOTREG`, `reason` says it in words ("is a FIFO, not a
 * regular file", "cannot read it (EACCES)"); the message is `path: reason`.
 */
export class FileReadError extends Error {
  override name = 'FileReadError';
  constructor(
    readonly path: string,
    readonly code: string,
    readonly reason: string,
  ) {
    super(`${path}: ${reason}`);
  }
}

function identityOf(st: Stats): FileIdentity {
  return { mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, size: st.size, ino: st.ino, dev: st.dev };
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.size === b.size && a.ino === b.ino && a.dev === b.dev;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function notRegular(path: string, st: Stats): FileReadError {
  const kind = kindOf(st);
  return new FileReadError(path, 'ENOTREG', kind === 'not a regular file' ? kind : `is ${kind}, not a regular file`);
}

function asReadError(path: string, error: unknown): FileReadError {
  if (error instanceof FileReadError) return error;
  const code = (error as NodeJS.ErrnoException)?.code ?? 'EIO';
  return new FileReadError(path, code, `cannot read it (${code})`);
}

/** stat() a path and refuse what is not a regular file, without opening it. */
export async function statRegular(path: string): Promise<FileIdentity> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (error) {
    throw asReadError(path, error);
  }
  if (!st.isFile()) throw notRegular(path, st);
  return identityOf(st);
}

/**
 * Open a regular file for reading without ever blocking on a FIFO or device:
 * stat() first, open with O_NONBLOCK, then fstat() the descriptor (the path
 * may have been swapped in between). The caller closes the handle.
 */
async function openRegular(path: string): Promise<{ handle: FileHandle; stats: Stats }> {
  await statRegular(path);
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    throw asReadError(path, error);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) throw notRegular(path, stats);
    return { handle, stats };
  } catch (error) {
    await handle.close();
    throw asReadError(path, error);
  }
}

/**
 * Read a regular file as UTF-8, at most `maxBytes` of it; past the cap the
 * text ends at the last complete line. Never blocks on a FIFO or device.
 *
 * @throws FileReadError naming the path: `ENOTREG` for a FIFO, device,
 * directory or socket; the errno code for anything else.
 */
export async function readTextFile(path: string, maxBytes: number): Promise<TextFile> {
  const { handle, stats } = await openRegular(path);
  try {
    // One byte more than the cap tells "exactly the cap" from "over it". The
    // size is only a first guess: a file may grow, and some file systems report 0.
    const limit = maxBytes + 1;
    let buffer = Buffer.allocUnsafe(Math.min(Math.max(stats.size + 1, 4096), limit));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length === limit) break;
        const bigger = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit));
        buffer.copy(bigger, 0, 0, length);
        buffer = bigger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    const truncated = length > maxBytes;
    let end = Math.min(length, maxBytes);
    if (truncated) end = buffer.lastIndexOf(0x0a, end - 1) + 1;
    return { text: buffer.toString('utf8', 0, end), identity: identityOf(stats), truncated };
  } catch (error) {
    throw asReadError(path, error);
  } finally {
    await handle.close();
  }
}

/** What {@link readFileInSlices} read: the version, and whether the file went on past the cap. */
interface SlicedRead {
  identity: FileIdentity;
  /** Bytes handed to `onSlice` (at most the cap). */
  bytes: number;
  /** Slices handed to `onSlice`: each one followed by a read, so a turn of the event loop. */
  slices: number;
  truncated: boolean;
}

/**
 * Read a regular file in slices of at most `sliceBytes`, handing each to
 * `onSlice` (a view of one reused buffer, valid until what `onSlice`
 * returns has settled), at most `maxBytes` in all. Never holds more than one
 * slice, and every slice is followed by an asynchronous read, so the event
 * loop runs between two of them: the work per turn is what `onSlice` does
 * with one slice, or less when it spreads a slice over turns (returning a
 * promise). Safe on FIFOs and devices as {@link readTextFile}.
 *
 * @throws FileReadError as {@link readTextFile}.
 */
export async function readFileInSlices(
  path: string,
  maxBytes: number,
  sliceBytes: number,
  onSlice: (slice: Buffer) => void | Promise<void>,
): Promise<SlicedRead> {
  const { handle, stats } = await openRegular(path);
  try {
    // One byte more than the cap tells "exactly the cap" from "over it".
    const buffer = Buffer.allocUnsafe(Math.min(sliceBytes, maxBytes + 1));
    let bytes = 0;
    let slices = 0;
    let truncated = false;
    for (;;) {
      const want = Math.min(buffer.length, maxBytes + 1 - bytes);
      const { bytesRead } = await handle.read(buffer, 0, want, bytes);
      if (bytesRead === 0) break;
      const used = Math.min(bytesRead, maxBytes - bytes);
      if (used > 0) {
        await onSlice(buffer.subarray(0, used));
        slices++;
        bytes += used;
      }
      if (used < bytesRead) {
        truncated = true;
        break;
      }
    }
    return { identity: identityOf(stats), bytes, slices, truncated };
  } catch (error) {
    throw asReadError(path, error);
  } finally {
    await handle.close();
  }
}

/** A value as quoted in a warning: JSON-quoted, at most `max` characters of it (a 100 MB line is never kept). */
export function quoteShort(text: string, max = 80): string {
  return text.length <= max ? JSON.stringify(text) : `${JSON.stringify(text.slice(0, max))}… (${text.length} characters)`;
}

/** Bytes for a message: 64 KiB, 32 MiB. */
export function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} bytes`;
}
