// AdamW as PyTorch's torch.optim.AdamW (single-tensor path, amsgrad off, maximize off), with f32 master weights:
//   p  = p * (1 - lr * wd)                         decoupled weight decay, first
//   m  = lerp(m, g, 1 - beta1)                     ATen's lerp: m + w (g - m) when w < 0.5, else g - (g - m)(1 - w)
//   v  = v * beta2 + ((1 - beta2) * g) * g         mul_ then addcmul_
//   p  = p + (-step_size * m) / (sqrt(v) / sqrt(bc2) + eps)     addcdiv_ with value = -step_size
// with bc1 = 1 - beta1^t, bc2 = 1 - beta2^t, step_size = lr / bc1 computed on the host in float64 (PyTorch's Python
// floats) and handed to the kernel as f32 (ATen casts scalars to the tensor's f32 opmath type); all tensor
// arithmetic is f32. g is the gradient times an optional clip scale read from the GPU (no readback).
// A bf16 parameter keeps an f32 master copy: the kernel updates master, m and v and re-rounds the bf16 working copy
// to nearest even; an f32 parameter is its own master. Tensors split into parts are updated segment by segment.
import type { Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape, type TensorPart } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError, UsageError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from '../ops/elementwise.js';
import { BF16, LINEAR_WORKGROUP } from '../ops/wgsl.js';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** PyTorch's defaults except weight decay, which chapter 6 sets to 0.1. */
export const ADAMW_DEFAULTS: Omit<AdamWConfig, 'lr'> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };

/** Throws a UsageError for values torch.optim.AdamW rejects. */
export function checkAdamWConfig(c: AdamWConfig): void {
  const bad = (what: string, v: number, rule: string, hint: string) => {
    throw new UsageError(`AdamW ${what} must be ${rule}, got ${v}`, hint);
  };
  if (!(c.lr >= 0) || !Number.isFinite(c.lr)) bad('learning rate', c.lr, '>= 0 and finite', 'Use e.g. --lr 5e-5.');
  if (!(c.beta1 >= 0 && c.beta1 < 1)) bad('beta1', c.beta1, 'in [0, 1)', 'The usual value is 0.9.');
  if (!(c.beta2 >= 0 && c.beta2 < 1)) bad('beta2', c.beta2, 'in [0, 1)', 'The usual value is 0.999.');
  if (!(c.eps >= 0) || !Number.isFinite(c.eps)) bad('eps', c.eps, '>= 0 and finite', 'The usual value is 1e-8.');
  if (!(c.weightDecay >= 0) || !Number.isFinite(c.weightDecay)) bad('weight decay', c.weightDecay, '>= 0 and finite', 'Use e.g. --weight-decay 0.1, or 0 to disable it.');
}

/** Optimizer state of one trainable parameter: f32 master copy (bf16 parameters only), first and second moments. */
export class AdamWState {
  private constructor(
    readonly name: string,
    readonly shape: readonly number[],
    /** f32 master weights of a bf16 parameter; null for an f32 parameter (it is its own master). */
    readonly master: Tensor | null,
    /** exp_avg: [shape] f32 */
    readonly m: Tensor,
    /** exp_avg_sq: [shape] f32 */
    readonly v: Tensor,
  ) {}

  /**
   * Allocates the state of one trainable parameter (tagged kind 'optimizer' in the parameter's layer): zero moments
   * and, for a bf16 parameter, a master copy initialised on the GPU to the parameter's current values, widened.
   */
  static create(gpu: Gpu, param: { tensor: Tensor; name: string; layer: string }): AdamWState {
    const p = param.tensor;
    if (p.dtype === 'u32') throw new DtypeMismatchError(`AdamW: ${param.name} is a u32 tensor and cannot be trained`);
    const tag = (what: string) => ({ layer: param.layer, tensor: `${param.name}:${what}`, kind: 'optimizer' as const });
    const m = Tensor.alloc(gpu, p.shape, 'f32', tag('exp_avg'));
    const v = Tensor.alloc(gpu, p.shape, 'f32', tag('exp_avg_sq'));
    let master: Tensor | null = null;
    if (p.dtype === 'bf16') {
      master = Tensor.alloc(gpu, p.shape, 'f32', tag('master'));
      for (const s of segments([p, master])) {
        const [src, dst] = s.at;
        const vec4 = inGroupsOf4(s);
        const g = vec4 ? 4 : 1;
        gpu.dispatch(gpu.kernel(widenSource(vec4)), [src.buffer, dst.buffer],
          new Params().u32(s.n / g).u32(src.offset / g).u32(dst.offset / g), elementGrid(s.n / g));
      }
    }
    return new AdamWState(param.name, [...p.shape], master, m, v);
  }

