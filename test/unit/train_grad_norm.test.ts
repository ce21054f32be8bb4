import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gradNorms, partialCount } from '../../kernel/train/grad_norm.js';
import { AdamWState, adamwStep } from '../../kernel/train/adamw.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';

const GRAD_TAG = { layer: 'block.0', tensor: 'grad', kind: 'grads' } as const;

function upload(gpu: Gpu, shape: number[], values: Float32Array): Tensor {
  const t = Tensor.alloc(gpu, shape, 'f32', GRAD_TAG);
  t.write(values);
  return t;
}

function norm64(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

/** torch.nn.utils.clip_grad_norm_: clip_coef = max_norm / (total + 1e-6), clamped to 1. */
function clipCoef64(total: number, maxNorm: number): number {
  return Math.min(maxNorm / (total + 1e-6), 1);
}

async function check(gpu: Gpu, shapes: number[][], seed: number): Promise<void> {
  const values = shapes.map((s, k) => randomArray(s.reduce((a, b) => a * b, 1), seed + k, 1 + k));
  const grads = shapes.map((s, k) => upload(gpu, s, values[k]));
  const wantNorms = values.map(norm64);
  const wantTotal = norm64(wantNorms);
  const what = JSON.stringify(shapes);
  for (const maxNorm of [undefined, wantTotal / 3, wantTotal * 2]) {
    const norms = gradNorms(gpu, grads, { maxNorm });
    const got = await norms.read();
    assertClose(got.perTensor, wantNorms, { rtol: 2e-6, what: `${what} per-tensor norms` });
    assertClose([got.total], [wantTotal], { rtol: 2e-6, what: `${what} total norm` });
    const wantScale = maxNorm === undefined ? 1 : clipCoef64(wantTotal, maxNorm);
    assertClose([got.clipScale], [wantScale], { rtol: 2e-6, what: `${what} clip scale (max norm ${maxNorm})` });
    norms.dispose();
  }
  for (const g of grads) g.dispose();
}

test('gradNorms: per-tensor and total L2 norms and the clip coefficient match float64', async () => {
  const gpu = await testGpu();
  // Odd sizes, a single element, and a tensor large enough for many strided partial sums.
  await check(gpu, [[3, 7], [1], [64, 1031], [13]], 1);
  await check(gpu, [[5]], 2);
});

test('gradNorms sums every part of split gradients', async () => {
  const small = await Gpu.open({ maxBufferBytes: 4096 });
  try {
    const probe = Tensor.alloc(small, [77, 30], 'f32', GRAD_TAG);
    assert.ok(probe.parts.length >= 3, `expected a split tensor, got ${probe.parts.length} part(s)`);
    probe.dispose();
    await check(small, [[77, 30], [9], [200, 11]], 3);
  } finally {
    small.destroy();
  }
});

test('clipping: adamwStep with the GPU clip scale equals a step on gradients scaled on the host', async () => {
  const gpu = await testGpu();
  const cfg = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
  const shapes = [[4, 6], [5]];
  const gv = shapes.map((s, k) => randomArray(s[0] * (s[1] ?? 1), 40 + k, 2));
  const pv = shapes.map((s, k) => randomArray(s[0] * (s[1] ?? 1), 50 + k, 1));
  const grads = shapes.map((s, k) => upload(gpu, s, gv[k]));
  const norms = gradNorms(gpu, grads, { maxNorm: 0.5 });
  const { clipScale } = await norms.read();
  assert.ok(clipScale < 0.2, `the gradients are clipped (scale ${clipScale})`);
  const clipped = shapes.map((s, k) => upload(gpu, s, pv[k]));
  const byHost = shapes.map((s, k) => upload(gpu, s, pv[k]));
  const hostGrads = shapes.map((s, k) => upload(gpu, s, gv[k].map((x) => Math.fround(x * clipScale))));
  for (let k = 0; k < shapes.length; k++) {
    const a = AdamWState.create(gpu, { tensor: clipped[k], name: `a${k}`, layer: 'head' });
    const b = AdamWState.create(gpu, { tensor: byHost[k], name: `b${k}`, layer: 'head' });
    adamwStep(gpu, a, clipped[k], grads[k], 1, cfg, norms.clipScale);
    adamwStep(gpu, b, byHost[k], hostGrads[k], 1, cfg);
    assert.deepEqual(await clipped[k].read(), await byHost[k].read(), `tensor ${k}`);
    a.dispose(); b.dispose();
  }
  norms.dispose();
  for (const t of [...grads, ...clipped, ...byHost, ...hostGrads]) t.dispose();
});

test('partialCount balances the two levels', () => {
  assert.equal(partialCount(0), 0);
  assert.equal(partialCount(1), 1);
  assert.equal(partialCount(64), 1);
  assert.equal(partialCount(1000), 16);
  assert.equal(partialCount(4096 * 4096), 4096);
});

test('gradNorms rejects an empty list, a bad max norm and non-f32 gradients', async () => {
  const gpu = await testGpu();
  const g = Tensor.alloc(gpu, [3], 'f32', GRAD_TAG);
  const b = Tensor.alloc(gpu, [3], 'bf16', GRAD_TAG);
  assert.throws(() => gradNorms(gpu, []), { name: 'UsageError' });
  assert.throws(() => gradNorms(gpu, [g], { maxNorm: 0 }), /max norm must be > 0/);
  assert.throws(() => gradNorms(gpu, [g, b]), { name: 'DtypeMismatchError' });
  g.dispose(); b.dispose();
});
