// GPU memory a planned training run needs, per layer and kind, from shapes alone: f32 gradients and AdamW state
// (moments, and an f32 master copy for bf16 weights) for the trainable tensors only; the activations the trainable
// blocks keep for backward (only their input with gradient checkpointing, plus one block recomputed at a time);
// and the working set of the largest single step. %estimate prints it; %train refuses a run that does not fit.
import type { MemoryKind } from '../gpu/allocator.js';
import { planParts, type TensorDType } from '../gpu/tensor.js';
import type { LlamaConfig } from '../model/config.js';
import { sortLayers, zeroKinds, type KindBytes, type MemoryEstimate } from '../model/estimate.js';
import type { LlamaModel } from '../model/llama.js';
import type { TrainableSpec } from './trainable.js';

export interface TrainingPlan {
  batch: number;
  /** Padded sequence length (the longest sequence, at most --max-length). */
  seqLen: number;
  trainable: TrainableSpec;
  gradCheckpoint: boolean;
}

const F32 = 4;

function allocated(shape: readonly number[], dtype: TensorDType, maxBuffer: number): number {
  return planParts(shape, dtype, maxBuffer).reduce((s, p) => s + Math.max(4, Math.ceil(p.bytes / 4) * 4), 0);
}

/** f32 bytes one block keeps for backward at N = B*T tokens (see train/block_train.ts BlockActivations). */
export function blockActivationBytes(c: LlamaConfig, batch: number, seqLen: number): number {
  const N = batch * seqLen;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  // x, h1, x2, h2: [N, D]; q, attn: [N, H*Dh]; k, v: [N, KV*Dh]; gate, up, silu*up: [N, F]; lse: [B, H, T]
  return F32 * (4 * N * c.hiddenSize + 2 * N * q + 2 * N * kv + 3 * N * c.intermediateSize + batch * c.numHeads * seqLen);
}

/** f32 bytes alive at once inside one block's backward beyond what it keeps: gradients of its activations. */
export function blockWorkingBytes(c: LlamaConfig, batch: number, seqLen: number): number {
  const N = batch * seqLen;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  // dy, dx2, dh2 + its second half, dx: [N, D]; ds, dGate, dUp: [N, F]; dq, dk, dv and their rope grads;
  // the attention backward's row sums [B, H, T]
  return F32 * (5 * N * c.hiddenSize + 3 * N * c.intermediateSize + 2 * N * q + 4 * N * kv + batch * c.numHeads * seqLen);
}

export function trainingEstimate(model: LlamaModel, plan: TrainingPlan): MemoryEstimate {
  const c = model.config;
  const max = model.gpu.maxBufferBytes;
  const byLayer = new Map<string, KindBytes>();
  const add = (layer: string, kind: MemoryKind, bytes: number) => {
    const k = byLayer.get(layer) ?? zeroKinds();
    k[kind] += bytes;
    byLayer.set(layer, k);
  };
  const n = c.numLayers;
  const [first, last] = plan.trainable === 'all' ? [0, n - 1] : plan.trainable === 'last-block' ? [n - 1, n - 1]
    : plan.trainable === 'head' ? [n, n - 1] : [plan.trainable.first, plan.trainable.last];
  const trains = (layer: string) => {
    if (layer === 'head') return true;
    if (layer === 'final_norm') return plan.trainable !== 'head';
    if (layer === 'embeddings') return plan.trainable === 'all';
    const i = Number(layer.slice('block.'.length));
    return i >= first && i <= last;
  };
  let trainableCount = 0;
  for (const p of model.parameters()) {
    if (!trains(p.layer)) continue;
    trainableCount++;
    const f32 = allocated(p.shape, 'f32', max);
    add(p.layer, 'grads', f32);
    add(p.layer, 'optimizer', 2 * f32 + (p.dtype === 'bf16' ? f32 : 0));
  }
  const blocks = Math.max(0, last - first + 1);
  const kept = blockActivationBytes(c, plan.batch, plan.seqLen);
  const N = plan.batch * plan.seqLen;
  for (let i = first; i <= last; i++) add(`block.${i}`, 'activations', plan.gradCheckpoint ? F32 * N * c.hiddenSize : kept);
  // Working set: one block's backward (plus, with checkpointing, that block's recomputed activations), or for a
  // frozen forward the largest block intermediates; the head's logits are tiny next to it.
  const working = blocks > 0 ? blockWorkingBytes(c, plan.batch, plan.seqLen) + (plan.gradCheckpoint ? kept : 0) : kept;
  add('runtime', 'activations', working);
  return {
    layers: sortLayers([...byLayer].map(([layer, bytes]) => ({ layer, bytes }))),
    notes: [
      `training: ${trainableCount} trainable tensors (f32 gradients, AdamW moments${model.dtype === 'bf16' ? ', f32 master copies' : ''}); ` +
      `${blocks} trainable block${blocks === 1 ? '' : 's'} keep${blocks === 1 ? 's' : ''} ${plan.gradCheckpoint ? 'only its input (gradient checkpointing)' : 'activations for backward'} ` +
      `at batch ${plan.batch} x ${plan.seqLen} tokens; runtime = working set of one step`,
    ],
  };
}
