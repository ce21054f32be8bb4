import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gatherRows, scatterRows } from '../../kernel/ops/rows.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';

function upload(gpu: Gpu, shape: number[], v: Float32Array | Uint32Array): Tensor {
  const t = Tensor.alloc(gpu, shape, v instanceof Uint32Array ? 'u32' : 'f32', gpu.activationTag('test input'));
  t.write(v);
  return t;
}

test('gatherRows picks the given rows, in the given order, repeats allowed', async () => {
  const gpu = await testGpu();
  const [rows, dim] = [37, 70];
  const xv = randomArray(rows * dim, 3, 5);
  const pick = [36, 0, 11, 11, 5];
  const x = upload(gpu, [rows, dim], xv);
  const idx = upload(gpu, [pick.length], Uint32Array.from(pick));
  const out = gatherRows(gpu, x, idx);
  assert.deepEqual(out.shape, [pick.length, dim]);
  const want = new Float32Array(pick.length * dim);
  pick.forEach((r, k) => want.set(xv.subarray(r * dim, (r + 1) * dim), k * dim));
  assert.deepEqual(await out.read(), want);
  for (const t of [x, idx, out]) t.dispose();
});

test('scatterRows writes the rows back and zeros everywhere else, even into a reused buffer', async () => {
  const gpu = await testGpu();
  const [total, dim] = [29, 45];
  const pick = [28, 3, 17];
  // Leave a dirty buffer of exactly the output's size in the activation pool for scatterRows to pick up.
  const dirty = Tensor.scratch(gpu, [total, dim], gpu.activationTag('dirty'));
  dirty.write(new Float32Array(total * dim).fill(7));
  dirty.dispose();
  const dyv = randomArray(pick.length * dim, 9, 2);
  const dy = upload(gpu, [pick.length, dim], dyv);
  const idx = upload(gpu, [pick.length], Uint32Array.from(pick));
  const out = scatterRows(gpu, dy, idx, total);
  assert.deepEqual(out.shape, [total, dim]);
  const want = new Float32Array(total * dim);
  pick.forEach((r, k) => want.set(dyv.subarray(k * dim, (k + 1) * dim), r * dim));
  assert.deepEqual(await out.read(), want);
  for (const t of [dy, idx, out]) t.dispose();
});

test('gatherRows and scatterRows check their arguments', async () => {
  const gpu = await testGpu();
  const x = Tensor.alloc(gpu, [4, 3], 'f32', gpu.activationTag('x'));
  const floatIdx = Tensor.alloc(gpu, [2], 'f32', gpu.activationTag('idx'));
  const idx = upload(gpu, [2], Uint32Array.from([0, 1]));
  assert.throws(() => gatherRows(gpu, x, floatIdx), { name: 'DtypeMismatchError' });
  assert.throws(() => scatterRows(gpu, x, idx, 8), { name: 'ShapeMismatchError' }); // 4 gradient rows, 2 indices
  for (const t of [x, floatIdx, idx]) t.dispose();
});
