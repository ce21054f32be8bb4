// Row selection: gather chosen rows of a matrix (e.g. each sequence's last real token before the head) and the
// reverse for backward, scattering gradient rows into a zero matrix. One invocation per output element.
import type { Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, fmtShape } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from './elementwise.js';
import { LINEAR_WORKGROUP } from './wgsl.js';

const GATHER = {
  key: 'rows/gather',
  storageBindings: 3,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { n: u32, dim: u32, total_rows: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.n * p.dim) { return; }
  let r = rows[i / p.dim];
  // An out-of-range row reads as zeros. Not select(): it would load x[r * dim] whatever r is.
  if (r < p.total_rows) { out[i] = x[r * p.dim + i % p.dim]; } else { out[i] = 0.0; }
}
`,
};

const SCATTER = {
  key: 'rows/scatter',
  storageBindings: 3,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> rows: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
struct P { n: u32, dim: u32, total_rows: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.n * p.dim) { return; }
  let r = rows[i / p.dim];
  if (r < p.total_rows) { out[r * p.dim + i % p.dim] = dy[i]; }
}
`,
};

function checkRows(op: string, rows: Tensor): number {
  if (rows.dtype !== 'u32') throw new DtypeMismatchError(`${op}: row indices must be a u32 tensor, got ${rows.dtype}`);
  if (rows.shape.length !== 1) throw new ShapeMismatchError(`${op}: row indices must be 1-D, got ${fmtShape(rows.shape)}`);
  return rows.shape[0];
}

/** out: [n, D] f32 = x[rows[k], :] for x: [R, D] f32 and rows: u32 [n] (each < R). */
export function gatherRows(gpu: Gpu, x: Tensor, rows: Tensor): Tensor {
  requireF32(x, 'gatherRows');
  if (x.shape.length !== 2) throw new ShapeMismatchError(`gatherRows: expected x of shape [R, D], got ${fmtShape(x.shape)}`);
  const n = checkRows('gatherRows', rows);
  const [totalRows, dim] = x.shape;
  const out = Tensor.scratch(gpu, [n, dim], gpu.activationTag('gathered rows'));
  gpu.dispatch(gpu.kernel(GATHER), [x.buffer, rows.buffer, out.buffer], new Params().u32(n).u32(dim).u32(totalRows), elementGrid(n * dim));
  return out;
}

/** out: [totalRows, D] f32 with out[rows[k], :] = dy[k, :] and zeros elsewhere; rows: u32 [n], distinct, each < totalRows. */
export function scatterRows(gpu: Gpu, dy: Tensor, rows: Tensor, totalRows: number): Tensor {
  requireF32(dy, 'scatterRows');
  if (dy.shape.length !== 2) throw new ShapeMismatchError(`scatterRows: expected dy of shape [n, D], got ${fmtShape(dy.shape)}`);
  const n = checkRows('scatterRows', rows);
  if (n !== dy.shape[0]) throw new ShapeMismatchError(`scatterRows: ${n} row indices for ${dy.shape[0]} gradient rows`);
  if (!Number.isInteger(totalRows) || totalRows < n) throw new ShapeMismatchError(`scatterRows: ${totalRows} rows cannot hold ${n} distinct rows`);
  const dim = dy.shape[1];
  const out = Tensor.scratch(gpu, [totalRows, dim], gpu.activationTag('scattered rows'));
  gpu.clear(out.buffer);
  gpu.dispatch(gpu.kernel(SCATTER), [dy.buffer, rows.buffer, out.buffer], new Params().u32(n).u32(dim).u32(totalRows), elementGrid(n * dim));
  return out;
}
