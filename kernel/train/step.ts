// One forward + backward pass of the classification recipe on a batch: frozen blocks run forward only (nothing
// kept), trainable blocks keep what backward needs (or only their input with gradient checkpointing), the head
// reads each sequence's last real token, the loss is the mean cross-entropy, and the gradients of the trainable
// parameters get this batch's contribution (gradients.ts: the step's first one writes, later ones add).
import type { Gpu } from '../gpu/context.js';
import { Tensor } from '../gpu/tensor.js';
import { crossEntropy } from '../ops/cross_entropy.js';
import { embedding, embeddingGradWeight } from '../ops/embedding.js';
import { linear, linearGradBias, linearGradInput } from '../ops/linear.js';
import { rmsnorm, rmsnormBackward } from '../ops/rmsnorm.js';
import { gatherRows, scatterRows } from '../ops/rows.js';
import { blockForward, type BlockWeights } from '../model/block.js';
import type { LlamaModel } from '../model/llama.js';
import { blockBackward, blockForwardSaving, type BlockActivations, type TrainContext } from './block_train.js';
import type { Batch } from './batches.js';
import type { Gradients } from './gradients.js';
import type { TrainableSet } from './trainable.js';

export interface StepOutput {
  /** Mean cross-entropy of this batch: [1] f32 on the GPU. */
  loss: Tensor;
  /** Head outputs at the last real tokens: [B, classes] f32. */
  logits: Tensor;
}

/**
 * Forward and backward on `batch`; each trainable parameter's gradient gets d(loss * gradScale)/dparam. The caller
 * reads and disposes the returned loss and logits.
 */
export function forwardBackward(model: LlamaModel, set: TrainableSet, grads: Gradients, batch: Batch,
  opts: { gradScale: number; gradCheckpoint: boolean }): StepOutput {
  const gpu = model.gpu;
  const c = model.config;
  const { batch: B, seqLen: T } = batch;
  const N = B * T;
  const { cos, sin } = model.rope.get(T);
  const ctx: TrainContext = { batch: B, seqLen: T, cos, sin };
  const u32 = (data: Uint32Array, what: string) => {
    const t = Tensor.scratch(gpu, [data.length], gpu.activationTag(what), 'u32');
    t.write(data);
    return t;
  };

  gpu.activationLayer = 'embeddings';
  const ids = u32(batch.ids, 'token ids');
  let x = embedding(gpu, model.embed_tokens.weight.tensor, ids);
  ids.dispose();
  const saved: (BlockActivations | Tensor)[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    gpu.activationLayer = `block.${i}`;
    const w = model.blockWeights(i);
    if (i < set.firstBlock) {
      const y = blockForward(gpu, c, w, i, x, { batch: B, seqLen: T, posOffset: 0, cos, sin, compute: 'f32', cache: null });
      x.dispose();
      x = y;
    } else if (opts.gradCheckpoint) {
      saved.push(x); // only the input: recomputed in backward
      x = blockForward(gpu, c, w, i, x, { batch: B, seqLen: T, posOffset: 0, cos, sin, compute: 'f32', cache: null });
    } else {
      const r = blockForwardSaving(gpu, c, w, x, ctx);
      saved.push(r.saved);
      x = r.y;
    }
  }

  gpu.activationLayer = 'head';
  const last = u32(batch.lastIndex, 'last token rows');
  const xLast = gatherRows(gpu, x, last); // [B, D]
  x.dispose();
  const normW = model.norm.weight;
  const hn = rmsnorm(gpu, xLast, normW.tensor, c.rmsNormEps);
  const head = model.headWeights();
  const logits = linear(gpu, hn, head.weight.tensor, head.bias?.tensor ?? null);
  const labels = u32(batch.labels, 'labels');
  const { loss, dLogits } = crossEntropy(gpu, logits, labels, opts.gradScale);
  labels.dispose();

  // backward through the head and the final norm (on the B last rows only)
  grads.addLinearWeight(head.weight, dLogits, hn);
  const dBias = head.bias && grads.accumulator(head.bias);
  if (dBias) linearGradBias(gpu, dLogits, dBias);
  hn.dispose();
  let dx: Tensor | null = null;
  if (normW.trainable || saved.length) {
    const dhn = linearGradInput(gpu, dLogits, head.weight.tensor);
    const dxLast = rmsnormBackward(gpu, xLast, normW.tensor, dhn, c.rmsNormEps, grads.accumulator(normW));
    dhn.dispose();
    if (saved.length) dx = scatterRows(gpu, dxLast, last, N);
    dxLast.dispose();
  }
  dLogits.dispose();
  xLast.dispose();
  last.dispose();

  for (let i = c.numLayers - 1; i >= set.firstBlock; i--) {
    gpu.activationLayer = `block.${i}`;
    const w = model.blockWeights(i);
    const kept = saved.pop()!;
    const acts = kept instanceof Tensor ? recompute(gpu, model, w, kept, ctx) : kept;
    const needInput = i > set.firstBlock || set.embedding;
    const dIn = blockBackward(gpu, c, w, grads, acts, dx!, ctx, needInput);
    acts.x.dispose();
    dx!.dispose();
    dx = dIn;
  }
  if (set.embedding && dx) {
    gpu.activationLayer = 'embeddings';
    embeddingGradWeight(gpu, dx, batch.ids, grads.accumulator(model.embed_tokens.weight)!);
  }
  dx?.dispose();
  gpu.activationLayer = 'runtime';
  return { loss, logits };
}

/** Gradient checkpointing: the block's activations again from its kept input. */
function recompute(gpu: Gpu, model: LlamaModel, w: BlockWeights, x: Tensor, ctx: TrainContext): BlockActivations {
  const { y, saved } = blockForwardSaving(gpu, model.config, w, x, ctx);
  y.dispose();
  return saved;
}
