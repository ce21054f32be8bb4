// Central finite differences in float64, to check CPU backward references against their own forward.

/**
 * Gradient of L(v) = sum_i weights[i] * f(v)[i] with respect to every element of v, by central differences
 * (step h relative to max(1, |v_k|)).
 */
export function numericGradient(f: (v: Float64Array) => ArrayLike<number>, v: ArrayLike<number>, weights: ArrayLike<number>, h = 1e-6): Float64Array {
  const x = Float64Array.from(v);
  const loss = () => {
    const y = f(x);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += weights[i] * y[i];
    return s;
  };
  const grad = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const step = h * Math.max(1, Math.abs(x[k]));
    const keep = x[k];
    x[k] = keep + step;
    const up = loss();
    x[k] = keep - step;
    const down = loss();
    x[k] = keep;
    grad[k] = (up - down) / (2 * step);
  }
  return grad;
}
