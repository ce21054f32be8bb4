// Batches for classification fine-tuning (LLMs-from-scratch chapter 6, with per-batch padding):
// - every row is tokenized once, up front (the model's tokenizer adds BOS), and truncated to maxLength keeping the
//   first tokens;
// - a batch right-pads its sequences with padId to its longest sequence (or to maxLength when asked); the classifier
//   reads each sequence's LAST REAL token, which causal attention keeps independent of the padding after it;
// - each epoch visits the rows in file order or in a seeded shuffle (different per epoch, the same on every run);
// - training drops the last incomplete batch, as ch06's train loader does (drop_last=True); evaluation keeps it.
import { UsageError } from '../errors.js';
import { seededRandom } from '../random.js';
import type { Examples } from './dataset.js';

export interface TextTokenizer {
  encode(text: string): number[];
}

export interface TokenizedExamples {
  /** Token ids of each row, at most maxLength of them. */
  ids: Uint32Array[];
  /** Class index of each row. */
  labels: Uint32Array;
  labelNames: string[];
  maxLength: number;
  /** Rows that were longer than maxLength and lost their tail. */
  truncated: number;
  /** Longest row after truncation. */
  longest: number;
}

/**
 * Tokenizes the texts (or takes the pre-tokenized ids) once and truncates each row to maxLength tokens.
 * With vocabSize, pre-tokenized ids are checked to be below it.
 */
export function tokenizeExamples(ex: Examples, tokenizer: TextTokenizer | null, opts: { maxLength: number; vocabSize?: number }): TokenizedExamples {
  const { maxLength, vocabSize } = opts;
  if (!Number.isInteger(maxLength) || maxLength < 1) throw new UsageError(`max length must be an integer >= 1, got ${maxLength}`, 'Use e.g. --max-length 128.');
  let rows: Uint32Array[];
  if (ex.texts) {
    if (!tokenizer) throw new UsageError(`${ex.file}: the dataset holds text but no tokenizer is loaded`, 'Load a model with its tokenizer first (%load_model).');
    rows = ex.texts.map((t) => Uint32Array.from(tokenizer.encode(t)));
  } else {
    rows = ex.inputIds as Uint32Array[];
    if (vocabSize !== undefined) {
      rows.forEach((ids, r) => {
        const bad = ids.findIndex((id) => id >= vocabSize);
        if (bad >= 0) {
          throw new UsageError(`${ex.file}: row ${r} of column "${ex.textColumn}" has token id ${ids[bad]} (item ${bad}), outside the vocabulary of ${vocabSize}`,
            'Tokenize the dataset with the model\'s tokenizer.');
        }
      });
    }
  }
  let truncated = 0;
  let longest = 0;
  const ids = rows.map((row, r) => {
    if (row.length === 0) throw new UsageError(`${ex.file}: row ${r} has no tokens`, 'Remove empty rows, or use a tokenizer that adds BOS.');
    if (row.length > maxLength) truncated++;
    const kept = row.length > maxLength ? row.slice(0, maxLength) : row;
    longest = Math.max(longest, kept.length);
    return kept;
  });
  return { ids, labels: ex.labels, labelNames: ex.labelNames, maxLength, truncated, longest };
}

export interface Batch {
  /** [B*T] token ids, row-major, right-padded. */
  ids: Uint32Array;
  batch: number;
  seqLen: number;
  /** [B] flat index b*T + (length_b - 1) of each sequence's last real token. */
  lastIndex: Uint32Array;
  /** [B] class index of each sequence. */
  labels: Uint32Array;
  /** Real (non-pad) tokens in the batch. */
  tokens: number;
  /** [B] dataset row of each sequence. */
  rows: Uint32Array;
}

