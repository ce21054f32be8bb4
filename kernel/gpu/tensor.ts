// Tensors: a shape, a dtype and GPU storage. bf16 is stored packed, two elements per u32 (element i in the
// low half of word i/2 when i is even), and widened to f32 in WGSL. A tensor larger than the device's
// maximum buffer is split by rows (dim 0) into parts; each part is its own buffer.
import { types } from 'node:util';
import { ShapeMismatchError } from '../errors.js';
import type { MemoryTag, TrackedBuffer } from './allocator.js';
import { bf16ArrayToF32, f32ArrayToBf16 } from './bf16.js';
import type { Gpu } from './context.js';

/** Floating-point storage of weights and activations. */
export type DType = 'f32' | 'bf16';
export const DTYPES: readonly DType[] = ['f32', 'bf16'];
/** Tensors also hold u32 indices (token ids, labels, positions). */
export type TensorDType = DType | 'u32';

export function dtypeBytes(d: TensorDType): number {
  return d === 'bf16' ? 2 : 4;
}

export interface TensorPart {
  readonly buf: TrackedBuffer;
  /** First row (index along dim 0) stored in this part. */
  readonly rowStart: number;
  readonly rows: number;
}

type Ownership = 'owned' | 'pooled' | 'view';

export class Tensor {
  private disposed = false;

  private constructor(
    readonly gpu: Gpu,
    readonly shape: readonly number[],
    readonly dtype: TensorDType,
    readonly parts: readonly TensorPart[],
    private readonly ownership: Ownership,
    /** For a view: the tensor that owns the storage. */
    private readonly base: Tensor | null = null,
  ) {}

  /**
   * Allocates zero-filled storage of its own (weights, grads, optimizer state), split by rows when larger
   * than the device's maximum buffer.
   */
  static alloc(gpu: Gpu, shape: readonly number[], dtype: TensorDType, tag: MemoryTag): Tensor {
    const plan = planParts(shape, dtype, gpu.maxBufferBytes);
    const parts = plan.map((p) => ({ ...p, buf: gpu.createBuffer(p.bytes, tag) }));
    return new Tensor(gpu, [...shape], dtype, parts, 'owned');
  }

  /** A short-lived tensor from the activation pool; contents undefined until an op writes it. */
  static scratch(gpu: Gpu, shape: readonly number[], tag: MemoryTag, dtype: TensorDType = 'f32'): Tensor {
    const bytes = numelOf(shape) * dtypeBytes(dtype);
    const buf = gpu.pool.acquire(bytes, tag);
    return new Tensor(gpu, [...shape], dtype, [{ buf, rowStart: 0, rows: shape[0] ?? 1 }], 'pooled');
  }

  get numel(): number { return numelOf(this.shape); }
  /** Bytes of the elements themselves (buffers are padded to 4 bytes). */
  get bytes(): number { return this.numel * dtypeBytes(this.dtype); }
  get isDisposed(): boolean { return this.disposed || (this.base?.isDisposed ?? false); }

  /** The single buffer of an unsplit tensor. Ops that cannot handle split tensors call this. */
  get buffer(): GPUBuffer {
    this.assertAlive();
    if (this.parts.length !== 1) throw new Error(`tensor ${JSON.stringify(this.shape)} is split into ${this.parts.length} buffers`);
    return this.parts[0].buf.buffer;
  }

  /**
   * The same storage seen with another shape of the same number of elements. The storage is shared: disposing
   * either the view or the tensor releases it (so `op(x).reshape(s)` can be kept and disposed as one).
   */
  reshape(shape: readonly number[]): Tensor {
    this.assertAlive();
    if (numelOf(shape) !== this.numel) throw new ShapeMismatchError(`cannot reshape ${fmtShape(this.shape)} to ${fmtShape(shape)}`);
    if (this.parts.length !== 1) throw new Error('cannot reshape a split tensor');
    return new Tensor(this.gpu, [...shape], this.dtype, [{ ...this.parts[0], rows: shape[0] ?? 1 }], 'view', this.base ?? this);
  }

  /** Releases the storage (back to the pool for scratch tensors). Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.ownership === 'view') {
      this.base!.dispose();
      return;
    }
    for (const p of this.parts) {
      if (this.ownership === 'pooled') this.gpu.pool.release(p.buf);
      else this.gpu.destroyBuffer(p.buf);
    }
  }

  /** Reads the values back as f32 (bf16 widened exactly). */
  async read(): Promise<Float32Array> {
    this.assertAlive();
    if (this.dtype === 'u32') return Float32Array.from(await this.readRaw());
    const out = new Float32Array(this.numel);
    const rowElems = this.numel / Math.max(1, this.shape[0] ?? 1);
    for (const p of this.parts) {
      const n = p.rows * rowElems;
      const bytes = await this.gpu.read(p.buf.buffer, 0, n * dtypeBytes(this.dtype));
      const at = p.rowStart * rowElems;
      if (this.dtype === 'f32') out.set(new Float32Array(bytes), at);
      else bf16ArrayToF32(new Uint16Array(bytes), out.subarray(at, at + n));
    }
    return out;
  }

