// Causal grouped-query attention (Llama 3), forward: prefill and decode over a KV cache. Query head h uses KV head
// h / (H / KV); query t sits at position posOffset + t and attends to keys j <= posOffset + t with j < kvLen; scores
// are scaled by 1/sqrt(Dh) and the softmax runs in f32. Kernels: attention_forward.ts. The backward pass
// (attention_backward.ts) and the cache update (kv_cache.ts) are re-exported here.
import os from 'node:os';
import type { Gpu } from '../gpu/context.js';
import { grid } from '../gpu/context.js';
import { Params } from '../gpu/params.js';
import { Tensor, type DType } from '../gpu/tensor.js';
import { UsageError } from '../errors.js';
import { elementGrid } from './elementwise.js';
import {
  checkLanes, defaultLanes, defaultWorkgroupSize, itemWorkgroups, shapeClass, softwareBlock, type Lanes,
} from './attention_codegen.js';
import { combineSource, forwardSource, type ForwardBlock } from './attention_forward.js';
import { attentionShape, type AttentionShape } from './attention_shape.js';

export { attentionBackward } from './attention_backward.js';
export { writeKvCache } from './kv_cache.js';

export interface AttentionOptions {
  /** Position of query 0: 0 for prefill, the number of earlier tokens in the cache for decode. */
  posOffset: number;
  /** Keys 0..kvLen-1 of k and v are valid; posOffset + T <= kvLen <= S. */
  kvLen: number;
  /** 'bf16' rounds the output to bf16 (as the PyTorch bf16 path does); scores and softmax stay f32. */
  compute?: DType;
  /** Also return lse (attentionBackward needs it). */
  saveLse?: boolean;
}

/** How the work is cut: rows per lane group, keys per rescaling, and key ranges (splits) merged by a combine pass. */
export interface ForwardPlan extends ForwardBlock {
  splits: number;
  /** Keys per split, a multiple of keyBlock. */
  chunk: number;
}

/**
 * Head-vector floats per lane for the rows of one lane group on SwiftShader. Measured at B=1, T=128, H=32, KV=8,
 * Dh=128: 256 (8 rows) takes ~35% less CPU time than 128 (4 rows) and compiles in 5-7 s instead of ~3 s.
 */
const SOFTWARE_ROW_FLOATS = 256;

/** The plan `attention` uses for this shape on this device. */
export function planAttention(gpu: Gpu, s: AttentionShape, opts: AttentionOptions): ForwardPlan {
  const group = s.H / s.KV;
  const lanes: Lanes = gpu.software ? defaultLanes(gpu, s.Dh) : 1;
  // SwiftShader: every loaded key serves as many rows as registers allow. A real GPU: many small independent items.
  const rowTarget = gpu.software ? softwareBlock(s.Dh, lanes, SOFTWARE_ROW_FLOATS) : 1;
  const headsPerItem = Math.min(group, rowTarget);
  // Rounded up to a power of two: each distinct block is a separate pipeline, and T varies batch by batch.
  const tokensPerItem = Math.min(shapeClass(s.T), Math.max(1, Math.floor(rowTarget / headsPerItem)));
  const workgroupSize = defaultWorkgroupSize(gpu);
  const block: ForwardBlock = { lanes, workgroupSize, headsPerItem, tokensPerItem, keyBlock: 2 };
  // Split the keys when there are too few items to fill the device (decode: T = 1).
  const items = s.B * s.KV * Math.ceil(group / headsPerItem) * Math.ceil(s.T / tokensPerItem);
  const itemTarget = gpu.software ? 4 * os.availableParallelism() * (workgroupSize / lanes) : 8192;
  const keys = Math.min(opts.kvLen, opts.posOffset + s.T);
  const minChunk = gpu.software ? 128 : 64;
  return splitKeys(block, keys, Math.min(Math.ceil(itemTarget / items), Math.ceil(keys / minChunk)));
}

