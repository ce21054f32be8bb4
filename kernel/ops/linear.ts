// nn.Linear on the GPU: forward y = x @ W^T + b, and its gradients. W is [N, K] (out, in) as in PyTorch, bf16 or
// f32, possibly split by rows into parts (each part is a block of output columns); arithmetic is f32.
// The kernels are in matmul/: one register-tiled generator, a variant per adapter kind (matmul/variants.ts).
import type { Gpu } from '../gpu/context.js';
import { grid } from '../gpu/context.js';
import { formatBytes } from '../gpu/format.js';
import { Params } from '../gpu/params.js';
import { Tensor, floatDtype, fmtShape, numelOf, type DType } from '../gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError, UsageError } from '../errors.js';
import { COLUMN_SUM_WG, columnSumKernel } from './matmul/column_sum.js';
import { FLAG_ACCUMULATE, FLAG_BIAS_BF16, FLAG_BIAS_F32, FLAG_ROUND_BF16, PARAM_FIELDS, type MatmulParams } from './matmul/tiled.js';
import { OP_LAYOUTS, matmulPlan, matmulVariantFor, rowsClass, type MatmulOp } from './matmul/variants.js';

/**
 * y: [...lead, N] f32 = x: [...lead, K] f32 @ w: [N, K]^T (+ bias: [N]). `compute` 'bf16' rounds every output to
 * bf16 (the PyTorch bf16 path rounds after each op).
 */
export function linear(gpu: Gpu, x: Tensor, w: Tensor, bias?: Tensor | null, compute: DType = 'f32'): Tensor {
  const [N, K] = weightShape(w, 'linear');
  requireF32(x, 'linear input');
  const rows = leadingRows(x, K, 'linear input', `weight ${fmtShape(w.shape)} takes inputs of ${K} features`);
  let flags = compute === 'bf16' ? FLAG_ROUND_BF16 : 0;
  if (bias) {
    if (bias.numel !== N) throw new ShapeMismatchError(`linear: bias has ${bias.numel} elements, the weight has ${N} outputs`);
    flags |= floatDtype(bias, 'linear bias') === 'bf16' ? FLAG_BIAS_BF16 : FLAG_BIAS_F32;
  }
  const y = scratchOutput(gpu, [...x.shape.slice(0, -1), N], 'linear out');
  if (rows === 0 || N === 0) return y;
  for (const part of w.parts) {
    run(gpu, 'fwd', w, [x.buffer, part.buf.buffer, bias?.buffer ?? part.buf.buffer, y.buffer], {
      rows, cols: part.rows, depth: K, lda: K, ldb: K, ldc: N, aOff: 0, cOff: part.rowStart, flags,
    });
  }
  return y;
}

/** dx: [...lead, K] f32 = dy: [...lead, N] f32 @ w: [N, K]. */
export function linearGradInput(gpu: Gpu, dy: Tensor, w: Tensor): Tensor {
  const [N, K] = weightShape(w, 'linearGradInput');
  requireF32(dy, 'linearGradInput dy');
  const rows = leadingRows(dy, N, 'linearGradInput dy', `weight ${fmtShape(w.shape)} has ${N} outputs`);
  const dx = scratchOutput(gpu, [...dy.shape.slice(0, -1), K], 'linear grad input');
  if (rows === 0 || K === 0) return dx;
  w.parts.forEach((part, index) => {
    // Each part holds rows [rowStart, rowStart + rows) of W: its share of the sum over N. The first part writes.
    run(gpu, 'dx', w, [dy.buffer, part.buf.buffer, part.buf.buffer, dx.buffer], {
      rows, cols: K, depth: part.rows, lda: N, ldb: K, ldc: K, aOff: part.rowStart, cOff: 0,
      flags: index === 0 ? 0 : FLAG_ACCUMULATE,
    });
  });
  return dx;
}

/**
 * dw: [N, K] f32 (may be split) = dy^T @ x, or += with `accumulate`, for dy: [...lead, N] f32 and x: [...lead, K] f32.
 * Writing is the cheaper store: it does not read dw (on SwiftShader 1.25x faster at a training batch's depth).
 */
