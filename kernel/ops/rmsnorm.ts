// RMSNorm over the last dimension: y = x * rsqrt(mean(x^2) + eps) * w, computed in f32.
// One workgroup per row; a shared-memory tree reduces the sum of squares.
import type { Gpu } from '../gpu/context.js';
import { grid } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, floatDtype, type DType } from '../gpu/tensor.js';
import { ShapeMismatchError } from '../errors.js';
import { BF16, LINEAR_WORKGROUP, activationRounding, readOnlyTensor } from './wgsl.js';

const WG = 64;

function forwardSource(wDtype: DType, compute: DType) {
  return {
    key: `rmsnorm/fwd/w=${wDtype}/c=${compute}`,
    storageBindings: 3,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
${readOnlyTensor('w', 1, wDtype)}
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
struct P { rows: u32, dim: u32, eps: f32 }
@group(0) @binding(3) var<uniform> p: P;
var<workgroup> partial: array<f32, ${WG}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let row = linear_wg(wid, nwg);
  if (row >= p.rows) { return; }  // uniform per workgroup: barriers below stay in uniform control flow
  let base = row * p.dim;
  var ss = 0.0;
  for (var i = lid; i < p.dim; i += ${WG}u) { let v = x[base + i]; ss = fma(v, v, ss); }
  partial[lid] = ss;
  workgroupBarrier();
  for (var s = ${WG / 2}u; s > 0u; s >>= 1u) {
    if (lid < s) { partial[lid] += partial[lid + s]; }
    workgroupBarrier();
  }
  let r = inverseSqrt(partial[0] / f32(p.dim) + p.eps);
  for (var i = lid; i < p.dim; i += ${WG}u) { y[base + i] = act(x[base + i] * r * w_at(i)); }
}
`,
  };
}

/** y: [..., D] f32 = RMSNorm(x: [..., D] f32) with weight w: [D]. */
export function rmsnorm(gpu: Gpu, x: Tensor, w: Tensor, eps: number, compute: DType = 'f32'): Tensor {
  const dim = x.shape[x.shape.length - 1];
  if (w.numel !== dim) throw new ShapeMismatchError(`rmsnorm: weight has ${w.numel} elements, input's last dim is ${dim}`);
  const rows = x.numel / dim;
  const y = Tensor.scratch(gpu, x.shape, gpu.activationTag('rmsnorm out'));
  const k = gpu.kernel(forwardSource(floatDtype(w, 'rmsnorm weight'), compute));
  gpu.dispatch(k, [x.buffer, w.buffer, y.buffer], new Params().u32(rows).u32(dim).f32(eps), grid(rows));
  return y;
}
