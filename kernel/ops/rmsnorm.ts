// RMSNorm over the last dimension: y = x * rsqrt(mean(x^2) + eps) * w, computed in f32.
// Workgroup barriers are very costly on software adapters, so every pass is barrier-free and row sums are
// two-level: strided segments of a row, then the segments (forward: 2 passes; backward: 5, described below).
import type { Gpu } from '../gpu/context.js';
import { grid } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, floatDtype, type DType } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError } from '../errors.js';
import { requireF32 } from './elementwise.js';
import { BF16, LINEAR_WORKGROUP, activationRounding, readOnlyTensor } from './wgsl.js';

/** Elements per row-partial invocation (at most): a row of D is split into ceil(D / ROW_SEGMENT) strided segments. */
const ROW_SEGMENT = 256;
const WG = 256;

const FORWARD_ROW_PARTIAL = {
  key: 'rmsnorm/fwd_row_partial',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> partial: array<f32>;  // [rows, segments] sums of x^2
struct P { rows: u32, dim: u32, segments: u32 }
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * ${WG}u + lid;
  if (i >= p.rows * p.segments) { return; }
  let base = (i / p.segments) * p.dim;
  var acc = 0.0;
  for (var c = i % p.segments; c < p.dim; c += p.segments) { let v = x[base + c]; acc = fma(v, v, acc); }
  partial[i] = acc;
}
`,
};

function forwardSource(wDtype: DType, compute: DType) {
  return {
    key: `rmsnorm/fwd/w=${wDtype}/c=${compute}`,
    storageBindings: 4,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${readOnlyTensor('w', 1, wDtype)}
@group(0) @binding(2) var<storage, read> partial: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
struct P { rows: u32, dim: u32, segments: u32, eps: f32 }
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * ${WG}u + lid;
  if (i >= p.rows * p.dim) { return; }
  let row = i / p.dim;
  var ss = 0.0;
  for (var k = 0u; k < p.segments; k++) { ss += partial[row * p.segments + k]; }
  y[i] = act(x[i] * inverseSqrt(ss / f32(p.dim) + p.eps) * w_at(i % p.dim));
}
`,
  };
}

/** y: [..., D] f32 = RMSNorm(x: [..., D] f32) with weight w: [D]. */
export function rmsnorm(gpu: Gpu, x: Tensor, w: Tensor, eps: number, compute: DType = 'f32'): Tensor {
  requireF32(x, 'rmsnorm input');
  const dim = x.shape[x.shape.length - 1];
  if (w.numel !== dim) throw new ShapeMismatchError(`rmsnorm: weight has ${w.numel} elements, input's last dim is ${dim}`);
  const rows = x.numel / dim;
  const segments = Math.ceil(dim / ROW_SEGMENT);
  const partial = Tensor.scratch(gpu, [rows, segments], gpu.activationTag('rmsnorm partial sums'));
  gpu.dispatch(gpu.kernel(FORWARD_ROW_PARTIAL), [x.buffer, partial.buffer], new Params().u32(rows).u32(dim).u32(segments), grid(Math.ceil(rows * segments / WG)));
  const y = Tensor.scratch(gpu, x.shape, gpu.activationTag('rmsnorm out'));
  const k = gpu.kernel(forwardSource(floatDtype(w, 'rmsnorm weight'), compute));
  gpu.dispatch(k, [x.buffer, w.buffer, partial.buffer, y.buffer], new Params().u32(rows).u32(dim).u32(segments).f32(eps), grid(Math.ceil(rows * dim / WG)));
  partial.dispose();
  return y;
}

// Backward (sums over rows are two-level too: chunks of rows, then the chunks):
//   1. row partials: per (row, segment) sums of x^2 and w dy x;
//   2. row stats:    per row r = rsqrt(mean(x^2) + eps) and k = r^3 / D * sum(w dy x);
//   3. dx:           per element dx_i = r w_i dy_i - x_i k;
//   4. dw partials:  per (chunk of rows, column) sum of dy x r;  5. dw += sum of the chunks, per column.

/** Rows per dw partial sum. */
const DW_ROW_CHUNK = 64;


function backwardRowPartialSource(wDtype: DType) {
  return {
    key: `rmsnorm/bwd_row_partial/w=${wDtype}`,
    storageBindings: 4,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${readOnlyTensor('w', 1, wDtype)}
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read_write> partial: array<vec2f>;  // [rows, segments] (sum x^2, sum w dy x)
struct P { rows: u32, dim: u32, segments: u32 }
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * ${WG}u + lid;
  if (i >= p.rows * p.segments) { return; }
  let base = (i / p.segments) * p.dim;
  var acc = vec2f(0.0);
  for (var c = i % p.segments; c < p.dim; c += p.segments) {
    let v = x[base + c];
    acc += vec2f(v * v, w_at(c) * dy[base + c] * v);
  }
  partial[i] = acc;
}
`,
  };
}

const BACKWARD_ROW_STATS = {
  key: 'rmsnorm/bwd_row_stats',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> partial: array<vec2f>;
@group(0) @binding(1) var<storage, read_write> stats: array<vec2f>;  // [rows] (r, r^3 / D * sum w dy x)
struct P { rows: u32, dim: u32, segments: u32, eps: f32 }
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg) * ${WG}u + lid;
  if (row >= p.rows) { return; }
  var acc = vec2f(0.0);
  for (var k = 0u; k < p.segments; k++) { acc += partial[row * p.segments + k]; }
  let r = inverseSqrt(acc.x / f32(p.dim) + p.eps);
  stats[row] = vec2f(r, r * r * r / f32(p.dim) * acc.y);
}
`,
};