  /** Reads the stored values as they are: Float32Array (f32), bf16 bit patterns (bf16), Uint32Array (u32). */
  async readRaw(): Promise<Float32Array | Uint16Array | Uint32Array> {
    this.assertAlive();
    const Ctor = this.dtype === 'f32' ? Float32Array : this.dtype === 'bf16' ? Uint16Array : Uint32Array;
    const out = new Ctor(this.numel);
    const rowElems = this.numel / Math.max(1, this.shape[0] ?? 1);
    for (const p of this.parts) {
      const bytes = await this.gpu.read(p.buf.buffer, 0, p.rows * rowElems * dtypeBytes(this.dtype));
      out.set(new Ctor(bytes), p.rowStart * rowElems);
    }
    return out;
  }

  /**
   * Writes all elements: f32 values (rounded to nearest even for a bf16 tensor), bf16 bit patterns (Uint16Array)
   * for a bf16 tensor, or indices (Uint32Array) for a u32 tensor.
   */
  write(data: Float32Array | Uint16Array | Uint32Array): void {
    this.assertAlive();
    if (data.length !== this.numel) throw new ShapeMismatchError(`write of ${data.length} values into ${fmtShape(this.shape)} (${this.numel})`);
    const expected = { f32: 'Float32Array', bf16: 'Float32Array or Uint16Array (bf16 bits)', u32: 'Uint32Array' }[this.dtype];
    let raw: Float32Array | Uint16Array | Uint32Array;
    // util.types, not instanceof: notebook cells build their typed arrays in their own realm (vm context).
    if (this.dtype === 'bf16' && types.isFloat32Array(data)) raw = f32ArrayToBf16(data);
    else if ((this.dtype === 'f32' && types.isFloat32Array(data)) || (this.dtype === 'bf16' && types.isUint16Array(data))
      || (this.dtype === 'u32' && types.isUint32Array(data))) raw = data;
    else throw new TypeError(`${this.dtype} tensor written with a ${data.constructor.name}; expected ${expected}`);
    const rowElems = this.numel / Math.max(1, this.shape[0] ?? 1);
    for (const p of this.parts) {
      const slice = raw.subarray(p.rowStart * rowElems, (p.rowStart + p.rows) * rowElems);
      writePadded(this.gpu, p.buf.buffer, 0, slice);
    }
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)})`;
  }

  private assertAlive(): void {
    if (this.isDisposed) throw new Error(`use of a disposed tensor ${fmtShape(this.shape)}`);
  }
}

/**
 * Writes host data into a buffer, ordered after all work recorded so far: queue.writeBuffer runs before any
 * command buffer submitted later, so recorded work is submitted first (a pooled buffer may still be read by it).
 * queue.writeBuffer needs a multiple of 4 bytes; an odd count of bf16 values gets one zero pad element.
 */
export function writePadded(gpu: Gpu, buffer: GPUBuffer, offset: number, data: Float32Array | Uint16Array | Uint32Array): void {
  gpu.flush();
  if (data.byteLength % 4 === 0) {
    gpu.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
    return;
  }
  const padded = new Uint16Array(data.length + 1);
  padded.set(data);
  gpu.device.queue.writeBuffer(buffer, offset, padded.buffer, 0, padded.byteLength);
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** How a tensor of `shape` is split by rows so that no part exceeds `maxBytes`. */
export function planParts(shape: readonly number[], dtype: TensorDType, maxBytes: number): { rowStart: number; rows: number; bytes: number }[] {
  const rows = shape[0] ?? 1;
  const rowElems = numelOf(shape) / Math.max(1, rows);
  const rowBytes = rowElems * dtypeBytes(dtype);
  const total = rows * rowBytes;
  if (total <= maxBytes || rows <= 1) return [{ rowStart: 0, rows, bytes: total }];
  let perPart = Math.floor(maxBytes / rowBytes);
  // bf16 rows with an odd element count: keep every part starting on a u32 boundary.
  if (dtype === 'bf16' && rowElems % 2 === 1) perPart -= perPart % 2;
  if (perPart < 1) throw new ShapeMismatchError(`one row of ${fmtShape(shape)} (${rowBytes} bytes) exceeds the device's maximum buffer (${maxBytes} bytes)`);
  const parts = [];
  for (let r = 0; r < rows; r += perPart) {
    const n = Math.min(perPart, rows - r);
    parts.push({ rowStart: r, rows: n, bytes: n * rowBytes });
  }
  return parts;
}

/** The tensor's dtype, checked to be a floating-point one (ops that read weights call this). */
export function floatDtype(t: Tensor, what: string): DType {
  if (t.dtype === 'u32') throw new TypeError(`${what}: expected an f32 or bf16 tensor, got u32`);
  return t.dtype;
}
