// linear forward and backward against float64 CPU products, on shapes that are not multiples of any tile, for
// every kernel variant (forced), bf16 and f32 weights, with and without bias, split weights and accumulation.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { MemoryTag } from '../../kernel/gpu/allocator.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { Tensor, type DType } from '../../kernel/gpu/tensor.js';
import { DtypeMismatchError, ShapeMismatchError } from '../../kernel/errors.js';
import { linear, linearGradBias, linearGradInput, linearGradWeight } from '../../kernel/ops/linear.js';
import { referenceProduct, type ReferenceProduct } from '../../kernel/ops/matmul/reference.js';
import { BIG_FORWARD_MACS, MATMUL_VARIANTS, forceMatmulVariant, matmulTile } from '../../kernel/ops/matmul/variants.js';
import { testGpu } from './helpers/gpu.js';
import { F32_U, assertProductClose } from './helpers/compare.js';
import { randomArray } from './helpers/random.js';

const WEIGHTS: MemoryTag = { layer: 'test', tensor: 'w', kind: 'weights' };
const GRADS: MemoryTag = { layer: 'test', tensor: 'grad', kind: 'grads' };

/** A float64 product with, per element, the sum of |terms| that bounds its f32 accumulation error. */
interface Expected extends ReferenceProduct { terms: number }

/** out[i, j] = init[i, j] + sum_r a(i, r) * b(j, r). */
function product(rows: number, cols: number, depth: number, a: (i: number, r: number) => number,
  b: (j: number, r: number) => number, init?: ArrayLike<number>): Expected {
  return { ...referenceProduct(rows, cols, depth, a, b, init), terms: depth + 1 };
}

/** Within f32 accumulation error of the expected product (its terms plus a bias add). */
function assertF32Close(got: Float32Array, want: Expected, what: string): void {
  assertProductClose(got, want, want.terms, what);
}

/** Every value is a bf16 and within one bf16 rounding (2^-8 relative) of the exact result, plus the f32 error. */
function assertBf16Close(got: Float32Array, want: Expected, what: string): void {
  const bits = new Uint32Array(got.buffer, got.byteOffset, got.length);
  for (let e = 0; e < got.length; e++) {
    assert.equal(bits[e] & 0xffff, 0, `${what}: element ${e} = ${got[e]} is not a bf16 value`);
    const f32Err = (want.terms + 2) * F32_U * want.magnitude[e];
    const tol = 2 ** -8 * Math.abs(want.value[e]) + 2 * f32Err + 1e-30;
    const d = Math.abs(got[e] - want.value[e]);
    if (!(d <= tol)) assert.fail(`${what}: element ${e}: got ${got[e]}, want ${want.value[e]} (|diff| ${d.toExponential(2)} > ${tol.toExponential(2)})`);
  }
}

/** Random values, already rounded to bf16 when stored as bf16 (so the CPU reference sees the stored values). */
function values(n: number, seed: number, dtype: DType, scale = 1): Float32Array {
  const v = randomArray(n, seed, scale);
  return dtype === 'bf16' ? v.map(roundBf16) : v;
}

function upload(gpu: Gpu, shape: number[], dtype: DType, data: Float32Array, tag: MemoryTag = WEIGHTS): Tensor {
  const t = Tensor.alloc(gpu, shape, dtype, tag);
  t.write(data);
  return t;
}

// Shapes: every M tile class (1 row, a few rows, many), K with and without a remainder of the unrolled loop (70: a
// remainder of bf16 pairs; odd K reads bf16 one element at a time), N below, across and above one tile of columns.
const SHAPES: [number, number, number][] = [
  [1, 64, 129], [1, 67, 7], [3, 5, 96], [3, 64, 1], [37, 67, 96], [37, 70, 96], [37, 1, 7], [130, 64, 129], [130, 5, 1],
];
const BIASES = [null, 'f32', 'bf16'] as const;

after(() => forceMatmulVariant(null));

