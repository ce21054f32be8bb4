// Gradient L2 norms and clipping as torch.nn.utils.clip_grad_norm_ (norm_type 2): the norm of each gradient, the
// total norm sqrt(sum_i norm_i^2), and clip_coef = max_norm / (total + 1e-6) clamped to at most 1, all on the GPU
// so that AdamW can read the coefficient without a readback. Barrier-free reductions in three dispatches:
//   1. squares: per tensor part, P invocations each sum a strided run of g^2 (element k, k + P, k + 2P, ...);
//   2. norms:   one invocation per tensor adds its partial sums and takes the square root;
//   3. total:   one invocation adds the squared norms, takes the root and forms the clip coefficient.
import type { Gpu } from '../gpu/context.js';
import type { MemoryTag } from '../gpu/allocator.js';
import { Params } from '../gpu/params.js';
import { Tensor } from '../gpu/tensor.js';
import { UsageError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from '../ops/elementwise.js';
import { LINEAR_WORKGROUP } from '../ops/wgsl.js';

/** Partial sums for a part of n elements: about sqrt(n) of them, each over about sqrt(n) elements (at least 64). */
export function partialCount(n: number): number {
  return n === 0 ? 0 : Math.min(Math.ceil(n / 64), Math.ceil(Math.sqrt(n)));
}

const SQUARES = {
  key: 'grad_norm/squares',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;
struct P { n: u32, count: u32, out_offset: u32 }
@group(0) @binding(2) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.count) { return; }
  var acc = 0.0;
  for (var e = i; e < p.n; e += p.count) { acc = fma(g[e], g[e], acc); }
  partial[p.out_offset + i] = acc;
}
`,
};

const NORMS = {
  key: 'grad_norm/norms',
  storageBindings: 3,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read> starts: array<u32>;  // [N + 1] first partial of each tensor
@group(0) @binding(2) var<storage, read_write> norms: array<f32>;
struct P { tensors: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.tensors) { return; }
  var acc = 0.0;
  for (var k = starts[i]; k < starts[i + 1u]; k++) { acc += partial[k]; }
  norms[i] = sqrt(acc);
}
`,
};

const TOTAL = {
  key: 'grad_norm/total',
  storageBindings: 3,
  hasParams: true,
  wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> norms: array<f32>;
@group(0) @binding(1) var<storage, read_write> total: array<f32>;  // [1]
@group(0) @binding(2) var<storage, read_write> scale: array<f32>;  // [1]
struct P { tensors: u32, clip: u32, max_norm: f32 }
@group(0) @binding(3) var<uniform> p: P;

@compute @workgroup_size(1)
fn main() {
  var acc = 0.0;
  for (var t = 0u; t < p.tensors; t++) { acc = fma(norms[t], norms[t], acc); }
  let norm = sqrt(acc);
  total[0] = norm;
  // PyTorch forms max_norm / (total + 1e-6) as reciprocal(total + 1e-6) * max_norm.
  scale[0] = select(1.0, min(p.max_norm * (1.0 / (norm + 1e-6)), 1.0), p.clip != 0u);
}
`,
};

export interface GradNormValues {
  /** L2 norm of each gradient, in the order given. */
  perTensor: Float32Array;
  total: number;
  /** The factor gradients are multiplied by (1 when not clipping or when the norm is within max_norm). */
  clipScale: number;
}

/** Norms on the GPU; dispose when the step is done. */
export class GradNorms {
  constructor(
    /** [N] f32: the L2 norm of each gradient. */
    readonly perTensor: Tensor,
    /** [1] f32: sqrt(sum of perTensor^2). */
    readonly total: Tensor,
    /** [1] f32: min(1, maxNorm / (total + 1e-6)), or 1 without maxNorm; pass to adamwStep as gradScale. */
    readonly clipScale: Tensor,
  ) {}

  /** Reads all three back (a sync: do it only when the values are logged). */
  async read(): Promise<GradNormValues> {
    const [perTensor, total, clipScale] = await Promise.all([this.perTensor.read(), this.total.read(), this.clipScale.read()]);
    return { perTensor, total: total[0], clipScale: clipScale[0] };
  }

  dispose(): void {
    this.perTensor.dispose();
    this.total.dispose();
    this.clipScale.dispose();
  }
}

const tag = (tensor: string): MemoryTag => ({ layer: 'runtime', tensor, kind: 'grads' });

/**
 * Norms of f32 gradients (split tensors allowed) and, when maxNorm is given, the clip coefficient of
 * torch.nn.utils.clip_grad_norm_(max_norm). Records GPU work only.
 */
export function gradNorms(gpu: Gpu, grads: readonly Tensor[], opts: { maxNorm?: number } = {}): GradNorms {
  if (grads.length === 0) throw new UsageError('gradNorms: no gradients given', 'Mark at least one parameter trainable.');
  const { maxNorm } = opts;
  if (maxNorm !== undefined && !(maxNorm > 0 && Number.isFinite(maxNorm))) {
    throw new UsageError(`gradient clipping max norm must be > 0 and finite, got ${maxNorm}`, 'Use e.g. --clip 1.0, or leave clipping off.');
  }
  grads.forEach((g, i) => requireF32(g, `gradNorms gradient ${i}`));
  // Partial sums of every part of every tensor, laid out tensor after tensor.
  const plan: { buffer: GPUBuffer; n: number; count: number; offset: number }[] = [];
  const starts = new Uint32Array(grads.length + 1);
  let offset = 0;
  grads.forEach((g, t) => {
    starts[t] = offset;
    const rowElems = g.numel / Math.max(1, g.shape[0] ?? 1);
    for (const part of g.parts) {
      const n = part.rows * rowElems;
      const count = partialCount(n);
      if (count > 0) plan.push({ buffer: part.buf.buffer, n, count, offset });
      offset += count;
    }
  });
  starts[grads.length] = offset;
  const partial = Tensor.scratch(gpu, [Math.max(1, offset)], tag('gradient norm partial sums'));
  const startsT = Tensor.scratch(gpu, [grads.length + 1], tag('gradient norm offsets'), 'u32');
  startsT.write(starts);
  const perTensor = Tensor.scratch(gpu, [grads.length], tag('gradient norms'));
  const total = Tensor.scratch(gpu, [1], tag('gradient total norm'));
  const clipScale = Tensor.scratch(gpu, [1], tag('gradient clip scale'));
  const squares = gpu.kernel(SQUARES);
  for (const s of plan) {
    gpu.dispatch(squares, [s.buffer, partial.buffer], new Params().u32(s.n).u32(s.count).u32(s.offset), elementGrid(s.count));
  }
  gpu.dispatch(gpu.kernel(NORMS), [partial.buffer, startsT.buffer, perTensor.buffer], new Params().u32(grads.length), elementGrid(grads.length));
  gpu.dispatch(gpu.kernel(TOTAL), [perTensor.buffer, total.buffer, clipScale.buffer],
    new Params().u32(grads.length).u32(maxNorm === undefined ? 0 : 1).f32(maxNorm ?? 0), [1]);
  partial.dispose();
  startsT.dispose();
  return new GradNorms(perTensor, total, clipScale);
}
