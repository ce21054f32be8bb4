// In-place conversions of staging chunks against the scalar conversions of kernel/gpu/bf16.ts, on every f16
// value and on random and special f32 values.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bf16ArrayToF32, f16BitsToF32, f32ArrayToBf16, f32ToBf16Bits } from '../../kernel/gpu/bf16.js';
import { conversionFor, convertInPlace } from '../../kernel/io/convert.js';
import { randomArray } from './helpers/random.js';

const ALL_F16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

function sameF32(got: Float32Array, want: ArrayLike<number>, what: string): void {
  for (let i = 0; i < got.length; i++) {
    const ok = Number.isNaN(want[i]) ? Number.isNaN(got[i]) : Object.is(got[i], want[i]);
    if (!ok) assert.fail(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

test('f16 -> f32 in place is exact for all 65536 values (zeros, subnormals, inf, NaN)', () => {
  const buf = new ArrayBuffer(65536 * 4);
  new Uint16Array(buf, 0, 65536).set(ALL_F16);
  convertInPlace('f16->f32', buf, 65536);
  sameF32(new Float32Array(buf), Array.from(ALL_F16, f16BitsToF32), 'f16->f32');
});

test('f16 -> bf16 in place rounds each f16 value to nearest-even bf16', () => {
  const buf = new ArrayBuffer(65536 * 2);
  new Uint16Array(buf).set(ALL_F16);
  convertInPlace('f16->bf16', buf, 65536);
  const got = new Uint16Array(buf);
  for (let h = 0; h < 65536; h++) {
    const x = f16BitsToF32(h);
    if (Number.isNaN(x)) assert.ok(Number.isNaN(bf16ArrayToF32(got.subarray(h, h + 1))[0]), `NaN ${h}`);
    else assert.equal(got[h], f32ToBf16Bits(x), `f16 bits ${h}`);
  }
});

test('f32 -> bf16 and bf16 -> f32 in place match kernel/gpu/bf16.ts', () => {
  const values = new Float32Array([...randomArray(10001, 7, 100), 0, -0, Infinity, -Infinity, NaN, 3.4e38, -3.4e38, 1e-40, -1e-45,
    1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9]);
  const buf = new ArrayBuffer(values.length * 4);
  new Float32Array(buf).set(values);
  convertInPlace('f32->bf16', buf, values.length);
  const bf16 = new Uint16Array(buf, 0, values.length);
  assert.deepEqual(Array.from(bf16), Array.from(f32ArrayToBf16(values)));
  const want = bf16ArrayToF32(new Uint16Array(bf16));
  convertInPlace('bf16->f32', buf, values.length);
  sameF32(new Float32Array(buf), want, 'bf16->f32');
});

test('conversions: only the listed pairs exist', () => {
  assert.equal(conversionFor('F32', 'f32'), 'copy');
  assert.equal(conversionFor('BF16', 'bf16'), 'copy');
  assert.equal(conversionFor('F32', 'bf16'), 'f32->bf16');
  assert.equal(conversionFor('F16', 'bf16'), 'f16->bf16');
  assert.equal(conversionFor('F32', 'u32'), null);
  assert.equal(conversionFor('BF16', 'u32'), null);
});