for (const variant of MATMUL_VARIANTS) {
  for (const wDtype of ['bf16', 'f32'] as const) {
    test(`linear forward and backward (${variant}, ${wDtype} weights) match float64`, async () => {
      const gpu = await testGpu();
      forceMatmulVariant(variant);
      for (const [index, [M, K, N]] of SHAPES.entries()) {
        const seed = M * 10007 + K * 101 + N;
        const what = `M=${M} K=${K} N=${N}`;
        const xv = values(M * K, seed, 'f32');
        const wv = values(N * K, seed + 1, wDtype, 0.5);
        const dyv = values(M * N, seed + 2, 'f32');
        const biasDtype = BIASES[index % 3];
        const bv = biasDtype ? values(N, seed + 3, biasDtype) : null;
        const x = upload(gpu, [M, K], 'f32', xv);
        const w = upload(gpu, [N, K], wDtype, wv);
        const bias = biasDtype && bv ? upload(gpu, [N], biasDtype, bv) : null;
        const dy = upload(gpu, [M, N], 'f32', dyv);

        const y = linear(gpu, x, w, bias);
        const withBias = product(M, N, K, (m, k) => xv[m * K + k], (n, k) => wv[n * K + k],
          bv ? Float64Array.from({ length: M * N }, (_, e) => bv[e % N]) : undefined);
        assertF32Close(await y.read(), withBias, `y (${what}, bias ${biasDtype ?? 'none'})`);

        const dx = linearGradInput(gpu, dy, w);
        assertF32Close(await dx.read(), product(M, K, N, (m, n) => dyv[m * N + n], (k, n) => wv[n * K + k]), `dx (${what})`);

        // dw starts from random values: writing replaces them, accumulating adds to them.
        const dw0 = values(N * K, seed + 4, 'f32');
        const dw = upload(gpu, [N, K], 'f32', dw0, GRADS);
        const dwProduct = (start?: Float32Array) => product(N, K, M, (n, m) => dyv[m * N + n], (k, m) => xv[m * K + k], start);
        linearGradWeight(gpu, dy, x, dw, { accumulate: false });
        assertF32Close(await dw.read(), dwProduct(), `dw written (${what})`);
        dw.write(dw0);
        linearGradWeight(gpu, dy, x, dw, { accumulate: true });
        assertF32Close(await dw.read(), dwProduct(dw0), `dw accumulated (${what})`);

        const db0 = values(N, seed + 5, 'f32');
        const db = upload(gpu, [N], 'f32', db0, GRADS);
        linearGradBias(gpu, dy, db);
        assertF32Close(await db.read(), product(1, N, M, () => 1, (n, m) => dyv[m * N + n], db0), `db (${what})`);

        for (const t of [x, w, bias, dy, y, dx, dw, db]) t?.dispose();
      }
    });
  }

  test(`linear with leading dims and bf16 compute rounds every output (${variant})`, async () => {
    const gpu = await testGpu();
    forceMatmulVariant(variant);
    const [B, T, K, N] = [2, 5, 64, 33];
    const xv = values(B * T * K, 7, 'f32');
    const wv = values(N * K, 8, 'bf16', 0.5);
    const bv = values(N, 9, 'bf16');
    const x = upload(gpu, [B, T, K], 'f32', xv);
    const w = upload(gpu, [N, K], 'bf16', wv);
    const bias = upload(gpu, [N], 'bf16', bv);
    const y = linear(gpu, x, w, bias, 'bf16');
    assert.deepEqual(y.shape, [B, T, N]);
    const want = product(B * T, N, K, (m, k) => xv[m * K + k], (n, k) => wv[n * K + k],
      Float64Array.from({ length: B * T * N }, (_, e) => bv[e % N]));
    assertBf16Close(await y.read(), want, 'bf16 compute');
    const dx = linearGradInput(gpu, y, w);
    assert.deepEqual(dx.shape, [B, T, K]);
    for (const t of [x, w, bias, y, dx]) t.dispose();
  });
}

test('a forward product big enough for 32-row tiles (subgroup4) matches float64, rows past the last full tile too', async () => {
  const gpu = await testGpu();
  forceMatmulVariant('subgroup4');
  // 250 rows pad to 256 either way; K leaves a remainder of bf16 pairs after the unrolled loop; N is not a multiple
  // of a workgroup's 64 columns. The shape is just over BIG_FORWARD_MACS: its pipeline takes ~20 s to compile.
  const [M, K, N] = [250, 4098, 1061];
  assert.ok(M * K * N >= BIG_FORWARD_MACS);
  assert.equal(matmulTile('subgroup4', M, 'fwd', M * K * N).tm, 32, 'the product runs on 32-row tiles');
  const xv = values(M * K, 21, 'f32');
  const wv = values(N * K, 22, 'bf16', 0.5);
  const x = upload(gpu, [M, K], 'f32', xv);
  const w = upload(gpu, [N, K], 'bf16', wv);
  const y = linear(gpu, x, w);
  const got = await y.read();
  // Every column of some rows of the first, a middle and the last (partial) tile of 32 rows.
  const rows = [0, 1, 31, 32, 127, 128, 223, 224, 240, 245, 248, 249];
  const want = product(rows.length, N, K, (i, k) => xv[rows[i] * K + k], (n, k) => wv[n * K + k]);
  const gotRows = Float32Array.from({ length: rows.length * N }, (_, e) => got[rows[Math.floor(e / N)] * N + (e % N)]);
  assertF32Close(gotRows, want, `y (M=${M} K=${K} N=${N}, rows ${rows.join(', ')})`);
  for (const t of [x, w, y]) t.dispose();
});