/** `block` with the keys cut into at most `splits` ranges of equal length (a multiple of keyBlock). */
export function splitKeys(block: ForwardBlock, keys: number, splits: number): ForwardPlan {
  const chunk = Math.ceil(Math.ceil(keys / Math.max(1, splits)) / block.keyBlock) * block.keyBlock;
  return { ...block, chunk, splits: Math.ceil(keys / chunk) };
}

function checkRange(s: AttentionShape, opts: AttentionOptions): void {
  const { posOffset, kvLen } = opts;
  if (!Number.isInteger(posOffset) || posOffset < 0 || !Number.isInteger(kvLen) || posOffset + s.T > kvLen || kvLen > s.S) {
    throw new UsageError(`attention: posOffset ${posOffset} with ${s.T} queries and kvLen ${kvLen} do not fit a cache of ${s.S} positions`,
      'Need posOffset + T <= kvLen <= cache length: write the new keys into the cache first, and allocate it for the whole context.');
  }
}

/**
 * o: [B, T, H, Dh] f32 = softmax(q k^T / sqrt(Dh), causal) v for q: [B, T, H, Dh] and k, v: [B, S, KV, Dh] (keys
 * 0..kvLen-1 valid). lse: [B, H, T] f32, the log-sum-exp of each query row's scaled scores, when `saveLse`.
 */
export function attention(gpu: Gpu, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): { out: Tensor; lse: Tensor | null } {
  const s = attentionShape('attention', q, k, v);
  checkRange(s, opts);
  return runAttention(gpu, q, k, v, opts, planAttention(gpu, s, opts));
}

/** `attention` with an explicit plan (tests run every variant through it). */
export function runAttention(gpu: Gpu, q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions, plan: ForwardPlan): { out: Tensor; lse: Tensor | null } {
  const s = attentionShape('attention', q, k, v);
  checkRange(s, opts);
  checkLanes(gpu, plan, s.Dh);
  const compute = opts.compute ?? 'f32';
  const saveLse = opts.saveLse ?? false;
  const group = s.H / s.KV;
  const headBlocks = Math.ceil(group / plan.headsPerItem);
  const tokenBlocks = Math.ceil(s.T / plan.tokensPerItem);
  const items = s.B * s.KV * plan.splits * tokenBlocks * headBlocks;
  const params = new Params().u32(s.T).u32(s.H).u32(s.KV).u32(s.S).u32(opts.kvLen).u32(opts.posOffset).u32(group)
    .u32(headBlocks).u32(tokenBlocks).u32(plan.splits).u32(plan.chunk).u32(items).f32(1 / Math.sqrt(s.Dh));
  const out = Tensor.scratch(gpu, q.shape, gpu.activationTag('attention out'));
  const lse = saveLse ? Tensor.scratch(gpu, [s.B, s.H, s.T], gpu.activationTag('attention lse')) : null;
  const workgroups = grid(itemWorkgroups(items, plan));
  if (plan.splits === 1) {
    const buffers = [q.buffer, k.buffer, v.buffer, out.buffer, ...(lse ? [lse.buffer] : [])];
    gpu.dispatch(gpu.kernel(forwardSource(s.Dh, plan, 'final', saveLse, compute)), buffers, params, workgroups);
    return { out, lse };
  }
  const rows = s.B * s.H * s.T;
  const acc = Tensor.scratch(gpu, [rows, plan.splits, s.Dh], gpu.activationTag('attention partial acc'));
  const ml = Tensor.scratch(gpu, [rows, plan.splits, 2], gpu.activationTag('attention partial max/sum'));
  gpu.dispatch(gpu.kernel(forwardSource(s.Dh, plan, 'partial', false, 'f32')),
    [q.buffer, k.buffer, v.buffer, acc.buffer, ml.buffer], params, workgroups);
  gpu.dispatch(gpu.kernel(combineSource(s.Dh, saveLse, compute)), [acc.buffer, ml.buffer, out.buffer, ...(lse ? [lse.buffer] : [])],
    new Params().u32(s.T).u32(s.H).u32(rows).u32(plan.splits), elementGrid(rows * s.Dh));
  acc.dispose();
  ml.dispose();
  return { out, lse };
}
