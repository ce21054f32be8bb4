import { test } from 'node:test';
import assert from 'node:assert/strict';
import { attention, planAttention, runAttention, splitKeys, type ForwardPlan } from '../../kernel/ops/attention.js';
import { attentionBackward, runAttentionBackward, type BackwardPlan } from '../../kernel/ops/attention_backward.js';
import { writeKvCache } from '../../kernel/ops/kv_cache.js';
import { defaultLanes } from '../../kernel/ops/attention_codegen.js';
import type { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { ShapeMismatchError, UsageError } from '../../kernel/errors.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';
import { refAttention, refAttentionBackward, type RefShape } from './helpers/attention_ref.js';

// f32 on the GPU vs float64 here: observed errors are ~1e-7 of the largest value; 1e-5 leaves room for exp().
const RTOL = 1e-5;

function tensor(gpu: Gpu, shape: number[], data: Float32Array): Tensor {
  const t = Tensor.alloc(gpu, shape, 'f32', gpu.activationTag('test input'));
  t.write(data);
  return t;
}

interface Inputs { q: Float32Array; k: Float32Array; v: Float32Array }

/** Scores of O(1-3) so that the softmax is neither flat nor one-hot. */
function inputs(s: RefShape, seed: number): Inputs {
  return {
    q: randomArray(s.B * s.T * s.H * s.Dh, seed, 1.5),
    k: randomArray(s.B * s.S * s.KV * s.Dh, seed + 1, 1.5),
    v: randomArray(s.B * s.S * s.KV * s.Dh, seed + 2, 1),
  };
}

async function checkForward(gpu: Gpu, s: RefShape, x: Inputs, plan: ForwardPlan | null, what: string): Promise<void> {
  const q = tensor(gpu, [s.B, s.T, s.H, s.Dh], x.q);
  const k = tensor(gpu, [s.B, s.S, s.KV, s.Dh], x.k);
  const v = tensor(gpu, [s.B, s.S, s.KV, s.Dh], x.v);
  const opts = { posOffset: 0, kvLen: s.T, saveLse: true };
  const { out, lse } = plan ? runAttention(gpu, q, k, v, opts, plan) : attention(gpu, q, k, v, opts);
  const ref = refAttention(x.q, x.k, x.v, s, 0, s.T);
  assertClose(await out.read(), ref.o, { rtol: RTOL, what: `${what} out` });
  assertClose(await lse!.read(), ref.lse, { atol: 1e-5, rtol: 0, what: `${what} lse` });
  for (const t of [q, k, v, out, lse!]) t.dispose();
}

const shapes: [B: number, T: number, H: number, KV: number, Dh: number][] = [
  [1, 1, 4, 2, 8], [3, 3, 4, 1, 16], [1, 45, 4, 4, 16], [3, 45, 6, 3, 8], [1, 150, 4, 2, 24], [2, 7, 4, 2, 10],
  [1, 20, 4, 2, 128], [1, 300, 4, 1, 16],
];
for (const [B, T, H, KV, Dh] of shapes) {
  test(`attention prefill B=${B} T=${T} H=${H} KV=${KV} Dh=${Dh} (device plan) matches float64, lse included`, async () => {
    const gpu = await testGpu();
    const s = { B, T, H, KV, S: T, Dh };
    await checkForward(gpu, s, inputs(s, B * 1000 + T * 10 + Dh), null, 'attention');
  });
}

test('attention: every forward variant (lanes, row blocks, key blocks, key splits) matches float64', async () => {
  const gpu = await testGpu();
  const s = { B: 2, T: 45, H: 6, KV: 3, S: 45, Dh: 16 };
  const x = inputs(s, 7);
  const laneChoices = defaultLanes(gpu, s.Dh) === 4 ? [1, 4] as const : [1] as const;
  for (const lanes of laneChoices) {
    for (const [headsPerItem, tokensPerItem, keyBlock, splits] of [[1, 1, 1, 1], [2, 5, 3, 4], [1, 4, 2, 45]]) {
      // Workgroup sizes of the two device defaults: 64 (real GPUs, 1 lane) and 16 (SwiftShader, 4 lanes).
      const plan = splitKeys({ lanes, workgroupSize: lanes === 1 ? 64 : 16, headsPerItem, tokensPerItem, keyBlock }, s.T, splits);
      await checkForward(gpu, s, x, plan, `plan ${JSON.stringify(plan)}`);
    }
  }
});

test('attention decode over a partly filled KV cache equals the last rows of a full prefill', async () => {
  const gpu = await testGpu();
  const [B, H, KV, Dh, S, past] = [2, 4, 2, 16, 64, 40];
  const total = past + 4; // prefill `past` tokens, then decode 1 token, then 3 tokens at once
  const full = { B, T: total, H, KV, S: total, Dh };
  const x = inputs(full, 11);
  // Cache slots that are never written hold NaN: reading one would poison the output.
  const cacheK = tensor(gpu, [B, S, KV, Dh], new Float32Array(B * S * KV * Dh).fill(NaN));
  const cacheV = tensor(gpu, [B, S, KV, Dh], new Float32Array(B * S * KV * Dh).fill(NaN));
  const rows = (a: Float32Array, per: number, from: number, to: number) => {
    const out = new Float32Array(B * (to - from) * per);
    for (let b = 0; b < B; b++) out.set(a.subarray((b * total + from) * per, (b * total + to) * per), b * (to - from) * per);
    return out;
  };
  const kvRow = KV * Dh;
  const qRow = H * Dh;
  const ref = refAttention(x.q, x.k, x.v, full, 0, total);
  const prefillQ = tensor(gpu, [B, total, H, Dh], x.q);
  const prefillK = tensor(gpu, [B, total, KV, Dh], x.k);
  const prefillV = tensor(gpu, [B, total, KV, Dh], x.v);
  const prefill = attention(gpu, prefillQ, prefillK, prefillV, { posOffset: 0, kvLen: total }).out;
  const prefillOut = await prefill.read();

  for (const [from, to] of [[0, past], [past, past + 1], [past + 1, total]]) {
    const kNew = tensor(gpu, [B, to - from, KV, Dh], rows(x.k, kvRow, from, to));
    const vNew = tensor(gpu, [B, to - from, KV, Dh], rows(x.v, kvRow, from, to));
    writeKvCache(gpu, cacheK, kNew, from);
    writeKvCache(gpu, cacheV, vNew, from);
    const q = tensor(gpu, [B, to - from, H, Dh], rows(x.q, qRow, from, to));
    const opts = { posOffset: from, kvLen: to };
    const shape = { B, T: to - from, H, KV, S, Dh };
    const plans = [planAttention(gpu, shape, opts), splitKeys({ ...planAttention(gpu, shape, opts), keyBlock: 2 }, to, 6)];
    for (const plan of plans) {
      const { out } = runAttention(gpu, q, cacheK, cacheV, opts, plan);
      const got = await out.read();
      const what = `positions ${from}..${to - 1}, ${plan.splits} split(s)`;
      assertClose(got, rows(prefillOut, qRow, from, to), { rtol: RTOL, what: `${what} vs prefill` });
      assertClose(got, rows(Float32Array.from(ref.o), qRow, from, to), { rtol: RTOL, what: `${what} vs float64` });
      out.dispose();
    }
    for (const t of [kNew, vNew, q]) t.dispose();
  }
  for (const t of [cacheK, cacheV, prefillQ, prefillK, prefillV, prefill]) t.dispose();
});

test('attention in bf16 compute rounds the output to bf16, with and without key splits', async () => {
  const gpu = await testGpu();
  const s = { B: 1, T: 9, H: 4, KV: 2, S: 9, Dh: 8 };
  const x = inputs(s, 21);
  const [q, k, v] = [tensor(gpu, [1, 9, 4, 8], x.q), tensor(gpu, [1, 9, 2, 8], x.k), tensor(gpu, [1, 9, 2, 8], x.v)];
  const opts = { posOffset: 0, kvLen: 9, compute: 'bf16' as const };
  const ref = refAttention(x.q, x.k, x.v, s, 0, 9).o;
  for (const plan of [planAttention(gpu, s, opts), splitKeys(planAttention(gpu, s, opts), 9, 3)]) {
    const { out, lse } = runAttention(gpu, q, k, v, opts, plan);
    assert.equal(lse, null);
    const got = await out.read();
    assert.ok(got.every((g) => roundBf16(g) === g), 'outputs are bf16 values');
    // One bf16 rounding of the f32 result: within half a bf16 ulp (2^-9 relative) of the exact value.
    got.forEach((g, i) => assert.ok(Math.abs(g - ref[i]) <= Math.abs(ref[i]) * 2 ** -8 + 1e-6, `${plan.splits} split(s), element ${i}: ${g} vs ${ref[i]}`));
    out.dispose();
  }
  for (const t of [q, k, v]) t.dispose();
});

async function checkBackward(gpu: Gpu, s: RefShape, seed: number, plan: BackwardPlan | null, what: string): Promise<void> {
  const x = inputs(s, seed);
  const dOv = randomArray(s.B * s.T * s.H * s.Dh, seed + 3, 1);
  const q = tensor(gpu, [s.B, s.T, s.H, s.Dh], x.q);
  const k = tensor(gpu, [s.B, s.T, s.KV, s.Dh], x.k);
  const v = tensor(gpu, [s.B, s.T, s.KV, s.Dh], x.v);
  const dO = tensor(gpu, [s.B, s.T, s.H, s.Dh], dOv);
  const { out, lse } = attention(gpu, q, k, v, { posOffset: 0, kvLen: s.T, saveLse: true });
  const g = plan ? runAttentionBackward(gpu, q, k, v, out, dO, lse!, plan) : attentionBackward(gpu, q, k, v, out, dO, lse!);
  const ref = refAttentionBackward(x.q, x.k, x.v, dOv, s);
  assertClose(await g.dq.read(), ref.dq, { rtol: 2 * RTOL, what: `${what} dq` });
  assertClose(await g.dk.read(), ref.dk, { rtol: 2 * RTOL, what: `${what} dk` });
  assertClose(await g.dv.read(), ref.dv, { rtol: 2 * RTOL, what: `${what} dv` });
  for (const t of [q, k, v, dO, out, lse!, g.dq, g.dk, g.dv]) t.dispose();
}

for (const [B, T, H, KV, Dh] of [[1, 1, 4, 1, 8], [2, 45, 6, 3, 16], [1, 150, 4, 2, 8]]) {
  test(`attentionBackward B=${B} T=${T} H=${H} KV=${KV} Dh=${Dh} (device plan) matches float64`, async () => {
    const gpu = await testGpu();
    await checkBackward(gpu, { B, T, H, KV, S: T, Dh }, B * 100 + T, null, 'backward');
  });
}

test('attentionBackward: every variant (lanes, row and key blocks) matches float64', async () => {
  const gpu = await testGpu();
  const s = { B: 2, T: 13, H: 4, KV: 2, S: 13, Dh: 8 };
  const laneChoices = defaultLanes(gpu, s.Dh) === 4 ? [1, 4] as const : [1] as const;
  for (const lanes of laneChoices) {
    for (const [headsPerItem, tokensPerItem, keysPerItem] of [[1, 1, 1], [2, 3, 5]]) {
      const plan = { lanes, workgroupSize: lanes === 1 ? 64 : 16, headsPerItem, tokensPerItem, keysPerItem };
      await checkBackward(gpu, s, 5, plan, `plan ${JSON.stringify(plan)}`);
    }
  }
});

test('float64 attention backward matches central finite differences of the float64 forward', () => {
  const s = { B: 2, T: 5, H: 4, KV: 2, S: 5, Dh: 4 };
  const x = inputs(s, 3);
  const dO = randomArray(s.B * s.T * s.H * s.Dh, 6, 1);
  const loss = (q: Float64Array, k: Float64Array, v: Float64Array) =>
    refAttention(q, k, v, s, 0, s.T).o.reduce((acc, o, i) => acc + o * dO[i], 0);
  const grads = refAttentionBackward(x.q, x.k, x.v, dO, s);
  const base = { q: Float64Array.from(x.q), k: Float64Array.from(x.k), v: Float64Array.from(x.v) };
  const eps = 1e-5;
  for (const name of ['q', 'k', 'v'] as const) {
    const want = { q: grads.dq, k: grads.dk, v: grads.dv }[name];
    const fd = new Float64Array(want.length);
    for (let i = 0; i < want.length; i++) {
      const at = (delta: number) => {
        const p = { ...base, [name]: Float64Array.from(base[name]) };
        p[name][i] += delta;
        return loss(p.q, p.k, p.v);
      };
      fd[i] = (at(eps) - at(-eps)) / (2 * eps);
    }
    assertClose(want, fd, { rtol: 1e-7, atol: 1e-9, what: `d${name}` });
  }
});

test('attention and writeKvCache reject shapes and positions that do not fit', async () => {
  const gpu = await testGpu();
  const z = (shape: number[]) => tensor(gpu, shape, new Float32Array(shape.reduce((a, b) => a * b, 1)));
  const q = z([1, 4, 4, 8]);
  const k = z([1, 8, 2, 8]);
  assert.throws(() => attention(gpu, q, k, k, { posOffset: 0, kvLen: 9 }), UsageError);
  assert.throws(() => attention(gpu, q, k, k, { posOffset: 2, kvLen: 5 }), UsageError);
  assert.throws(() => attention(gpu, q, z([1, 8, 3, 8]), z([1, 8, 3, 8]), { posOffset: 0, kvLen: 4 }), ShapeMismatchError);
  assert.throws(() => attention(gpu, q, z([1, 8, 2, 6]), z([1, 8, 2, 6]), { posOffset: 0, kvLen: 4 }), ShapeMismatchError);
  assert.throws(() => writeKvCache(gpu, k, z([1, 2, 2, 8]), 7), UsageError);
  assert.throws(() => writeKvCache(gpu, k, z([1, 2, 4, 4]), 0), ShapeMismatchError);
  assert.throws(() => attentionBackward(gpu, q, k, k, q, q, z([1, 4, 4])), ShapeMismatchError);
});
