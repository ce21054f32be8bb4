// The float64 CPU product every matmul kernel is judged against (the autotune's correctness check; the tests).

/** A float64 product and, per element, the sum of |terms| (the scale of any f32 accumulation error). */
export interface ReferenceProduct {
  value: Float64Array;
  magnitude: Float64Array;
}

/** C[i, j] = init[i, j] + sum over r < depth of a(i, r) * b(j, r), for C: [rows, cols]. */
export function referenceProduct(rows: number, cols: number, depth: number, a: (i: number, r: number) => number,
  b: (j: number, r: number) => number, init?: ArrayLike<number>): ReferenceProduct {
  const value = new Float64Array(rows * cols);
  const magnitude = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = init ? init[i * cols + j] : 0;
      let m = Math.abs(s);
      for (let r = 0; r < depth; r++) {
        const t = a(i, r) * b(j, r);
        s += t;
        m += Math.abs(t);
      }
      value[i * cols + j] = s;
      magnitude[i * cols + j] = m;
    }
  }
  return { value, magnitude };
}
