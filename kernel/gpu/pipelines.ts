// Pipeline cache: each distinct WGSL source is compiled once per device. Large register-tiled kernels take
// seconds to compile on SwiftShader, so nothing compiles a shader anywhere else.

export interface Kernel {
  readonly name: string;
  readonly pipeline: GPUComputePipeline;
  /** The pipeline's bind group layout, asked for once (each call makes a new object). */
  readonly layout: GPUBindGroupLayout;
  /** Number of storage buffers bound before the (optional) uniform params at the next binding. */
  readonly storageBindings: number;
  readonly hasParams: boolean;
}

export interface KernelSource {
  /** Unique per distinct WGSL (include every template parameter). */
  key: string;
  wgsl: () => string;
  storageBindings: number;
  hasParams: boolean;
}

export class PipelineCache {
  private readonly kernels = new Map<string, Kernel>();
  private readonly pending = new Map<string, Promise<Kernel>>();

  constructor(private readonly device: GPUDevice) {}

  get size(): number { return this.kernels.size; }

  /** Returns the compiled kernel, compiling synchronously on first use. */
  get(src: KernelSource): Kernel {
    const hit = this.kernels.get(src.key);
    if (hit) return hit;
    const module = this.device.createShaderModule({ code: src.wgsl(), label: src.key });
    const pipeline = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: src.key });
    return this.remember(src, pipeline);
  }

  /** Compiles in the background (e.g. while weights load); `get` then finds it ready. */
  prepare(src: KernelSource): Promise<Kernel> {
    const hit = this.kernels.get(src.key);
    if (hit) return Promise.resolve(hit);
    let p = this.pending.get(src.key);
    if (!p) {
      const module = this.device.createShaderModule({ code: src.wgsl(), label: src.key });
      p = this.device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: src.key })
        .then((pipeline) => this.kernels.get(src.key) ?? this.remember(src, pipeline))
        .finally(() => this.pending.delete(src.key));
      this.pending.set(src.key, p);
    }
    return p;
  }

  private remember(src: KernelSource, pipeline: GPUComputePipeline): Kernel {
    const k: Kernel = { name: src.key, pipeline, layout: pipeline.getBindGroupLayout(0), storageBindings: src.storageBindings, hasParams: src.hasParams };
    this.kernels.set(src.key, k);
    return k;
  }
}
