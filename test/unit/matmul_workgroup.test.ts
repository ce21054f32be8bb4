// The workgroup-memory tiled matmul kernel, dispatched directly, against a float64 CPU product: the three linear
// products (fwd, dx, dw layouts), B as f32, bf16 pairs and single bf16 elements, shapes that are not multiples of
// the tile, nonzero aOff/cOff inside wider leading dimensions, and every flag. Elements of C outside the written
// window must keep their values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MemoryTag } from '../../kernel/gpu/allocator.js';
import { grid, type Gpu } from '../../kernel/gpu/context.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { Params } from '../../kernel/gpu/params.js';
import { Tensor, type DType } from '../../kernel/gpu/tensor.js';
import {
  FLAG_ACCUMULATE, FLAG_BIAS_BF16, FLAG_BIAS_F32, FLAG_ROUND_BF16, PARAM_FIELDS, type Layout, type MatmulParams,
} from '../../kernel/ops/matmul/tiled.js';
import { referenceProduct } from '../../kernel/ops/matmul/reference.js';
import { WORKGROUP_TILE, workgroupMatmulKernel } from '../../kernel/ops/matmul/workgroup_tiled.js';
import { F32_U } from './helpers/compare.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';

const TAG: MemoryTag = { layer: 'test', tensor: 'matmul', kind: 'other' };

type BStorage = 'f32' | 'bf16x2' | 'bf16';
interface Product { op: string; aLayout: Layout; bLayout: Layout }
interface Case { rows: number; cols: number; depth: number; aOff: number; cOff: number; flags: number }

const PRODUCTS: Product[] = [
  { op: 'fwd', aLayout: 'rowMajor', bLayout: 'rowMajor' },
  { op: 'dx', aLayout: 'rowMajor', bLayout: 'colMajor' },
  { op: 'dw', aLayout: 'colMajor', bLayout: 'colMajor' },
];
// [rows, cols, depth]: 1, a few and more than one tile of rows; columns below, within and across tiles; depth
// below one staged slice, one slice plus a remainder, several slices.
const SHAPES: [number, number, number][] = [[1, 3, 1], [5, 37, 17], [70, 130, 100], [1, 130, 33], [70, 3, 17], [5, 130, 100]];
const FLAG_SETS = [0, FLAG_ACCUMULATE, FLAG_BIAS_F32, FLAG_BIAS_BF16, FLAG_ROUND_BF16,
  FLAG_ACCUMULATE | FLAG_BIAS_BF16 | FLAG_ROUND_BF16, FLAG_ACCUMULATE | FLAG_BIAS_F32];

/** Storage of one operand: its values (bf16-rounded when stored as bf16) and the tensor holding them. */
function upload(gpu: Gpu, n: number, dtype: DType, seed: number): { v: Float32Array; t: Tensor } {
  const raw = randomArray(n, seed);
  const v = dtype === 'bf16' ? raw.map(roundBf16) : raw;
  const t = Tensor.alloc(gpu, [n], dtype, TAG);
  t.write(v);
  return { v, t };
}

/** Smallest leading dimension >= min with the parity B's storage needs (pairs: even; single bf16: odd). */
function leading(min: number, b: BStorage): number {
  if (b === 'bf16x2') return min + (min % 2);
  if (b === 'bf16') return min + 1 - (min % 2);
  return min + 1;
}

/**
 * Runs one product and checks all of C: inside rows x [cOff, cOff + cols) the float64 result with the flags
 * applied, within f32 accumulation error (and one bf16 rounding when rounding); outside, the initial values.
 */
