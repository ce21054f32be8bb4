// The GPU context: one device, its allocator, pipeline cache, activation pool and a command batch that
// records dispatches into one encoder until something needs the results (a readback, a destroy, a sync).
import os from 'node:os';
import { DeviceLostError } from '../errors.js';
import { backendName, chooseAdapter, describeAdapter } from './adapter.js';
import { BindGroupCache, type ParamsBinding } from './bind_groups.js';
import { Allocator, type MemoryTag, type TrackedBuffer } from './allocator.js';
import { PARAM_SLOT_BYTES, type Params } from './params.js';
import { PipelineCache, type Kernel, type KernelSource } from './pipelines.js';
import { BufferPool } from './pool.js';

export interface GpuOptions {
  forceSoftware?: boolean;
  /** Budget for all buffers; default: 80% of host RAM on a software adapter, unknown (null) on a GPU. */
  memoryLimitBytes?: number | null;
  /** Tensors larger than this are split by rows into parts. Default and upper bound: the device's limit
   *  (tests set it small to exercise split tensors). */
  maxBufferBytes?: number;
}

export interface DeviceDescription {
  adapter: string;
  backend: string;
  software: boolean;
  /** Storage accesses bounds-checked by Dawn and the driver (off unless LLMNB_GPU_ROBUSTNESS=on). */
  robustAccess: boolean;
  notice?: string;
  features: string[];
  limits: Record<string, number>;
}

const PARAM_SLOTS = 512;
/** STORAGE | COPY_SRC | COPY_DST, as numbers: the GPUBufferUsage global exists only once dawn-node is loaded. */
export const TENSOR_USAGE = 0x0080 | 0x0004 | 0x0008;

export class Gpu {
  readonly allocator: Allocator;
  readonly pipelines: PipelineCache;
  readonly pool: BufferPool;
  /** Largest tensor part: tensors above it are split by rows. */
  readonly maxBufferBytes: number;
  readonly subgroups: boolean;
  private lostReason: string | null = null;
  /** Validation errors reported by the device since the last check: bugs in llmnb, surfaced at the next sync. */
  private validationErrors: string[] = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private readonly paramArena: TrackedBuffer;
  /** Host copy of the params of the dispatches recorded since the last submit, uploaded once at submit. */
  private readonly paramBytes = new Uint8Array(PARAM_SLOTS * PARAM_SLOT_BYTES);
  private paramSlot = 0;
  private readonly bindGroups: BindGroupCache;
  private dispatches = 0;
  /** Layer that activations created now belong to (set by the model as it walks its layers). */
  activationLayer = 'runtime';
  /** Dispatches recorded since the device opened (tests use it to check batching). */
  dispatchCount = 0;
  submitCount = 0;
  /** Tells the user something the runtime did on its own (the matmul autotune): the session writes it to the running cell, the CLI to stderr. */
  onNotice: (text: string) => void = () => {};

