import { test } from 'node:test';
import assert from 'node:assert/strict';
import { add, addInPlace, scaleInPlace } from '../../kernel/ops/elementwise.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';

const GRAD_TAG = { layer: 'test', tensor: 'grad', kind: 'grads' } as const;

function upload(gpu: Gpu, shape: number[], values: Float32Array): Tensor {
  const t = Tensor.alloc(gpu, shape, 'f32', GRAD_TAG);
  t.write(values);
  return t;
}

for (const shape of [[3, 7, 13], [1000], [1]]) {
  test(`add ${JSON.stringify(shape)} matches float64, f32 and bf16 compute`, async () => {
    const gpu = await testGpu();
    const n = shape.reduce((a, b) => a * b, 1);
    const av = randomArray(n, n + 1, 4);
    const bv = randomArray(n, n + 2, 4);
    const a = upload(gpu, shape, av);
    const b = upload(gpu, shape, bv);
    const want = Float64Array.from(av, (x, i) => x + bv[i]);
    const out = add(gpu, a, b);
    assert.deepEqual(out.shape, shape);
    assertClose(await out.read(), want, { rtol: 1e-7, what: 'add f32' });
    const outBf16 = add(gpu, a, b, 'bf16');
    // bf16 compute: the f32 sum rounded to bf16 once, as PyTorch adds two bf16 tensors.
    assertClose(await outBf16.read(), want.map((x) => roundBf16(Math.fround(x))), { rtol: 0, what: 'add bf16' });
    for (const t of [a, b, out, outBf16]) t.dispose();
  });
}

test('addInPlace and scaleInPlace match float64', async () => {
  const gpu = await testGpu();
  const n = 5 * 263;
  const av = randomArray(n, 11, 2);
  const bv = randomArray(n, 12, 2);
  const a = upload(gpu, [5, 263], av);
  const b = upload(gpu, [5, 263], bv);
  addInPlace(gpu, a, b);
  scaleInPlace(gpu, a, -0.375);
  assertClose(await a.read(), Float64Array.from(av, (x, i) => (x + bv[i]) * -0.375), { rtol: 1e-7, what: 'a = (a + b) * s' });
  assertClose(await b.read(), bv, { rtol: 0, what: 'b unchanged' });
  a.dispose(); b.dispose();
});

test('addInPlace and scaleInPlace work part by part on split tensors', async () => {
  const small = await Gpu.open({ maxBufferBytes: 4096 });
  try {
    const shape = [77, 30]; // 9240 bytes per tensor: 3 parts of at most 34 rows
    const n = 77 * 30;
    const av = randomArray(n, 21, 3);
    const bv = randomArray(n, 22, 3);
    const a = upload(small, shape, av);
    const b = upload(small, shape, bv);
    assert.ok(a.parts.length >= 3, `expected a split tensor, got ${a.parts.length} part(s)`);
    addInPlace(small, a, b);
    scaleInPlace(small, a, 0.5);
    assertClose(await a.read(), Float64Array.from(av, (x, i) => (x + bv[i]) * 0.5), { rtol: 1e-7, what: 'split a = (a + b) / 2' });
  } finally {
    small.destroy();
  }
});

test('elementwise ops reject mismatched shapes and non-f32 tensors', async () => {
  const gpu = await testGpu();
  const a = Tensor.alloc(gpu, [4, 3], 'f32', GRAD_TAG);
  const b = Tensor.alloc(gpu, [3, 4], 'f32', GRAD_TAG);
  const c = Tensor.alloc(gpu, [4, 3], 'bf16', GRAD_TAG);
  assert.throws(() => add(gpu, a, b), { name: 'ShapeMismatchError' });
  assert.throws(() => addInPlace(gpu, a, c), { name: 'DtypeMismatchError' });
  assert.throws(() => scaleInPlace(gpu, c, 2), { name: 'DtypeMismatchError' });
  for (const t of [a, b, c]) t.dispose();
});
