// Next-token choice from one row of logits: greedy (temperature 0) or sampling with temperature, top-k and
// top-p (nucleus), in that order, as HF's generate applies them. Seeded, so a run can be repeated.
import { UsageError } from '../errors.js';

export interface SamplingOptions {
  /** 0 = greedy (argmax). */
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest set of tokens whose probability reaches p (1 = all). */
  topP: number;
}

export function checkSampling(o: SamplingOptions): void {
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) throw new UsageError(`temperature must be >= 0, got ${o.temperature}`, 'Use 0 for greedy decoding or e.g. 0.7.');
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new UsageError(`top-k must be an integer >= 0, got ${o.topK}`, 'Use 0 to disable top-k, or e.g. 50.');
  if (!(o.topP > 0 && o.topP <= 1)) throw new UsageError(`top-p must be in (0, 1], got ${o.topP}`, 'Use 1 to disable nucleus sampling, or e.g. 0.9.');
}

export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/** Picks the next token id. `random` returns uniform numbers in [0, 1). */
export function sampleToken(logits: Float32Array, o: SamplingOptions, random: () => number): number {
  if (o.temperature === 0) return argmax(logits);
  let ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a]);
  if (o.topK > 0) ids = ids.slice(0, o.topK);
  const max = logits[ids[0]];
  let probs = ids.map((i) => Math.exp((logits[i] - max) / o.temperature));
  let total = probs.reduce((a, b) => a + b, 0);
  if (o.topP < 1) {
    let cum = 0;
    let keep = 0;
    while (keep < probs.length && cum < o.topP * total) cum += probs[keep++];
    ids = ids.slice(0, Math.max(1, keep));
    probs = probs.slice(0, ids.length);
    total = probs.reduce((a, b) => a + b, 0);
  }
  let r = random() * total;
  for (let i = 0; i < ids.length; i++) {
    r -= probs[i];
    if (r < 0) return ids[i];
  }
  return ids[ids.length - 1];
}