  private constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter,
    readonly software: boolean,
    readonly robustAccess: boolean,
    readonly notice: string | undefined,
    opts: GpuOptions,
  ) {
    const deviceMax = Math.min(device.limits.maxBufferSize, device.limits.maxStorageBufferBindingSize);
    // SwiftShader rejects a buffer of exactly its advertised maximum (1 GiB); stay one page below.
    const bufferMax = deviceMax - 4096;
    this.maxBufferBytes = Math.min(opts.maxBufferBytes ?? Infinity, bufferMax);
    const limit = opts.memoryLimitBytes !== undefined ? opts.memoryLimitBytes
      : software ? Math.floor(os.totalmem() * 0.8) : null;
    this.allocator = new Allocator(device, bufferMax, limit);
    this.pipelines = new PipelineCache(device);
    this.pool = new BufferPool(this);
    this.allocator.reclaim = (needed) => this.pool.trim(needed);
    this.subgroups = device.features.has('subgroups');
    this.bindGroups = new BindGroupCache(device);
    this.paramArena = this.allocator.create(PARAM_SLOTS * PARAM_SLOT_BYTES, 0x0040 | 0x0008 /* UNIFORM | COPY_DST */,
      { layer: 'runtime', tensor: 'dispatch params', kind: 'other' });
    device.onuncapturederror = (e) => {
      if (e.error instanceof GPUOutOfMemoryError) this.lostReason ??= `out of memory: ${e.error.message}`;
      else this.validationErrors.push(e.error.message);
    };
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lostReason = info.message || 'unknown reason';
    });
  }

  static async open(opts: GpuOptions = {}): Promise<Gpu> {
    const choice = await chooseAdapter({ forceSoftware: opts.forceSoftware });
    const a = choice.adapter;
    const requiredFeatures = (['subgroups', 'timestamp-query', 'shader-f16'] as GPUFeatureName[]).filter((f) => a.features.has(f));
    const device = await a.requestDevice({
      requiredFeatures,
      // WebGPU's defaults (256 MiB buffers, 128 MiB bindings) are far below what LLM weights need.
      requiredLimits: {
        maxBufferSize: a.limits.maxBufferSize,
        maxStorageBufferBindingSize: a.limits.maxStorageBufferBindingSize,
        maxComputeWorkgroupStorageSize: a.limits.maxComputeWorkgroupStorageSize,
        maxComputeInvocationsPerWorkgroup: a.limits.maxComputeInvocationsPerWorkgroup,
        maxComputeWorkgroupSizeX: a.limits.maxComputeWorkgroupSizeX,
        maxStorageBuffersPerShaderStage: a.limits.maxStorageBuffersPerShaderStage,
      },
    });
    return new Gpu(device, a, choice.software, choice.robustAccess, choice.notice, opts);
  }

  describe(): DeviceDescription {
    const limits: Record<string, number> = {};
    for (const k of ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize',
      'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupsPerDimension',
      'maxStorageBuffersPerShaderStage'] as const) limits[k] = this.device.limits[k];
    return {
      adapter: describeAdapter(this.adapter.info), backend: backendName(), software: this.software, robustAccess: this.robustAccess,
      notice: this.notice, features: [...this.device.features].sort(), limits,
    };
  }

  /** Throws DeviceLostError if the device was lost (driver reset, out of memory in the driver, ...). */
  checkAlive(): void {
    if (this.lostReason !== null) {
      throw new DeviceLostError(`the GPU device was lost: ${this.lostReason}`,
        'Restart the kernel to get a new device; the model must be loaded again.');
    }
    if (this.validationErrors.length) {
      const first = this.validationErrors[0];
      this.validationErrors = [];
      throw new Error(`internal GPU error (a bug in llmnb, please report it): ${first}`);
    }
  }

  kernel(src: KernelSource): Kernel {
    return this.pipelines.get(src);
  }

  /**
   * Records one compute dispatch. `buffers` bind to 0..n-1 as storage; `params` (if the kernel declares them)
   * bind to n as a uniform. Results are visible to later dispatches and copies in order.
   */
  dispatch(k: Kernel, buffers: GPUBuffer[], params: Params | null, workgroups: readonly [number, number?, number?]): void {
    this.checkAlive();
    if (buffers.length !== k.storageBindings) throw new Error(`${k.name}: expected ${k.storageBindings} buffers, got ${buffers.length}`);
    if (k.hasParams !== (params !== null)) throw new Error(`${k.name}: params ${k.hasParams ? 'required' : 'not declared'}`);
    if (params && this.paramSlot >= PARAM_SLOTS) this.flush();
    let paramsBinding: ParamsBinding | null = null;
    if (params) {
      const offset = this.paramSlot++ * PARAM_SLOT_BYTES;
      const bytes = params.bytes();
      this.paramBytes.set(bytes, offset);
      paramsBinding = { buffer: this.paramArena.buffer, offset, size: bytes.byteLength };
    }
    const group = this.bindGroups.get(k, buffers, paramsBinding);
    const pass = this.computePass();
    pass.setPipeline(k.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1);
    this.dispatchCount++;
    if (++this.dispatches >= 1024) this.flush();
  }

  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.checkAlive();
    this.endPass();
    this.commandEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes);
  }

  clear(buf: GPUBuffer, offset = 0, bytes?: number): void {
    this.checkAlive();
    this.endPass();
    this.commandEncoder().clearBuffer(buf, offset, bytes);
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const cmd = this.encoder.finish();
    this.encoder = null;
    this.dispatches = 0;
    // Queue order: the params land before the commands that read them, and after the previous submit's commands.
    if (this.paramSlot) this.device.queue.writeBuffer(this.paramArena.buffer, 0, this.paramBytes, 0, this.paramSlot * PARAM_SLOT_BYTES);
    this.paramSlot = 0;
    this.device.queue.submit([cmd]);
    this.submitCount++;
  }

  /** Submits and waits until the GPU has finished all submitted work. Yields to the event loop. */
  async sync(): Promise<void> {
    this.flush();
    await this.waitFor(() => this.device.queue.onSubmittedWorkDone());
    this.checkAlive();
  }

  /** Copies `bytes` from `src` at `offset` back to the host. */
  async read(src: GPUBuffer, offset: number, bytes: number, label = 'readback'): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.allocator.create(size, 0x0001 | 0x0008 /* MAP_READ | COPY_DST */,
      { layer: 'runtime', tensor: label, kind: 'staging' });
    try {
      this.copy(src, offset, staging.buffer, 0, size);
      this.flush();
      await this.waitFor(() => staging.buffer.mapAsync(0x0001 /* READ */));
      this.checkAlive();
      const out = staging.buffer.getMappedRange().slice(0, bytes);
      staging.buffer.unmap();
      return out;
    } finally {
      this.allocator.destroy(staging);
    }
  }

  activationTag(tensor: string): MemoryTag {
    return { layer: this.activationLayer, tensor, kind: 'activations' };
  }

  /** Allocates a fresh (zero-filled) buffer for a tensor. */
  createBuffer(bytes: number, tag: MemoryTag): TrackedBuffer {
    return this.allocator.create(bytes, TENSOR_USAGE, tag);
  }

  /** Destroys a buffer after submitting any recorded work that may use it. */
  destroyBuffer(buf: TrackedBuffer): void {
    this.flush();
    this.allocator.destroy(buf);
  }

  destroy(): void {
    this.flush();
    this.device.destroy();
  }

  /** Waits for a GPU promise; on a CPU adapter without busy-polling a core that the shader threads need. */
  waitFor<T>(start: () => Promise<T>): Promise<T> {
    return this.software ? withQuietPolling(start) : start();
  }

  private commandEncoder(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.commandEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) { this.pass.end(); this.pass = null; }
  }
}

