// The gradients of one optimizer step: the first contribution writes over whatever the buffer held, later ones add,
// and what nothing reached reads as zero; each step starts over. Expectations are float64 CPU products.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { Parameter } from '../../kernel/model/parameter.js';
import { referenceProduct } from '../../kernel/ops/matmul/reference.js';
import { Gradients } from '../../kernel/train/gradients.js';
import { assertProductClose } from './helpers/compare.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';

const [M, K, N] = [5, 12, 7];

test('a step\'s first contribution writes each gradient, later ones add, unreached ones read as zero', async () => {
  const gpu = await testGpu();
  const tag = gpu.activationTag('test');
  const weight = new Parameter(gpu, 'w', [N, K], 'bf16', 'block.0');
  const norm = new Parameter(gpu, 'norm', [K], 'bf16', 'block.0');
  const frozen = new Parameter(gpu, 'frozen', [N, K], 'bf16', 'block.0');
  const grads = new Gradients(gpu, [weight, norm]);
  const [dyv, xv] = [randomArray(M * N, 1), randomArray(M * K, 2)];
  const dy = Tensor.alloc(gpu, [M, N], 'f32', tag);
  const x = Tensor.alloc(gpu, [M, K], 'f32', tag);
  dy.write(dyv);
  x.write(xv);
  const once = referenceProduct(N, K, M, (n, m) => dyv[m * N + n], (k, m) => xv[m * K + k]);
  const twice = { value: once.value.map((v) => 2 * v), magnitude: once.magnitude.map((v) => 2 * v) };
  const byParam = () => new Map(grads.finishStep());
  try {
    assert.ok(grads.has(weight) && !grads.has(frozen));
    assert.equal(grads.accumulator(frozen), null);
    const [[, gw], [, gn]] = grads.finishStep();
    for (let step = 0; step < 2; step++) {
      // Stale values from the step before (or an unzeroed buffer) must not leak into this step's gradients.
      gw.write(randomArray(N * K, 3 + step));
      gn.write(randomArray(K, 5 + step));
      grads.startStep();
      grads.addLinearWeight(weight, dy, x);
      grads.addLinearWeight(frozen, dy, x); // no gradient: nothing happens
      assertProductClose(await gw.read(), once, M, `step ${step}: first contribution`);
      grads.addLinearWeight(weight, dy, x);
      const got = byParam();
      assertProductClose(await got.get(weight)!.read(), twice, 2 * M, `step ${step}: two contributions`);
      assert.deepEqual(await got.get(norm)!.read(), new Float32Array(K), `step ${step}: an unreached gradient is zero`);
    }
    // An op that adds into a gradient gets it zeroed on the step's first contribution only.
    grads.startStep();
    assert.equal(grads.accumulator(norm), gn);
    assert.deepEqual(await gn.read(), new Float32Array(K));
    gn.write(Float32Array.from({ length: K }, (_, i) => i));
    assert.equal(grads.accumulator(norm), gn);
    assert.deepEqual(await byParam().get(norm)!.read(), Float32Array.from({ length: K }, (_, i) => i));
  } finally {
    grads.dispose();
    dy.dispose();
    x.dispose();
  }
});
