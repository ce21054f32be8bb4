// Arithmetic the benchmarks print next to their measurements: a least-squares line through
// per-token decode times, the bytes a decode step must read, the GEMV-bound decode rate, the FLOP ratio of a
// training step with frozen blocks, and the median ratio of paired timings. Pure functions (unit-tested), no GPU.
import type { LlamaConfig } from '../kernel/model/config.js';
import { llamaParamSpecs } from '../kernel/model/param_specs.js';

export interface LineFit {
  intercept: number;
  slope: number;
  /** Coefficient of determination (1 when every point is on the line; 1 too when all y are equal). */
  r2: number;
  /** Largest |y - fit| / fit over the points. */
  maxRelDeviation: number;
}

/** Least-squares y = intercept + slope * x over at least two distinct x. */
export function fitLine(xs: readonly number[], ys: readonly number[]): LineFit {
  if (xs.length !== ys.length || xs.length < 2) throw new Error(`fitLine needs two or more (x, y) pairs, got ${xs.length} x and ${ys.length} y`);
  const n = xs.length;
  const mx = xs.reduce((s, v) => s + v, 0) / n;
  const my = ys.reduce((s, v) => s + v, 0) / n;
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxx += (xs[i] - mx) ** 2;
    sxy += (xs[i] - mx) * (ys[i] - my);
    syy += (ys[i] - my) ** 2;
  }
  if (sxx === 0) throw new Error('fitLine needs at least two distinct x');
  const slope = sxy / sxx;
  const intercept = my - slope * mx;
  let sse = 0;
  let maxRelDeviation = 0;
  for (let i = 0; i < n; i++) {
    const fit = intercept + slope * xs[i];
    sse += (ys[i] - fit) ** 2;
    maxRelDeviation = Math.max(maxRelDeviation, Math.abs(ys[i] - fit) / Math.abs(fit));
  }
  return { intercept, slope, r2: syy === 0 ? 1 : 1 - sse / syy, maxRelDeviation };
}

export interface DecodeBytes {
  /** Every weight of every block (norms included). */
  blocks: number;
  /** The LM head: [vocab, hidden]. */
  head: number;
  finalNorm: number;
  /** One row of the embedding (the token being decoded). */
  embeddingRow: number;
  total: number;
}

/**
 * Weight bytes one decode step reads with a language-model head: all block weights, the final norm, the head
 * ([vocab, hidden], also when tied to the embedding) and the embedding row of the input token. `bytesPerElement`:
 * 2 for bf16 storage, 4 for f32. The KV cache and activations are not counted.
 */
export function decodeWeightBytes(config: LlamaConfig, bytesPerElement: number): DecodeBytes {
  let blocks = 0;
  let finalNorm = 0;
  for (const spec of llamaParamSpecs(config)) {
    const bytes = spec.shape.reduce((a, b) => a * b, 1) * bytesPerElement;
    if (spec.layer.startsWith('block.')) blocks += bytes;
    else if (spec.layer === 'final_norm') finalNorm += bytes;
  }
  const head = config.vocabSize * config.hiddenSize * bytesPerElement;
  const embeddingRow = config.hiddenSize * bytesPerElement;
  return { blocks, head, finalNorm, embeddingRow, total: blocks + head + finalNorm + embeddingRow };
}

/** Decode tokens per second if every step only streamed its weights at `bytesPerSecond`. */
export function gemvBoundTokensPerSecond(bytesPerSecond: number, bytesPerToken: number): number {
  return bytesPerSecond / bytesPerToken;
}

/**
 * FLOPs of a training step over those of a forward pass when k of n blocks train: every block runs forward (n),
 * the trainable ones also backward (input and weight gradients: 2 forwards' worth each).
 */
export function trainingFlopRatio(blocks: number, trainable: number): number {
  if (!(trainable >= 0 && trainable <= blocks && blocks > 0)) throw new Error(`need 0 <= trainable (${trainable}) <= blocks (${blocks}), blocks > 0`);
  return (blocks + 2 * trainable) / blocks;
}

/**
 * Median of num[i] / den[i] over measurements taken in pairs, back to back (a training step and the forward pass
 * timed just before it; a product and the FMA ceiling; two cases of one round). On a shared machine whose speed
 * drifts over minutes both halves of a pair run under the same conditions, so this is steadier than the best of one
 * list over the best of the other, which can set a forward from a quiet minute against steps that never had one.
 * An even count takes the mean of the middle two.
 */
export function medianPairedRatio(num: readonly number[], den: readonly number[]): number {
  if (num.length !== den.length || num.length === 0) throw new Error(`medianPairedRatio needs equal, non-empty lists, got ${num.length} and ${den.length}`);
  const r = num.map((n, i) => n / den[i]).sort((a, b) => a - b);
  const mid = r.length >> 1;
  return r.length % 2 ? r[mid] : (r[mid - 1] + r[mid]) / 2;
}
