// A trainable transformer block: the forward pass that keeps what backward needs, and the backward pass.
// Forward (h1 = norm1(x); q, k = rope(h1 Wq^T), rope(h1 Wk^T); v = h1 Wv^T; a = attn(q, k, v); x2 = x + a Wo^T;
// h2 = norm2(x2); g, u = h2 Wg^T, h2 Wu^T; s = silu(g) u; y = x2 + s Wd^T), and backward in reverse:
//   dWd += dy^T s, ds = dy Wd; dg, du = swiglu'(g, u, ds); dWg += dg^T h2, dWu += du^T h2;
//   dx2 = dy + norm2'(x2, dg Wg + du Wu); dWo += dx2^T a, da = dx2 Wo; dq, dk, dv = attn'(da);
//   dWq += rope'(dq)^T h1 (same for k), dWv += dv^T h1; dx = dx2 + norm1'(x, rope'(dq) Wq + rope'(dk) Wk + dv Wv).
// With gradient checkpointing only x is kept and the forward is recomputed inside backward.
import type { Gpu } from '../gpu/context.js';
import type { Tensor } from '../gpu/tensor.js';
import { attention, attentionBackward } from '../ops/attention.js';
import { add, addInPlace } from '../ops/elementwise.js';
import { linear, linearGradInput } from '../ops/linear.js';
import { rmsnorm, rmsnormBackward } from '../ops/rmsnorm.js';
import { rope, ropeBackward } from '../ops/rope.js';
import { swiglu, swigluBackward } from '../ops/swiglu.js';
import type { BlockWeights } from '../model/block.js';
import type { LlamaConfig } from '../model/config.js';
import type { Gradients } from './gradients.js';

export interface TrainContext {
  batch: number;
  seqLen: number;
  cos: Tensor;
  sin: Tensor;
}

/** What the backward pass reads. All [N, *] f32 with N = B*T, except lse [B, H, T]. */
export interface BlockActivations {
  x: Tensor; h1: Tensor; q: Tensor; k: Tensor; v: Tensor; attn: Tensor; lse: Tensor;
  x2: Tensor; h2: Tensor; g: Tensor; u: Tensor; s: Tensor;
}

/** Runs the block and keeps every activation backward needs. x is kept (not disposed) as part of them. */
export function blockForwardSaving(gpu: Gpu, c: LlamaConfig, w: BlockWeights, x: Tensor, ctx: TrainContext): { y: Tensor; saved: BlockActivations } {
  const { batch: B, seqLen: T } = ctx;
  const h1 = rmsnorm(gpu, x, w.inputNorm.tensor, c.rmsNormEps);
  const qLin = linear(gpu, h1, w.q.tensor);
  const kLin = linear(gpu, h1, w.k.tensor);
  const v = linear(gpu, h1, w.v.tensor).reshape([B, T, c.numKvHeads, c.headDim]);
  const q = rope(gpu, qLin.reshape([B, T, c.numHeads, c.headDim]), ctx.cos, ctx.sin, 0);
  const k = rope(gpu, kLin.reshape([B, T, c.numKvHeads, c.headDim]), ctx.cos, ctx.sin, 0);
  qLin.dispose();
  kLin.dispose();
  const { out: attn, lse } = attention(gpu, q, k, v, { posOffset: 0, kvLen: T, saveLse: true });
  const o = linear(gpu, attn.reshape([B * T, c.numHeads * c.headDim]), w.o.tensor);
  const x2 = add(gpu, x, o);
  o.dispose();
  const h2 = rmsnorm(gpu, x2, w.postNorm.tensor, c.rmsNormEps);
  const g = linear(gpu, h2, w.gate.tensor);
  const u = linear(gpu, h2, w.up.tensor);
  const s = swiglu(gpu, g, u);
  const d = linear(gpu, s, w.down.tensor);
  const y = add(gpu, x2, d);
  d.dispose();
  return { y, saved: { x, h1, q, k, v, attn, lse: lse!, x2, h2, g, u, s } };
}