  /** Bytes the allocator accounts for this state. */
  get bytes(): number {
    return [this.master, this.m, this.v].reduce((sum, t) => sum + (t ? t.parts.reduce((s, p) => s + p.buf.bytes, 0) : 0), 0);
  }

  dispose(): void {
    this.master?.dispose();
    this.m.dispose();
    this.v.dispose();
  }
}

/**
 * One AdamW step (t = `step`, counted from 1) on `param` with `grad` (f32, same shape), optionally scaled by
 * gradScale[0] (a [1] f32 tensor, e.g. the clip coefficient from gradNorms). Records GPU work only.
 */
export function adamwStep(gpu: Gpu, state: AdamWState, param: Tensor, grad: Tensor, step: number, cfg: AdamWConfig, gradScale?: Tensor): void {
  checkAdamWConfig(cfg);
  if (!Number.isInteger(step) || step < 1) throw new UsageError(`AdamW step must be an integer >= 1, got ${step}`);
  requireF32(grad, `AdamW gradient of ${state.name}`);
  for (const [what, t] of [['parameter', param], ['gradient', grad]] as const) {
    if (t.shape.length !== state.shape.length || t.shape.some((d, i) => d !== state.shape[i])) {
      throw new ShapeMismatchError(`AdamW: ${what} ${fmtShape(t.shape)} does not match the state of ${state.name} ${fmtShape(state.shape)}`);
    }
  }
  if ((param.dtype === 'bf16') !== (state.master !== null) || param.dtype === 'u32') {
    throw new DtypeMismatchError(`AdamW: ${state.name} is ${param.dtype} but its optimizer state was created for a ${state.master ? 'bf16' : 'f32'} parameter`,
      'Create the optimizer state after the parameter has its final dtype.');
  }
  if (gradScale) {
    requireF32(gradScale, 'AdamW gradient scale');
    if (gradScale.numel !== 1 || gradScale.parts.length !== 1) throw new ShapeMismatchError(`AdamW: gradient scale must be a [1] tensor, got ${fmtShape(gradScale.shape)}`);
  }
  if (param.numel === 0) return;
  const { lr, beta1, beta2, eps, weightDecay } = cfg;
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  const w1 = 1 - beta1;
  const scalars = (p: Params) => p.f32(1 - lr * weightDecay).f32(w1).u32(Math.abs(w1) < 0.5 ? 1 : 0).f32(beta2).f32(1 - beta2)
    .f32(Math.sqrt(bc2)).f32(eps).f32(-(lr / bc1));
  const bf16 = param.dtype === 'bf16';
  const tensors = bf16 ? [param, state.master as Tensor, state.m, state.v, grad] : [param, state.m, state.v, grad];
  for (const s of segments(tensors)) {
    const bufs = s.at.map((a) => a.buffer);
    if (gradScale) bufs.push(gradScale.buffer);
    // On SwiftShader the vec4 kernel is 2.4x faster than one bf16 word an invocation (f32: 1.5x).
    const vec4 = inGroupsOf4(s);
    const params = new Params().u32(vec4 ? s.n / 4 : s.n);
    for (const a of s.at) params.u32(vec4 ? a.offset / 4 : a.offset);
    // Otherwise one invocation per element, or for bf16 per packed word the segment touches (it may start or end
    // mid-word).
    const invocations = vec4 ? s.n / 4 : bf16 ? ((s.at[0].offset + s.n - 1) >> 1) - (s.at[0].offset >> 1) + 1 : s.n;
    gpu.dispatch(gpu.kernel(updateSource(bf16, gradScale !== undefined, vec4)), bufs, scalars(params), elementGrid(invocations));
  }
}

