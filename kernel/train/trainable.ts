// Which parameters train: chapter 6's recipe by default (the last block, the final norm and the head), or all,
// only the head, or a range of blocks (with the final norm and the head). Everything else is frozen: it runs
// forward only and gets no gradient or optimizer memory.
import { UsageError } from '../errors.js';
import type { LlamaModel } from '../model/llama.js';
import type { Parameter } from '../model/parameter.js';

export type TrainableSpec = 'last-block' | 'all' | 'head' | { first: number; last: number };

/** Parses `last-block`, `all`, `head` or `layers=A..B`. */
export function parseTrainable(text: string, numLayers: number): TrainableSpec {
  if (text === 'last-block' || text === 'all' || text === 'head') return text;
  const m = /^layers=(\d+)\.\.(\d+)$/.exec(text);
  if (m) {
    const first = Number(m[1]);
    const last = Number(m[2]);
    if (first <= last && last < numLayers) return { first, last };
    throw new UsageError(`--trainable ${text}: blocks run from 0 to ${numLayers - 1}`, `e.g. --trainable layers=${Math.max(0, numLayers - 2)}..${numLayers - 1}`);
  }
  throw new UsageError(`--trainable must be last-block, all, head or layers=A..B, got ${JSON.stringify(text)}`, 'e.g. --trainable last-block');
}

export interface TrainableSet {
  params: Parameter[];
  /** Index of the lowest trainable block, or numLayers when no block trains. */
  firstBlock: number;
  embedding: boolean;
}

/** Marks the parameters trainable or frozen according to `spec` and returns the trainable ones. */
export function selectTrainable(model: LlamaModel, spec: TrainableSpec): TrainableSet {
  if (model.head.kind !== 'classifier') {
    throw new UsageError('fine-tuning trains a classification head, and this model has its language-model head', 'Replace the head first, e.g. %replace_head --classes 2 --labels ham,spam');
  }
  const n = model.config.numLayers;
  const [first, last] = spec === 'all' ? [0, n - 1] : spec === 'last-block' ? [n - 1, n - 1] : spec === 'head' ? [n, n - 1] : [spec.first, spec.last];
  const embedding = spec === 'all';
  const inBlocks = (layer: string) => {
    const m = /^block\.(\d+)$/.exec(layer);
    return m !== null && Number(m[1]) >= first && Number(m[1]) <= last;
  };
  for (const p of model.parameters()) {
    p.trainable = p.layer === 'head' || inBlocks(p.layer) || (p.layer === 'final_norm' && spec !== 'head') || (p.layer === 'embeddings' && embedding);
  }
  const params = model.parameters().filter((p) => p.trainable);
  return { params, firstBlock: spec === 'head' ? n : first, embedding };
}