/** Packs the given dataset rows into one batch, padded to their longest sequence or to maxLength. */
export function makeBatch(data: TokenizedExamples, rows: ArrayLike<number>, padId: number, padTo: 'longest' | 'max-length' = 'longest'): Batch {
  const B = rows.length;
  let T = padTo === 'max-length' ? data.maxLength : 0;
  for (let b = 0; b < B; b++) T = Math.max(T, data.ids[rows[b]].length);
  const ids = new Uint32Array(B * T).fill(padId);
  const lastIndex = new Uint32Array(B);
  const labels = new Uint32Array(B);
  let tokens = 0;
  for (let b = 0; b < B; b++) {
    const seq = data.ids[rows[b]];
    ids.set(seq, b * T);
    lastIndex[b] = b * T + seq.length - 1;
    labels[b] = data.labels[rows[b]];
    tokens += seq.length;
  }
  return { ids, batch: B, seqLen: T, lastIndex, labels, tokens, rows: Uint32Array.from(rows) };
}

/** Row order of one epoch: file order, or a Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochOrder(rows: number, epoch: number, opts: { shuffle: boolean; seed: number }): Uint32Array {
  const order = Uint32Array.from({ length: rows }, (_, i) => i);
  if (!opts.shuffle) return order;
  const random = seededRandom((opts.seed ^ Math.imul(epoch + 1, 0x9e3779b1)) >>> 0);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

export interface BatchOptions {
  batchSize: number;
  padId: number;
  /** Pad each batch to its longest sequence (default) or always to maxLength. */
  padTo?: 'longest' | 'max-length';
  /** Visit rows in a seeded shuffle (per epoch) instead of file order. */
  shuffle: boolean;
  seed: number;
  /** Drop the last incomplete batch of each epoch (training, as ch06) or keep it (evaluation). */
  dropLast: boolean;
}

export function batchesPerEpoch(rows: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(rows / batchSize) : Math.ceil(rows / batchSize);
}

/** The batches of one epoch. */
export function* epochBatches(data: TokenizedExamples, epoch: number, opts: BatchOptions): Generator<Batch> {
  checkBatchSize(opts.batchSize);
  const order = epochOrder(data.ids.length, epoch, opts);
  const count = batchesPerEpoch(order.length, opts.batchSize, opts.dropLast);
  for (let k = 0; k < count; k++) {
    yield makeBatch(data, order.subarray(k * opts.batchSize, (k + 1) * opts.batchSize), opts.padId, opts.padTo);
  }
}

export interface TrainingBatch extends Batch {
  epoch: number;
  /** Optimizer step, counted from 0 across epochs. */
  step: number;
}

export type TrainingLength = { epochs: number } | { steps: number };

/** Total steps of a run: epochs x batches per epoch, or the fixed step count. */
export function trainingSteps(rows: number, opts: BatchOptions & TrainingLength): number {
  checkBatchSize(opts.batchSize);
  const perEpoch = batchesPerEpoch(rows, opts.batchSize, opts.dropLast);
  if (perEpoch === 0) {
    throw new UsageError(`the dataset has ${rows} rows, fewer than one batch of ${opts.batchSize}, and the last incomplete batch is dropped`,
      `Use --batch ${Math.max(1, rows)} or smaller, or add rows.`);
  }
  if ('epochs' in opts) {
    if (!Number.isInteger(opts.epochs) || opts.epochs < 1) throw new UsageError(`epochs must be an integer >= 1, got ${opts.epochs}`, 'Use e.g. --epochs 3.');
    return opts.epochs * perEpoch;
  }
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new UsageError(`steps must be an integer >= 1, got ${opts.steps}`, 'Use e.g. --steps 100.');
  return opts.steps;
}

/** Training batches for a number of epochs, or for a fixed number of steps (epochs repeat, reshuffled, as needed). */
export function* trainingBatches(data: TokenizedExamples, opts: BatchOptions & TrainingLength): Generator<TrainingBatch> {
  const total = trainingSteps(data.ids.length, opts);
  let step = 0;
  for (let epoch = 0; step < total; epoch++) {
    for (const batch of epochBatches(data, epoch, opts)) {
      if (step >= total) return;
      yield { ...batch, epoch, step: step++ };
    }
  }
}

function checkBatchSize(b: number): void {
  if (!Number.isInteger(b) || b < 1) throw new UsageError(`batch size must be an integer >= 1, got ${b}`, 'Use e.g. --batch 8.');
}
