import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rmsnorm } from '../../kernel/ops/rmsnorm.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';

function rmsnormRef(x: Float32Array, w: ArrayLike<number>, dim: number, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const s = 1 / Math.sqrt(ss / dim + eps);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * s * w[i];
  }
  return y;
}

for (const [rows, dim] of [[1, 64], [7, 100], [33, 130], [3, 1]] as const) {
  for (const wDtype of ['f32', 'bf16'] as const) {
    test(`rmsnorm ${rows}x${dim} weights ${wDtype} matches float64`, async () => {
      const gpu = await testGpu();
      const xv = randomArray(rows * dim, rows * 31 + dim, 3);
      let wv = randomArray(dim, dim, 1.5);
      if (wDtype === 'bf16') wv = wv.map(roundBf16);
      const x = Tensor.alloc(gpu, [rows, dim], 'f32', gpu.activationTag('x'));
      const w = Tensor.alloc(gpu, [dim], wDtype, { layer: 'test', tensor: 'w', kind: 'weights' });
      x.write(xv);
      w.write(wv);
      const y = rmsnorm(gpu, x, w, 1e-5);
      assertClose(await y.read(), rmsnormRef(xv, wv, dim, 1e-5), { rtol: 2e-6, what: 'rmsnorm' });
      for (const t of [x, w, y]) t.dispose();
    });
  }
}

test('rmsnorm rejects a non-f32 input (its kernels read f32 rows)', async () => {
  const gpu = await testGpu();
  const x = Tensor.alloc(gpu, [4, 256], 'bf16', gpu.activationTag('x'));
  const w = Tensor.alloc(gpu, [256], 'f32', { layer: 'test', tensor: 'w', kind: 'weights' });
  try {
    assert.throws(() => rmsnorm(gpu, x, w, 1e-5), /rmsnorm input: expected an f32 tensor, got bf16/);
  } finally {
    x.dispose(); w.dispose();
  }
});