async function check(gpu: Gpu, pr: Product, b: BStorage, cs: Case, seed: number, extraWorkgroupRows = 0): Promise<void> {
  const { rows, cols, depth, aOff, cOff, flags } = cs;
  const what = `${pr.op} B ${b} rows=${rows} cols=${cols} depth=${depth} aOff=${aOff} cOff=${cOff} flags=${flags}`;
  // A(i, r): rowMajor at aOff + i*lda + r, colMajor at aOff + r*lda + i (aOff is a column offset in both).
  const lda = aOff + (pr.aLayout === 'rowMajor' ? depth : rows) + 2;
  const aAt = (i: number, r: number) => (pr.aLayout === 'rowMajor' ? aOff + i * lda + r : aOff + r * lda + i);
  // B(j, r): rowMajor at j*ldb + r, colMajor at r*ldb + j.
  const ldb = leading(pr.bLayout === 'rowMajor' ? depth : cols, b);
  const bAt = (j: number, r: number) => (pr.bLayout === 'rowMajor' ? j * ldb + r : r * ldb + j);
  const ldc = cOff + cols + 3;
  const bDtype: DType = b === 'f32' ? 'f32' : 'bf16';
  const biasDtype: DType = flags & FLAG_BIAS_BF16 ? 'bf16' : 'f32';

  const A = upload(gpu, (pr.aLayout === 'rowMajor' ? rows : depth) * lda, 'f32', seed);
  const B = upload(gpu, (pr.bLayout === 'rowMajor' ? cols : depth) * ldb, bDtype, seed + 1);
  const bias = upload(gpu, ldc, biasDtype, seed + 2);
  const C = upload(gpu, rows * ldc, 'f32', seed + 3);

  const tile = WORKGROUP_TILE;
  const kernel = gpu.kernel(workgroupMatmulKernel({ ...pr, bDtype, bPairs: b === 'bf16x2', flags }, tile));
  const tilesI = Math.ceil(rows / tile.bm);
  const tilesJ = Math.ceil(cols / tile.bn);
  const all: MatmulParams = { rows, cols, depth, lda, ldb, ldc, aOff, cOff, tilesI, tilesJ };
  const params = new Params();
  for (const f of PARAM_FIELDS) params.u32(all[f]);
  const [x, y] = grid(tilesI * tilesJ);
  gpu.dispatch(kernel, [A.t.buffer, B.t.buffer, bias.t.buffer, C.t.buffer], params, [x, y + extraWorkgroupRows]);
  const got = await C.t.read();

  const want = referenceProduct(rows, cols, depth, (i, r) => A.v[aAt(i, r)], (j, r) => B.v[bAt(j, r)]);
  const useBias = (flags & (FLAG_BIAS_F32 | FLAG_BIAS_BF16)) !== 0;
  for (let i = 0; i < rows * ldc; i++) {
    const row = Math.floor(i / ldc);
    const j = (i % ldc) - cOff;
    if (j < 0 || j >= cols) {
      if (!Object.is(got[i], C.v[i])) assert.fail(`${what}: C[${i}] outside the window changed from ${C.v[i]} to ${got[i]}`);
      continue;
    }
    let sum = want.value[row * cols + j];
    let magnitude = want.magnitude[row * cols + j];
    for (const extra of [flags & FLAG_ACCUMULATE ? C.v[i] : 0, useBias ? bias.v[cOff + j] : 0]) {
      sum += extra;
      magnitude += Math.abs(extra);
    }
    // Any order of f32 fma accumulation of depth terms, then two adds.
    const f32Err = (depth + 4) * F32_U * magnitude + 1e-30;
    let tol = f32Err;
    if (flags & FLAG_ROUND_BF16) {
      const bits = new Uint32Array(Float32Array.of(got[i]).buffer)[0];
      assert.equal(bits & 0xffff, 0, `${what}: C[${i}] = ${got[i]} is not a bf16 value`);
      tol = 2 ** -8 * Math.abs(sum) + 2 * f32Err;
    }
    const d = Math.abs(got[i] - sum);
    if (!(d <= tol)) assert.fail(`${what}: C(${row}, ${j}): got ${got[i]}, want ${sum} (|diff| ${d.toExponential(2)} > ${tol.toExponential(2)})`);
  }
  for (const o of [A, B, bias, C]) o.t.dispose();
}

for (const [p, pr] of PRODUCTS.entries()) {
  for (const [s, b] of (['f32', 'bf16x2', 'bf16'] as const).entries()) {
    test(`workgroup matmul ${pr.op} (A ${pr.aLayout}, B ${pr.bLayout} ${b}) matches float64`, async () => {
      const gpu = await testGpu();
      for (const [index, [rows, cols0, depth]] of SHAPES.entries()) {
        // bf16 pairs along j need an even column count (linear.ts reads single elements otherwise).
        const cols = b === 'bf16x2' && pr.bLayout === 'colMajor' ? cols0 + (cols0 % 2) : cols0;
        const n = (p * 3 + s) * SHAPES.length + index;
        // Flags are compiled into the kernel: one set per test (all sets over the nine tests) keeps it to one pipeline each.
        const flags = FLAG_SETS[(p * 3 + s) % FLAG_SETS.length];
        const cs: Case = { rows, cols, depth, aOff: 1 + (n % 4) * 3, cOff: 2 + (n % 3) * 4, flags };
        await check(gpu, pr, b, cs, 1000 * n + 17);
      }
    });
  }
}

test('workgroup matmul: workgroups past the last tile (a grid rounded up over y) write nothing', async () => {
  const gpu = await testGpu();
  // Accumulating, so a tile computed twice would show as a doubled product.
  const cs: Case = { rows: 70, cols: 130, depth: 33, aOff: 3, cOff: 5, flags: FLAG_ACCUMULATE };
  await check(gpu, PRODUCTS[0], 'f32', cs, 99, 2);
});

test('workgroup matmul rejects tiles no adapter can run', () => {
  const spec = { op: 'fwd', aLayout: 'rowMajor', bLayout: 'rowMajor', bDtype: 'f32', bPairs: false, flags: 0 } as const;
  assert.throws(() => workgroupMatmulKernel(spec, { bm: 128, bn: 128, bk: 8, tm: 4, tn: 4 }), /invocations/);
  assert.throws(() => workgroupMatmulKernel(spec, { bm: 128, bn: 128, bk: 16, tm: 8, tn: 8 }), /bytes/);
  assert.throws(() => workgroupMatmulKernel(spec, { bm: 64, bn: 64, bk: 16, tm: 3, tn: 4 }), /divide/);
  assert.throws(() => workgroupMatmulKernel({ ...spec, bDtype: 'bf16', bPairs: true }, { bm: 64, bn: 64, bk: 15, tm: 4, tn: 4 }), /even bk/);
});
