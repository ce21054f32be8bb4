// out[j] += sum over rows r of a[r * ld + off + j]: the bias gradient (sum of dy over all rows).
// One invocation per column; four partial sums break the dependency chain over long columns.
import type { KernelSource } from '../../gpu/pipelines.js';
import { LINEAR_WORKGROUP } from '../wgsl.js';

export const COLUMN_SUM_WG = 64;

export const columnSumKernel: KernelSource = {
  key: 'matmul/column_sum',
  storageBindings: 2,
  hasParams: true,
  wgsl: () => /* wgsl */ `${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
struct P { rows: u32, cols: u32, ld: u32, off: u32 }
@group(0) @binding(2) var<uniform> p: P;

@compute @workgroup_size(${COLUMN_SUM_WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let j = linear_wg(wid, nwg) * ${COLUMN_SUM_WG}u + lid;
  if (j >= p.cols) { return; }
  let col = p.off + j;
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  var r = 0u;
  for (; r + 4u <= p.rows; r += 4u) {
    s0 += a[r * p.ld + col];
    s1 += a[(r + 1u) * p.ld + col];
    s2 += a[(r + 2u) * p.ld + col];
    s3 += a[(r + 3u) * p.ld + col];
  }
  for (; r < p.rows; r += 1u) { s0 += a[r * p.ld + col]; }
  out[j] += (s0 + s1) + (s2 + s3);
}
`,
};
