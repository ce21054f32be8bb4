import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { AdamWState, adamwStep, type AdamWConfig } from '../../kernel/train/adamw.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor, type DType } from '../../kernel/gpu/tensor.js';
import type { MemoryTag } from '../../kernel/gpu/allocator.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';

const WEIGHT_TAG = { layer: 'block.0', tensor: 'w', kind: 'weights' } as const;
const GRAD_TAG = { layer: 'block.0', tensor: 'w grad', kind: 'grads' } as const;

/** Float64 AdamW, written from PyTorch's documented update (decoupled decay first, bias-corrected moments). */
class RefAdamW {
  readonly m: Float64Array;
  readonly v: Float64Array;
  constructor(readonly p: Float64Array, private readonly c: AdamWConfig) {
    this.m = new Float64Array(p.length);
    this.v = new Float64Array(p.length);
  }

  step(t: number, grad: ArrayLike<number>, scale = 1): void {
    const { lr, beta1, beta2, eps, weightDecay } = this.c;
    const bc1 = 1 - beta1 ** t;
    const bc2 = 1 - beta2 ** t;
    for (let i = 0; i < this.p.length; i++) {
      const g = grad[i] * scale;
      this.p[i] *= 1 - lr * weightDecay;
      this.m[i] = beta1 * this.m[i] + (1 - beta1) * g;
      this.v[i] = beta2 * this.v[i] + (1 - beta2) * g * g;
      this.p[i] -= (lr / bc1) * this.m[i] / (Math.sqrt(this.v[i]) / Math.sqrt(bc2) + eps);
    }
  }
}

function upload(gpu: Gpu, shape: number[], dtype: DType, values: Float32Array, tag: MemoryTag = WEIGHT_TAG): Tensor {
  const t = Tensor.alloc(gpu, shape, dtype, tag);
  t.write(values);
  return t;
}

/** f32 values as stored in a tensor of `dtype` (bf16 rounds to nearest even). */
function stored(values: Float32Array, dtype: DType): Float32Array {
  return dtype === 'f32' ? values : values.map((x) => roundBf16(x));
}

/** Checks the master weights (f32 param or master copy), the moments, and that a bf16 working copy is the rounded master. */
async function assertMatches(param: Tensor, state: AdamWState, ref: RefAdamW, lr: number, what: string): Promise<void> {
  const master = await (state.master ?? param).read();
  assertClose(master, ref.p, { rtol: 1e-6, atol: 1e-4 * lr, what: `${what} weights` });
  assertClose(await state.m.read(), ref.m, { rtol: 1e-6, what: `${what} exp_avg` });
  assertClose(await state.v.read(), ref.v, { rtol: 1e-6, what: `${what} exp_avg_sq` });
  if (state.master) {
    const working = await param.read();
    assert.deepEqual(working, master.map((x) => roundBf16(x)), `${what}: bf16 working copy is the master rounded to nearest even`);
  }
}

async function runAgainstReference(gpu: Gpu, shape: number[], dtype: DType, cfg: AdamWConfig, steps: number, seed: number, scaled = false): Promise<void> {
  const n = shape.reduce((a, b) => a * b, 1);
  const init = stored(randomArray(n, seed, 2), dtype);
  const param = upload(gpu, shape, dtype, init);
  const state = AdamWState.create(gpu, { tensor: param, name: 'w', layer: 'block.0' });
  const ref = new RefAdamW(Float64Array.from(init), cfg);
  const scaleValue = 0.375;
  const scale = scaled ? upload(gpu, [1], 'f32', Float32Array.of(scaleValue), GRAD_TAG) : undefined;
  const what = `${dtype} ${JSON.stringify(shape)} beta1=${cfg.beta1}${scaled ? ' scaled' : ''}`;
  for (let t = 1; t <= steps; t++) {
    const g = randomArray(n, seed * 100 + t, 1);
    g[t % n] = 1e-9; // a gradient far below eps
    const grad = upload(gpu, shape, 'f32', g, GRAD_TAG);
    adamwStep(gpu, state, param, grad, t, cfg, scale);
    ref.step(t, g, scaled ? scaleValue : 1);
    grad.dispose();
  }
  await assertMatches(param, state, ref, cfg.lr, what);
  state.dispose(); param.dispose(); scale?.dispose();
}