test('split weights (3+ parts) give the same results as whole ones', async () => {
  const gpu = await testGpu();
  const tiny = await Gpu.open({ maxBufferBytes: 4096 });
  try {
    // The second device compiles its own pipelines: one case per variant, and for subgroup4 a shape whose tiles
    // compile fast (one-row tiles: M = 1, and dw parts of 2 rows).
    for (const [variant, wDtype, M, K, N] of [['subgroup4', 'bf16', 1, 512, 9], ['plain', 'f32', 3, 64, 129]] as const) {
      forceMatmulVariant(variant);
      const xv = values(M * K, 11 + M, 'f32');
      const wv = values(N * K, 12, wDtype, 0.5);
      const bv = values(N, 13, 'f32');
      const dyv = values(M * N, 14 + M, 'f32');
      const outputs = [];
      for (const g of [gpu, tiny]) {
        const x = upload(g, [M, K], 'f32', xv);
        const w = upload(g, [N, K], wDtype, wv);
        const bias = upload(g, [N], 'f32', bv);
        const dy = upload(g, [M, N], 'f32', dyv);
        const dw = Tensor.alloc(g, [N, K], 'f32', GRADS);
        const y = linear(g, x, w, bias);
        const dx = linearGradInput(g, dy, w);
        linearGradWeight(g, dy, x, dw, { accumulate: false });
        outputs.push({ parts: [w.parts.length, dw.parts.length], y: await y.read(), dx: await dx.read(), dw: await dw.read() });
        for (const t of [x, w, bias, dy, dw, y, dx]) t.dispose();
      }
      const [whole, split] = outputs;
      assert.deepEqual(whole.parts, [1, 1]);
      assert.ok(split.parts[0] >= 3 && split.parts[1] >= 3, `parts: ${split.parts}`);
      // Parts are blocks of output columns (y) or rows (dw): the same arithmetic per element, bit for bit.
      assert.deepEqual(split.y, whole.y, `y (${wDtype}, M=${M})`);
      assert.deepEqual(split.dw, whole.dw, `dw (${wDtype}, M=${M})`);
      // dx sums the parts' shares of N: the order of additions changes, not the float64 bound.
      assertF32Close(split.dx, product(M, K, N, (m, n) => dyv[m * N + n], (k, n) => wv[n * K + k]), `split dx (${wDtype}, M=${M})`);
    }
  } finally {
    tiny.destroy();
  }
});

test('more workgroups than one grid dimension holds (65535) still covers every output', async () => {
  const gpu = await testGpu();
  forceMatmulVariant(null);
  const [M, K, N] = [4100, 2, 4100];
  const xv = values(M * K, 21, 'f32');
  const wv = values(N * K, 22, 'bf16');
  const x = upload(gpu, [M, K], 'f32', xv);
  const w = upload(gpu, [N, K], 'bf16', wv);
  const y = linear(gpu, x, w);
  const got = await y.read();
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const want = Math.fround(Math.fround(xv[m * K] * wv[n * K]) + Math.fround(xv[m * K + 1] * wv[n * K + 1]));
      const d = Math.abs(got[m * N + n] - want);
      if (!(d <= 4 * F32_U * (Math.abs(xv[m * K] * wv[n * K]) + Math.abs(xv[m * K + 1] * wv[n * K + 1])))) {
        assert.fail(`y[${m}, ${n}] = ${got[m * N + n]}, want ${want}`);
      }
    }
  }
  for (const t of [x, w, y]) t.dispose();
});

test('linear rejects mismatched shapes and dtypes with typed errors', async () => {
  const gpu = await testGpu();
  const x = Tensor.alloc(gpu, [3, 8], 'f32', gpu.activationTag('x'));
  const w = Tensor.alloc(gpu, [5, 7], 'bf16', WEIGHTS);
  const wOk = Tensor.alloc(gpu, [5, 8], 'bf16', WEIGHTS);
  const xBf16 = Tensor.alloc(gpu, [3, 8], 'bf16', WEIGHTS);
  const bias = Tensor.alloc(gpu, [4], 'f32', WEIGHTS);
  assert.throws(() => linear(gpu, x, w), ShapeMismatchError);
  assert.throws(() => linear(gpu, x, wOk, bias), ShapeMismatchError);
  assert.throws(() => linear(gpu, xBf16, wOk), DtypeMismatchError);
  assert.throws(() => linearGradInput(gpu, x, wOk), ShapeMismatchError);
  const dw = Tensor.alloc(gpu, [5, 8], 'bf16', GRADS);
  const dy = Tensor.alloc(gpu, [3, 5], 'f32', gpu.activationTag('dy'));
  assert.throws(() => linearGradWeight(gpu, dy, x, dw, { accumulate: false }), DtypeMismatchError);
  for (const t of [x, w, wOk, xBf16, bias, dw, dy]) t.dispose();
});

test('linearGradWeight over zero rows: writing gives zeros, accumulating leaves dw as it was', async () => {
  const gpu = await testGpu();
  const dy = Tensor.alloc(gpu, [0, 5], 'f32', gpu.activationTag('dy'));
  const x = Tensor.alloc(gpu, [0, 8], 'f32', gpu.activationTag('x'));
  const start = values(5 * 8, 21, 'f32');
  const dw = upload(gpu, [5, 8], 'f32', start, GRADS);
  linearGradWeight(gpu, dy, x, dw, { accumulate: true });
  assert.deepEqual(await dw.read(), start);
  linearGradWeight(gpu, dy, x, dw, { accumulate: false });
  assert.deepEqual(await dw.read(), new Float32Array(5 * 8));
  for (const t of [dy, x, dw]) t.dispose();
});
