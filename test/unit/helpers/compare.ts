// Numerical comparison with messages that say where and by how much.
import assert from 'node:assert/strict';

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