/** A run of whole rows that lies inside one part of every tensor: its length and, per tensor, buffer and element offset. */
interface Segment { n: number; at: { buffer: GPUBuffer; offset: number }[] }

/**
 * Whether a segment is whole groups of 4 elements in every tensor (the usual case: offsets at row starts of a width
 * divisible by 4), so a kernel can take 4 elements an invocation with vec4 accesses.
 */
function inGroupsOf4(s: Segment): boolean {
  return s.n % 4 === 0 && s.at.every((a) => a.offset % 4 === 0);
}

/** Splits same-shape tensors (possibly split into parts differently, e.g. bf16 vs f32) into common row runs. */
function segments(tensors: Tensor[]): Segment[] {
  const t0 = tensors[0];
  const rows = t0.shape[0] ?? 1;
  const rowElems = t0.numel / Math.max(1, rows);
  const cuts = new Set<number>([0, rows]);
  for (const t of tensors) for (const p of t.parts) cuts.add(p.rowStart);
  const sorted = [...cuts].sort((a, b) => a - b);
  const out: Segment[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [r0, r1] = [sorted[i], sorted[i + 1]];
    out.push({
      n: (r1 - r0) * rowElems,
      at: tensors.map((t) => {
        const part = t.parts.find((p: TensorPart) => p.rowStart <= r0 && r0 < p.rowStart + p.rows) as TensorPart;
        return { buffer: part.buf.buffer, offset: (r0 - part.rowStart) * rowElems };
      }),
    });
  }
  return out.length ? out : [{ n: t0.numel, at: tensors.map((t) => ({ buffer: t.parts[0].buf.buffer, offset: 0 })) }];
}

/** Master copy = the bf16 parameter widened; `vec4`: 4 elements an invocation (params count groups of 4). */
function widenSource(vec4: boolean) {
  return {
    key: `adamw/widen_master${vec4 ? '/vec4' : ''}`,
    storageBindings: 2,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> src: array<${vec4 ? 'vec2u' : 'u32'}>;  // bf16 parameter, packed
@group(0) @binding(1) var<storage, read_write> dst: array<${vec4 ? 'vec4f' : 'f32'}>;  // f32 master
struct P { n: u32, src_off: u32, dst_off: u32 }
@group(0) @binding(2) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.n) { return; }
${vec4 ? `  let w = src[p.src_off + i];
  dst[p.dst_off + i] = vec4f(bf16_lo(w.x), bf16_hi(w.x), bf16_lo(w.y), bf16_hi(w.y));` : `  let e = p.src_off + i;
  let w = src[e >> 1u];
  dst[p.dst_off + i] = select(bf16_hi(w), bf16_lo(w), (e & 1u) == 0u);`}
}
`,
  };
}

/**
 * WGSL of the fused update; `bf16`: parameter packed bf16 with an f32 master; `scaled`: gradient times scale[0];
 * `vec4`: each invocation updates a group of 4 elements (the params count groups and offsets in groups), else one
 * element, or for bf16 one packed word.
 */
function updateSource(bf16: boolean, scaled: boolean, vec4: boolean) {
  const f = vec4 ? 'vec4f' : 'f32';
  const words = vec4 ? 'vec2u' : 'u32'; // a group of 4 bf16 is 2 packed words
  const b = bf16
    ? [`param: array<${words}>`, `master: array<${f}>`, `m: array<${f}>`, `v: array<${f}>`, `grad: array<${f}>`]
    : [`param: array<${f}>`, `m: array<${f}>`, `v: array<${f}>`, `grad: array<${f}>`];
  const offsets = bf16 ? 'p_off: u32, master_off: u32, m_off: u32, v_off: u32, g_off: u32' : 'p_off: u32, m_off: u32, v_off: u32, g_off: u32';
  const bindings = b.map((decl, i) => `@group(0) @binding(${i}) var<storage, ${decl.startsWith('grad') ? 'read' : 'read_write'}> ${decl};`);
  if (scaled) bindings.push(`@group(0) @binding(${b.length}) var<storage, read> scale: array<f32>;`);
  // The f32 body is the same for one element or a group of 4: the bindings' types say which.
  const body = !bf16 ? F32_BODY : vec4 ? BF16_GROUP_BODY : BF16_WORD_BODY;
  return {
    key: `adamw/update/${bf16 ? 'bf16' : 'f32'}${scaled ? '/scaled' : ''}${vec4 ? '/vec4' : ''}`,
    storageBindings: b.length + (scaled ? 1 : 0),
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}
${bindings.join('\n')}
struct P {
  n: u32, ${offsets},
  decay: f32,          // 1 - lr * weight_decay
  w1: f32,             // 1 - beta1 (lerp weight)
  w1_small: u32,       // |w1| < 0.5: ATen's lerp branch
  beta2: f32,
  one_minus_beta2: f32,
  bc2_sqrt: f32,       // sqrt(1 - beta2^t)
  eps: f32,
  neg_step_size: f32,  // -lr / (1 - beta1^t)
}
@group(0) @binding(${b.length + (scaled ? 1 : 0)}) var<uniform> p: P;

// Element (or group) j of the segment: returns the updated f32 weight and stores the new moments.
fn update(weight: ${f}, j: u32) -> ${f} {
  let g = grad[p.g_off + j]${scaled ? ' * scale[0]' : ''};
  let decayed = weight * p.decay;
  let m_old = m[p.m_off + j];
  let m_new = select(fma(${f}(p.w1 - 1.0), g - m_old, g), fma(${f}(p.w1), g - m_old, m_old), p.w1_small != 0u);
  m[p.m_off + j] = m_new;
  let v_new = v[p.v_off + j] * p.beta2 + (p.one_minus_beta2 * g) * g;
  v[p.v_off + j] = v_new;
  let denom = sqrt(v_new) / p.bc2_sqrt + p.eps;
  return decayed + (p.neg_step_size * m_new) / denom;
}
${vec4 && bf16 ? BF16_BITS4 : ''}
${ELEMENT_ENTRY}${body}
}
`,
  };
}