export function disposeActivations(a: BlockActivations, keepInput = false): void {
  for (const [name, t] of Object.entries(a)) if (!(keepInput && name === 'x')) (t as Tensor).dispose();
}

/**
 * Gives the block's trainable weights their gradient contributions for upstream dy: [N, D] and returns dx: [N, D]
 * (null when `needInputGrad` is false: nothing below is trainable). Disposes the saved activations except x.
 */
export function blockBackward(gpu: Gpu, c: LlamaConfig, w: BlockWeights, grads: Gradients, a: BlockActivations,
  dy: Tensor, ctx: TrainContext, needInputGrad: boolean): Tensor | null {
  const { batch: B, seqLen: T } = ctx;
  const N = B * T;

  // MLP
  grads.addLinearWeight(w.down, dy, a.s);
  const ds = linearGradInput(gpu, dy, w.down.tensor);
  const { dGate, dUp } = swigluBackward(gpu, a.g, a.u, ds);
  ds.dispose();
  grads.addLinearWeight(w.gate, dGate, a.h2);
  grads.addLinearWeight(w.up, dUp, a.h2);
  const dh2 = linearGradInput(gpu, dGate, w.gate.tensor);
  const dh2Up = linearGradInput(gpu, dUp, w.up.tensor);
  addInPlace(gpu, dh2, dh2Up);
  for (const t of [dGate, dUp, dh2Up]) t.dispose();
  const dx2 = rmsnormBackward(gpu, a.x2, w.postNorm.tensor, dh2, c.rmsNormEps, grads.accumulator(w.postNorm));
  dh2.dispose();
  addInPlace(gpu, dx2, dy);

  // attention
  const attn2d = a.attn.reshape([N, c.numHeads * c.headDim]);
  grads.addLinearWeight(w.o, dx2, attn2d);
  const da = linearGradInput(gpu, dx2, w.o.tensor);
  const { dq, dk, dv } = attentionBackward(gpu, a.q, a.k, a.v, a.attn, da.reshape([B, T, c.numHeads, c.headDim]), a.lse);
  da.dispose();
  const dq0 = ropeBackward(gpu, dq, ctx.cos, ctx.sin, 0);
  const dk0 = ropeBackward(gpu, dk, ctx.cos, ctx.sin, 0);
  dq.dispose();
  dk.dispose();
  const dq2d = dq0.reshape([N, c.numHeads * c.headDim]);
  const dk2d = dk0.reshape([N, c.numKvHeads * c.headDim]);
  const dv2d = dv.reshape([N, c.numKvHeads * c.headDim]);
  grads.addLinearWeight(w.q, dq2d, a.h1);
  grads.addLinearWeight(w.k, dk2d, a.h1);
  grads.addLinearWeight(w.v, dv2d, a.h1);
  let dx: Tensor | null = null;
  if (needInputGrad || grads.has(w.inputNorm)) {
    const dh1 = linearGradInput(gpu, dq2d, w.q.tensor);
    for (const [d, wt] of [[dk2d, w.k.tensor], [dv2d, w.v.tensor]] as const) {
      const part = linearGradInput(gpu, d, wt);
      addInPlace(gpu, dh1, part);
      part.dispose();
    }
    // Also run when only the norm's weight needs its gradient; the block's input gradient is then dropped unsummed.
    dx = rmsnormBackward(gpu, a.x, w.inputNorm.tensor, dh1, c.rmsNormEps, grads.accumulator(w.inputNorm));
    dh1.dispose();
    if (needInputGrad) {
      addInPlace(gpu, dx, dx2);
    } else {
      dx.dispose();
      dx = null;
    }
  }
  for (const t of [dq0, dk0, dv, dx2]) t.dispose();
  disposeActivations(a, true);
  return dx;
}