export function linearGradWeight(gpu: Gpu, dy: Tensor, x: Tensor, dw: Tensor, { accumulate }: { accumulate: boolean }): void {
  if (dw.shape.length !== 2) throw new ShapeMismatchError(`linearGradWeight: dw must be [N, K], got ${fmtShape(dw.shape)}`);
  const [N, K] = dw.shape;
  requireF32(dw, 'linearGradWeight dw');
  requireF32(dy, 'linearGradWeight dy');
  requireF32(x, 'linearGradWeight x');
  const rows = leadingRows(dy, N, 'linearGradWeight dy', `dw ${fmtShape(dw.shape)} has ${N} rows`);
  const xRows = leadingRows(x, K, 'linearGradWeight x', `dw ${fmtShape(dw.shape)} has ${K} columns`);
  if (xRows !== rows) throw new ShapeMismatchError(`linearGradWeight: dy has ${rows} rows, x has ${xRows}`);
  if (rows === 0 && !accumulate) for (const part of dw.parts) gpu.clear(part.buf.buffer); // an empty sum is zero
  if (rows === 0 || K === 0) return;
  for (const part of dw.parts) {
    if (part.rows === 0) continue;
    run(gpu, 'dw', null, [dy.buffer, x.buffer, x.buffer, part.buf.buffer], {
      rows: part.rows, cols: K, depth: rows, lda: N, ldb: K, ldc: K, aOff: part.rowStart, cOff: 0,
      flags: accumulate ? FLAG_ACCUMULATE : 0,
    });
  }
}

/** db: [N] f32 += sum over rows of dy: [...lead, N] f32. */
export function linearGradBias(gpu: Gpu, dy: Tensor, db: Tensor): void {
  requireF32(dy, 'linearGradBias dy');
  requireF32(db, 'linearGradBias db');
  const N = db.numel;
  const rows = leadingRows(dy, N, 'linearGradBias dy', `db has ${N} elements`);
  if (rows === 0) return;
  const k = gpu.kernel(columnSumKernel);
  for (const part of db.parts) {
    if (part.rows === 0) continue;
    const params = new Params().u32(rows).u32(part.rows).u32(N).u32(part.rowStart);
    gpu.dispatch(k, [dy.buffer, part.buf.buffer], params, grid(Math.ceil(part.rows / COLUMN_SUM_WG)));
  }
}

/**
 * Records one tiled matmul; `w` (or null for dW, whose B is f32 activations) decides B's dtype and packing,
 * `flags` (FLAG_*) what the store adds.
 */
function run(gpu: Gpu, op: MatmulOp, w: Tensor | null, buffers: GPUBuffer[],
  { flags, ...p }: Omit<MatmulParams, 'tilesI' | 'tilesJ'> & { flags: number }): void {
  const bDtype = w ? floatDtype(w, `${op} weight`) : 'f32';
  // bf16 pairs need every row of B to start on a u32 boundary (even K), and for column-major B an even column count.
  const bf16Elements = bDtype === 'bf16' && !(p.ldb % 2 === 0 && (OP_LAYOUTS[op][1] === 'rowMajor' || p.cols % 2 === 0));
  const macs = p.rows * p.cols * p.depth;
  const variant = matmulVariantFor(gpu, { op, bDtype, rows: rowsClass(p.rows), bf16Elements, macs });
  const plan = matmulPlan(variant, { op, bDtype }, p.rows, macs, flags, bf16Elements);
  const tilesI = Math.ceil(p.rows / plan.rowsPerWorkgroup);
  const tilesJ = Math.ceil(p.cols / plan.colsPerWorkgroup);
  const all: MatmulParams = { ...p, tilesI, tilesJ };
  const params = new Params();
  for (const f of PARAM_FIELDS) params.u32(all[f]);
  gpu.dispatch(gpu.kernel(plan.kernel), buffers, params, grid(tilesI * tilesJ));
}

function weightShape(w: Tensor, what: string): [number, number] {
  if (w.shape.length !== 2) throw new ShapeMismatchError(`${what}: weight must be 2-D [out, in], got ${fmtShape(w.shape)}`);
  floatDtype(w, `${what} weight`);
  return [w.shape[0], w.shape[1]];
}

function requireF32(t: Tensor, what: string): void {
  if (t.dtype !== 'f32') {
    throw new DtypeMismatchError(`${what} is ${t.dtype}; expected f32`, 'Activations and gradients are f32; convert the tensor first.');
  }
}

/** Rows of a [...lead, features] tensor, checking its last dimension. */
function leadingRows(t: Tensor, features: number, what: string, why: string): number {
  const last = t.shape[t.shape.length - 1];
  if (t.shape.length === 0 || last !== features) {
    throw new ShapeMismatchError(`${what} ${fmtShape(t.shape)} must end in ${features}: ${why}`);
  }
  return numelOf(t.shape.slice(0, -1));
}

function scratchOutput(gpu: Gpu, shape: number[], what: string): Tensor {
  const bytes = numelOf(shape) * 4;
  if (bytes > gpu.maxBufferBytes) {
    throw new UsageError(`${what} ${fmtShape(shape)} f32 needs ${formatBytes(bytes)}, more than the largest buffer (${formatBytes(gpu.maxBufferBytes)})`,
      'Process fewer rows at a time (a smaller batch or sequence chunk, or only the positions whose outputs you need).');
  }
  return Tensor.scratch(gpu, shape, gpu.activationTag(what));
}
