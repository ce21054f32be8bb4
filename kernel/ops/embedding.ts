// Token embedding lookup and its weight gradient. The table may be split by rows into several buffers (a 128256 x 4096
// table is 1 GiB in bf16); each part is handled by its own dispatch. The gradient is a deterministic scatter-add:
// the host groups positions by token id so that one invocation owns each (id, column) and sums its rows in order
// (WGSL has no float atomics).
import type { Gpu } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, floatDtype, fmtShape, type DType } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError, UsageError } from '../errors.js';
import { ELEMENT_ENTRY, elementGrid, requireF32 } from './elementwise.js';
import { BF16, LINEAR_WORKGROUP, activationRounding, readOnlyTensor } from './wgsl.js';

function lookupSource(tableDtype: DType, compute: DType) {
  return {
    key: `embedding/lookup/t=${tableDtype}/c=${compute}`,
    storageBindings: 3,
    hasParams: true,
    wgsl: () => /* wgsl */ `
${BF16}${LINEAR_WORKGROUP}${activationRounding(compute)}
${readOnlyTensor('table', 0, tableDtype)}
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
// This dispatch covers table rows [row_start, row_start + rows). The first part's dispatch writes every output
// element (zeros for ids outside its rows); later parts overwrite only the rows they hold.
struct P { n: u32, dim: u32, row_start: u32, rows: u32, first: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.n * p.dim) { return; }
  let local = ids[i / p.dim] - p.row_start;  // wraps to a huge value for ids below row_start
  if (local < p.rows) { out[i] = act(table_at(local * p.dim + i % p.dim)); }
  else if (p.first != 0u) { out[i] = 0.0; }
}
`,
  };
}

// index = [unique ids (U) | offsets into positions (U + 1) | positions grouped by id (N)], ids ascending.
const GRAD = {
  key: 'embedding/grad_weight',
  storageBindings: 3,
  hasParams: true,
  wgsl: () => /* wgsl */ `
${LINEAR_WORKGROUP}
@group(0) @binding(0) var<storage, read> dy: array<f32>;
@group(0) @binding(1) var<storage, read> index: array<u32>;
@group(0) @binding(2) var<storage, read_write> d_table: array<f32>;
// This dispatch adds the unique ids u_start .. u_start + u_count - 1, all inside the part starting at row_start.
struct P { dim: u32, unique: u32, u_start: u32, u_count: u32, row_start: u32 }
@group(0) @binding(3) var<uniform> p: P;
${ELEMENT_ENTRY}
  if (i >= p.u_count * p.dim) { return; }
  let u = p.u_start + i / p.dim;
  let col = i % p.dim;
  let first = index[p.unique + u];
  let last = index[p.unique + u + 1u];
  let positions = 2u * p.unique + 1u;
  var sum = 0.0;
  for (var k = first; k < last; k++) { sum += dy[index[positions + k] * p.dim + col]; }
  let at = (index[u] - p.row_start) * p.dim + col;
  d_table[at] += sum;
}
`,
};

/** out: [...ids.shape, D] f32 = table[ids]; table: [V, D] bf16 or f32 (may be split by rows); ids: u32, each < V. */
export function embedding(gpu: Gpu, table: Tensor, ids: Tensor, compute: DType = 'f32'): Tensor {
  const tableDtype = floatDtype(table, 'embedding table');
  if (ids.dtype !== 'u32') throw new DtypeMismatchError(`embedding: token ids must be a u32 tensor, got ${ids.dtype}`);
  if (table.shape.length !== 2) throw new ShapeMismatchError(`embedding: expected a [vocab, dim] table, got ${fmtShape(table.shape)}`);
  const dim = table.shape[1];
  const n = ids.numel;
  const out = Tensor.scratch(gpu, [...ids.shape, dim], gpu.activationTag('embedding out'));
  const k = gpu.kernel(lookupSource(tableDtype, compute));
  table.parts.forEach((part, i) => {
    const params = new Params().u32(n).u32(dim).u32(part.rowStart).u32(part.rows).u32(i === 0 ? 1 : 0);
    gpu.dispatch(k, [part.buf.buffer, ids.buffer, out.buffer], params, elementGrid(n * dim));
  });
  return out;
}

/**
 * dTable: [V, D] f32 (may be split) += sum over positions p with ids[p] = v of dy[p, :], for dy: [N, D] f32
 * (or [..., D] with N = ids.length rows). Deterministic: each row's contributions are added in position order.
 */
export function embeddingGradWeight(gpu: Gpu, dy: Tensor, ids: Uint32Array, dTable: Tensor): void {
  requireF32(dy, 'embeddingGradWeight dy');
  requireF32(dTable, 'embeddingGradWeight dTable');
  if (dTable.shape.length !== 2) throw new ShapeMismatchError(`embeddingGradWeight: expected a [vocab, dim] gradient, got ${fmtShape(dTable.shape)}`);
  const [vocab, dim] = dTable.shape;
  if (dy.numel !== ids.length * dim || dy.shape[dy.shape.length - 1] !== dim) {
    throw new ShapeMismatchError(`embeddingGradWeight: dy ${fmtShape(dy.shape)} does not hold ${ids.length} rows of ${dim}`);
  }
  if (ids.length === 0) return;
  const { unique, index } = groupPositionsById(ids, vocab);
  const indexTensor = Tensor.alloc(gpu, [index.length], 'u32', gpu.activationTag('embedding grad index'));
  indexTensor.write(index);
  const k = gpu.kernel(GRAD);
  let uStart = 0;
  for (const part of dTable.parts) {
    let uEnd = uStart;
    while (uEnd < unique && index[uEnd] < part.rowStart + part.rows) uEnd++;
    const uCount = uEnd - uStart;
    if (uCount > 0) {
      const params = new Params().u32(dim).u32(unique).u32(uStart).u32(uCount).u32(part.rowStart);
      gpu.dispatch(k, [dy.buffer, indexTensor.buffer, part.buf.buffer], params, elementGrid(uCount * dim));
    }
    uStart = uEnd;
  }
  indexTensor.dispose(); // destroying a buffer first submits the work that reads it
}

/** Sorted unique ids, then CSR offsets, then positions grouped by id (ascending position within each id). */
function groupPositionsById(ids: Uint32Array, vocab: number): { unique: number; index: Uint32Array } {
  const order = Array.from(ids.keys()).sort((a, b) => ids[a] - ids[b] || a - b);
  let unique = 0;
  for (let k = 0; k < order.length; k++) {
    const id = ids[order[k]];
    if (id >= vocab) throw new UsageError(`token id ${id} at position ${order[k]} is outside the vocabulary (${vocab})`, 'Check the tokenizer matches the model.');
    if (k === 0 || id !== ids[order[k - 1]]) unique++;
  }
  const index = new Uint32Array(2 * unique + 1 + ids.length);
  let u = -1;
  for (let k = 0; k < order.length; k++) {
    const id = ids[order[k]];
    if (k === 0 || id !== ids[order[k - 1]]) { u++; index[u] = id; index[unique + u] = k; }
    index[2 * unique + 1 + k] = order[k];
  }
  index[2 * unique] = order.length;
  return { unique, index };
}
