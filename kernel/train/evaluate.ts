// Evaluation of a classifier on a dataset: forward only, the head at each sequence's last real token; loss (mean
// cross-entropy, computed in float64 on the host from the logits), accuracy and the confusion matrix.
import type { LlamaModel } from '../model/llama.js';
import { argmax } from '../model/sampling.js';
import { epochBatches, type TokenizedExamples } from './batches.js';

export interface EvalResult {
  rows: number;
  loss: number;
  accuracy: number;
  /** confusion[true][predicted] counts. */
  confusion: number[][];
  labels: string[];
}

export async function evaluate(model: LlamaModel, data: TokenizedExamples,
  opts: { batchSize: number; padId: number; checkpoint?: () => void | Promise<void> }): Promise<EvalResult> {
  await model.prepareKernels();
  const classes = model.headWeights().weight.shape[0];
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0));
  let loss = 0;
  let rows = 0;
  for (const b of epochBatches(data, 0, { batchSize: opts.batchSize, padId: opts.padId, shuffle: false, seed: 0, dropLast: false })) {
    await opts.checkpoint?.();
    const h = model.hidden(b.ids, b.batch);
    const lg = model.logits(h, b.lastIndex);
    h.dispose();
    const logits = await lg.read();
    lg.dispose();
    for (let i = 0; i < b.batch; i++) {
      const row = logits.subarray(i * classes, (i + 1) * classes);
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
      loss += lse - row[b.labels[i]];
      confusion[b.labels[i]][argmax(row)]++;
    }
    rows += b.batch;
  }
  const correct = confusion.reduce((s, r, i) => s + r[i], 0);
  return { rows, loss: loss / Math.max(1, rows), accuracy: correct / Math.max(1, rows), confusion, labels: data.labelNames };
}
