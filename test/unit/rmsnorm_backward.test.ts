import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmsnorm, rmsnormBackward } from '../../kernel/ops/rmsnorm.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';
import { numericGradient } from './helpers/finite_diff.js';

const EPS = 1e-5;

function rmsnormRef(x: ArrayLike<number>, w: ArrayLike<number>, dim: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let ss = 0;
    for (let i = 0; i < dim; i++) ss += x[r * dim + i] ** 2;
    const s = 1 / Math.sqrt(ss / dim + EPS);
    for (let i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] * s * w[i];
  }
  return y;
}

/**
 * dx and dw of y = x * r * w, r = rsqrt(mean(x^2) + eps), in float64, and the largest term r w dy of dx (its two
 * terms cancel almost exactly when D is tiny, so f32 error is relative to them, not to dx).
 */
function rmsnormBackwardRef(x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>, dim: number): { dx: Float64Array; dw: Float64Array; termScale: number } {
  let termScale = 0;
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(dim);
  for (let row = 0; row < x.length / dim; row++) {
    const at = row * dim;
    let ss = 0;
    let dot = 0;
    for (let i = 0; i < dim; i++) { ss += x[at + i] ** 2; dot += w[i] * dy[at + i] * x[at + i]; }
    const r = 1 / Math.sqrt(ss / dim + EPS);
    for (let i = 0; i < dim; i++) {
      dx[at + i] = r * w[i] * dy[at + i] - x[at + i] * r ** 3 / dim * dot;
      termScale = Math.max(termScale, Math.abs(r * w[i] * dy[at + i]));
      dw[i] += dy[at + i] * x[at + i] * r;
    }
  }
  return { dx, dw, termScale };
}

test('CPU RMSNorm backward matches central differences of the forward', () => {
  const [rows, dim] = [3, 5];
  const x = randomArray(rows * dim, 1, 2);
  const w = randomArray(dim, 2, 1.5);
  const dy = randomArray(rows * dim, 3, 1);
  const { dx, dw } = rmsnormBackwardRef(x, w, dy, dim);
  assertClose(dx, numericGradient((v) => rmsnormRef(v, w, dim), x, dy), { rtol: 1e-7, what: 'dx vs finite differences' });
  assertClose(dw, numericGradient((v) => rmsnormRef(x, v, dim), w, dy), { rtol: 1e-7, what: 'dw vs finite differences' });
});

// 150 rows span three dw row chunks; 700 columns span three row segments.
for (const [rows, dim] of [[7, 100], [150, 37], [5, 700], [1, 1]] as const) {
  for (const wDtype of ['f32', 'bf16'] as const) {
    test(`rmsnormBackward ${rows}x${dim} weights ${wDtype} matches float64, dw accumulated`, async () => {
      const gpu = await testGpu();
      const xv = randomArray(rows * dim, rows * 7 + dim, 3);
      const dyv = randomArray(rows * dim, rows * 7 + dim + 1, 1);
      let wv = randomArray(dim, dim + 2, 1.5);
      if (wDtype === 'bf16') wv = wv.map(roundBf16);
      const dw0 = randomArray(dim, dim + 3, 0.5);
      const x = Tensor.alloc(gpu, [rows, dim], 'f32', gpu.activationTag('x'));
      const dy = Tensor.alloc(gpu, [rows, dim], 'f32', gpu.activationTag('dy'));
      const w = Tensor.alloc(gpu, [dim], wDtype, { layer: 'test', tensor: 'w', kind: 'weights' });
      const dw = Tensor.alloc(gpu, [dim], 'f32', { layer: 'test', tensor: 'dw', kind: 'grads' });
      x.write(xv); dy.write(dyv); w.write(wv); dw.write(dw0);
      const want = rmsnormBackwardRef(xv, wv, dyv, dim);
      const dx = rmsnormBackward(gpu, x, w, dy, EPS, dw);
      assert.deepEqual(dx.shape, [rows, dim]);
      const dxTol = { atol: 1e-6 * want.termScale, rtol: 1e-5 };
      assertClose(await dx.read(), want.dx, { ...dxTol, what: 'dx' });
      assertClose(await dw.read(), want.dw.map((g, i) => g + dw0[i]), { rtol: 1e-5, what: 'dw (added to its previous value)' });
      const dxFrozen = rmsnormBackward(gpu, x, w, dy, EPS, null);
      assertClose(await dxFrozen.read(), want.dx, { ...dxTol, what: 'dx with a frozen weight' });
      for (const t of [x, dy, w, dw, dx, dxFrozen]) t.dispose();
    });
  }
}

test('rmsnormBackward of the GPU forward agrees with finite differences of the GPU forward', async () => {
  const gpu = await testGpu();
  const [rows, dim] = [2, 6];
  const xv = Float32Array.from([0.5, -1, 2, 0.25, -0.75, 1.5, 3, -2, 1, 0.1, 0.2, -0.3]);
  const wv = Float32Array.from([1, 0.5, -1, 2, 1.5, -0.25]);
  const dyv = Float32Array.from([1, -1, 0.5, 0.25, 2, -0.5, 0.3, 0.7, -1.2, 1, 0.1, -0.4]);
  const w = Tensor.alloc(gpu, [dim], 'f32', { layer: 'test', tensor: 'w', kind: 'weights' });
  const dy = Tensor.alloc(gpu, [rows, dim], 'f32', gpu.activationTag('dy'));
  const x = Tensor.alloc(gpu, [rows, dim], 'f32', gpu.activationTag('x'));
  w.write(wv); dy.write(dyv); x.write(xv);
  const dx = await rmsnormBackward(gpu, x, w, dy, EPS, null).read();
  const h = 1e-2; // f32 forward: a large step keeps rounding noise below the check's tolerance (the loss is smooth)
  for (let k = 0; k < xv.length; k++) {
    const loss = async (delta: number) => {
      const xs = Float32Array.from(xv);
      xs[k] += delta;
      x.write(xs);
      const y = await rmsnorm(gpu, x, w, EPS).read();
      return y.reduce((s, v, i) => s + v * dyv[i], 0);
    };
    const fd = ((await loss(h)) - (await loss(-h))) / (2 * h);
    assert.ok(Math.abs(fd - dx[k]) <= 2e-3 * Math.max(1, Math.abs(fd)), `dx[${k}] ${dx[k]} vs finite difference ${fd}`);
  }
  for (const t of [w, dy, x]) t.dispose();
});