/** Splits a 1-D workgroup count over x and y so each stays within the per-dimension limit (65535). */
export function grid(workgroups: number): [number, number] {
  if (workgroups <= 65535) return [Math.max(1, workgroups), 1];
  const y = Math.ceil(workgroups / 65535);
  return [Math.ceil(workgroups / y), y];
}

// dawn-node resolves GPU promises by re-arming the global setImmediate until the work is done, which keeps one CPU
// core spinning for the whole wait. On a CPU adapter (SwiftShader) that core is taken from the shader threads: on
// 2 cores a matmul ran ~1.5x slower. While any wait is pending, the first polls stay immediate (short waits stay
// short) and later ones come once per millisecond.
const IMMEDIATE_POLLS = 32;
let quietWaits = 0;
let originalSetImmediate: typeof setImmediate | null = null;

async function withQuietPolling<T>(start: () => Promise<T>): Promise<T> {
  if (quietWaits++ === 0) {
    const immediate = setImmediate;
    originalSetImmediate = immediate;
    let polls = 0;
    const throttled = (fn: (...args: unknown[]) => void, ...args: unknown[]) =>
      ++polls <= IMMEDIATE_POLLS ? immediate(fn, ...args) : setTimeout(fn, 1, ...args);
    globalThis.setImmediate = throttled as unknown as typeof setImmediate;
  }
  try {
    return await start();
  } finally {
    if (--quietWaits === 0 && originalSetImmediate) {
      globalThis.setImmediate = originalSetImmediate;
      originalSetImmediate = null;
    }
  }
}
