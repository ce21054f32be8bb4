// One model parameter: its HF name, shape and storage dtype are always known; its GPU storage exists only once
// allocated (an "empty" model has none), so memory can be planned before anything is spent.
import { inspect } from 'node:util';
import type { Gpu } from '../gpu/context.js';
import { formatBytes } from '../gpu/format.js';
import { Tensor, dtypeBytes, fmtShape, numelOf, planParts, type DType } from '../gpu/tensor.js';

export interface ParameterInfo {
  name: string;
  dtype: DType;
  shape: number[];
  /** Bytes of the elements (what the allocator accounts, up to 4-byte padding of odd bf16 counts). */
  bytes: number;
  kind: 'weights';
  layer: string;
  trainable: boolean;
  resident: boolean;
}

export class Parameter {
  private storage: Tensor | null = null;
  trainable = false;

  constructor(
    readonly gpu: Gpu,
    readonly name: string,
    readonly shape: readonly number[],
    readonly dtype: DType,
    readonly layer: string,
  ) {}

  get numel(): number { return numelOf(this.shape); }
  get bytes(): number { return this.numel * dtypeBytes(this.dtype); }
  /** Bytes the allocator will account once allocated (each part padded to 4 bytes). */
  get allocatedBytes(): number {
    return planParts(this.shape, this.dtype, this.gpu.maxBufferBytes).reduce((s, p) => s + Math.max(4, Math.ceil(p.bytes / 4) * 4), 0);
  }
  get resident(): boolean { return this.storage !== null; }

  /** The GPU tensor; throws a clear error for a parameter of an empty model that was never loaded. */
  get tensor(): Tensor {
    if (!this.storage) {
      throw new Error(`${this.name} is not loaded (empty model): load weights first, e.g. %load_inplace PATH`);
    }
    return this.storage;
  }

  /** Allocates zero-filled storage if there is none; returns it. */
  allocate(): Tensor {
    this.storage ??= Tensor.alloc(this.gpu, this.shape, this.dtype, { layer: this.layer, tensor: this.name, kind: 'weights' });
    return this.storage;
  }

  /** Releases the GPU storage; the parameter keeps its name, shape and dtype. */
  free(): void {
    this.storage?.dispose();
    this.storage = null;
  }

  info(): ParameterInfo {
    return {
      name: this.name, dtype: this.dtype, shape: [...this.shape], bytes: this.bytes, kind: 'weights',
      layer: this.layer, trainable: this.trainable, resident: this.resident,
    };
  }

  /** Values as f32 (bf16 widened exactly). */
  read(): Promise<Float32Array> {
    return this.tensor.read();
  }

  toString(): string {
    return `Parameter(${this.name}, ${this.dtype}, ${fmtShape(this.shape)}, ${formatBytes(this.bytes)}, ` +
      `${this.trainable ? 'trainable' : 'frozen'}, ${this.resident ? 'on GPU' : 'not loaded'})`;
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
