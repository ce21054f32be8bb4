// Float64 CPU reference of causal grouped-query attention (forward and backward), written from the definition.
// q: [B, T, H, Dh]; k, v: [B, S, KV, Dh]; query t at position posOffset + t sees keys j <= posOffset + t, j < kvLen.

export interface RefShape { B: number; T: number; H: number; KV: number; S: number; Dh: number }

const at4 = (a: number, b: number, c: number, d: number, B: number, C: number, D: number) => ((a * B + b) * C + c) * D + d;

/** Scaled scores of row (b, t, h) against keys 0..n-1 (n = visible keys). */
function scores(q: ArrayLike<number>, k: ArrayLike<number>, s: RefShape, b: number, t: number, h: number, n: number): number[] {
  const g = Math.floor(h / (s.H / s.KV));
  const scale = 1 / Math.sqrt(s.Dh);
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    let dot = 0;
    for (let d = 0; d < s.Dh; d++) dot += q[at4(b, t, h, d, s.T, s.H, s.Dh)] * k[at4(b, j, g, d, s.S, s.KV, s.Dh)];
    out.push(dot * scale);
  }
  return out;
}

function visible(t: number, posOffset: number, kvLen: number): number {
  return Math.min(posOffset + t + 1, kvLen);
}

/** o: [B, T, H, Dh] and lse: [B, H, T] in float64. */
export function refAttention(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: RefShape, posOffset: number, kvLen: number):
  { o: Float64Array; lse: Float64Array } {
  const o = new Float64Array(s.B * s.T * s.H * s.Dh);
  const lse = new Float64Array(s.B * s.H * s.T);
  for (let b = 0; b < s.B; b++) {
    for (let t = 0; t < s.T; t++) {
      for (let h = 0; h < s.H; h++) {
        const g = Math.floor(h / (s.H / s.KV));
        const sc = scores(q, k, s, b, t, h, visible(t, posOffset, kvLen));
        const m = Math.max(...sc);
        const e = sc.map((x) => Math.exp(x - m));
        const sum = e.reduce((a, x) => a + x, 0);
        lse[(b * s.H + h) * s.T + t] = m + Math.log(sum);
        for (let d = 0; d < s.Dh; d++) {
          let acc = 0;
          for (let j = 0; j < e.length; j++) acc += e[j] * v[at4(b, j, g, d, s.S, s.KV, s.Dh)];
          o[at4(b, t, h, d, s.T, s.H, s.Dh)] = acc / sum;
        }
      }
    }
  }
  return { o, lse };
}

/** Gradients of sum(dO * o) for prefill (posOffset 0, kvLen = S = T): dq [B, T, H, Dh], dk and dv [B, T, KV, Dh]. */
export function refAttentionBackward(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, dO: ArrayLike<number>, s: RefShape):
  { dq: Float64Array; dk: Float64Array; dv: Float64Array } {
  const dq = new Float64Array(s.B * s.T * s.H * s.Dh);
  const dk = new Float64Array(s.B * s.T * s.KV * s.Dh);
  const dv = new Float64Array(dk.length);
  const scale = 1 / Math.sqrt(s.Dh);
  for (let b = 0; b < s.B; b++) {
    for (let t = 0; t < s.T; t++) {
      for (let h = 0; h < s.H; h++) {
        const g = Math.floor(h / (s.H / s.KV));
        const sc = scores(q, k, s, b, t, h, t + 1);
        const m = Math.max(...sc);
        const e = sc.map((x) => Math.exp(x - m));
        const sum = e.reduce((a, x) => a + x, 0);
        const p = e.map((x) => x / sum);
        // dP_j = dO . v_j; dS_j = P_j (dP_j - sum_i P_i dP_i)
        const dp = p.map((_, j) => {
          let acc = 0;
          for (let d = 0; d < s.Dh; d++) acc += dO[at4(b, t, h, d, s.T, s.H, s.Dh)] * v[at4(b, j, g, d, s.T, s.KV, s.Dh)];
          return acc;
        });
        const mean = p.reduce((a, pj, j) => a + pj * dp[j], 0);
        for (let j = 0; j <= t; j++) {
          const ds = p[j] * (dp[j] - mean) * scale;
          for (let d = 0; d < s.Dh; d++) {
            const qi = at4(b, t, h, d, s.T, s.H, s.Dh);
            const ki = at4(b, j, g, d, s.T, s.KV, s.Dh);
            dq[qi] += ds * k[ki];
            dk[ki] += ds * q[qi];
            dv[ki] += p[j] * dO[qi];
          }
        }
      }
    }
  }
  return { dq, dk, dv };
}
