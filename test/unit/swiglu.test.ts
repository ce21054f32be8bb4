import { test } from 'node:test';
import assert from 'node:assert/strict';
import { swiglu, swigluBackward } from '../../kernel/ops/swiglu.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';
import { numericGradient } from './helpers/finite_diff.js';

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

function swigluRef(gate: ArrayLike<number>, up: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: gate.length }, (_, i) => gate[i] * sigmoid(gate[i]) * up[i]);
}

function swigluBackwardRef(gate: ArrayLike<number>, up: ArrayLike<number>, dy: ArrayLike<number>): { dGate: Float64Array; dUp: Float64Array } {
  const n = gate.length;
  const dGate = new Float64Array(n);
  const dUp = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = sigmoid(gate[i]);
    dUp[i] = dy[i] * gate[i] * s;
    dGate[i] = dy[i] * up[i] * (s + gate[i] * s * (1 - s));
  }
  return { dGate, dUp };
}

function upload(gpu: Gpu, shape: number[], v: Float32Array): Tensor {
  const t = Tensor.alloc(gpu, shape, 'f32', gpu.activationTag('test input'));
  t.write(v);
  return t;
}

test('CPU swiglu backward matches central differences of the forward', () => {
  const n = 12;
  const gate = randomArray(n, 1, 6);
  const up = randomArray(n, 2, 2);
  const dy = randomArray(n, 3, 1);
  const { dGate, dUp } = swigluBackwardRef(gate, up, dy);
  assertClose(dGate, numericGradient((g) => swigluRef(g, up), gate, dy), { rtol: 1e-7, what: 'dGate vs finite differences' });
  assertClose(dUp, numericGradient((u) => swigluRef(gate, u), up, dy), { rtol: 1e-7, what: 'dUp vs finite differences' });
});

for (const shape of [[3, 5, 193], [1, 1]]) {
  test(`swiglu ${JSON.stringify(shape)} forward and backward match float64`, async () => {
    const gpu = await testGpu();
    const n = shape.reduce((a, b) => a * b, 1);
    const gv = randomArray(n, n + 7, 8);
    const uv = randomArray(n, n + 8, 3);
    const dyv = randomArray(n, n + 9, 1);
    const [gate, up, dy] = [gv, uv, dyv].map((v) => upload(gpu, shape, v));
    const out = swiglu(gpu, gate, up);
    assertClose(await out.read(), swigluRef(gv, uv), { rtol: 2e-6, what: 'swiglu' });
    const outBf16 = swiglu(gpu, gate, up, 'bf16');
    // bf16 compute: silu rounded to bf16, then the product rounded again (PyTorch's bf16 path).
    const silu = swigluRef(gv, new Float32Array(n).fill(1)).map(roundBf16);
    const wantBf16 = silu.map((s, i) => roundBf16(Math.fround(s * uv[i])));
    const gotBf16 = await outBf16.read();
    let exact = 0;
    for (let i = 0; i < n; i++) {
      // f32 vs float64 silu may round to the neighbouring bf16 value at a tie: allow one bf16 step (2^-8 relative).
      assert.ok(Math.abs(gotBf16[i] - wantBf16[i]) <= 2 ** -7 * Math.abs(wantBf16[i]), `bf16 swiglu[${i}]: ${gotBf16[i]} vs ${wantBf16[i]}`);
      if (gotBf16[i] === wantBf16[i]) exact++;
    }
    assert.ok(exact >= 0.99 * n, `only ${exact} of ${n} bf16 outputs exact`);
    const { dGate, dUp } = swigluBackward(gpu, gate, up, dy);
    const want = swigluBackwardRef(gv, uv, dyv);
    assertClose(await dGate.read(), want.dGate, { rtol: 2e-6, what: 'dGate' });
    assertClose(await dUp.read(), want.dUp, { rtol: 2e-6, what: 'dUp' });
    for (const t of [gate, up, dy, out, outBf16, dGate, dUp]) t.dispose();
  });
}

test('swiglu stays finite for large gates of either sign', async () => {
  const gpu = await testGpu();
  const gv = new Float32Array([-1000, -90, -20, 0, 20, 90, 1000, 3e38]);
  const uv = new Float32Array(gv.length).fill(0.5);
  const gate = upload(gpu, [gv.length], gv);
  const up = upload(gpu, [gv.length], uv);
  const dy = upload(gpu, [gv.length], new Float32Array(gv.length).fill(1));
  const out = await swiglu(gpu, gate, up).read();
  assertClose(out.subarray(0, 7), swigluRef(gv.subarray(0, 7), uv), { rtol: 1e-6, what: 'swiglu at large |gate|' });
  const { dGate, dUp } = swigluBackward(gpu, gate, up, dy);
  const want = swigluBackwardRef(gv.subarray(0, 7), uv, new Float32Array(7).fill(1));
  assertClose((await dGate.read()).subarray(0, 7), want.dGate, { rtol: 1e-6, what: 'dGate at large |gate|' });
  assertClose((await dUp.read()).subarray(0, 7), want.dUp, { rtol: 1e-6, what: 'dUp at large |gate|' });
  assert.ok(out.every(Number.isFinite), `non-finite output: ${out}`);
});

test('swiglu rejects gate and up of different shapes', async () => {
  const gpu = await testGpu();
  const a = Tensor.alloc(gpu, [2, 6], 'f32', gpu.activationTag('a'));
  const b = Tensor.alloc(gpu, [3, 4], 'f32', gpu.activationTag('b'));
  assert.throws(() => swiglu(gpu, a, b), { name: 'ShapeMismatchError' });
  a.dispose(); b.dispose();
});
