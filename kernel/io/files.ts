// Reading checkpoint bytes in place: exact positioned reads into caller buffers (never a whole file in memory),
// and the open file descriptors a checkpoint keeps so that the bytes read later come from the same files whose
// headers were validated, even if a path is replaced meanwhile.
import fs from 'node:fs';
import { promisify } from 'node:util';
import { CheckpointFormatError } from '../errors.js';
import type { TensorEntry } from './entry.js';

const fsRead = promisify(fs.read);

/** Fills `dst` with the bytes of `fd` starting at `position`; a short file is a CheckpointFormatError. */
export async function readExact(fd: number, file: string, position: number, dst: Uint8Array, what: string): Promise<void> {
  let done = 0;
  while (done < dst.length) {
    const { bytesRead } = await fsRead(fd, dst, done, dst.length - done, position + done);
    if (bytesRead === 0) {
      throw new CheckpointFormatError(file,
        `the file ends before the end of ${what} (needed bytes up to ${position + dst.length})`, position + done);
    }
    done += bytesRead;
  }
}

/** Reads `length` bytes at `position` into a new buffer (headers and other small structures only). */
export async function readBytes(fd: number, file: string, position: number, length: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  await readExact(fd, file, position, out, what);
  return out;
}

/** File descriptors opened once per checkpoint file and closed together. */
export class OpenFiles {
  private readonly fds = new Map<string, number>();
  private closed = false;

  /** Opens `file` (once) and returns its descriptor. */
  open(file: string): number {
    this.assertOpen(file);
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = fs.openSync(file, 'r');
      this.fds.set(file, fd);
    }
    return fd;
  }

  fd(file: string): number {
    this.assertOpen(file);
    const fd = this.fds.get(file);
    if (fd === undefined) throw new Error(`internal: ${file} was not opened by this checkpoint`);
    return fd;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }

  private assertOpen(file: string): void {
    if (this.closed) throw new CheckpointFormatError(file, 'the checkpoint was closed', undefined, 'Open the checkpoint again before reading tensors.');
  }
}

/** Which open files an entry's bytes come from; entries built elsewhere are read by opening their path. */
const entrySources = new WeakMap<TensorEntry, OpenFiles>();

export function attachSource(entry: TensorEntry, files: OpenFiles): TensorEntry {
  entrySources.set(entry, files);
  return entry;
}

/** Reads bytes [byteOffset, byteOffset + dst.length) of the tensor's data into `dst`. */
export async function readTensorBytes(entry: TensorEntry, byteOffset: number, dst: Uint8Array): Promise<void> {
  if (byteOffset < 0 || byteOffset + dst.length > entry.bytes) {
    throw new RangeError(`read of bytes [${byteOffset}, ${byteOffset + dst.length}) outside tensor ${entry.name} (${entry.bytes} bytes)`);
  }
  const what = `tensor ${entry.name}`;
  const files = entrySources.get(entry);
  if (files) return readExact(files.fd(entry.file), entry.file, entry.offset + byteOffset, dst, what);
  const fd = fs.openSync(entry.file, 'r');
  try {
    await readExact(fd, entry.file, entry.offset + byteOffset, dst, what);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Streams a tensor's bytes through one reused buffer of `chunkBytes`: `into` gets each chunk and the byte offset of
 * its first byte within the tensor, and must be done with the chunk when it returns (or its promise settles).
 */
export async function readChunks(entry: TensorEntry, chunkBytes: number,
  into: (chunk: Uint8Array, byteOffset: number) => void | Promise<void>): Promise<void> {
  if (!(Number.isSafeInteger(chunkBytes) && chunkBytes > 0)) throw new RangeError(`chunkBytes must be a positive integer, got ${chunkBytes}`);
  const buffer = new Uint8Array(Math.min(chunkBytes, Math.max(1, entry.bytes)));
  for (let at = 0; at < entry.bytes; at += buffer.length) {
    const chunk = buffer.subarray(0, Math.min(buffer.length, entry.bytes - at));
    await readTensorBytes(entry, at, chunk);
    await into(chunk, at);
  }
}
