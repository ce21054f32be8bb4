// A float64 CPU Llama 3 forward pass, written from the math (and checked against the PyTorch reference in
// model_reference.test.ts), used as the independent expectation for configs the reference files do not cover.
import type { LlamaConfig } from '../../../kernel/model/config.js';

type Weights = (name: string) => ArrayLike<number>;

/** Llama 3 inverse frequencies in float64, with the 3.1/3.2 smooth scaling when configured. */
export function invFreqRef(c: LlamaConfig): Float64Array {
  const half = c.headDim / 2;
  const f = new Float64Array(half);
  for (let j = 0; j < half; j++) {
    let inv = 1 / c.ropeTheta ** ((2 * j) / c.headDim);
    const s = c.ropeScaling;
    if (s) {
      const wavelen = (2 * Math.PI) / inv;
      const lowWave = s.originalContext / s.lowFreqFactor;
      const highWave = s.originalContext / s.highFreqFactor;
      if (wavelen > lowWave) inv /= s.factor;
      else if (wavelen >= highWave) {
        const smooth = (s.originalContext / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
        inv = (1 - smooth) * (inv / s.factor) + smooth * inv;
      }
    }
    f[j] = inv;
  }
  return f;
}

function rmsnorm(x: Float64Array, w: ArrayLike<number>, eps: number): Float64Array {
  let ss = 0;
  for (const v of x) ss += v * v;
  const r = 1 / Math.sqrt(ss / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

/** y = W x for W: [out, in] row-major. */
function matvec(w: ArrayLike<number>, x: Float64Array, out: number): Float64Array {
  const n = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += w[o * n + i] * x[i];
    y[o] = s;
  }
  return y;
}

function rope(x: Float64Array, heads: number, dh: number, pos: number, inv: Float64Array): void {
  const h = dh / 2;
  for (let hd = 0; hd < heads; hd++) {
    for (let j = 0; j < h; j++) {
      const a = pos * inv[j];
      const c = Math.cos(a);
      const s = Math.sin(a);
      const x1 = x[hd * dh + j];
      const x2 = x[hd * dh + j + h];
      x[hd * dh + j] = x1 * c - x2 * s;
      x[hd * dh + j + h] = x2 * c + x1 * s;
    }
  }
}

/** Logits for every position of one sequence (positions 0..T-1), in float64. */
export function llamaForwardRef(c: LlamaConfig, w: Weights, ids: number[]): Float64Array[] {
  const D = c.hiddenSize;
  const dh = c.headDim;
  const inv = invFreqRef(c);
  const emb = w('model.embed_tokens.weight');
  let xs = ids.map((id) => Float64Array.from({ length: D }, (_, i) => emb[id * D + i]));
  for (let l = 0; l < c.numLayers; l++) {
    const p = (n: string) => w(`model.layers.${l}.${n}`);
    const qs: Float64Array[] = [];
    const ks: Float64Array[] = [];
    const vs: Float64Array[] = [];
    xs.forEach((x, t) => {
      const h = rmsnorm(x, p('input_layernorm.weight'), c.rmsNormEps);
      const q = matvec(p('self_attn.q_proj.weight'), h, c.numHeads * dh);
      const k = matvec(p('self_attn.k_proj.weight'), h, c.numKvHeads * dh);
      rope(q, c.numHeads, dh, t, inv);
      rope(k, c.numKvHeads, dh, t, inv);
      qs.push(q);
      ks.push(k);
      vs.push(matvec(p('self_attn.v_proj.weight'), h, c.numKvHeads * dh));
    });
    const group = c.numHeads / c.numKvHeads;
    xs = xs.map((x, t) => {
      const att = new Float64Array(c.numHeads * dh);
      for (let hd = 0; hd < c.numHeads; hd++) {
        const g = Math.floor(hd / group);
        const scores = Array.from({ length: t + 1 }, (_, j) => {
          let s = 0;
          for (let i = 0; i < dh; i++) s += qs[t][hd * dh + i] * ks[j][g * dh + i];
          return s / Math.sqrt(dh);
        });
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const z = e.reduce((a, b) => a + b, 0);
        for (let j = 0; j <= t; j++) for (let i = 0; i < dh; i++) att[hd * dh + i] += (e[j] / z) * vs[j][g * dh + i];
      }
      const o = matvec(p('self_attn.o_proj.weight'), att, D);
      const x2 = x.map((v, i) => v + o[i]);
      const h2 = rmsnorm(x2, p('post_attention_layernorm.weight'), c.rmsNormEps);
      const gate = matvec(p('mlp.gate_proj.weight'), h2, c.intermediateSize);
      const up = matvec(p('mlp.up_proj.weight'), h2, c.intermediateSize);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = matvec(p('mlp.down_proj.weight'), act, D);
      return x2.map((v, i) => v + down[i]);
    });
  }
  const head = c.tieWordEmbeddings ? emb : w('lm_head.weight');
  return xs.map((x) => matvec(head, rmsnorm(x, w('model.norm.weight'), c.rmsNormEps), c.vocabSize));
}