function backwardDxSource(wDtype: DType) {
  return {
    key: `rmsnorm/bwd_dx/w=${wDtype}`,
    storageBindings: 5,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${readOnlyTensor('w', 1, wDtype)}
@group(0) @binding(2) var<storage, read> dy: array<f32>;
@group(0) @binding(3) var<storage, read> stats: array<vec2f>;
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
struct P { rows: u32, dim: u32 }
@group(0) @binding(5) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * ${WG}u + lid;
  if (i >= p.rows * p.dim) { return; }
  let st = stats[i / p.dim];
  // dx_i = r w_i dy_i - x_i r^3 / D * sum_j w_j dy_j x_j
  dx[i] = st.x * w_at(i % p.dim) * dy[i] - x[i] * st.y;
}
`,
  };
}

const BACKWARD_DW_PARTIAL = {
  key: 'rmsnorm/bwd_dw_partial',
  storageBindings: 4,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;
@group(0) @binding(3) var<storage, read_write> partial: array<f32>;  // [chunks, dim]
struct P { rows: u32, dim: u32, chunks: u32 }
@group(0) @binding(4) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let i = linear_wg(wid, nwg) * ${WG}u + lid;
  if (i >= p.chunks * p.dim) { return; }
  let col = i % p.dim;
  let first = (i / p.dim) * ${DW_ROW_CHUNK}u;
  let last = min(first + ${DW_ROW_CHUNK}u, p.rows);
  var sum = 0.0;
  for (var r = first; r < last; r++) { sum = fma(dy[r * p.dim + col] * x[r * p.dim + col], stats[r].x, sum); }
  partial[i] = sum;
}
`,
};

const BACKWARD_DW_REDUCE = {
  key: 'rmsnorm/bwd_dw_reduce',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `
@group(0) @binding(0) var<storage, read> partial: array<f32>;
@group(0) @binding(1) var<storage, read_write> dw: array<f32>;
struct P { dim: u32, chunks: u32 }
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  if (col >= p.dim) { return; }
  var sum = 0.0;
  for (var c = 0u; c < p.chunks; c++) { sum += partial[c * p.dim + col]; }
  dw[col] += sum;
}
`,
};

/**
 * Gradients of y = RMSNorm(x) * w for upstream dy: returns dx: [..., D] f32 and, unless `dw` is null (frozen
 * weight), adds sum over rows of dy * x * r to dw: [D] f32. x, dy: [..., D] f32; w: [D] f32 or bf16.
 */
export function rmsnormBackward(gpu: Gpu, x: Tensor, w: Tensor, dy: Tensor, eps: number, dw: Tensor | null): Tensor {
  const dim = x.shape[x.shape.length - 1];
  if (w.numel !== dim) throw new ShapeMismatchError(`rmsnormBackward: weight has ${w.numel} elements, input's last dim is ${dim}`);
  if (dy.numel !== x.numel) throw new ShapeMismatchError(`rmsnormBackward: dy has ${dy.numel} elements, x has ${x.numel}`);
  if (x.dtype !== 'f32' || dy.dtype !== 'f32' || (dw && dw.dtype !== 'f32')) {
    throw new DtypeMismatchError('rmsnormBackward: x, dy and dw must be f32', 'Gradients are accumulated in f32 master tensors.');
  }
  if (dw && dw.numel !== dim) throw new ShapeMismatchError(`rmsnormBackward: dw has ${dw.numel} elements, expected ${dim}`);
  const wDtype = floatDtype(w, 'rmsnorm weight');
  const rows = x.numel / dim;
  const segments = Math.ceil(dim / ROW_SEGMENT);
  const threads = (n: number) => grid(Math.ceil(n / WG));
  const partial = Tensor.scratch(gpu, [rows, segments, 2], gpu.activationTag('rmsnorm row partials'));
  const stats = Tensor.scratch(gpu, [rows, 2], gpu.activationTag('rmsnorm row stats'));
  const dx = Tensor.scratch(gpu, x.shape, gpu.activationTag('rmsnorm dx'));
  gpu.dispatch(gpu.kernel(backwardRowPartialSource(wDtype)), [x.buffer, w.buffer, dy.buffer, partial.buffer],
    new Params().u32(rows).u32(dim).u32(segments), threads(rows * segments));
  gpu.dispatch(gpu.kernel(BACKWARD_ROW_STATS), [partial.buffer, stats.buffer],
    new Params().u32(rows).u32(dim).u32(segments).f32(eps), threads(rows));
  gpu.dispatch(gpu.kernel(backwardDxSource(wDtype)), [x.buffer, w.buffer, dy.buffer, stats.buffer, dx.buffer],
    new Params().u32(rows).u32(dim), threads(rows * dim));
  if (dw) {
    const chunks = Math.ceil(rows / DW_ROW_CHUNK);
    const dwPartial = Tensor.scratch(gpu, [chunks, dim], gpu.activationTag('rmsnorm dw partials'));
    gpu.dispatch(gpu.kernel(BACKWARD_DW_PARTIAL), [x.buffer, dy.buffer, stats.buffer, dwPartial.buffer],
      new Params().u32(rows).u32(dim).u32(chunks), threads(chunks * dim));
    gpu.dispatch(gpu.kernel(BACKWARD_DW_REDUCE), [dwPartial.buffer, dw.buffer], new Params().u32(dim).u32(chunks), threads(dim));
    dwPartial.dispose();
  }
  partial.dispose();
  stats.dispose();
  return dx;
}