const CH06: AdamWConfig = { lr: 5e-5, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1 };
const LARGE: AdamWConfig = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-6, weightDecay: 0.3 };
// 1 - beta1 >= 0.5 takes ATen's other lerp branch.
const SMALL_BETA1: AdamWConfig = { lr: 1e-2, beta1: 0.3, beta2: 0.9, eps: 1e-8, weightDecay: 0.1 };

for (const dtype of ['f32', 'bf16'] as const) {
  test(`adamwStep (${dtype}) matches float64 over 5 steps: odd counts, weight decay, both lerp branches, gradient scale`, async () => {
    const gpu = await testGpu();
    await runAgainstReference(gpu, [3, 7], dtype, CH06, 5, 1);
    await runAgainstReference(gpu, [13], dtype, LARGE, 5, 2);
    await runAgainstReference(gpu, [5, 9], dtype, SMALL_BETA1, 5, 3);
    await runAgainstReference(gpu, [1], dtype, LARGE, 5, 4);
    await runAgainstReference(gpu, [2, 301], dtype, LARGE, 5, 5, true);
    // Counts divisible by 4: the kernel that updates 4 elements an invocation.
    await runAgainstReference(gpu, [4, 12], dtype, CH06, 5, 11);
    await runAgainstReference(gpu, [8, 6], dtype, SMALL_BETA1, 5, 12);
    await runAgainstReference(gpu, [2, 300], dtype, LARGE, 5, 13, true);
  });
}

test('adamwStep updates tensors split into parts (bf16 parts cut mid-word by the f32 state split)', async () => {
  // [77, 31] with 4 KiB buffers: bf16 parts of 66 rows, f32 parts of 33 rows, so row 33 starts at element
  // 1023, an odd element inside a packed bf16 word.
  const small = await Gpu.open({ maxBufferBytes: 4096 });
  try {
    for (const dtype of ['bf16', 'f32'] as const) {
      const param = Tensor.alloc(small, [77, 31], dtype, WEIGHT_TAG);
      assert.ok(param.parts.length >= 2, `${dtype} parameter split into ${param.parts.length} part(s)`);
      param.dispose();
      await runAgainstReference(small, [77, 31], dtype, LARGE, 3, 6);
      await runAgainstReference(small, [77, 31], dtype, CH06, 2, 7, true);
      // Rows of 32: every part starts on a group of 4 (the 4-element kernel, segment by segment).
      await runAgainstReference(small, [77, 32], dtype, LARGE, 3, 8, true);
    }
  } finally {
    small.destroy();
  }
});

interface FixtureCase {
  name: string;
  shapes: number[][];
  settings: { lr: number; betas: [number, number]; eps: number; weight_decay: number };
  grad_scale: number;
  initial: number[][];
  grads: number[][][];
  after: number[][][];
}

const fixture: { steps: number; cases: FixtureCase[] } = JSON.parse(fs.readFileSync('test/fixtures/adamw_reference.json', 'utf8'));

test('adamwStep agrees with torch.optim.AdamW (scripts/make-adamw-fixture.py) step by step', async () => {
  const gpu = await testGpu();
  for (const c of fixture.cases) {
    const cfg: AdamWConfig = { lr: c.settings.lr, beta1: c.settings.betas[0], beta2: c.settings.betas[1], eps: c.settings.eps, weightDecay: c.settings.weight_decay };
    // Every case runs with f32 parameters; a case whose start is bf16-representable also runs as a bf16 parameter
    // with an f32 master copy (the same arithmetic).
    const bf16Exact = c.initial.every((vals) => vals.every((x) => roundBf16(x) === x));
    for (const dtype of bf16Exact ? ['f32', 'bf16'] as const : ['f32'] as const) {
      const scale = c.grad_scale !== 1 ? upload(gpu, [1], 'f32', Float32Array.of(c.grad_scale), GRAD_TAG) : undefined;
      const params = c.shapes.map((shape, k) => upload(gpu, shape, dtype, Float32Array.from(c.initial[k])));
      const states = params.map((tensor, k) => AdamWState.create(gpu, { tensor, name: `p${k}`, layer: 'head' }));
      for (let t = 1; t <= fixture.steps; t++) {
        params.forEach((p, k) => {
          const grad = upload(gpu, c.shapes[k], 'f32', Float32Array.from(c.grads[t - 1][k]), GRAD_TAG);
          adamwStep(gpu, states[k], p, grad, t, cfg, scale);
          grad.dispose();
        });
        for (let k = 0; k < params.length; k++) {
          const got = await (states[k].master ?? params[k]).read();
          // f32 noise: a few ulps of each weight plus a few ulps of the update (PyTorch 1.13 forms m with mul/add,
          // current PyTorch and this kernel with lerp).
          assertClose(got, c.after[t - 1][k], { rtol: 3e-7, atol: 1e-4 * cfg.lr, what: `${c.name} (${dtype}) tensor ${k} step ${t}` });
          if (dtype === 'bf16') assert.deepEqual(await params[k].read(), got.map((x) => roundBf16(x)), `${c.name}: working copy`);
        }
      }
      for (const s of states) s.dispose();
      for (const p of params) p.dispose();
      scale?.dispose();
    }
  }
});

