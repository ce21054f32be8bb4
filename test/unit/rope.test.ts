import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rope, ropeBackward } from '../../kernel/ops/rope.js';
import { ropeTables } from '../../kernel/model/rope_tables.js';
import { Gpu } from '../../kernel/gpu/context.js';
import { Tensor } from '../../kernel/gpu/tensor.js';
import { roundBf16 } from '../../kernel/gpu/bf16.js';
import { testGpu } from './helpers/gpu.js';
import { randomArray } from './helpers/random.js';
import { assertClose } from './helpers/compare.js';
import { numericGradient } from './helpers/finite_diff.js';

interface Shape { batch: number; tokens: number; heads: number; headDim: number }
interface Tables { cos: Float32Array; sin: Float32Array }

/** Split-half rotation in float64: sign +1 is the forward, -1 the transpose (the backward of the forward). */
function ropeRef(x: ArrayLike<number>, s: Shape, t: Tables, posOffset: number, sign = 1): Float64Array {
  const half = s.headDim / 2;
  const out = new Float64Array(x.length);
  for (let b = 0; b < s.batch; b++) {
    for (let tok = 0; tok < s.tokens; tok++) {
      for (let h = 0; h < s.heads; h++) {
        const base = ((b * s.tokens + tok) * s.heads + h) * s.headDim;
        for (let j = 0; j < half; j++) {
          const c = t.cos[(posOffset + tok) * half + j];
          const sn = sign * t.sin[(posOffset + tok) * half + j];
          const lo = x[base + j];
          const hi = x[base + j + half];
          out[base + j] = lo * c - hi * sn;
          out[base + j + half] = hi * c + lo * sn;
        }
      }
    }
  }
  return out;
}

function ropeBackwardRef(dy: ArrayLike<number>, s: Shape, t: Tables, posOffset: number): Float64Array {
  return ropeRef(dy, s, t, posOffset, -1);
}

function upload(gpu: Gpu, shape: number[], v: Float32Array): Tensor {
  const t = Tensor.alloc(gpu, shape, 'f32', gpu.activationTag('test input'));
  t.write(v);
  return t;
}

const SCALING = { factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 };

test('CPU RoPE backward matches central differences of the forward', () => {
  const s: Shape = { batch: 1, tokens: 3, heads: 2, headDim: 6 };
  const tables = ropeTables(s.headDim, 10000, null, 5);
  const n = 3 * 2 * 6;
  const x = randomArray(n, 5, 2);
  const dy = randomArray(n, 6, 1);
  const want = numericGradient((v) => ropeRef(v, s, tables, 2), x, dy);
  assertClose(ropeBackwardRef(dy, s, tables, 2), want, { rtol: 1e-8, what: 'rope backward vs finite differences' });
});

const CASES: [Shape, number][] = [[{ batch: 2, tokens: 5, heads: 3, headDim: 12 }, 3], [{ batch: 1, tokens: 19, heads: 4, headDim: 16 }, 0]];
for (const [s, posOffset] of CASES) {
  test(`rope ${JSON.stringify(s)} at offset ${posOffset} matches float64, forward and backward`, async () => {
    const gpu = await testGpu();
    const tables = ropeTables(s.headDim, 500000, SCALING, posOffset + s.tokens + 2);
    const half = s.headDim / 2;
    const positions = tables.cos.length / half;
    const cos = upload(gpu, [positions, half], tables.cos);
    const sin = upload(gpu, [positions, half], tables.sin);
    const shape = [s.batch, s.tokens, s.heads, s.headDim];
    const n = shape.reduce((a, b) => a * b, 1);
    const xv = randomArray(n, n, 3);
    const dyv = randomArray(n, n + 1, 1);
    const x = upload(gpu, shape, xv);
    const dy = upload(gpu, shape, dyv);

    const out = rope(gpu, x, cos, sin, posOffset);
    assert.deepEqual(out.shape, shape);
    const got = await out.read();
    const want = ropeRef(xv, s, tables, posOffset);
    assertClose(got, want, { rtol: 1e-6, what: 'rope' });
    // A rotation preserves the norm of every (j, j + D/2) pair.
    for (let i = 0; i < n; i += s.headDim) {
      for (let j = 0; j < half; j++) {
        const before = Math.hypot(xv[i + j], xv[i + j + half]);
        const after = Math.hypot(got[i + j], got[i + j + half]);
        assert.ok(Math.abs(after - before) <= 1e-6 * Math.max(1, before), `pair norm ${before} -> ${after}`);
      }
    }
    const outBf16 = rope(gpu, x, cos, sin, posOffset, 'bf16');
    const gotBf16 = await outBf16.read();
    assert.ok(gotBf16.every((v) => roundBf16(v) === v), 'bf16 compute stores bf16 values');
    assertClose(gotBf16, want.map(roundBf16), { rtol: 2 ** -8, what: 'rope bf16 (rounded once)' });

    const dx = ropeBackward(gpu, dy, cos, sin, posOffset);
    assertClose(await dx.read(), ropeBackwardRef(dyv, s, tables, posOffset), { rtol: 1e-6, what: 'rope backward' });
    for (const t of [cos, sin, x, dy, out, outBf16, dx]) t.dispose();
  });
}

test('rope rejects positions beyond the tables and odd head dims', async () => {
  const gpu = await testGpu();
  const tables = ropeTables(8, 10000, null, 6);
  const cos = upload(gpu, [6, 4], tables.cos);
  const sin = upload(gpu, [6, 4], tables.sin);
  const x = Tensor.alloc(gpu, [1, 4, 2, 8], 'f32', gpu.activationTag('x'));
  assert.throws(() => rope(gpu, x, cos, sin, 3), { name: 'ShapeMismatchError' });
  const odd = Tensor.alloc(gpu, [1, 4, 2, 7], 'f32', gpu.activationTag('x'));
  assert.throws(() => rope(gpu, odd, cos, sin, 0), { name: 'ShapeMismatchError' });
  for (const t of [cos, sin, x, odd]) t.dispose();
});
