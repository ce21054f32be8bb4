// Classifying one sequence with a classifier head (LLMs-from-scratch chapter 6): the head's logits at the last
// token, and their softmax. Inputs longer than the context keep their first tokens, as chapter 6 truncates.
import { UsageError } from '../errors.js';
import type { DType } from '../gpu/tensor.js';
import type { LlamaModel } from './llama.js';

export interface Classification {
  label: string;
  /** Index of the label among the head's classes. */
  index: number;
  /** Per class, in class order. */
  probabilities: { label: string; probability: number }[];
  /** The head's raw outputs at the last token: [classes] f32. */
  logits: Float32Array;
  /** Tokens used (after truncation). */
  tokens: number;
  truncated: boolean;
}

/** Classifies the token ids `ids` (BOS included if the tokenizer adds one). */
export async function classifyIds(model: LlamaModel, ids: number[], compute: DType = 'f32'): Promise<Classification> {
  if (model.head.kind !== 'classifier') {
    throw new UsageError('the model has a language-model head, not a classifier',
      'Replace the head first: %replace_head --classes N --labels a,b (then train it), or load a saved classifier.');
  }
  if (!ids.length) throw new UsageError('nothing to classify: the text has no tokens', 'Give some text.');
  await model.prepareKernels();
  const used = ids.slice(0, model.config.contextLength);
  const h = model.hidden(Uint32Array.from(used), 1, { compute });
  let logits: Float32Array;
  try {
    const lg = model.logits(h, [used.length - 1], compute);
    logits = await lg.read();
    lg.dispose();
  } finally {
    h.dispose();
  }
  const probs = softmax(logits);
  let index = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[index]) index = i;
  const labels = model.head.labels;
  return {
    label: labels[index], index, logits, tokens: used.length, truncated: used.length < ids.length,
    probabilities: Array.from(probs, (probability, i) => ({ label: labels[i], probability })),
  };
}

/** Softmax in float64 (max-subtracted). */
export function softmax(logits: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) max = Math.max(max, logits[i]);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += (out[i] = Math.exp(logits[i] - max));
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}