test('AdamWState: widened master copy, optimizer tags in the parameter layer, exact bytes, freed on dispose', async () => {
  const gpu = await testGpu();
  const values = stored(randomArray(21, 9, 3), 'bf16');
  const param = upload(gpu, [3, 7], 'bf16', values);
  const before = gpu.allocator.snapshot();
  const state = AdamWState.create(gpu, { tensor: param, name: 'model.norm.weight', layer: 'final_norm' });
  assert.ok(state.master);
  assert.deepEqual(await state.master.read(), values, 'master starts as the widened bf16 values');
  const rows = gpu.allocator.snapshot().rows.filter((r) => r.kind === 'optimizer' && r.layer === 'final_norm' && r.liveBytes > 0);
  assert.deepEqual(rows.map((r) => r.tensor).sort(), ['model.norm.weight:exp_avg', 'model.norm.weight:exp_avg_sq', 'model.norm.weight:master']);
  assert.equal(state.bytes, 3 * 21 * 4);
  assert.equal(gpu.allocator.snapshot().liveBytes - before.liveBytes, state.bytes);
  state.dispose();
  assert.equal(gpu.allocator.snapshot().liveBytes, before.liveBytes);

  const f32Param = upload(gpu, [5], 'f32', randomArray(5, 10));
  const f32State = AdamWState.create(gpu, { tensor: f32Param, name: 'out_head.bias', layer: 'head' });
  assert.equal(f32State.master, null, 'an f32 parameter is its own master');
  assert.equal(f32State.bytes, 2 * 5 * 4);
  f32State.dispose(); f32Param.dispose(); param.dispose();
});

test('adamwStep rejects mismatched shapes and dtypes, bad settings and steps', async () => {
  const gpu = await testGpu();
  const param = upload(gpu, [4, 3], 'bf16', new Float32Array(12));
  const state = AdamWState.create(gpu, { tensor: param, name: 'w', layer: 'block.0' });
  const grad = Tensor.alloc(gpu, [4, 3], 'f32', GRAD_TAG);
  const wrongShape = Tensor.alloc(gpu, [3, 4], 'f32', GRAD_TAG);
  const bf16Grad = Tensor.alloc(gpu, [4, 3], 'bf16', GRAD_TAG);
  const f32Param = Tensor.alloc(gpu, [4, 3], 'f32', WEIGHT_TAG);
  assert.throws(() => adamwStep(gpu, state, param, wrongShape, 1, CH06), { name: 'ShapeMismatchError' });
  assert.throws(() => adamwStep(gpu, state, param, bf16Grad, 1, CH06), { name: 'DtypeMismatchError' });
  assert.throws(() => adamwStep(gpu, state, f32Param, grad, 1, CH06), { name: 'DtypeMismatchError' });
  assert.throws(() => adamwStep(gpu, state, param, grad, 0, CH06), { name: 'UsageError' });
  assert.throws(() => adamwStep(gpu, state, param, grad, 1, { ...CH06, beta2: 1 }), /beta2 must be in \[0, 1\)/);
  assert.throws(() => adamwStep(gpu, state, param, grad, 1, { ...CH06, lr: -1 }), { name: 'UsageError' });
  for (const t of [grad, wrongShape, bf16Grad, f32Param, param]) t.dispose();
  state.dispose();
});
