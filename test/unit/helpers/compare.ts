// Numerical comparison with messages that say where and by how much.
import assert from 'node:assert/strict';
import type { ReferenceProduct } from '../../../kernel/ops/matmul/reference.js';

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { max: number; at: number } {
  assert.equal(a.length, b.length, `length ${a.length} vs ${b.length}`);
  let max = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i] - b[i]);
    if (!(d <= max)) { max = d; at = i; } // NaN counts as the worst difference
  }
  return { max, at };
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts |got - want| <= atol + rtol * max|want| elementwise. */
export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, opts: { atol?: number; rtol?: number; what?: string } = {}): void {
  const { atol = 0, rtol = 1e-5, what = 'values' } = opts;
  const tol = atol + rtol * maxAbs(want);
  const { max, at } = maxAbsDiff(got, want);
  assert.ok(max <= tol, `${what}: max |diff| ${max.toExponential(3)} at ${at} (got ${got[at]}, want ${want[at]}) > tol ${tol.toExponential(3)}`);
}

/** Unit roundoff of f32. */
export const F32_U = 2 ** -24;

/**
 * Asserts |got - want| <= (terms + 2) u sum|terms| elementwise: the worst case of f32 accumulation of `terms`
 * products in any order (plus a bias add), against a float64 product.
 */
export function assertProductClose(got: Float32Array, want: ReferenceProduct, terms: number, what: string): void {
  assert.equal(got.length, want.value.length, `${what}: length`);
  for (let e = 0; e < got.length; e++) {
    const tol = (terms + 2) * F32_U * want.magnitude[e] + 1e-30;
    const d = Math.abs(got[e] - want.value[e]);
    if (!(d <= tol)) assert.fail(`${what}: element ${e}: got ${got[e]}, want ${want.value[e]} (|diff| ${d.toExponential(2)} > ${tol.toExponential(2)})`);
  }
}
