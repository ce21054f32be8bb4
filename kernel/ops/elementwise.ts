// Elementwise f32 ops: residual add (out of place and in place) and in-place scaling. One invocation per element.
// The in-place ops also accept tensors split by rows (large gradients), part by part.
import type { Gpu } from '../gpu/context.js';
import { grid } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape, type DType } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError } from '../errors.js';
import { BF16, LINEAR_WORKGROUP, activationRounding } from './wgsl.js';

/** Invocations per workgroup of the one-element-per-invocation kernels (the ops in this folder share it). */
export const ELEMENT_WG = 256;

/** Workgroups (split over x/y) for `n` invocations of ELEMENT_WG each; WGSL gets the index with ELEMENT_INDEX. */
export function elementGrid(n: number): [number, number] {
  return grid(Math.ceil(n / ELEMENT_WG));
}

/** WGSL: builtins of an element kernel's entry point and the invocation's linear index `i`. */
export const ELEMENT_ENTRY = /* wgsl */ `@compute @workgroup_size(${ELEMENT_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * ${ELEMENT_WG}u + lid;`;

/** Throws unless `t` is an f32 tensor (activations and gradients are f32). */
export function requireF32(t: Tensor, what: string): void {
  if (t.dtype !== 'f32') throw new DtypeMismatchError(`${what}: expected an f32 tensor, got ${t.dtype}`, 'Activations and gradients are f32; pass the f32 tensor.');
}

function requireSameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new ShapeMismatchError(`${op}: shapes ${fmtShape(a.shape)} and ${fmtShape(b.shape)} differ`, 'Both operands must have the same shape.');
  }
}

function addSource(compute: DType) {
  return {
    key: `elementwise/add/c=${compute}`,
    storageBindings: 3,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { n: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i < p.n) { out[i] = act(a[i] + b[i]); }
}
`,
  };
}

const ADD_IN_PLACE = {
  key: 'elementwise/add_in_place',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read_write> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
struct P { n: u32 }
@group(0) @binding(2) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i < p.n) { a[i] += b[i]; }
}
`,
};

const SCALE_IN_PLACE = {
  key: 'elementwise/scale_in_place',
  storageBindings: 1,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read_write> a: array<f32>;
struct P { n: u32, s: f32 }
@group(0) @binding(1) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i < p.n) { a[i] *= p.s; }
}
`,
};

/** Elements in each part of `t` (parts split dim 0). */
function partElements(t: Tensor): number[] {
  const rowElems = t.numel / Math.max(1, t.shape[0] ?? 1);
  return t.parts.map((p) => p.rows * rowElems);
}

/** out = a + b (a, b: same shape, f32, unsplit); rounded to bf16 in bf16 compute. */
export function add(gpu: Gpu, a: Tensor, b: Tensor, compute: DType = 'f32'): Tensor {
  requireF32(a, 'add'); requireF32(b, 'add');
  requireSameShape('add', a, b);
  const out = Tensor.scratch(gpu, a.shape, gpu.activationTag('residual add'));
  gpu.dispatch(gpu.kernel(addSource(compute)), [a.buffer, b.buffer, out.buffer], new Params().u32(a.numel), elementGrid(a.numel));
  return out;
}

/** a += b (f32, same shape; split tensors allowed when both are split the same way). */
export function addInPlace(gpu: Gpu, a: Tensor, b: Tensor): void {
  requireF32(a, 'addInPlace'); requireF32(b, 'addInPlace');
  requireSameShape('addInPlace', a, b);
  if (a.parts.length !== b.parts.length || a.parts.some((p, i) => p.rows !== b.parts[i].rows)) {
    throw new ShapeMismatchError(`addInPlace: ${fmtShape(a.shape)} operands are split into different buffers (${a.parts.length} vs ${b.parts.length})`,
      'Create both tensors on the same device so they are split the same way.');
  }
  const k = gpu.kernel(ADD_IN_PLACE);
  partElements(a).forEach((n, i) => {
    gpu.dispatch(k, [a.parts[i].buf.buffer, b.parts[i].buf.buffer], new Params().u32(n), elementGrid(n));
  });
}

/** a *= s (f32; split tensors allowed). */
export function scaleInPlace(gpu: Gpu, a: Tensor, s: number): void {
  requireF32(a, 'scaleInPlace');
  const k = gpu.kernel(SCALE_IN_PLACE);
  partElements(a).forEach((n, i) => {
    gpu.dispatch(k, [a.parts[i].buf.buffer], new Params().u32(n).f32(s), elementGrid(n));
  });
}