/** Update bodies (after ELEMENT_ENTRY): i is the element (or group of 4) of the segment. */
const F32_BODY = /* wgsl */ `
  if (i >= p.n) { return; }
  param[p.p_off + i] = update(param[p.p_off + i], i);`;
const BF16_GROUP_BODY = /* wgsl */ `
  if (i >= p.n) { return; }
  let x = update(master[p.master_off + i], i);
  master[p.master_off + i] = x;
  let h = bf16_bits4(x);
  param[p.p_off + i] = vec2u(h.x | (h.y << 16u), h.z | (h.w << 16u));`;
/** bf16 one packed word an invocation (i counts words from the segment's first): for segments not in groups of 4. */
const BF16_WORD_BODY = /* wgsl */ `
  // Word w of the packed parameter holds elements 2w (low half) and 2w + 1 (high half); halves outside this
  // segment keep their bits (the neighbouring segment's dispatch writes them).
  let w = (p.p_off >> 1u) + i;
  if (w > ((p.p_off + p.n - 1u) >> 1u)) { return; }
  let old = param[w];
  var halves = vec2u(old & 0xffffu, old >> 16u);
  for (var h = 0u; h < 2u; h++) {
    let e = 2u * w + h;
    if (e < p.p_off || e >= p.p_off + p.n) { continue; }
    let j = e - p.p_off;
    let x = update(master[p.master_off + j], j);
    master[p.master_off + j] = x;
    halves[h] = bf16_bits(x);
  }
  param[w] = halves.x | (halves.y << 16u);`;

/** bf16_bits (wgsl.ts) for 4 values without a branch: nearest even, NaN kept quiet. */
const BF16_BITS4 = /* wgsl */ `
fn bf16_bits4(x: vec4f) -> vec4u {
  let b = bitcast<vec4u>(x);
  let rounded = ((b + 0x7fffu + ((b >> vec4u(16u)) & vec4u(1u))) >> vec4u(16u)) & vec4u(0xffffu);
  let nan = ((b >> vec4u(16u)) | vec4u(0x40u)) & vec4u(0xffffu);
  return select(rounded, nan, (b & vec4u(0x7fffffffu)) > vec4u(0x7f800000u));
}
`;
