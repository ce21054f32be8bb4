// Streaming one checkpoint tensor from disk into an existing GPU tensor through ONE bounded staging buffer:
// map it for writing, read the file bytes straight into the mapped range, convert in place if asked, unmap,
// then copy into the destination part(s) at the right offsets. Host memory stays at zero beyond the mapped
// chunk; GPU memory grows by the staging buffer only (tagged kind 'staging').
import { DtypeMismatchError, ShapeMismatchError, UsageError } from '../errors.js';
import type { TrackedBuffer } from '../gpu/allocator.js';
import type { Gpu } from '../gpu/context.js';
import { dtypeBytes, fmtShape, type Tensor } from '../gpu/tensor.js';
import { conversionFor, convertInPlace } from './convert.js';
import { downloadThrough } from './download.js';
import { fileDtypeBytes, shapeNumel, type TensorEntry } from './entry.js';
import { readTensorBytes } from './files.js';
import { partSegments } from './parts.js';

const MAP_READ = 0x0001;
const MAP_WRITE = 0x0002;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const MAP_MODE_WRITE = 0x0002;

export interface UploadOptions {
  /** Convert the file dtype to the tensor's dtype (F32 -> bf16 rounds to nearest even). Without it they must match. */
  cast: boolean;
  /** Called after each chunk with the file bytes of this tensor done so far. */
  onBytes?: (fileBytesDone: number) => void;
}

export class StagingArea {
  /** Bytes of each staging buffer (a multiple of 8, so chunks hold whole, even element counts). */
  readonly chunkBytes: number;
  private writeBuffer: TrackedBuffer | null = null;
  private readBuffer: TrackedBuffer | null = null;

  constructor(readonly gpu: Gpu, chunkBytes: number) {
    if (!(chunkBytes >= 8)) throw new UsageError(`staging chunk of ${chunkBytes} bytes is too small (at least 8)`);
    this.chunkBytes = Math.min(Math.floor(chunkBytes / 8) * 8, Math.floor(gpu.maxBufferBytes / 8) * 8);
  }

  /**
   * Copies the tensor `entry` from its file into `dst` (same shape). If the read fails midway (a truncated file),
   * `dst` holds a mix of old and new values: callers that must keep it intact validate and load into a fresh tensor.
   */
  async upload(entry: TensorEntry, dst: Tensor, opts: UploadOptions): Promise<void> {
    if (dst.isDisposed) throw new UsageError(`upload of ${entry.name} into a disposed tensor`);
    if (entry.shape.length !== dst.shape.length || entry.shape.some((d, i) => d !== dst.shape[i])) {
      throw new ShapeMismatchError(`${entry.name}: the checkpoint has shape ${fmtShape(entry.shape)}, the model expects ${fmtShape(dst.shape)}`);
    }
    const conversion = conversionFor(entry.dtype, dst.dtype);
    if (conversion === null || (conversion !== 'copy' && !opts.cast)) {
      throw new DtypeMismatchError(`${entry.name}: the checkpoint stores ${entry.dtype}, the model holds ${dst.dtype}`,
        conversion === null ? `${entry.dtype} cannot be converted to ${dst.dtype}.` : 'Load with --dtype-cast to convert while loading.');
    }
    const srcBytes = fileDtypeBytes(entry.dtype);
    const dstBytes = dtypeBytes(dst.dtype);
    const numel = shapeNumel(entry.shape);
    if (entry.bytes !== numel * srcBytes) throw new UsageError(`${entry.name}: entry holds ${entry.bytes} bytes, not ${numel} x ${srcBytes}`);
    const perChunk = this.chunkBytes / Math.max(srcBytes, dstBytes); // even: chunkBytes is a multiple of 8
    const staging = this.stagingForWrite();
    for (let first = 0; first < numel; first += perChunk) {
      const n = Math.min(perChunk, numel - first);
      const outBytes = n * dstBytes;
      const copyBytes = Math.ceil(outBytes / 4) * 4;
      await staging.buffer.mapAsync(MAP_MODE_WRITE);
      try {
        const mapped = staging.buffer.getMappedRange();
        await readTensorBytes(entry, first * srcBytes, new Uint8Array(mapped, 0, n * srcBytes));
        convertInPlace(conversion, mapped, n);
        new Uint8Array(mapped, outBytes, copyBytes - outBytes).fill(0); // an odd bf16 count: zero the pad half-word
      } finally {
        staging.buffer.unmap();
      }
      const start = first * dstBytes;
      for (const s of partSegments(dst, start, start + copyBytes)) this.gpu.copy(staging.buffer, s.rangeOffset, s.buffer, s.partOffset, s.bytes);
      this.gpu.flush();
      opts.onBytes?.((first + n) * srcBytes);
    }
  }

  /**
   * Streams the raw bytes of `src` (its own dtype, little-endian) to `sink` in chunks through one MAP_READ staging
   * buffer. A chunk is valid only until the sink returns (or its promise settles).
   */
  async download(src: Tensor, sink: (chunk: Uint8Array) => Promise<void> | void): Promise<void> {
    if (src.isDisposed) throw new UsageError('download of a disposed tensor');
    this.readBuffer ??= this.gpu.allocator.create(this.chunkBytes, MAP_READ | COPY_DST,
      { layer: 'runtime', tensor: 'staging chunk (download)', kind: 'staging' });
    await downloadThrough(this.gpu, this.readBuffer.buffer, this.chunkBytes, src, sink);
  }

  /** Releases the staging buffers (after the copies already submitted). */
  dispose(): void {
    for (const b of [this.writeBuffer, this.readBuffer]) if (b) this.gpu.destroyBuffer(b);
    this.writeBuffer = this.readBuffer = null;
  }

  private stagingForWrite(): TrackedBuffer {
    this.writeBuffer ??= this.gpu.allocator.create(this.chunkBytes, MAP_WRITE | COPY_SRC,
      { layer: 'runtime', tensor: 'staging chunk (upload)', kind: 'staging' });
    return this.writeBuffer;
  }
}
