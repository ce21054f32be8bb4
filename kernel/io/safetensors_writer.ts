// Streaming safetensors writer: the tensor list comes first (it fixes the header and every offset), then the
// bytes of each tensor arrive in chunks, in order. The file is written to `<path>.tmp-<pid>` and renamed over
// `path` only when every byte has arrived, so a crash never leaves a half-written checkpoint under its name.
import fs from 'node:fs';
import { promisify } from 'node:util';
import { UsageError } from '../errors.js';
import { fileDtypeBytes, isFileDtype, isValidShape, shapeNumel, type FileDtype } from './entry.js';

const fsWrite = promisify(fs.write);
const fsync = promisify(fs.fsync);

export interface TensorSpec {
  name: string;
  dtype: FileDtype;
  shape: readonly number[];
}

export class SafetensorsWriter {
  /** Bytes of tensor data the file will hold. */
  readonly dataBytes: number;
  private readonly tmpPath: string;
  private readonly ends: number[];
  private fd: number | null;
  private received = 0;
  private position: number;

  private constructor(readonly path: string, private readonly specs: readonly TensorSpec[]) {
    this.tmpPath = `${path}.tmp-${process.pid}`;
    let end = 0;
    this.ends = specs.map((s) => (end += shapeNumel(s.shape) * fileDtypeBytes(s.dtype)));
    this.dataBytes = end;
    this.fd = fs.openSync(this.tmpPath, 'w');
    this.position = 0;
  }

  /** Starts a file holding `tensors` in this order; `metadata` goes to `__metadata__`. */
  static async create(path: string, tensors: readonly TensorSpec[], metadata: Record<string, string> = {}): Promise<SafetensorsWriter> {
    const header = encodeHeader(tensors, metadata);
    const writer = new SafetensorsWriter(path, tensors);
    try {
      await writer.append(header);
    } catch (e) {
      writer.abort();
      throw e;
    }
    return writer;
  }

  /** Tensor bytes received so far. */
  get bytesWritten(): number { return this.received; }

  /** The name of the tensor whose bytes come next (null once all bytes arrived). */
  get currentTensor(): string | null {
    const i = this.ends.findIndex((e) => e > this.received);
    return i < 0 ? null : this.specs[i].name;
  }

  /** Appends the next bytes (a chunk may span tensors). Writing past the last tensor is an error. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.received + chunk.length > this.dataBytes) {
      throw new UsageError(`safetensors writer for ${this.path}: ${this.received + chunk.length} bytes written, the tensors hold ${this.dataBytes}`);
    }
    await this.append(chunk);
    this.received += chunk.length;
  }

  /** Checks that every byte arrived, flushes to disk and renames the file into place. */
  async commit(): Promise<void> {
    try {
      if (this.received !== this.dataBytes) {
        throw new UsageError(`safetensors writer for ${this.path}: ${this.received} of ${this.dataBytes} bytes written (tensor ${this.currentTensor} is incomplete)`);
      }
      const fd = this.openFd();
      await fsync(fd);
      fs.closeSync(fd);
      this.fd = null;
      fs.renameSync(this.tmpPath, this.path);
    } catch (e) {
      this.abort();
      throw e;
    }
  }

  /** Removes the temporary file; the final path is left as it was. Safe to call twice. */
  abort(): void {
    if (this.fd !== null) {
      fs.closeSync(this.fd);
      this.fd = null;
    }
    fs.rmSync(this.tmpPath, { force: true });
  }

  private async append(bytes: Uint8Array): Promise<void> {
    const fd = this.openFd();
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await fsWrite(fd, bytes, done, bytes.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }

  private openFd(): number {
    if (this.fd === null) throw new UsageError(`safetensors writer for ${this.path} is already closed`);
    return this.fd;
  }
}

/**
 * Writes a whole file: `fill(spec, writer)` is called for each tensor in order and writes exactly its bytes.
 * On any error the temporary file is removed and the error rethrown.
 */
export async function writeSafetensors(path: string, tensors: readonly TensorSpec[],
  fill: (spec: TensorSpec, writer: SafetensorsWriter) => Promise<void>, metadata: Record<string, string> = {}): Promise<void> {
  const writer = await SafetensorsWriter.create(path, tensors, metadata);
  try {
    let end = 0;
    for (const spec of tensors) {
      end += shapeNumel(spec.shape) * fileDtypeBytes(spec.dtype);
      const before = writer.bytesWritten;
      await fill(spec, writer);
      if (writer.bytesWritten !== end) {
        throw new UsageError(`safetensors writer for ${path}: tensor ${spec.name} got ${writer.bytesWritten - before} bytes, `
          + `it holds ${end - before}`);
      }
    }
  } catch (e) {
    writer.abort();
    throw e;
  }
  await writer.commit();
}

/** The JSON header, padded with spaces to a multiple of 8 bytes, after its 8-byte little-endian length. */
function encodeHeader(tensors: readonly TensorSpec[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = Object.create(null); // a tensor may be named __proto__
  if (Object.keys(metadata).length) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new UsageError(`safetensors metadata ${k} must be a string`);
    }
    header.__metadata__ = metadata;
  }
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    if (t.name === '__metadata__' || names.has(t.name)) throw new UsageError(`cannot save two tensors named ${t.name}, or one named __metadata__`);
    if (!isFileDtype(t.dtype)) throw new UsageError(`tensor ${t.name}: dtype ${String(t.dtype)} is not BF16, F16 or F32`);
    if (!isValidShape(t.shape)) throw new UsageError(`tensor ${t.name}: invalid shape ${JSON.stringify(t.shape)}`);
    names.add(t.name);
    const bytes = shapeNumel(t.shape) * fileDtypeBytes(t.dtype);
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  const length = Buffer.byteLength(json);
  json += ' '.repeat((8 - (length % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}
