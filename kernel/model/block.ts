// One transformer block, inference: x += o_proj(attn(rope(q), rope(k), v)) on norm1(x), then
// x += down(silu(gate(h)) * up(h)) with h = norm2(x). Intermediates go back to the pool as soon as they are used.
import type { Gpu } from '../gpu/context.js';
import type { DType, Tensor } from '../gpu/tensor.js';
import { attention, writeKvCache } from '../ops/attention.js';
import { add } from '../ops/elementwise.js';
import { linear } from '../ops/linear.js';
import { rmsnorm } from '../ops/rmsnorm.js';
import { rope } from '../ops/rope.js';
import { swiglu } from '../ops/swiglu.js';
import type { LlamaConfig } from './config.js';
import type { KvCache } from './kv_cache.js';
import type { Parameter } from './parameter.js';

export interface BlockWeights {
  inputNorm: Parameter;
  q: Parameter;
  k: Parameter;
  v: Parameter;
  o: Parameter;
  postNorm: Parameter;
  gate: Parameter;
  up: Parameter;
  down: Parameter;
}

export interface BlockContext {
  batch: number;
  seqLen: number;
  /** Position of the first token of this call (0 for a prefill; the cache length when decoding). */
  posOffset: number;
  cos: Tensor;
  sin: Tensor;
  compute: DType;
  cache: KvCache | null;
}

/** x: [B*T, D] f32 -> [B*T, D] f32 (x itself is left untouched; the caller disposes it). */
export function blockForward(gpu: Gpu, c: LlamaConfig, w: BlockWeights, layer: number, x: Tensor, ctx: BlockContext): Tensor {
  const { batch: B, seqLen: T, compute } = ctx;
  const h = rmsnorm(gpu, x, w.inputNorm.tensor, c.rmsNormEps, compute);
  const qLin = linear(gpu, h, w.q.tensor, null, compute);
  const kLin = linear(gpu, h, w.k.tensor, null, compute);
  const v = linear(gpu, h, w.v.tensor, null, compute);
  h.dispose();
  const q = rope(gpu, qLin.reshape([B, T, c.numHeads, c.headDim]), ctx.cos, ctx.sin, ctx.posOffset, compute);
  const k = rope(gpu, kLin.reshape([B, T, c.numKvHeads, c.headDim]), ctx.cos, ctx.sin, ctx.posOffset, compute);
  qLin.dispose();
  kLin.dispose();
  const v4 = v.reshape([B, T, c.numKvHeads, c.headDim]);
  let attn: Tensor;
  if (ctx.cache) {
    writeKvCache(gpu, ctx.cache.k[layer], k, ctx.posOffset);
    writeKvCache(gpu, ctx.cache.v[layer], v4, ctx.posOffset);
    attn = attention(gpu, q, ctx.cache.k[layer], ctx.cache.v[layer], { posOffset: ctx.posOffset, kvLen: ctx.posOffset + T, compute }).out;
  } else {
    attn = attention(gpu, q, k, v4, { posOffset: 0, kvLen: T, compute }).out;
  }
  for (const t of [q, k, v]) t.dispose();
  const o = linear(gpu, attn.reshape([B * T, c.numHeads * c.headDim]), w.o.tensor, null, compute);
  attn.dispose();
  const x2 = add(gpu, x, o, compute);
  o.dispose();
  const h2 = rmsnorm(gpu, x2, w.postNorm.tensor, c.rmsNormEps, compute);
  const g = linear(gpu, h2, w.gate.tensor, null, compute);
  const u = linear(gpu, h2, w.up.tensor, null, compute);
  h2.dispose();
  const a = swiglu(gpu, g, u, compute);
  g.dispose();
  u.dispose();
  const d = linear(gpu, a, w.down.tensor, null, compute);
  a.dispose();
  const out = add(gpu, x2, d, compute);
  x2.dispose();
  d.dispose();
  return out;
}
