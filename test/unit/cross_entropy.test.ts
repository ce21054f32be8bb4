import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crossEntropy } from '../../kernel/ops/cross_entropy.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray, randomInts } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';
import { numericGradient } from './helpers/finite_diff.js';

/** Per-row log-sum-exp in float64 (max-shifted). */
function logSumExp(logits: ArrayLike<number>, row: number, classes: number): number {
  let m = -Infinity;
  for (let c = 0; c < classes; c++) m = Math.max(m, logits[row * classes + c]);
  let s = 0;
  for (let c = 0; c < classes; c++) s += Math.exp(logits[row * classes + c] - m);
  return m + Math.log(s);
}

function crossEntropyRef(logits: ArrayLike<number>, labels: number[], classes: number): number {
  let total = 0;
  labels.forEach((label, r) => { total += logSumExp(logits, r, classes) - logits[r * classes + label]; });
  return total / labels.length;
}

function crossEntropyGradRef(logits: ArrayLike<number>, labels: number[], classes: number, gradScale: number): Float64Array {
  const grad = new Float64Array(logits.length);
  labels.forEach((label, r) => {
    const lse = logSumExp(logits, r, classes);
    for (let c = 0; c < classes; c++) {
      grad[r * classes + c] = (Math.exp(logits[r * classes + c] - lse) - (c === label ? 1 : 0)) * gradScale / labels.length;
    }
  });
  return grad;
}

async function run(gpu: Gpu, lv: Float32Array, labels: number[], gradScale?: number): Promise<{ loss: number; dLogits: Float32Array }> {
  const classes = lv.length / labels.length;
  const logits = Tensor.alloc(gpu, [labels.length, classes], 'f32', gpu.activationTag('logits'));
  const lab = Tensor.alloc(gpu, [labels.length], 'u32', gpu.activationTag('labels'));
  logits.write(lv);
  lab.write(Uint32Array.from(labels));
  const out = crossEntropy(gpu, logits, lab, gradScale);
  assert.deepEqual(out.loss.shape, [1]);
  assert.deepEqual(out.dLogits.shape, [labels.length, classes]);
  const result = { loss: (await out.loss.read())[0], dLogits: await out.dLogits.read() };
  for (const t of [logits, lab, out.loss, out.dLogits]) t.dispose();
  return result;
}

test('CPU cross-entropy gradient matches central differences of the loss', () => {
  const [rows, classes] = [3, 5];
  const lv = randomArray(rows * classes, 4, 3);
  const labels = [4, 0, 2];
  const want = numericGradient((v) => [crossEntropyRef(v, labels, classes)], lv, [1]);
  assertClose(crossEntropyGradRef(lv, labels, classes, 1), want, { rtol: 1e-7, what: 'dLogits vs finite differences' });
});

// 9001 classes span 36 strided segments per row; 300 rows exceed the 64 invocations of the mean pass.
for (const [rows, classes, gradScale] of [[5, 1000, 1], [3, 9001, 0.25], [300, 7, 1]] as const) {
  test(`cross-entropy ${rows}x${classes} (gradScale ${gradScale}) matches float64`, async () => {
    const gpu = await testGpu();
    const lv = randomArray(rows * classes, rows + classes, 6);
    const labels = randomInts(rows, classes, classes);
    const got = await run(gpu, lv, labels, gradScale);
    const want = crossEntropyRef(lv, labels, classes);
    assert.ok(Math.abs(got.loss - want) <= 2e-6 * want, `loss ${got.loss} vs ${want}`);
    assertClose(got.dLogits, crossEntropyGradRef(lv, labels, classes, gradScale), { rtol: 1e-5, what: 'dLogits' });
  });
}

test('cross-entropy is stable for large logits', async () => {
  const gpu = await testGpu();
  const [rows, classes] = [4, 300];
  // Logits around +-3e4: exp overflows f32 without the max shift; rows also differ by large offsets.
  const lv = randomArray(rows * classes, 77, 30).map((v, i) => v * 1000 + (Math.floor(i / classes) - 2) * 20000);
  const labels = [0, 150, 299, 42];
  lv[150 + classes] = lv.subarray(classes, 2 * classes).reduce((a, b) => Math.max(a, b)) + 1.5; // a confident row
  const got = await run(gpu, lv, labels);
  const want = crossEntropyRef(lv, labels, classes);
  assert.ok(Number.isFinite(got.loss), `loss ${got.loss}`);
  // Absolute f32 error of logsumexp - logit at |x| ~ 6e4 is a few ulp of the logits (~4e-3 each).
  assert.ok(Math.abs(got.loss - want) <= 2e-2, `loss ${got.loss} vs ${want}`);
  assert.ok(got.dLogits.every(Number.isFinite), 'dLogits finite');
  // x - logsumexp carries the same f32 error, so each probability is off by up to ~0.4% (gradients are <= 1/rows).
  assertClose(got.dLogits, crossEntropyGradRef(lv, labels, classes, 1), { atol: 0.004 / rows, rtol: 0, what: 'dLogits' });
});

test('crossEntropy rejects labels that do not match the logits', async () => {
  const gpu = await testGpu();
  const logits = Tensor.alloc(gpu, [3, 4], 'f32', gpu.activationTag('logits'));
  const labels = Tensor.alloc(gpu, [2], 'u32', gpu.activationTag('labels'));
  assert.throws(() => crossEntropy(gpu, logits, labels), { name: 'ShapeMismatchError' });
  assert.throws(() => crossEntropy(gpu, logits, logits), { name: 'DtypeMismatchError' });
  logits.dispose(); labels.dispose();
});
